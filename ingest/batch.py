"""Run one import: checksum, parse, finalize, write, keep rejects, summarize.

A file already imported whole (same kind, PBX and SHA-256) is skipped. Otherwise every call of
the file is written in one transaction together with the file's rejected records and the
batch's counts, so an import is either recorded completely or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import sqlalchemy as sa

from ingest.drop import BatchError, DropResult, drop_batch
from ingest.finalize import CaptureContext
from ingest.lines import HeldLine, LineReader, SourceFileError, open_source
from ingest.records import Miss, RecordError, Reject, Skipped, UnknownSiteError, unexpected
from ingest.sniff import hint
from ingest.spool import Spool
from monitor.call import Call, CallBuilder, Outcome
from monitor.store import Store
from monitor.store.models import directory_misses, import_batches, rejected_records
from monitor.store.writer import ROW_KEYS, WriteCounts, call_row, storable, write_rows

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

__all__ = ["BatchError", "BatchResult", "DirectoryGaps", "DropResult", "FileParse", "FileParser",
           "Found", "LineReader", "Parser", "SourceFileError", "drop_batch", "parse_file", "run_batch",
           "write_misses"]

Parser = Callable[[Iterable[tuple[int, str]], CaptureContext],
                  Iterator[CallBuilder | Reject | Skipped]]


class ParsedCounts(Protocol):
    """What a parse counted (`FileParse`, a columnar importer's counts): lines read, lines with
    U+FFFD, calls and rejects found, skipped calls, directory gaps, the held line."""

    @property
    def lines(self) -> int: ...

    @property
    def replaced(self) -> int: ...

    @property
    def calls(self) -> int: ...

    @property
    def rejected(self) -> int: ...

    @property
    def skipped(self) -> SkipCount: ...

    @property
    def gaps(self) -> DirectoryGaps: ...

    @property
    def held(self) -> HeldLine | None: ...


class ParsedFile(Protocol):
    """A file a `FileParser` read: its counts, and its calls and rejects as the spool of the
    line-by-line import holds them, in the reference's order."""

    @property
    def counts(self) -> ParsedCounts: ...

    def spooled(self) -> tuple[pl.DataFrame, list[tuple[tuple[int, int, int], Reject]]]: ...


@runtime_checkable
class FileParser(Protocol):
    """A parser that reads the whole file itself (the columnar importers of `ingest.columnar`):
    what it gives is written exactly as the line-by-line import writes what it spooled."""

    def parse(self, path: Path, ctx: CaptureContext, on_bytes: Callable[[int], None] | None,
              *, kind: str = "", limit: int | None = None) -> ParsedFile: ...

    def streaming(self, path: Path, ctx: CaptureContext) -> Parser | None:
        """The line-by-line parser to read `path` with instead, when it is too large to be held
        in memory (`ingest.columnar.memory`); else None."""


MAX_SKIP_REASONS = 20  # distinct reasons of skipped calls kept per file; further ones only counted
PROBE_LINES = 100  # lines all rejected as unreadable before a file is refused as another kind
MAX_EXAMPLES = 3  # calls stored apart named in the summary
SPOOL_ITEMS = 20_000  # calls and rejects held in memory between the parse and the write
CUT_LINE = ("the last line has no end of line: it was cut while the PBX wrote it, and a "
            "compressed (rotated) file does not grow")


# What the spool keeps: a call as (its row's values, line, raw), a reject as (None, line, raw,
# reason, whether it is a call still in progress).
Spooled = tuple[tuple[object, ...] | None, int | None, str] | \
    tuple[None, int | None, str, str, bool]


class Found(NamedTuple):
    """A call read from a file, with where it was read (for a reject if the store refuses it)."""

    call: Call
    line: int | None
    raw: str


@dataclass
class BatchResult:
    path: Path
    batch_id: int | None
    skipped_as: int | None = None  # id of the identical batch already imported
    rows_read: int = 0
    calls_seen: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    rejected: int = 0
    in_progress: int = 0  # of the rejects: calls still in progress when the file ends
    replaced: int = 0  # lines with bytes that are not UTF-8, kept with U+FFFD
    skipped: int = 0  # calls of no configured switchboard (internal, outbound, other services)
    skipped_reasons: Counter[str] = field(default_factory=Counter)  # first MAX_SKIP_REASONS reasons
    seconds: float = 0.0
    gaps: DirectoryGaps = field(default_factory=lambda: DirectoryGaps())
    held: HeldLine | None = None  # the last line, still being written: not read this time
    split_examples: list[tuple[int | None, str, str]] = field(default_factory=list)  # line,
    # key, the key it is stored under: calls that had the id of another call (first few)


def file_checksum(path: Path) -> tuple[str, int]:
    """SHA-256 and size of the file as it is on disk (compressed, if it is)."""
    digest = hashlib.sha256()
    size = 0
    with open_source(path) as (_, raw, _):
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class MissCount:
    calls: int = 0
    first_line: int | None = None
    first_arrival: float | None = None
    last_arrival: float | None = None

    def add(self, line: int | None, arrival: float | None) -> None:
        self.calls += 1
        if line is not None and (self.first_line is None or line < self.first_line):
            self.first_line = line
        if arrival is not None:
            self.first_arrival = min(arrival, self.first_arrival or arrival)
            self.last_arrival = max(arrival, self.last_arrival or arrival)


@dataclass
class DirectoryGaps:
    """What one import could not place with the site directory: answers by devices no site
    lists and machine answers outside the message contexts (per site), and the identifiers of
    calls that matched no site (refused as "unknown site", or skipped)."""

    devices: Counter[tuple[str, str]] = field(default_factory=Counter)  # (site, device) -> calls
    machines: Counter[tuple[str, str]] = field(default_factory=Counter)  # (site, App@context)
    misses: dict[tuple[str | None, str | None, str | None, bool], MissCount] = field(
        default_factory=dict)  # (dialed, queue, context, rejected) -> count
    outbound: int = 0  # calls of no site that look internal or outbound (rejects, not gaps)

    def add_call(self, call: Call) -> None:
        if call.outcome is Outcome.UNKNOWN_DEVICE:
            self.devices[(call.site, call.answered_by or "?")] += 1
        elif call.outcome is Outcome.MACHINE:
            self.machines[(call.site, call.answered_by or "?")] += 1

    def add_miss(self, miss: Miss, line: int | None, rejected: bool) -> None:
        if miss.outbound:  # nothing the directory lacks: counted apart
            self.outbound += 1
            return
        key = (miss.dialed, miss.queue, miss.context, rejected)
        self.misses.setdefault(key, MissCount()).add(line, miss.arrival)

    def __bool__(self) -> bool:
        return bool(self.devices or self.machines or self.misses)

    def findings(self, limit: int = 5) -> list[str]:
        """What the directory could not place, in a few lines (empty when nothing): unknown
        devices, machine answers, numbers of calls refused as "unknown site"."""
        def top(counter: Counter[str]) -> str:
            shown = ", ".join(f"{name} ({n} calls)" for name, n in counter.most_common(limit))
            return shown + (f", … {len(counter) - limit} more" if len(counter) > limit else "")

        out = []
        devices: Counter[str] = Counter()
        for (_, device), n in self.devices.items():
            devices[device] += n
        if devices:
            out.append(f"answered by devices no site lists in staff_devices: {top(devices)}")
        machines: Counter[str] = Counter()
        for (_, machine), n in self.machines.items():
            machines[machine] += n
        if machines:
            out.append(f"answered by a machine outside the message and voicemail contexts: "
                       f"{top(machines)} (APPLICATION@CONTEXT); if that is a site's message "
                       "(after hours, closure), list the context in its message_contexts. "
                       "`sites learn` proposes a context only when the day's calls do not "
                       "arrive there too; otherwise give the message a context of its own in "
                       "the dialplan")
        numbers: Counter[str] = Counter()
        for (dialed, queue, context, rejected), miss in self.misses.items():
            if rejected:
                numbers[dialed or queue or context or "?"] += miss.calls
        if numbers:
            out.append(f"dialed numbers of no site (calls kept as rejects): {top(numbers)}")
        return out


@dataclass
class SkipCount:
    """The calls a parser skipped: how many, and a count per reason for the first few reasons."""

    total: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, item: Skipped) -> None:
        self.total += 1
        if item.reason in self.reasons or len(self.reasons) < MAX_SKIP_REASONS:
            self.reasons[item.reason] += 1


