"""Run one import: checksum, parse, finalize, write, keep rejects, summarize.

A file already imported whole (same kind, PBX and SHA-256) is skipped. Otherwise every call of
the file is written in one transaction together with the file's rejected records and the
batch's counts, so an import is either recorded completely or not at all.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ingest.finalize import CaptureContext
from ingest.records import Miss, RecordError, Reject, Skipped, UnknownSiteError, unexpected
from monitor.call import Call, CallBuilder, Outcome
from monitor.store import Store
from monitor.store.models import directory_misses, import_batches, rejected_records
from monitor.store.writer import WriteCounts, storable, write_calls

Parser = Callable[[Iterable[tuple[int, str]], CaptureContext],
                  Iterator[CallBuilder | Reject | Skipped]]
MAX_SKIP_REASONS = 20  # distinct reasons of skipped calls kept per file; further ones only counted


class SourceFileError(Exception):
    """A file that cannot be read at all (missing, unreadable, a directory)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


@dataclass
class BatchResult:
    path: Path
    batch_id: int | None
    skipped_as: int | None = None  # id of the identical batch already imported
    rows_read: int = 0
    calls_seen: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    rejected: int = 0
    replaced: int = 0  # lines with bytes that are not UTF-8, kept with U+FFFD
    skipped: int = 0  # calls of no configured switchboard (internal, outbound, other services)
    skipped_reasons: Counter[str] = field(default_factory=Counter)  # first MAX_SKIP_REASONS reasons
    seconds: float = 0.0
    gaps: DirectoryGaps = field(default_factory=lambda: DirectoryGaps())


def file_checksum(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise SourceFileError(path, "no such file; check the path") from None
    except IsADirectoryError:
        raise SourceFileError(path, "is a directory; give the file inside it") from None
    except PermissionError:
        raise SourceFileError(path, "permission denied; make it readable by this user") from None
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

    def add_call(self, call: Call) -> None:
        if call.outcome is Outcome.UNKNOWN_DEVICE:
            self.devices[(call.site, call.answered_by or "?")] += 1
        elif call.outcome is Outcome.MACHINE:
            self.machines[(call.site, call.answered_by or "?")] += 1

    def add_miss(self, miss: Miss, line: int | None, rejected: bool) -> None:
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
                       f"{top(machines)}")
        numbers: Counter[str] = Counter()
        for (dialed, queue, context, rejected), n in self.misses.items():
            if rejected:
                numbers[dialed or queue or context or "?"] += n.calls
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


class LineReader:
    """Numbered, UTF-8-decoded lines of a file.

    Bytes that are not UTF-8 (a caller name written in another encoding) are replaced by U+FFFD
    and the line is kept: the fields qualiphone reads are ASCII, so dropping the line would lose
    a real call. NUL bytes (a crash can leave runs of them in a log file; PostgreSQL stores no
    NUL in text) are replaced the same way. Such lines are counted in `replaced`; a field that
    matters and is damaged is rejected by the parser with its own reason.
    """

    def __init__(self, path: Path, on_bytes: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.lines = 0
        self.replaced = 0
        self.skipped = SkipCount()  # filled by parse_file with the parser's Skipped items
        self.gaps = DirectoryGaps()  # filled by parse_file
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[tuple[int, str]]:
        with self.path.open("rb") as fh:
            for number, data in enumerate(fh, start=1):
                self.lines = number
                if self._on_bytes is not None:
                    self._on_bytes(len(data))
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    self.replaced += 1
                    text = data.decode("utf-8", errors="replace").replace("\0", "\ufffd")
                else:
                    if "\0" in text:
                        self.replaced += 1
                        text = text.replace("\0", "\ufffd")
                yield number, text.rstrip("\r\n")


def parse_file(
    path: Path, parser: Parser, ctx: CaptureContext, on_bytes: Callable[[int], None] | None = None
) -> tuple[list[Call], list[Reject], LineReader]:
    """Parse and finalize a whole file: (calls, rejects, the reader's counts, skipped calls
    included in `reader.skipped`). Never raises per record."""
    reader = LineReader(path, on_bytes)
    found: list[Call] = []
    rejects: list[Reject] = []
    gaps = reader.gaps
    for item in parser(reader, ctx):
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        if isinstance(item, Skipped):
            reader.skipped.add(item)
            if item.miss is not None:
                gaps.add_miss(item.miss, item.line, rejected=False)
            continue
        try:
            call = ctx.finalize(item)
        except UnknownSiteError as exc:
            rejects.append(Reject(item.line, str(exc), "\n".join(item.raw), exc.miss))
            gaps.add_miss(exc.miss, item.line, rejected=True)
            continue
        except RecordError as exc:
            rejects.append(Reject(item.line, str(exc), "\n".join(item.raw)))
            continue
        except Exception as exc:  # one call never costs the others
            rejects.append(Reject(item.line, unexpected(exc), "\n".join(item.raw)))
            continue
        found.append(call)
        gaps.add_call(call)
    rejects.sort(key=lambda r: r.line or 0)
    return found, rejects, reader


def run_batch(
    store: Store, kind: str, path: Path, parser: Parser, ctx: CaptureContext,
    on_bytes: Callable[[int], None] | None = None, again: bool = False,
) -> BatchResult:
    """Import one file in one transaction. A file already imported is skipped, unless `again`
    (after a change of sites.toml): then its calls are read and merged anew, and the earlier
    batches of the same file are marked superseded, their rejects and misses replaced."""
    started = time.time()
    checksum, size = file_checksum(path)
    same_file = sa.and_(import_batches.c.kind == kind, import_batches.c.pbx == ctx.pbx.name,
                        import_batches.c.checksum == checksum, import_batches.c.status == "done")
    with store.engine.begin() as conn:
        previous = conn.execute(sa.select(import_batches.c.id).where(same_file).limit(1)).scalar()
    if previous is not None and not again:
        if on_bytes:
            on_bytes(size)
        return BatchResult(path, None, skipped_as=previous, seconds=time.time() - started)
    found, rejects, reader = parse_file(path, parser, ctx, on_bytes)
    lines = reader.lines
    result = BatchResult(path, None, rows_read=lines, calls_seen=len(found), rejected=len(rejects),
                         replaced=reader.replaced, skipped=reader.skipped.total,
                         skipped_reasons=reader.skipped.reasons, gaps=reader.gaps)
    with store.engine.begin() as conn:
        earlier = [row[0] for row in conn.execute(sa.select(import_batches.c.id).where(same_file))]
        result.batch_id = conn.execute(
            sa.insert(import_batches).values(
                kind=kind, pbx=ctx.pbx.name, path=str(path), checksum=checksum, size=size,
                started_at=started, status="running", rows_read=lines, calls_seen=len(found),
                imported=0, merged=0, duplicates=0, rejected=len(rejects),
            ).returning(import_batches.c.id)
        ).scalar_one()
        result.counts = write_calls(conn, found)
        if rejects:
            now = time.time()
            conn.execute(sa.insert(rejected_records), [
                {"batch_id": result.batch_id, "path": storable(str(path)), "line": r.line,
                 "reason": storable(r.reason), "raw": storable(r.raw), "created_at": now}
                for r in rejects
            ])
        write_misses(conn, result.batch_id, ctx.pbx.name, reader.gaps)
        if earlier:
            _supersede(conn, earlier)
        conn.execute(
            sa.update(import_batches).where(import_batches.c.id == result.batch_id).values(
                status="done", finished_at=time.time(), imported=result.counts.imported,
                merged=result.counts.merged, duplicates=result.counts.duplicates,
            )
        )
    result.seconds = time.time() - started
    return result


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
