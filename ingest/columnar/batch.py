"""Glue between a columnar importer and `ingest.batch.run_batch`.

A columnar importer is an object with `parse(path, ctx, on_bytes, kind=, limit=)`, which
`run_batch` calls instead of running the line-by-line parser through `FileParse`. It reads the
file's bytes as `ingest.lines.LineReader` does (`read_source`: decompressed, BOM dropped, the
half-written last line held back or, compressed, kept aside as a reject) and returns a `Parsed`:
the calls as a `CallFrame`, the rejects, the counts `FileParse` keeps, and `spooled()`, the calls
and rejects in the reference's order with the chunks the line-by-line import would write them
in, which `run_batch` writes as one set (`monitor.store.bulk.write_frame`: what the row writer
stores for the same chunks). `parse_file` gives what `ingest.batch.parse_file` gives (for the
comparison tests).

The importer's fast part (`FastPart`) covers the lines and calls it proved ordinary; the lines it
delegates go through the reference parser and `CaptureContext.finalize`, exactly as `FileParse`
runs them, and both halves are merged here: calls, rejects, skipped calls and their reasons, and
the directory gaps, in the reference's item order. A file the reference could refuse as another
kind, or that the fast part does not read (`WholeFile`), is read by `FileParse` whole.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ingest.batch import (
    CUT_LINE,
    MAX_SKIP_REASONS,
    PROBE_LINES,
    SPOOL_ITEMS,
    DirectoryGaps,
    FileParse,
    Found,
    Miss,
    MissCount,
    Parser,
    SkipCount,
)
from ingest.columnar.finalize import CALL_COLUMNS, finalize_frame, refused, store_problems
from ingest.columnar.lines import FileLines, read_source
from ingest.columnar.memory import columnar_limit
from ingest.finalize import CaptureContext
from ingest.lines import HeldLine, SourceFileError, open_source
from ingest.records import RecordError, Reject, Skipped, UnknownSiteError, unexpected
from monitor.call import Call, CallBuilder, Outcome, Source
from monitor.store.writer import CHUNK, ROW_KEYS, call_row

SKIP_SCHEMA: dict[str, pl.DataType] = {
    "order": pl.Int64(), "line": pl.Int64(), "reason": pl.String(), "dialed": pl.String(),
    "queue": pl.String(), "context": pl.String(), "arrival": pl.Float64(), "no_site": pl.Boolean(),
}
Item = CallBuilder | Reject | Skipped


class WholeFile(Exception):
    """The file is not one the fast path reads: the reference importer reads all of it."""


@dataclass
class CallFrame:
    """The calls of one import as columns (`CALL_COLUMNS` and `order`, the position of each
    call among the reference parser's items)."""

    frame: pl.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def calls(self) -> list[dict[str, object]]:
        """The rows as `monitor.store.writer.call_row` gives them, in order (for tests)."""
        return self.frame.sort("order").select(ROW_KEYS).to_dicts()


@dataclass
class FastPart:
    """What the fast path decided, and what it leaves to the reference."""

    builders: pl.DataFrame  # finalize.BUILDER_SCHEMA columns and `group`
    skipped: pl.DataFrame  # SKIP_SCHEMA
    groups: pl.DataFrame  # `index` (0-based line) -> `group` of every line the fast path read
    delegated: np.ndarray  # 0-based lines left to the reference
    delegated_groups: pl.Series = field(default_factory=lambda: pl.Series("group", [], pl.String()))
    probes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # ^ lines the reference must also read (e.g. the rows a layout was voted on); the items it
    #   builds from them alone are dropped

    @classmethod
    def nothing(cls, lines: FileLines) -> FastPart:
        return cls(pl.DataFrame(), pl.DataFrame(schema=SKIP_SCHEMA),
                   pl.DataFrame(schema={"index": pl.Int64(), "group": pl.String()}),
                   np.arange(len(lines), dtype=np.int64))


@dataclass
class ReferencePart:
    calls: list[tuple[int, Call, int | None, str]] = field(default_factory=list)  # order, call,
    # line, raw
    rejects: list[tuple[int, Reject]] = field(default_factory=list)  # order, reject
    skipped: list[dict[str, object]] = field(default_factory=list)
    misses: list[dict[str, object]] = field(default_factory=list)  # rejected as unknown site
    recognised: bool = False  # the parser gave a call or a skipped call
    outbound: int = 0  # calls of no site that look internal or outbound (rejected)


class ColumnarImporter:
    """What every columnar importer shares: read the file, let `fast_part` decide what it can,
    run the reference over the rest, merge. Subclasses give `source`, `reference()`,
    `fast_part()` and, when the reference's item order is not the first line of each call,
    `order_of()`. `streamed`: the reference gives a call when its last line is read (CDR); its
    items are then ordered by that line (`Parsed.interleaved`)."""

    source: Source
    streamed = False
    delegated_rows = 0  # lines the reference read in the last parse (for tests and the bench)
    whole_reference = False  # whether the reference read the whole file in the last parse
    whole_when_held = False  # a held-back last line: the reference reads the file (its rule)

    def reference(self) -> Callable[..., object]:
        raise NotImplementedError

    def fast_part(self, lines: FileLines, ctx: CaptureContext) -> FastPart:
        raise NotImplementedError

    def order_of(self, item: Item, index: int) -> int:
        """Position of an item of the reference among all the items of the file."""
        return item.line or 0

    def parse_file(self, path: Path, ctx: CaptureContext,
                   on_bytes: Callable[[int], None] | None = None, *, kind: str = "",
                   limit: int | None = None) -> tuple[CallFrame, list[Reject], Counted]:
        """What `ingest.batch.parse_file` gives (calls as a CallFrame, rejects by line)."""
        parsed = self.parse(path, ctx, on_bytes, kind=kind, limit=limit)
        return parsed.calls, sorted(parsed.all_rejects(), key=lambda r: r.line or 0), \
            parsed.counts

    def parse(self, path: Path, ctx: CaptureContext,
              on_bytes: Callable[[int], None] | None = None, *, kind: str = "",
              limit: int | None = None) -> Parsed:
        """The file read as the reference reads it (`ingest.batch.FileParse`): the same calls,
        rejects, counts, held or cut last line, and the same refusal of a file of another kind
        (SourceFileError) — a file that might be refused is read by the reference whole."""
        self.whole_reference = False
        source = read_source(path, limit)
        if source.held is not None and self.whole_when_held:
            return self._whole(path, ctx, on_bytes, kind, limit)
        lines = FileLines.of(source.data)
        if not len(lines):  # nothing but a held or cut line, or nothing (rotated, emptied)
            return self._whole(path, ctx, on_bytes, kind, limit)
        try:
            fast = self.fast_part(lines, ctx)
        except WholeFile:
            return self._whole(path, ctx, on_bytes, kind, limit)
        calls, refused_groups = finalize_fast(fast, ctx, int(self.source))
        wanted, drop = delegated_lines(fast, refused_groups)
        self.delegated_rows = len(wanted)
        ref = run_reference(self.reference(), lines.numbered(wanted), ctx,  # type: ignore[arg-type]
                            self.order_of, drop, self.streamed)
        if _may_be_refused(lines, fast, calls, ref):
            return self._whole(path, ctx, on_bytes, kind, limit)
        found = merged_calls(calls, ref)
        counts = counted_reader(path, lines, fast, ref, found, wanted)
        counts.held = source.held
        counts.calls = len(found)
        counts.rejected = len(ref.rejects)
        cut = None
        if source.cut is not None:
            cut = Reject(source.cut[0], CUT_LINE, source.cut[1])
            counts.replaced += source.cut_replaced
            counts.rejected += 1
        if on_bytes is not None:
            on_bytes(path.stat().st_size)
        return Parsed(found, ref.rejects, counts, cut, self.streamed)

    def _whole(self, path: Path, ctx: CaptureContext, on_bytes: Callable[[int], None] | None,
               kind: str, limit: int | None) -> Parsed:
        """The reference's own parse of the whole file (`ingest.batch.FileParse`)."""
        self.whole_file()
        self.whole_reference = True
        parse = FileParse(path, self.reference(), ctx, kind, on_bytes,  # type: ignore[arg-type]
                          limit=limit)
        rows: list[dict[str, object]] = []
        frames: list[pl.DataFrame] = []  # the rows as columns, WHOLE_ROWS at a time: a
        rejects: list[tuple[int, Reject]] = []  # year of dicts would take gigabytes
        for at, item in enumerate(parse):
            if isinstance(item, Found):
                rows.append({"order": at, **call_row(item.call), "line": item.line,
                             "raw": item.raw})
                if len(rows) >= WHOLE_ROWS:
                    frames.append(pl.DataFrame(rows, schema=_call_schema(), orient="row"))
                    rows.clear()
            else:
                rejects.append((at, item))
        self.delegated_rows = parse.reader.lines
        frames.append(pl.DataFrame(rows, schema=_call_schema(), orient="row") if rows else
                      pl.DataFrame(schema=_call_schema()))
        frame = pl.concat(frames, rechunk=False)
        counts = Counted(path, parse.reader.lines, parse.reader.replaced, parse.skipped,
                         parse.gaps, parse.reader.held, parse.calls, parse.rejected)
        return Parsed(CallFrame(frame), rejects, counts, None, True)

    def whole_file(self) -> None:
        """Called when the reference reads the whole file (subclasses drop their state)."""

    def streaming(self, path: Path, ctx: CaptureContext) -> Parser | None:
        """The reference parser when `path` holds more bytes once decompressed than the
        memory budget lets the columnar importer hold (`ingest.columnar.memory`; the reference
        streams), else None."""
        limit = columnar_limit(ctx.config.capture.import_memory_mb)
        return self.reference() if too_large(path, limit) else None  # type: ignore[return-value]


WHOLE_ROWS = 20_000  # calls the reference's whole-file parse holds as dicts before columns


def too_large(path: Path, limit: int) -> bool:
    """Whether the file holds more than `limit` bytes once decompressed (read in pieces: the
    memory used stays small); a file that cannot be read is left to the importer's errors."""
    try:
        if path.stat().st_size > limit:
            return True
        with open_source(path) as (stream, _, compression):
            if compression is None:
                return False
            total = 0
            while piece := stream.read(1 << 20):
                total += len(piece)
                if total > limit:
                    return True
    except (SourceFileError, OSError, EOFError, zlib.error, lzma.LZMAError):
        return False
    return False


@dataclass
class Parsed:
    """A columnar parse: the calls, the rejects with their position (`order`, comparable with
    the calls' when `interleaved`, else the rejects come after the calls, by line), the counts
    and a compressed file's cut last line (after everything)."""

    calls: CallFrame
    rejects: list[tuple[int, Reject]]
    counts: Counted
    cut: Reject | None
    interleaved: bool

    def all_rejects(self) -> list[Reject]:
        return [r for _, r in self.rejects] + ([self.cut] if self.cut else [])

    def spooled(self) -> tuple[pl.DataFrame, list[tuple[tuple[int, int, int], Reject]]]:
        """The calls (`ROW_KEYS`, `line`, `raw`) in the reference's order, with `spool` and
        `chunk`: where the line-by-line import, which spools SPOOL_ITEMS calls and rejects at a
        time and writes each spool's calls writer.CHUNK at a time, puts each; and the rejects
        with a key that orders them as it writes them ((spool, 0, position); the store's
        refusals of a spool come after its rejects: (spool, 1, row))."""
        frame = self.calls.frame
        if self.interleaved:
            rejects = sorted(self.rejects, key=lambda r: r[0])
            orders = np.array([order for order, _ in rejects], dtype=np.int64)
            before = np.maximum.accumulate(np.searchsorted(
                orders, frame["order"].to_numpy(), "left")) if len(frame) else \
                np.zeros(0, dtype=np.int64)  # rejects given before each call
            at = np.arange(len(frame)) + before
            reject_at = np.arange(len(rejects)) + np.searchsorted(
                before, np.arange(len(rejects)), "right")
        else:
            frame = frame.sort("order", maintain_order=True)
            rejects = sorted(((1 << 62, r) for _, r in self.rejects),
                             key=lambda r: r[1].line or 0)
            at = np.arange(len(frame))
            reject_at = len(frame) + np.arange(len(rejects))
        spool = at // SPOOL_ITEMS
        row = np.arange(len(frame)) - np.searchsorted(spool, spool, "left")  # in its spool
        calls = frame.select(*ROW_KEYS, "line", "raw").with_columns(
            spool=pl.Series(spool, dtype=pl.Int64),
            chunk=pl.Series((spool << 20) + row // CHUNK, dtype=pl.Int64))
        keyed = [((int(where) // SPOOL_ITEMS, 0, int(where)), reject)
                 for where, (_, reject) in zip(reject_at.tolist(), rejects, strict=True)]
        if self.cut is not None:
            where = len(frame) + len(rejects)
            keyed.append(((where // SPOOL_ITEMS, 0, where), self.cut))
        return calls, keyed


def _may_be_refused(lines: FileLines, fast: FastPart, calls: pl.DataFrame,
                    ref: ReferencePart) -> bool:
    """Whether `ingest.batch.FileParse` could refuse the file as another kind: nothing
    recognised at all, or at some line at least PROBE_LINES rejects, as many as the non-blank
    lines so far (counting every reject at its line, and the non-blank lines from below)."""
    recognised = len(calls) or not fast.builders.is_empty() or not fast.skipped.is_empty() \
        or ref.calls or ref.skipped or any(r.miss is not None for _, r in ref.rejects) \
        or ref.recognised
    if not recognised:
        return True
    plain = sorted(r.line or 0 for _, r in ref.rejects if r.miss is None)
    if len(plain) < PROBE_LINES:
        return False
    nonblank = lines.nonblank_at_most()
    at = np.clip(np.array(plain, dtype=np.int64) - 1, 0, max(len(lines) - 1, 0))
    seen = nonblank[at] if len(nonblank) else np.zeros(len(at), dtype=np.int64)
    count = np.arange(1, len(plain) + 1)
    return bool(((count >= PROBE_LINES) & (count >= seen)).any())


def cuts(n: int, keys: pl.DataFrame, size: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges of about `size` of the `n` lines, cut only where no key (a `key`,
    `line` frame, lines 1-based) has lines on both sides: no call straddles two parts."""
    if n <= size:
        return [(0, n)]
    spans = keys.group_by("key").agg(lo=pl.col("line").min() - 1, hi=pl.col("line").max() - 1)
    cover = np.zeros(n + 1, dtype=np.int64)
    np.add.at(cover, spans["lo"].to_numpy() + 1, 1)
    np.add.at(cover, spans["hi"].to_numpy() + 1, -1)
    free = np.flatnonzero(np.cumsum(cover)[:n] == 0)  # a cut before these lines splits nothing
    found, lo = [], 0
    while True:
        at = np.searchsorted(free, lo + size)
        if at >= len(free):
            break
        found.append((lo, int(free[at])))
        lo = int(free[at])
    return [*found, (lo, n)]


def merged_parts(parts: list[FastPart], probes: np.ndarray | None = None) -> FastPart:
    """One FastPart of the parts of a file read part by part."""
    return FastPart(
        pl.concat([p.builders for p in parts if not p.builders.is_empty()], how="diagonal")
        if any(not p.builders.is_empty() for p in parts) else pl.DataFrame(),
        pl.concat([p.skipped for p in parts]), pl.concat([p.groups for p in parts]),
        np.unique(np.concatenate([p.delegated for p in parts])),
        pl.concat([p.delegated_groups for p in parts]),
        probes if probes is not None else np.zeros(0, dtype=np.int64))


class _Tracked:
    """Numbered lines for a streaming reference parser, remembering the last line it read (the
    line at which it gives an item)."""

    def __init__(self, numbered: list[tuple[int, str]]) -> None:
        self.numbered, self.line = numbered, 0

    def replay(self) -> Iterator[tuple[int, str]]:
        return iter(self.numbered)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for number, text in self.numbered:
            self.line = number
            yield number, text
        self.line += 1  # items given after the last line


def stream_order(line: int, sub: int) -> int:
    """The position of the `sub`-th item a streaming parser gives at `line`."""
    return (line << SUB_BITS) + sub


SUB_BITS = 20


def run_reference(parser: Parser, numbered: list[tuple[int, str]], ctx: CaptureContext,
                  order: Callable[[Item, int], int], drop: set[int],
                  streamed: bool = False) -> ReferencePart:
    """The reference parser and finalize over some lines, as `ingest.batch.FileParse` runs
    them; items whose line is in `drop` are ignored. `streamed`: the items' positions are the
    line at which the parser gave them (`stream_order`)."""
    part = ReferencePart()
    tracked = _Tracked(numbered)
    last, sub = -1, 0
    for index, item in enumerate(parser(tracked if streamed else numbered, ctx)):
        if item.line in drop and not isinstance(item, Reject):
            continue
        if streamed:
            sub = sub + 1 if tracked.line == last else 1
            last = tracked.line
            at = stream_order(tracked.line, sub)
        else:
            at = order(item, index) if not isinstance(item, Reject) else item.line or 0
        if isinstance(item, Reject):
            part.rejects.append((at, item))
            continue
        part.recognised = True
        if isinstance(item, Skipped):
            part.skipped.append(_skip_row(at, item))
        else:
            _finalize_one(part, item, ctx, at)
    return part


def _finalize_one(part: ReferencePart, item: CallBuilder, ctx: CaptureContext, at: int) -> None:
    raw = "\n".join(item.raw)
    try:
        part.calls.append((at, ctx.finalize(item, check_store=False), item.line, raw))
    except UnknownSiteError as exc:
        part.rejects.append((at, Reject(item.line, str(exc), raw, exc.miss)))
        if exc.miss.outbound:  # (DirectoryGaps.add_miss: nothing the directory lacks)
            part.outbound += 1
        else:
            part.misses.append(_miss_row(at, item.line, exc.miss, rejected=True))
    except RecordError as exc:
        part.rejects.append((at, Reject(item.line, str(exc), raw)))
    except Exception as exc:  # one call never costs the others (as FileParse)
        part.rejects.append((at, Reject(item.line, unexpected(exc), raw)))


def _skip_row(at: int, item: Skipped) -> dict[str, object]:
    miss = item.miss
    return {"order": at, "line": item.line, "reason": item.reason,
            "dialed": miss.dialed if miss else None, "queue": miss.queue if miss else None,
            "context": miss.context if miss else None, "arrival": miss.arrival if miss else None,
            "no_site": miss is not None}


def _miss_row(at: int, line: int | None, miss: Miss, rejected: bool) -> dict[str, object]:
    return {"order": at, "line": line, "dialed": miss.dialed, "queue": miss.queue,
            "context": miss.context, "arrival": miss.arrival, "rejected": rejected}


def finalize_fast(fast: FastPart, ctx: CaptureContext, source: int) -> tuple[pl.DataFrame, pl.Series]:
    """Finalize the fast builders; (calls, groups refused by finalize, for the reference)."""
    if fast.builders.is_empty():
        return pl.DataFrame(), pl.Series("group", [], pl.String())
    site, bad = refused(fast.builders, ctx)
    accepted = fast.builders.filter(~bad)
    calls = finalize_frame(accepted.drop("group"), site.filter(~bad), ctx, source)
    problem = store_problems(calls)  # the reference gives them back with their raw lines
    calls = calls.filter(~problem).with_columns(raw=pl.lit(None, pl.String()))
    return calls, pl.concat([fast.builders.filter(bad)["group"],
                             accepted.filter(problem)["group"]])


def delegated_lines(fast: FastPart, refused_groups: pl.Series) -> tuple[np.ndarray, set[int]]:
    """(0-based lines the reference reads, 1-based lines whose items it must drop)."""
    groups = pl.concat([fast.delegated_groups, refused_groups]).unique()
    in_groups = fast.groups.filter(pl.col("group").is_in(groups.implode()))["index"].to_numpy()
    wanted = np.union1d(fast.delegated, in_groups)
    drop = np.setdiff1d(fast.probes, wanted)
    return np.union1d(wanted, fast.probes), set((drop + 1).tolist())


def merged_calls(fast_calls: pl.DataFrame, ref: ReferencePart) -> CallFrame:
    frames = [fast_calls] if not fast_calls.is_empty() else []
    if ref.calls:
        rows = [{"order": at, **call_row(call), "line": line, "raw": raw}
                for at, call, line, raw in ref.calls]
        frames.append(pl.DataFrame(rows, schema=_call_schema()))
    if not frames:
        return CallFrame(pl.DataFrame(schema=_call_schema()))
    return CallFrame(pl.concat([f.select(_call_schema().keys()).cast(_call_schema())  # type: ignore[arg-type]
                                for f in frames]).sort("order", maintain_order=True))


def _call_schema() -> dict[str, pl.DataType]:
    types: dict[str, pl.DataType] = {name: pl.String() for name in CALL_COLUMNS}
    for name in ("arrival", "first_ring", "queue_entry", "answer", "end_time", "time_to_answer",
                 "resolution"):
        types[name] = pl.Float64()
    for name in ("caller_withheld", "in_hours", "is_test", "incomplete"):
        types[name] = pl.Boolean()
    for name in ("sources", "time_source", "local_hour", "local_weekday"):
        types[name] = pl.Int64()
    return {"order": pl.Int64(), **types, "line": pl.Int64(), "raw": pl.String()}


@dataclass
class Counted:
    """The counts `ingest.batch.FileParse` would have (`ingest.batch.ParsedCounts`)."""

    path: Path
    lines: int = 0
    replaced: int = 0
    skipped: SkipCount = field(default_factory=SkipCount)
    gaps: DirectoryGaps = field(default_factory=DirectoryGaps)
    held: HeldLine | None = None
    calls: int = 0  # calls found (some may be refused by the store when written)
    rejected: int = 0  # rejects of the parse


def counted_reader(path: Path, lines: FileLines, fast: FastPart, ref: ReferencePart,
                   calls: CallFrame, delegated: np.ndarray) -> Counted:
    """The counts of the reference parse: lines, replaced, skipped calls with their first
    reasons, and the directory gaps, in item order."""
    reader = Counted(path)
    reader.lines = len(lines)
    reader.replaced = lines.replaced(delegated)
    skipped = pl.concat([fast.skipped.cast(SKIP_SCHEMA),  # type: ignore[arg-type]
                         pl.DataFrame(ref.skipped, schema=SKIP_SCHEMA)]).sort("order", "line")
    reader.skipped = _skip_counts(skipped)
    misses = pl.concat([
        skipped.filter("no_site").select("order", "line", "dialed", "queue", "context", "arrival",
                                         rejected=pl.lit(False)),
        pl.DataFrame(ref.misses, schema={"order": pl.Int64(), "line": pl.Int64(),
                                         "dialed": pl.String(), "queue": pl.String(),
                                         "context": pl.String(), "arrival": pl.Float64(),
                                         "rejected": pl.Boolean()}),
    ]).sort("order", "line")
    _add_misses(reader, misses)
    reader.gaps.outbound = ref.outbound
    unclassified = calls.frame.filter(pl.col("outcome").is_in(
        [Outcome.UNKNOWN_DEVICE.value, Outcome.MACHINE.value]))
    for outcome, site, device in unclassified.select("outcome", "site", "answered_by").iter_rows():
        target = reader.gaps.devices if outcome == Outcome.UNKNOWN_DEVICE.value else reader.gaps.machines
        target[(site, device or "?")] += 1
    return reader


def _skip_counts(skipped: pl.DataFrame) -> SkipCount:
    """SkipCount.add over the items in order: the total, and the counts of the first
    MAX_SKIP_REASONS distinct reasons."""
    counts = SkipCount(total=len(skipped))
    for reason, n in skipped.group_by("reason", maintain_order=True).len().iter_rows():
        if len(counts.reasons) < MAX_SKIP_REASONS:
            counts.reasons[reason] = n
    return counts


def _add_misses(reader: Counted, misses: pl.DataFrame) -> None:
    """DirectoryGaps.add_miss for every miss, grouped (same counts, same first occurrence)."""
    keys = ["dialed", "queue", "context", "rejected"]
    grouped = misses.group_by(keys, maintain_order=True).agg(
        calls=pl.len(), first_line=pl.col("line").min(), first_arrival=pl.col("arrival").min(),
        last_arrival=pl.col("arrival").max())
    for dialed, queue, context, rejected, n, first, lo, hi in grouped.iter_rows():
        reader.gaps.misses[(dialed, queue, context, rejected)] = MissCount(n, first, lo, hi)
