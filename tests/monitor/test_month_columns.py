"""The per-month copies of the calls (call_columns): same arrays as the rows, on SQLite and
PostgreSQL, whatever writes the calls; NULLs, empty stores, unknown codes, DST, 25.0 s."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from monitor import query
from monitor.call import Call, Outcome, Source
from monitor.metrics.arrays import CallArrays
from monitor.query import StatsRequest, load_call_arrays, store_stats
from monitor.store import Store, open_store
from monitor.store import month_columns as mc
from monitor.store.models import call_changes, call_columns, calls
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts

PARIS = ZoneInfo("Europe/Paris")
SITES = ("eps-05", "eps-06")
OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
COLUMNS = ("site", "outcome", "arrival", "tta", "hangup", "handle", "in_hours", "is_test")


def call(key: str, local: dt.datetime, outcome: Outcome = Outcome.ANSWERED, *,
         site: str = "eps-05", tta: float | None = None, end: float | None = None,
         fold: int = 0, **kw: object) -> Call:
    """A call arriving at the Paris wall-clock time `local` (µs resolution, as AMI/CEL)."""
    arrival = round(local.replace(tzinfo=PARIS, fold=fold).timestamp() + 0.654321, 6)
    answer = None if tta is None else arrival + tta
    stop = None if end is None else (answer or arrival) + end
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=kw.pop("source", Source.CEL), answer=answer, end=stop,  # type: ignore[arg-type]
                local_date=date, local_hour=hour, local_weekday=weekday, resolution=1e-6,
                **kw)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute)


CALLS = [
    call("a", at(5, 9), tta=24.999999, end=60.0),
    call("b", at(5, 9, 1), tta=25.0, end=61.5),
    call("c", at(5, 9, 2), tta=25.000001),  # no end: handling time unknown
    call("d", at(6, 10), Outcome.ABANDONED, end=31.25),
    call("e", at(6, 10, 5), Outcome.SHORT_ABANDON, end=2.0),
    call("f", at(6, 19), Outcome.MESSAGE, end=30.0, in_hours=False),
    call("g", at(7, 11), Outcome.ANSWERED, tta=3.0, end=30.0, is_test=True),
    call("h", at(7, 11, 30), Outcome.BUSY, site="eps-06"),  # no end, no answer: NULL times
    call("i", at(8, 9), Outcome.ANSWERED, site="eps-06", tta=40.0, end=5.0,
         queue_entry=None),
    call("q", at(9, 9), Outcome.ANSWERED, tta=30.0, end=12.0),
    call("dst", at(25, 2, 30), Outcome.ABANDONED, end=8.0, fold=1, in_hours=False),
    call("nov", at(2, 9, month=11), Outcome.ANSWERED, tta=9.5, end=20.0),
]


def write(store: Store, batch: list[Call]) -> None:
    with store.engine.begin() as conn:
        write_calls(conn, batch)


def load(store: Store, start: dt.date = OCTOBER[0], end: dt.date = OCTOBER[1],
         **kw: object) -> CallArrays:
    return load_call_arrays(store.engine, start=start, end=end,
                            sites=kw.pop("sites", SITES), **kw)  # type: ignore[arg-type]


def same(a: CallArrays, b: CallArrays) -> bool:
    oa, ob = np.lexsort((a.site, a.arrival)), np.lexsort((b.site, b.arrival))
    return len(a) == len(b) and a.site_ids == b.site_ids and all(
        np.array_equal(getattr(a, n)[oa], getattr(b, n)[ob], equal_nan=True) for n in COLUMNS)


def copies_of(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {c.month: c.calls for c in mc.valid_copies(conn, "0000-00", "9999-99").values()}


@pytest.fixture
def filled(store: Store) -> Store:
    queued = replace(CALLS[9], queue_entry=CALLS[9].arrival + 8.000001)
    write(store, [*CALLS[:9], queued, *CALLS[10:]])
    return store


def test_a_whole_month_is_saved_then_read_from_its_copy(
        filled: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = load(filled, copies=False, include_tests=True)
    assert copies_of(filled) == {}  # the reference path saves nothing
    first = load(filled, include_tests=True)
    assert copies_of(filled) == {"2026-10": 11}
    monkeypatch.setattr(mc, "read_rows", lambda *a, **k: pytest.fail("rows read"))
    second = load(filled, include_tests=True)
    assert same(rows, first) and same(rows, second)
    for kw in ({}, {"in_hours_only": True}, {"clock_start": "queue_entry"},
               {"sites": ("eps-06",)}, {"start": dt.date(2026, 10, 6),
                                        "end": dt.date(2026, 10, 31)}):
        monkeypatch.undo()
        reference = load(filled, copies=False, **kw)
        monkeypatch.setattr(mc, "read_rows", lambda *a, **k: pytest.fail("rows read"))
        if "start" in kw:  # a part of a month is read from the rows
            monkeypatch.undo()
        assert same(reference, load(filled, **kw)), kw


def test_times_nulls_and_the_25_second_boundary(filled: Store) -> None:
    load(filled)  # saves the copy
    a = load(filled, include_tests=True)
    by_key = {round(float(x), 3): i for i, x in enumerate(a.arrival)}

    def row(key: str) -> int:
        return by_key[round(next(c.arrival for c in CALLS if c.call_key == key), 3)]

    assert [a.tta[row(k)] for k in "abc"] == [24.999999, 25.0, 25.000001]
    assert a.handle[row("a")] == 60.0 and a.handle[row("b")] == 61.5
    assert np.isnan(a.handle[row("c")])  # answered, no end
    assert np.isnan(a.tta[row("h")]) and np.isnan(a.hangup[row("h")])  # no time at all
    assert a.hangup[row("d")] == 31.25 and np.isnan(a.tta[row("d")])
    s = store_stats(filled.engine, StatsRequest(start=OCTOBER[0], end=OCTOBER[1],
                                                sites=SITES))["site"]
    assert s.answered_within.tolist() == [1, 0]  # 24.999999 s only; 25.0 and 25.000001 not
    queue = load(filled, clock_start="queue_entry")
    assert sorted(queue.tta[~np.isnan(queue.tta)].tolist()) == [
        3.0 - 3.0 + 21.999999, 24.999999, 25.0, 25.000001, 40.0]


def test_dst_days_keep_their_local_dates(filled: Store) -> None:
    load(filled)
    nights = [call("spring", at(29, 3, 30, month=3), Outcome.ANSWERED, tta=5.0, end=1.0),
              call("autumn", at(25, 2, 30), Outcome.ANSWERED, tta=5.0, end=1.0, fold=0)]
    write(filled, nights)
    for start, end in ((dt.date(2026, 3, 1), dt.date(2026, 3, 31)), OCTOBER):
        for by in ("day", "day-hour", "hour"):
            request = StatsRequest(start=start, end=end, sites=SITES, by=by, in_hours_only=False)
            rows = query.cell_stats(load(filled, start, end, copies=False),
                                    query.make_cells(load(filled, start, end, copies=False), by,
                                                     start=start, end=end, sites=SITES))
            copied = store_stats(filled.engine, request)[by]
            assert np.array_equal(rows.outcomes, copied.outcomes), (start, by)
    autumn = store_stats(filled.engine, StatsRequest(start=dt.date(2026, 10, 25),
                                                     end=dt.date(2026, 10, 25), sites=SITES,
                                                     by="day-hour", in_hours_only=False))
    hours = autumn["day-hour"]
    assert len(hours.period) // len(SITES) == 25
    two = [i for i, p in enumerate(hours.period) if p.startswith("2026-10-25T02:00")]
    assert [int(hours.offered[i]) for i in two] == [1, 1, 0, 0]  # summer, winter; eps-06 none


def test_every_write_path_marks_the_month(filled: Store) -> None:
    """Inserts, merges (updates) and deletes through the writer and through plain SQL all
    invalidate the copy; the next read gives what the rows give."""
    engine = filled.engine
    changes = [
        lambda conn: write_calls(conn, [call("new", at(12, 10), tta=2.0, end=3.0)]),
        lambda conn: write_calls(conn, [replace(CALLS[3], source=Source.AMI,
                                                answer=CALLS[3].arrival + 4.0,
                                                outcome=Outcome.ANSWERED)]),
        lambda conn: conn.execute(sa.update(calls).where(calls.c.call_key == "a")
                                  .values(answer=calls.c.arrival + 26.0)),
        lambda conn: conn.execute(sa.update(calls).where(calls.c.call_key == "i")
                                  .values(site="eps-05")),
        lambda conn: conn.execute(sa.delete(calls).where(calls.c.call_key == "b")),
        lambda conn: conn.execute(sa.insert(calls).values(
            pbx="paris-eps", call_key="raw", site="eps-06", arrival=CALLS[0].arrival + 60,
            outcome="abandoned", end_time=CALLS[0].arrival + 70, in_hours=True, is_test=False,
            caller_withheld=False, incomplete=False, sources=2, time_source=2, resolution=1.0,
            local_date="2026-10-05", local_hour=9, local_weekday=0)),
        lambda conn: conn.execute(sa.update(calls).where(calls.c.call_key == "nov")
                                  .values(local_date="2026-10-31")),  # moves into October
    ]
    for change in changes:
        load(filled)
        assert "2026-10" in copies_of(filled)
        with engine.begin() as conn:
            change(conn)
        assert "2026-10" not in copies_of(filled)
        assert same(load(filled, copies=False), load(filled))
        assert "2026-10" in copies_of(filled)


def test_a_write_during_the_build_leaves_no_copy(filled: Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = mc.read_rows

    def read_then_write(conn: sa.Connection, *a: object, **k: object) -> mc.MonthColumns:
        part = real(conn, *a, **k)  # type: ignore[arg-type]
        if filled.dialect == "sqlite":  # another connection writes after the read
            write(filled, [call("late", at(20, 10), tta=1.0, end=2.0)])
        return part

    if filled.dialect == "postgresql":  # a writer at work: the lock is refused at once
        with filled.engine.connect() as writer:
            write_calls(writer, [call("late", at(20, 10), tta=1.0, end=2.0)])
            load(filled)
            assert copies_of(filled) == {}
            writer.commit()
    else:
        monkeypatch.setattr(mc, "read_rows", read_then_write)
        load(filled)
        assert copies_of(filled) == {}
        monkeypatch.undo()
    assert same(load(filled, copies=False), load(filled))
    assert copies_of(filled) == {"2026-10": 12}


def test_empty_store_and_months_without_calls(store: Store) -> None:
    a = load(store, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert len(a) == 0 and a.site_ids == SITES
    assert copies_of(store) == {f"2026-{m:02d}": 0 for m in range(1, 13)}
    assert len(load(store, dt.date(2026, 1, 1), dt.date(2026, 12, 31))) == 0
    s = store_stats(store.engine, StatsRequest(start=dt.date(2026, 1, 1),
                                               end=dt.date(2026, 12, 31), sites=SITES))["site"]
    assert s.offered.tolist() == [0, 0]


def test_sites_and_outcomes_this_version_does_not_know(filled: Store) -> None:
    """A copy keeps every call: one of a site not asked for, or of an outcome a newer version
    wrote, is left out here but kept for a reader that knows it."""
    with filled.engine.begin() as conn:
        for key, site, outcome in (("x1", "eps-99", "answered"), ("x2", "eps-05", "teleported")):
            conn.execute(sa.insert(calls).values(
                pbx="paris-eps", call_key=key, site=site, arrival=CALLS[0].arrival + 5,
                answer=CALLS[0].arrival + 6, end_time=CALLS[0].arrival + 7, outcome=outcome,
                in_hours=True, is_test=False, caller_withheld=False, incomplete=False, sources=8,
                time_source=4, resolution=1e-6, local_date="2026-10-05", local_hour=9,
                local_weekday=0))
    reference = load(filled, copies=False)
    assert same(reference, load(filled)) and same(reference, load(filled))
    with filled.engine.connect() as conn:
        copy = mc.valid_copies(conn, "2026-10", "2026-10")["2026-10"]
    assert "eps-99" in copy.sites and "teleported" in copy.outcomes and copy.calls == 13
    with_99 = load(filled, sites=("eps-99", *SITES))
    assert same(load(filled, sites=("eps-99", *SITES), copies=False), with_99)
    assert (with_99.site == 0).sum() == 1


def test_months_read_in_parallel_give_the_same_calls(filled: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    kw = {"start": dt.date(2026, 9, 15), "end": dt.date(2026, 11, 30)}
    one = load(filled, **kw)
    with filled.engine.begin() as conn:
        conn.execute(sa.delete(call_columns))
    monkeypatch.setattr(query, "SPLIT_IDS", 0)
    monkeypatch.setattr(query.os, "cpu_count", lambda: 3)
    assert same(one, load(filled, **kw))


def test_the_triggers_are_installed(store: Store) -> None:
    write(store, [CALLS[0], CALLS[-1]])
    with store.engine.connect() as conn:
        months = set(conn.execute(sa.select(call_changes.c.month)).scalars())
    assert months == {"2026-10", "2026-11"}


def test_copies_without_sqlalchemy(filled: Store) -> None:
    """store_stats given a Store reads whole months with valid copies through plain DB-API
    connections; any month without one sends it to the engine's path."""
    from monitor.query import load_from_copies

    url = filled.engine.url.render_as_string(hide_password=False)
    store = open_store(url)
    kw = {"start": OCTOBER[0], "end": OCTOBER[1], "sites": SITES}
    assert load_from_copies(store, **kw) is None  # no copy yet
    reference = load(filled, copies=False)
    load(filled)  # saves October's copy
    light = load_from_copies(store, **kw)
    assert light is not None and same(reference, light)
    for extra in ({"clock_start": "queue_entry"}, {"in_hours_only": True},
                  {"include_tests": True}):
        assert same(load(filled, copies=False, **extra),
                    load_from_copies(store, **kw, **extra))  # type: ignore[arg-type]
    assert load_from_copies(store, **{**kw, "start": dt.date(2026, 10, 2)}) is None  # a part
    assert load_from_copies(store, **{**kw, "end": dt.date(2026, 11, 30)}) is None  # no copy
    write(filled, [call("late", at(20, 10), tta=1.0, end=2.0)])
    assert load_from_copies(store, **kw) is None  # October was written since
    request = StatsRequest(start=OCTOBER[0], end=OCTOBER[1], sites=SITES)
    assert np.array_equal(store_stats(store, request)["site"].outcomes,
                          store_stats(filled.engine, request)["site"].outcomes)
    store.dispose()


