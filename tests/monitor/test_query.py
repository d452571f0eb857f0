"""The store meets the core: load_call_arrays and load_binned_calls on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor import query
from monitor.call import Call, Outcome, Source
from monitor.metrics.arrays import OUTCOME_CODE
from monitor.metrics.cells import assign, make_cells, period_labels
from monitor.metrics.summary import cell_stats, cell_stats_binned
from monitor.query import StatsRequest, load_binned_calls, load_call_arrays, store_stats
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts

PARIS = ZoneInfo("Europe/Paris")
DAY = dt.date(2026, 10, 5)
SITES = ("eps-05", "eps-06")


def call(key: str, site: str, local: dt.datetime, outcome: Outcome, *, tta: float | None = None,
         end: float | None = None, source: Source = Source.CEL, **kw: object) -> Call:
    """A call arriving at `local` (Paris wall clock); end is seconds after the answer (or the
    arrival when nobody answered)."""
    arrival = local.replace(tzinfo=PARIS).timestamp() + 0.123456
    answer = None if tta is None else arrival + tta
    stop = None if end is None else (answer or arrival) + end
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=source, answer=answer, end=stop, local_date=date, local_hour=hour,
                local_weekday=weekday, resolution=1e-6, **kw)  # type: ignore[arg-type]


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute)


CALLS = [
    call("1", "eps-05", at(9), Outcome.ANSWERED, tta=24.9, end=60.0),
    call("2", "eps-05", at(9, 5), Outcome.ANSWERED, tta=25.0, end=120.0),
    call("3", "eps-05", at(9, 10), Outcome.ANSWERED, tta=25.1),
    call("4", "eps-05", at(10), Outcome.ABANDONED, end=12.0),
    call("5", "eps-05", at(10, 1), Outcome.SHORT_ABANDON, end=2.0),
    call("6", "eps-05", at(18), Outcome.MESSAGE, end=30.0, in_hours=False),
    call("7", "eps-05", at(10, 2), Outcome.ANSWERED, tta=3.0, end=30.0, is_test=True),
    call("8", "eps-06", at(11), Outcome.BUSY, end=0.5),
    call("9", "eps-06", at(11, 30), Outcome.ANSWERED, tta=7.0, end=40.0,
         queue_entry=None),
    call("10", "eps-05", at(9, day=DAY + dt.timedelta(days=1)), Outcome.ANSWERED, tta=1.0),
    call("11", "eps-05", at(12), Outcome.ANSWERED, tta=30.0, end=10.0,
         source=Source.QUEUE_LOG),
]


@pytest.fixture
def filled(store: Store) -> Store:
    with store.engine.begin() as conn:
        write_calls(conn, CALLS)
    return store


def test_arrays_have_declared_dtypes_and_exact_times(filled: Store) -> None:
    a = load_call_arrays(filled.engine, start=DAY, end=DAY, sites=SITES)
    assert len(a) == 9  # not the test call, not the next day
    assert (a.site.dtype, a.outcome.dtype, a.tta.dtype, a.in_hours.dtype) == (
        np.int16, np.int8, np.float64, np.bool_)
    answered = a.outcome == OUTCOME_CODE[Outcome.ANSWERED]
    assert sorted(a.tta[answered].tolist()) == [7.0, 24.9, 25.0, 25.1, 30.0]
    assert np.isnan(a.tta[~answered]).all()
    assert sorted(a.hangup[~answered & ~np.isnan(a.hangup)].tolist()) == [0.5, 2.0, 12.0, 30.0]
    assert sorted(a.handle[answered & ~np.isnan(a.handle)].tolist()) == [10.0, 40.0, 60.0, 120.0]
    expected = sorted(c.arrival for c in CALLS if not c.is_test and c.local_date == "2026-10-05")
    assert np.allclose(np.sort(a.arrival), expected, rtol=0, atol=1e-6)
    assert a.in_hours.sum() == 8


def test_parallel_reads_give_the_same_calls(filled: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    kw = {"start": DAY, "end": DAY + dt.timedelta(days=1), "sites": SITES}
    one = load_call_arrays(filled.engine, **kw)
    monkeypatch.setattr(query, "SPLIT_IDS", 1)
    monkeypatch.setattr(query.os, "cpu_count", lambda: 3)
    split = load_call_arrays(filled.engine, **kw)
    order_one, order_split = np.argsort(one.arrival), np.argsort(split.arrival)
    for name in ("site", "outcome", "arrival", "tta", "hangup", "handle", "in_hours"):
        assert np.array_equal(getattr(one, name)[order_one], getattr(split, name)[order_split],
                              equal_nan=True), name


def test_filters(filled: Store) -> None:
    kw = {"start": DAY, "end": DAY + dt.timedelta(days=1)}
    assert len(load_call_arrays(filled.engine, sites=SITES, **kw)) == 10
    assert len(load_call_arrays(filled.engine, sites=SITES, include_tests=True, **kw)) == 11
    assert len(load_call_arrays(filled.engine, sites=SITES, in_hours_only=True, **kw)) == 9
    assert len(load_call_arrays(filled.engine, sites=("eps-06",), **kw)) == 2
    assert len(load_call_arrays(filled.engine, sites=SITES, all_sites=True, **kw)) == 10
    empty = load_call_arrays(filled.engine, sites=SITES, start=DAY - dt.timedelta(days=9),
                             end=DAY - dt.timedelta(days=8))
    assert len(empty) == 0


def test_queue_entry_clock(store: Store) -> None:
    c = call("q", "eps-05", at(9), Outcome.ANSWERED, tta=30.0, end=5.0)
    from dataclasses import replace

    with store.engine.begin() as conn:
        write_calls(conn, [replace(c, queue_entry=c.arrival + 8.0)])
    arrival = load_call_arrays(store.engine, start=DAY, end=DAY, sites=SITES)
    queue = load_call_arrays(store.engine, start=DAY, end=DAY, sites=SITES,
                             clock_start="queue_entry")
    assert arrival.tta.tolist() == [30.0] and queue.tta.tolist() == [22.0]


def test_exact_and_store_side_figures_agree(filled: Store) -> None:
    for by in ("site", "hour", "day-hour", "weekday", "month", "day"):
        arrays = load_call_arrays(filled.engine, start=DAY, end=DAY, sites=SITES)
        exact = cell_stats(arrays, make_cells(arrays, by, start=DAY, end=DAY, sites=SITES))
        rows = load_binned_calls(filled.engine, by=by, start=DAY, end=DAY, sites=SITES)
        labels = period_labels(by, DAY, DAY, PARIS)
        binned = cell_stats_binned(rows, assign(rows.site_ids, rows.site, rows.period, labels,
                                                by, sites=SITES))
        assert np.array_equal(exact.outcomes, binned.outcomes), by
        assert np.array_equal(exact.answered_within, binned.answered_within)
        assert np.array_equal(exact.rings, binned.rings)
        assert np.allclose(exact.tta_mean, binned.tta_mean, equal_nan=True)
        assert np.allclose(exact.tta_max, binned.tta_max, equal_nan=True)
        assert np.allclose(exact.handle_mean, binned.handle_mean, equal_nan=True)
        assert np.allclose(exact.asterisk_sl2.value, binned.asterisk_sl2.value, equal_nan=True)
        assert np.allclose(exact.tta_quantiles, binned.tta_quantiles, atol=0.1, equal_nan=True)


def test_store_stats_by_site(filled: Store) -> None:
    request = StatsRequest(start=DAY, end=DAY, sites=SITES)
    s = store_stats(filled.engine, request)["site"]
    assert s.site == SITES
    assert s.offered.tolist() == [6, 2]  # in hours, no test call
    assert s.answered_within.tolist() == [1, 1]  # 24.9 s; 25.0 and 25.1 are not
    assert s.pickup_rate.value.tolist() == pytest.approx([1 / 5, 1 / 2])
    binned = store_stats(filled.engine, StatsRequest(start=DAY, end=DAY, sites=SITES,
                                                     binned=True))["site"]
    assert binned.offered.tolist() == [6, 2] and not binned.exact
