"""The set-based write (monitor.store.bulk.write_frame) stores what the row writer stores.

Every scenario writes the same rows through `writer.write_rows` into one store and through
`bulk.write_frame` into another of the same kind, then compares the calls, the contributions
and their links to batches, and the counts (new, merged, duplicates, stored apart, refused with
the reason, by row index).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from monitor.call import Source
from monitor.store import Store, open_store
from monitor.store.bulk import write_frame
from monitor.store.contributions import digest, digests, drop
from monitor.store.models import call_contributions, calls, contribution_batches
from monitor.store.writer import CHUNK, ROW_KEYS, WriteCounts, write_rows
from tests.conftest import pg_schema

BASE = 1_790_000_000.0


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgresql",
                                                          marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two fresh stores of one kind: the row writer's, the set write's."""
    with ExitStack() as schemas:
        urls = [schemas.enter_context(pg_schema()) for _ in range(2)] \
            if request.param == "postgresql" else \
            [f"sqlite:///{tmp_path / name}" for name in ("rows.db", "set.db")] \
            if request.param == "sqlite" else ["sqlite://", "sqlite://"]
        stores = [open_store(url) for url in urls]
        yield stores[0], stores[1]
        for store in stores:
            store.dispose()


def row(key: str, arrival: float, source: Source = Source.CDR, **values: Any) -> dict[str, Any]:
    answer = values.pop("answer", arrival + 7.5)
    base = {
        "pbx": "pbx-a", "call_key": key, "site": "eps-05", "linkedid": key, "dialed": "0142",
        "caller_hash": "h" + key[-6:], "caller_raw": None, "caller_withheld": False,
        "arrival": arrival, "first_ring": arrival + 0.5, "queue_entry": None, "answer": answer,
        "end_time": arrival + 60.0, "time_to_answer": None if answer is None else answer - arrival,
        "outcome": "answered" if answer is not None else "abandoned", "answered_by": "PJSIP/101",
        "in_hours": True, "is_test": False, "incomplete": False, "sources": int(source),
        "time_source": source.rank, "resolution": 1.0, "local_date": "2026-09-21",
        "local_hour": 9, "local_weekday": 0,
    }
    return base | values