class FileParse:
    """One file read through a parser: iterate it for the file's Calls (finalized) and Rejects,
    in the order the parser gives them. Skipped calls, directory gaps and counts are kept here.

    A file whose first PROBE_LINES non-blank lines are all rejected as unreadable (none a call,
    a skipped call or an "unknown site"), or all of whose lines are, is not of the kind the
    parser reads (a CDR file given to `ingest cel`, binary data): a SourceFileError refuses it
    whole instead of storing a reject per line."""

    def __init__(self, path: Path, parser: Parser, ctx: CaptureContext, kind: str = "",
                 on_bytes: Callable[[int], None] | None = None, limit: int | None = None) -> None:
        self.path, self.parser, self.ctx, self.kind = path, parser, ctx, kind
        self.reader = LineReader(path, on_bytes, limit=limit)
        self.skipped = SkipCount()
        self.gaps = DirectoryGaps()
        self.calls = 0
        self.rejected = 0
        self._recognised = False
        self._first: list[Reject] = []

    @property
    def lines(self) -> int:
        return self.reader.lines

    @property
    def replaced(self) -> int:
        return self.reader.replaced

    @property
    def held(self) -> HeldLine | None:
        return self.reader.held

    def __iter__(self) -> Iterator[Found | Reject]:
        for item in self.parser(self.reader, self.ctx):
            if isinstance(item, Reject):
                self.rejected += 1
                self._probe(item)
                yield item
                continue
            self._recognised = True
            if isinstance(item, Skipped):
                self.skipped.add(item)
                if item.miss is not None:
                    self.gaps.add_miss(item.miss, item.line, rejected=False)
                continue
            out = self._finalize(item)
            if isinstance(out, Reject):
                self.rejected += 1
                yield out
            else:
                self.calls += 1
                self.gaps.add_call(out)
                yield Found(out, item.line, "\n".join(item.raw))
        if self.reader.cut is not None:
            number, text = self.reader.cut
            self.rejected += 1
            yield Reject(number, CUT_LINE, text)
        if not self._recognised and self.rejected and self.rejected >= self.reader.nonblank:
            raise self._refusal(whole=True)

    def _finalize(self, item: CallBuilder) -> Call | Reject:
        try:
            return self.ctx.finalize(item, check_store=False)  # the writer checks, once
        except UnknownSiteError as exc:
            self.gaps.add_miss(exc.miss, item.line, rejected=True)
            return Reject(item.line, str(exc), "\n".join(item.raw), exc.miss)
        except RecordError as exc:
            return Reject(item.line, str(exc), "\n".join(item.raw))
        except Exception as exc:  # one call never costs the others
            return Reject(item.line, unexpected(exc), "\n".join(item.raw))

    def _probe(self, reject: Reject) -> None:
        """Refuse the file once PROBE_LINES lines are read and every one was rejected."""
        if self._recognised or reject.miss is not None or reject.call:
            self._recognised = True
            return
        if len(self._first) < 3:
            self._first.append(reject)
        if self.rejected >= max(PROBE_LINES, self.reader.nonblank):
            raise self._refusal(whole=False)

    def _refusal(self, whole: bool) -> SourceFileError:
        n = self.rejected
        which = ("only line was" if n == 1 else f"{n} lines were") if whole else \
            f"first {n} lines were"
        return SourceFileError(self.path, (
            f"does not read as a {self.kind or 'such'} file: its {which} all rejected "
            f"({first_reasons(self._first)}); nothing was stored. Check that the command fits "
            "the file (ingest cdr, cel, cel --psql, queue-log, csv --mapping) and the PBX's "
            f"settings (--pbx, cdr_layout).{hint([r.raw for r in self._first], self._command)}"))

    @property
    def _command(self) -> str:
        """The command that was reading the file (to hint at another)."""
        target = getattr(self.parser, "func", self.parser)
        if getattr(target, "__name__", "") == "parse_cel_table":
            return "ingest cel --psql"
        return f"ingest {self.kind.replace('_', '-')}"