def test_stats_on_copies_does_not_import_sqlalchemy(filled: Store) -> None:
    import json
    import subprocess
    import sys

    url = filled.engine.url.render_as_string(hide_password=False)
    args = ["--db", url, "stats", "--from", "2026-10-01", "--to", "2026-10-31", "--site",
            "eps-05", "--site", "eps-06", "--format", "json"]
    code = ("import sys; from qualiphone.cli import cli\n"
            "try:\n    cli(prog_name='qualiphone', args=sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "print('SQLALCHEMY', 'sqlalchemy' in sys.modules)")

    def run() -> tuple[dict, bool]:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                             text=True, check=True).stdout
        body, _, flag = out.rpartition("SQLALCHEMY")
        return json.loads(body), flag.strip() == "True"

    first, imported_first = run()  # reads the rows, saves the copy
    second, imported_second = run()
    assert imported_first and not imported_second
    assert first["cells"] == second["cells"]


def test_a_bulk_write_marks_the_months_at_once(filled: Store) -> None:
    """A bulk upsert from a staged table inside mc.bulk_write: the months of the staged rows
    and of the calls they replace are marked, the row triggers are back afterwards."""
    load(filled)
    load(filled, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert set(copies_of(filled)) == {"2026-10", "2026-11"}
    columns = "pbx, call_key, site, arrival, outcome, in_hours, is_test, caller_withheld, " \
              "incomplete, sources, time_source, resolution, local_date, local_hour, local_weekday"
    with filled.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE staged AS SELECT {columns} FROM calls "
                             "WHERE call_key = 'nov'")
        conn.exec_driver_sql("UPDATE staged SET local_date = '2026-12-01'")  # moves a call
        with mc.bulk_write(conn, "staged"):
            if filled.dialect == "sqlite":  # marked already, and no trigger per row
                assert "2026-12" in set(conn.execute(sa.select(call_changes.c.month)).scalars())
                assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = "
                                            "'trigger' AND tbl_name = 'calls'").scalar() == 0
            conn.exec_driver_sql(
                f"INSERT INTO calls ({columns}) SELECT {columns} FROM staged WHERE true "
                "ON CONFLICT (pbx, call_key) DO UPDATE SET local_date = excluded.local_date")
        marked = set(conn.execute(sa.select(call_changes.c.month)).scalars())
    assert {"2026-11", "2026-12"} <= marked and "2026-10" not in marked
    assert set(copies_of(filled)) == {"2026-10"}
    write(filled, [call("after", at(21, 10), tta=1.0, end=2.0)])  # the triggers are back
    assert copies_of(filled) == {}
    assert same(load(filled, dt.date(2026, 11, 1), dt.date(2026, 12, 31), copies=False),
                load(filled, dt.date(2026, 11, 1), dt.date(2026, 12, 31)))


def test_the_columnar_importers_bulk_write_marks_the_month(filled: Store) -> None:
    """The columnar importers write through monitor.store.bulk (staged rows, one upsert): a
    month they touch is read from its rows again, never from a stale copy."""
    import polars as pl

    from monitor.store.bulk import write_frame
    from monitor.store.writer import call_row

    load(filled)
    assert "2026-10" in copies_of(filled)
    changed = [call("bulk", at(12, 20), tta=3.0, end=9.0),
               replace(CALLS[3], source=Source.CEL, answer=CALLS[3].arrival + 2.0,
                       outcome=Outcome.ANSWERED)]
    frame = pl.DataFrame([call_row(c) | {"order": i} for i, c in enumerate(changed)])
    with filled.engine.begin() as conn:
        write_frame(conn, frame)
    assert "2026-10" not in copies_of(filled)
    assert same(load(filled, copies=False), load(filled))
