"""Compare a columnar importer with the reference importer, call by call.

`compare(path, reference_parser, fast_parser, ctx)` runs `ingest.batch.parse_file` (the
reference) and the fast parser's `parse_file` on the same file and asserts that they give the
same calls in the same order with every stored column equal, the same rejects (line, reason,
raw text), the same line and U+FFFD counts, the same skipped calls and reasons, and the same
directory gaps. `compare_stores` does the same through `run_batch` into two stores and compares
the stored tables and the write counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from config import Config
from ingest.batch import FileParse, FileParser, ParsedCounts, Parser, parse_file, run_batch
from ingest.finalize import CaptureContext
from ingest.lines import SourceFileError
from ingest.records import Reject
from monitor.calendar import SiteCalendar
from monitor.store import Store
from monitor.store.models import calls, directory_misses, import_batches, rejected_records
from monitor.store.writer import call_row
from simulator.ids import IdAssigner
from simulator.model import simulate_day
from simulator.month import render


@dataclass
class Compared:
    calls: int
    rejects: int
    delegated: int  # lines the fast parser left to the reference


def _same(a: object, b: object) -> bool:
    """Equal, and of the same kind; a float equal to an int is the same number (the reference
    keeps some whole-second times as int, stored as the same REAL)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return a == b or (math.isnan(a) and math.isnan(b))
    return (a == b and type(a) is type(b)) or (a is None and b is None)


def assert_same_rows(reference: list[dict[str, Any]], fast: list[dict[str, Any]]) -> None:
    """The same calls, column by column. The order of a file's calls is not compared (the
    streaming reference gives a call once its last row is read): calls sharing a key keep their
    order (a stable sort), so that their merge order is compared."""
    reference = sorted(reference, key=lambda r: r["call_key"])
    fast = sorted(fast, key=lambda r: r["call_key"])
    assert [r["call_key"] for r in fast] == [r["call_key"] for r in reference]
    for ref, got in zip(reference, fast, strict=True):
        different = {k: (ref[k], got[k]) for k in ref if not _same(ref[k], got[k])}
        assert not different, f"call {ref['call_key']}: {different}"


def assert_same_rejects(reference: list[Reject], fast: list[Reject]) -> None:
    assert [(r.line, r.reason, r.raw, r.miss) for r in fast] == \
        [(r.line, r.reason, r.raw, r.miss) for r in reference]


def assert_same_counts(reference: FileParse, fast: ParsedCounts) -> None:
    assert (fast.calls, fast.rejected) == (reference.calls, reference.rejected)
    assert (fast.lines, fast.replaced) == (reference.reader.lines, reference.reader.replaced)
    assert fast.skipped.total == reference.skipped.total
    assert fast.skipped.reasons == reference.skipped.reasons
    assert list(fast.skipped.reasons) == list(reference.skipped.reasons)
    assert fast.gaps.devices == reference.gaps.devices
    assert fast.gaps.machines == reference.gaps.machines
    assert fast.gaps.misses == reference.gaps.misses
    assert list(fast.gaps.misses) == list(reference.gaps.misses)


def compare(path: Path, reference: Parser, fast: FileParser, ctx: CaptureContext) -> Compared:
    """Both parses of `path` give the same; a file the reference refuses whole (another kind)
    is refused by the fast parser with the same error."""
    try:
        found, rejects, reader = parse_file(path, reference, ctx)
    except SourceFileError as refused:
        with pytest.raises(SourceFileError) as got:
            fast.parse_file(path, ctx, None)  # type: ignore[attr-defined]
        assert str(got.value) == str(refused)
        return Compared(0, 0, getattr(fast, "delegated_rows", 0))
    frame, fast_rejects, fast_reader = fast.parse_file(path, ctx, None)  # type: ignore[attr-defined]
    assert fast_reader.held == reader.reader.held
    assert_same_rows([call_row(c) for c in found], frame.calls())  # type: ignore[attr-defined]
    assert_same_rejects(rejects, fast_rejects)
    assert_same_counts(reader, fast_reader)
    return Compared(len(found), len(rejects), getattr(fast, "delegated_rows", 0))


def stored(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The tables an import writes, without ids and times of the import itself."""
    with store.engine.connect() as conn:
        return {
            "calls": sorted(tuple(r)[1:] for r in conn.execute(sa.select(calls))),
            "batches": [tuple(r) for r in conn.execute(sa.select(
                import_batches.c.kind, import_batches.c.status, import_batches.c.rows_read,
                import_batches.c.calls_seen, import_batches.c.imported, import_batches.c.merged,
                import_batches.c.duplicates, import_batches.c.rejected)
                .order_by(import_batches.c.id))],
            "rejects": [tuple(r) for r in conn.execute(sa.select(
                rejected_records.c.line, rejected_records.c.reason, rejected_records.c.raw)
                .order_by(rejected_records.c.id))],
            "misses": sorted((tuple(r) for r in conn.execute(sa.select(
                directory_misses.c.dialed, directory_misses.c.queue, directory_misses.c.context,
                directory_misses.c.rejected, directory_misses.c.calls, directory_misses.c.first_line,
                directory_misses.c.first_arrival, directory_misses.c.last_arrival))), key=repr),
        }


def import_all(store: Store, kind: str, paths: Iterable[Path], parser: Parser | FileParser,
               ctx: CaptureContext, again: bool = False) -> list[tuple[int, int, int]]:
    counts = []
    for path in paths:
        result = run_batch(store, kind, path, parser, ctx, again=again)
        counts.append((result.counts.imported, result.counts.merged, result.counts.duplicates))
    return counts


def simulated_days(config: Config, days: list[dt.date], out: Path,
                   sites: list[str] | None = None) -> Path:
    """The simulator's Master.csv, queue_log and cel-custom CSV of some days, in `out`."""
    calendar, ids = SiteCalendar(config), IdAssigner()
    named = []
    for day in days:
        named.extend(ids.feed(simulate_day(config, day, 0, sites, calendar)))
    named.extend(ids.drain())
    tz = next(iter(config.pbxs.values())).tz
    rendered = render(named, tz)
    out.mkdir(parents=True, exist_ok=True)
    (out / "Master.csv").write_text(rendered.cdr, encoding="utf-8")
    (out / "queue_log").write_text(rendered.queue_log, encoding="utf-8")
    (out / "cel.csv").write_text(rendered.cel, encoding="utf-8")
    return out