def first_reasons(rejects: list[Reject], size: int = 160) -> str:
    """The reasons of the first rejects, each once, with the lines it was given for; a long
    reason is shortened at a word, with "…"."""
    lines: dict[str, list[str]] = {}
    for r in rejects:
        lines.setdefault(r.reason, []).append(str(r.line))
    return "; ".join(f"line{'s' if len(at) > 1 else ''} {', '.join(at)}: {shortened(reason, size)}"
                     for reason, at in lines.items())


def shortened(text: str, size: int) -> str:
    if len(text) <= size:
        return text
    cut = text[:size].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return f"{cut} …"


def parse_file(
    path: Path, parser: Parser, ctx: CaptureContext, on_bytes: Callable[[int], None] | None = None,
    kind: str = "",
) -> tuple[list[Call], list[Reject], FileParse]:
    """Parse and finalize a whole file: (calls, rejects by line, the parse with its counts,
    skipped calls and directory gaps). Never raises per record."""
    parse = FileParse(path, parser, ctx, kind, on_bytes=on_bytes)
    found: list[Call] = []
    rejects: list[Reject] = []
    for item in parse:
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            found.append(item.call)
    rejects.sort(key=lambda r: r.line or 0)
    return found, rejects, parse


def run_batch(
    store: Store, kind: str, path: Path, parser: Parser | FileParser, ctx: CaptureContext,
    on_bytes: Callable[[int], None] | None = None, again: bool = False,
) -> BatchResult:
    """Import one file in one transaction. A file already imported is skipped, unless `again`
    (after a change of sites.toml): then its calls are read and merged anew, and the earlier
    batches of the same file are marked superseded, their rejects and misses replaced."""
    started = time.time()
    checksum, size = file_checksum(path)
    with store.engine.begin() as conn:
        previous = conn.execute(sa.select(import_batches.c.id).where(
            _same_file(kind, ctx.pbx.name, checksum)).limit(1)).scalar()
    if previous is not None and not again:
        if on_bytes:
            on_bytes(size)
        return BatchResult(path, None, skipped_as=previous, seconds=time.time() - started)
    if isinstance(parser, FileParser) and (line_parser := parser.streaming(path, ctx)) is not None:
        parser = line_parser  # memory stays bounded: the streaming reference reads it
    if isinstance(parser, FileParser):
        parsed = parser.parse(path, ctx, on_bytes, kind=kind, limit=size)
        result = _write_batch(store, kind, path, ctx, parsed.counts, (checksum, size), again,
                              functools.partial(_write_parsed, parsed, path))
        result.seconds = time.time() - started
        return result
    parse = FileParse(path, parser, ctx, kind, on_bytes, limit=size)
    with Spool[Spooled](SPOOL_ITEMS) as spool:
        for item in parse:
            if isinstance(item, Found):
                spool.append((tuple(call_row(item.call).values()), item.line, item.raw))
            else:
                spool.append((None, item.line, item.raw, item.reason, item.call))
        result = _write_batch(store, kind, path, ctx, parse, (checksum, size), again,
                              functools.partial(_write_spooled, spool.chunks, path))
    result.seconds = time.time() - started
    return result