def mixed(n: int, seed: int, source: Source = Source.CDR) -> list[dict[str, Any]]:
    """Rows of many shapes: new calls, calls given twice in a chunk and across chunks, calls
    sharing a key with another call, values the store refuses, empty and missing texts."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        arrival = BASE + i * 13.0
        kind = rng.random()
        if kind < 0.03 and rows:  # the same call again (near) or another call with its key
            earlier = rng.choice(rows[-3000:])
            gap = rng.choice([0.0, 1.0, 30.0, 5000.0])
            rows.append(row(earlier["call_key"], earlier["arrival"] + gap, source,
                            answer=None if rng.random() < 0.5 else earlier["arrival"] + gap + 3))
        elif kind < 0.04:
            bad = rng.choice([{"dialed": "01\x0042"}, {"answered_by": "x" * 300},
                              {"time_to_answer": float("inf")}, {"end_time": float("nan")},
                              {"call_key": "k" * 151}])
            rows.append(row(f"{BASE:.0f}.{i}", arrival, source, **bad))
        elif kind < 0.05:
            rows.append(row(f"{BASE:.0f}.{i}", arrival, source, dialed="", caller_hash=None,
                            answered_by=None, answer=None))
        else:
            rows.append(row(f"{BASE:.0f}.{i}", arrival, source,
                            answer=arrival + rng.choice([0.0, 4.99, 25.0, 25.01, 61.0])))
    return rows


def framed(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"caller_raw": pl.String()}).with_columns(
        chunk=pl.int_range(pl.len()) // CHUNK)


def stored(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        contributions = sorted((tuple(r) for r in conn.execute(
            sa.select(*(call_contributions.c[n] for n in (*ROW_KEYS, "digest", "batch_id"))))),
            key=repr)
        links = sorted((tuple(r) for r in conn.execute(
            sa.select(call_contributions.c.call_key, call_contributions.c.digest,
                      contribution_batches.c.batch_id).join(
                contribution_batches,
                contribution_batches.c.contribution_id == call_contributions.c.id))), key=repr)
        return {"calls": sorted((tuple(r)[1:] for r in conn.execute(sa.select(calls))),
                                 key=repr),
                "contributions": contributions, "links": links}


def both(pair: tuple[Store, Store], rows: list[dict[str, Any]],
         batch: int | None) -> tuple[WriteCounts, WriteCounts]:
    by_rows, by_set = pair
    with by_rows.engine.begin() as conn:
        expected = write_rows(conn, rows, batch)
    with by_set.engine.begin() as conn:
        got = write_frame(conn, framed(rows), batch)
    return expected, got


def assert_same(expected: WriteCounts, got: WriteCounts, pair: tuple[Store, Store]) -> None:
    assert (got.imported, got.merged, got.duplicates, got.split) == \
        (expected.imported, expected.merged, expected.duplicates, expected.split)
    assert got.refused_at == expected.refused_at
    assert got.split_at == expected.split_at
    assert stored(pair[1]) == stored(pair[0])


def test_digests_are_the_row_digest() -> None:
    """Over columns as row by row; a time given as an int is the same as the float, a text
    holding the separator cannot pass for two fields, -0.0 is not 0.0."""
    rows = [*mixed(300, seed=1), row("a", BASE, caller_hash="h|x", caller_raw="y"),
            row("a", BASE, caller_hash="h", caller_raw="x|y")]  # "h|x|y" both, joined bare
    assert digests(framed(rows)).to_list() == [digest(r) for r in rows]
    assert digest(rows[-2]) != digest(rows[-1])
    as_int = row("k", BASE, first_ring=int(BASE) + 1, end_time=None)
    assert digest(as_int) == digest(as_int | {"first_ring": BASE + 1.0})
    assert digest(row("k", BASE, resolution=-0.0)) != digest(row("k", BASE, resolution=0.0))
    assert digests(framed([as_int])).to_list() == [digest(as_int)]


def test_a_file_written_twice_then_merged_by_another_source(pair: tuple[Store, Store]) -> None:
    rows = mixed(5000, seed=7)
    expected, got = both(pair, rows, 1)
    assert expected.refused_at and expected.split and expected.duplicates  # the shapes are there
    assert_same(expected, got, pair)
    expected, got = both(pair, rows, 2)  # the same file again: duplicates, linked contributions
    assert expected.duplicates > 4000
    assert_same(expected, got, pair)
    other = [r | {"sources": int(Source.CEL), "time_source": Source.CEL.rank,
                  "arrival": r["arrival"] + 0.4} for r in mixed(5000, seed=7)[::3]]
    expected, got = both(pair, other, 3)
    assert expected.merged > 1000
    assert_same(expected, got, pair)
    for store in pair:  # dropping a batch restores the same calls
        with store.engine.begin() as conn:
            drop(conn, 3)
    assert stored(pair[1]) == stored(pair[0])


def test_another_call_with_a_stored_key_is_stored_apart(pair: tuple[Store, Store]) -> None:
    first = [row("k1", BASE), row("k2", BASE), row("k3", BASE)]
    expected, got = both(pair, first, 1)
    assert_same(expected, got, pair)
    later = [row("k1", BASE + 86400), row("k2", BASE + 1.0), row("k3", BASE + 30.0,
                                                                     Source.CEL)]
    expected, got = both(pair, later, 2)
    assert expected.split == 1 and expected.duplicates == 1 and expected.merged == 1
    assert_same(expected, got, pair)
    expected, got = both(pair, later, 3)  # the call stored apart is found again under its key
    assert_same(expected, got, pair)
    clash = [row(f"k1@{int(BASE + 172800)}", BASE), row("k1", BASE + 172800)]
    expected, got = both(pair, clash, 4)  # stored apart under a key another row has
    assert_same(expected, got, pair)


def test_live_contributions_are_linked_not_copied(pair: tuple[Store, Store]) -> None:
    rows = [row(f"live{i}", BASE + i) for i in range(50)]
    expected, got = both(pair, rows, None)
    assert_same(expected, got, pair)
    expected, got = both(pair, rows, 5)
    assert expected.duplicates == 50
    assert_same(expected, got, pair)


def test_a_failed_adbc_stage_falls_back_to_executemany(
        pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """No room for the scratch file (or no driver): the rows are staged in the connection's
    own temporary table, and the same is stored."""
    import monitor.store.bulk as bulk

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bulk, "_adbc_ingest", full)
    rows = mixed(3000, seed=11)
    expected, got = both(pair, rows, 1)
    assert_same(expected, got, pair)
    if pair[1].dialect == "sqlite" and pair[1].engine.url.database:
        assert "No space left on device" in caplog.text


@pytest.mark.postgres
def test_two_imports_of_the_same_calls_at_once_do_not_deadlock() -> None:
    """Two files giving the same calls in opposite orders (a CDR and a CEL of one day) imported
    at once into one PostgreSQL: each set write takes its keys in one order, so neither
    waits for the other in a cycle (PostgreSQL would abort one import)."""
    import threading

    with pg_schema() as url:
        store = open_store(url)
        rows = [row(f"d{i:05d}", BASE + i) for i in range(4000)]
        other = [r | {"sources": int(Source.CEL), "time_source": Source.CEL.rank}
                 for r in reversed(rows)]
        errors: list[Exception] = []
        start = threading.Barrier(2)

        def write(given: list[dict[str, Any]], batch: int) -> None:
            try:
                with store.engine.begin() as conn:
                    start.wait()
                    write_frame(conn, framed(given), batch)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(given, n))
                   for n, given in ((1, rows), (2, other))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.engine.connect() as conn:
            stored_sources = set(conn.execute(sa.select(calls.c.sources).distinct()).scalars())
        store.dispose()
    assert errors == []
    assert stored_sources == {int(Source.CDR) | int(Source.CEL)}