TRANSIENT = {"40P01", "40001"}  # PostgreSQL: deadlock detected, serialization failure
ATTEMPTS = 3


def _write_batch(store: Store, kind: str, path: Path, ctx: CaptureContext, parse: ParsedCounts,
                 file: tuple[str, int], again: bool,
                 write: Callable[[sa.Connection, BatchResult], None]) -> BatchResult:
    """`_write_once`, again when the database aborted the transaction for a conflict with
    another writer that a new attempt resolves (a deadlock): the file is imported, not lost."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _write_once(store, kind, path, ctx, parse, file, again, write)
        except sa.exc.DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in TRANSIENT or attempt == ATTEMPTS:
                raise
            log.warning("%s: the store aborted the import (%s, another import was writing the "
                        "same calls); writing it again (attempt %d of %d)", path,
                        str(exc.orig).splitlines()[0], attempt + 1, ATTEMPTS)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _write_once(store: Store, kind: str, path: Path, ctx: CaptureContext, parse: ParsedCounts,
                file: tuple[str, int], again: bool,
                write: Callable[[sa.Connection, BatchResult], None]) -> BatchResult:
    """Record a file's import in one transaction: the batch with its counts, what `write`
    stores (calls, rejects with the calls the store refused) and the directory misses."""
    started = time.time()
    result = BatchResult(path, None, rows_read=parse.lines, calls_seen=parse.calls,
                         rejected=parse.rejected, replaced=parse.replaced,
                         skipped=parse.skipped.total, skipped_reasons=parse.skipped.reasons,
                         gaps=parse.gaps, held=parse.held)
    checksum, size = file
    with store.engine.begin() as conn:
        earlier = [row[0] for row in conn.execute(sa.select(import_batches.c.id).where(
            _same_file(kind, ctx.pbx.name, checksum)))] if again else []
        result.batch_id = conn.execute(
            sa.insert(import_batches).values(
                kind=kind, pbx=ctx.pbx.name, path=str(path), checksum=checksum, size=size,
                started_at=started, status="running", rows_read=parse.lines,
                calls_seen=parse.calls, imported=0, merged=0, duplicates=0,
                rejected=parse.rejected,
            ).returning(import_batches.c.id)
        ).scalar_one()
        write(conn, result)
        write_misses(conn, result.batch_id, ctx.pbx.name, parse.gaps)
        if earlier:
            _supersede(conn, earlier)
        conn.execute(
            sa.update(import_batches).where(import_batches.c.id == result.batch_id).values(
                status="done", finished_at=time.time(), imported=result.counts.imported,
                merged=result.counts.merged, duplicates=result.counts.duplicates,
                rejected=result.rejected,
            )
        )
    return result


def _write_spooled(chunks: Callable[[], Iterable[list[Spooled]]], path: Path,
                   conn: sa.Connection, result: BatchResult) -> None:
    """A line-by-line parse, spool chunk by spool chunk, through the row writer."""
    assert result.batch_id is not None
    for chunk in chunks():
        found = [item for item in chunk if item[0] is not None]
        counts = write_rows(conn, [dict(zip(ROW_KEYS, item[0], strict=True))  # type: ignore[arg-type]
                                   for item in found], result.batch_id)
        rejects = [Reject(item[1], item[3], item[2], call=item[4]) for item in chunk  # type: ignore[misc]
                   if item[0] is None]
        result.in_progress += sum(r.call for r in rejects)
        rejects.extend(Reject(found[i][1], reason, found[i][2]) for i, reason in counts.refused_at)
        _count(result, counts, [(found[i][1], key, new) for i, key, new in counts.split_at])
        _write_rejects(conn, result.batch_id, path, rejects)


def _write_parsed(parsed: ParsedFile, path: Path, conn: sa.Connection,
                  result: BatchResult) -> None:
    """A columnar parse, all at once, through the set write (`monitor.store.bulk`): the same
    calls, counts and rejects, in the same order, as `_write_spooled` of the same items."""
    from monitor.store.bulk import write_frame

    assert result.batch_id is not None
    frame, rejects = parsed.spooled()
    result.in_progress += sum(r.call for _, r in rejects)
    counts = write_frame(conn, frame.select(*ROW_KEYS, "chunk"), result.batch_id)
    lines: list[int | None] = []
    raws: list[str | None] = []
    spools: list[int] = []
    if counts.refused_at or counts.split_at:
        lines, raws, spools = (frame[name].to_list() for name in ("line", "raw", "spool"))
    rejects.extend(((spools[i], 1, i), Reject(lines[i], reason, raws[i] or ""))
                   for i, reason in counts.refused_at)
    _count(result, counts, [(lines[i], key, new) for i, key, new in counts.split_at])
    rejects.sort(key=lambda keyed: keyed[0])
    _write_rejects(conn, result.batch_id, path, [reject for _, reject in rejects])


def _count(result: BatchResult, counts: WriteCounts,
           split: list[tuple[int | None, str, str]]) -> None:
    """Add a write's counts to the batch's: the refused calls as rejects, the first calls
    stored apart as examples."""
    result.rejected += len(counts.refused_at)
    room = MAX_EXAMPLES - len(result.split_examples)
    result.split_examples.extend(split[:max(room, 0)])
    counts.refused_at, counts.split_at = [], []
    result.counts.add(counts)


def _same_file(kind: str, pbx: str, checksum: str) -> sa.ColumnElement[bool]:
    return sa.and_(import_batches.c.kind == kind, import_batches.c.pbx == pbx,
                   import_batches.c.checksum == checksum, import_batches.c.status == "done")


def _write_rejects(conn: sa.Connection, batch_id: int, path: Path, rejects: list[Reject]) -> None:
    if rejects:
        now = time.time()
        conn.execute(sa.insert(rejected_records), [
            {"batch_id": batch_id, "path": storable(str(path)), "line": r.line,
             "reason": storable(r.reason), "raw": storable(r.raw), "created_at": now}
            for r in rejects
        ])


def write_misses(conn: sa.Connection, batch_id: int, pbx: str, gaps: DirectoryGaps) -> None:
    """Keep the identifiers that matched no site, counted, with the batch."""
    def text(value: str | None) -> str | None:
        return None if value is None else storable(value)

    rows = [
        {"batch_id": batch_id, "pbx": pbx, "dialed": text(dialed), "queue": text(queue),
         "context": text(context),
         "rejected": rejected, "calls": n.calls, "first_line": n.first_line,
         "first_arrival": n.first_arrival, "last_arrival": n.last_arrival}
        for (dialed, queue, context, rejected), n in gaps.misses.items()
    ]
    if rows:
        conn.execute(sa.insert(directory_misses), rows)


def _supersede(conn: sa.Connection, batch_ids: list[int]) -> None:
    """Earlier imports of a file imported again: their rejects and misses are replaced by the
    new batch's (the same lines, read with the current directory)."""
    conn.execute(sa.delete(rejected_records).where(rejected_records.c.batch_id.in_(batch_ids)))
    conn.execute(sa.delete(directory_misses).where(directory_misses.c.batch_id.in_(batch_ids)))
    conn.execute(sa.update(import_batches).where(import_batches.c.id.in_(batch_ids))
                 .values(status="superseded"))
