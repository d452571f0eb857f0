"""The listener's writes: finished calls, rejected calls, directory misses and capture gaps.

`Sink.write` runs in a worker thread and writes one `Pending` lot in one transaction. When that
fails because of what is in it (PostgreSQL refuses a NUL byte, a Uniqueid over 128 characters,
a dialed number over 32), it isolates the culprit instead of retrying the lot: each call is
written in a transaction of its own, and a call the store refuses becomes a reject with the
store's reason and what the listener knew of it (`qualiphone ingest rejects`), like an
importer's bad line; rejects and misses are made storable (a NUL byte becomes the text `\\x00`).
Only a store that cannot be reached (`StoreDown`: the connection failed, SQLite is locked) makes
the listener keep the lot and try again later (`Pending.shed` bounds what waits: the oldest
calls beyond the bound are dropped and their period becomes a capture gap); one bad record never
blocks the others.

Gaps left open by a stop: when the listener stops (a signal, `--for`), the capture stops until
it starts again. That gap is written at the stop with no length yet (start = end, reason
beginning "listener stopped") and closed by the next start of a listener for the same PBX,
which sets its end to that start.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from ingest.ami.models import capture_gaps
from ingest.batch import DirectoryGaps, write_misses
from monitor.call import Call
from monitor.store import Store
from monitor.store.models import import_batches, rejected_records
from monitor.store.writer import write_calls

log = logging.getLogger(__name__)

STOP_REASON = "listener stopped"  # the reason of a gap left open by a stop starts with this


@dataclass(frozen=True)
class Gap:
    pbx: str
    start: float
    end: float
    reason: str


@dataclass
class Pending:
    """What waits to be written; `take` empties it, `restore` puts a lot back in front."""

    calls: list[Call] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (reason, the call as seen)
    gaps: list[Gap] = field(default_factory=list)
    misses: DirectoryGaps = field(default_factory=DirectoryGaps)
    close_stop_gap: float | None = None  # end the gap a previous stop left open, at this time
    open_stop_gap: Gap | None = None  # the gap from this listener's stop

    def __bool__(self) -> bool:
        return bool(self.calls or self.rejects or self.gaps or self.misses.misses
                    or self.close_stop_gap is not None or self.open_stop_gap is not None)

    def take(self) -> Pending:
        lot = Pending(self.calls, self.rejects, self.gaps, self.misses, self.close_stop_gap,
                      self.open_stop_gap)
        self.calls, self.rejects, self.gaps, self.misses = [], [], [], DirectoryGaps()
        self.close_stop_gap = self.open_stop_gap = None
        return lot

    def shed(self, pbx: str, max_calls: int, max_rejects: int) -> Gap | None:
        """Bound what waits while the store cannot be reached: drop the oldest calls beyond
        `max_calls` (and rejects beyond `max_rejects`) and return the capture gap that covers
        the dropped calls, for the store to record once it answers; None when under the
        bounds."""
        excess = max(0, len(self.calls) - max_calls)
        dropped, self.calls = self.calls[:excess], self.calls[excess:]
        n_rejects = max(0, len(self.rejects) - max_rejects)
        if n_rejects:
            self.rejects = self.rejects[n_rejects:]
        if not dropped and not n_rejects:
            return None
        start = min((c.arrival for c in dropped), default=time.time())
        end = max((c.end or c.arrival for c in dropped), default=start)
        gap = Gap(pbx, start, max(start, end),
                  f"store unreachable: {len(dropped)} finished calls and {n_rejects} rejects "
                  f"dropped from memory (over {max_calls} calls waiting); import this period's "
                  "CDR or CEL to recover them")
        self.gaps.append(gap)
        return gap

    def restore(self, lot: Pending) -> None:
        self.calls[:0], self.rejects[:0], self.gaps[:0] = lot.calls, lot.rejects, lot.gaps
        for key, n in lot.misses.misses.items():
            self.misses.misses.setdefault(key, n)
        if self.close_stop_gap is None:
            self.close_stop_gap = lot.close_stop_gap
        if self.open_stop_gap is None:
            self.open_stop_gap = lot.open_stop_gap


class StoreDown(Exception):
    """The store cannot be reached; `left` is what was not written (to try again later)."""

    def __init__(self, cause: BaseException, left: Pending) -> None:
        super().__init__(first_line(cause))
        self.left = left


@dataclass
class Written:
    calls: int = 0
    refused: list[str] = field(default_factory=list)  # call keys the store refused (now rejects)


def store_down(exc: BaseException) -> bool:
    """True when `exc` says the store is unreachable or busy, not that a record is bad."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError
                      | OSError)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def storable(text: str) -> str:
    """Text any store accepts: PostgreSQL refuses NUL bytes, shown here as `\\x00`."""
    return text.replace("\x00", "\\x00")


def describe_call(call: Call) -> str:
    """A refused call as the raw text kept with its reason."""
    names = ("call_key", "linkedid", "site", "dialed", "arrival", "answer", "end", "outcome",
             "answered_by", "incomplete")
    return " ".join(f"{name}={getattr(call, name)}" for name in names
                    if getattr(call, name) is not None)


class Sink:
    """Writes one PBX's `Pending` lots to the store (see the module doc)."""

    def __init__(self, store: Store, pbx: str, where: str) -> None:
        self.store, self.pbx, self.where = store, pbx, where
        self.session: int | None = None  # the import_batches row the rejects hang on

    def write(self, lot: Pending) -> Written:
        """Write `lot`; isolate what the store refuses; raise StoreDown with what is left."""
        try:
            with self.store.engine.begin() as conn:
                self._write_all(conn, lot)
            return Written(len(lot.calls))
        except Exception as exc:
            if store_down(exc):
                raise StoreDown(exc, lot) from exc
            log.warning("AMI %s: the store refused a lot of %d calls (%s); writing them one by "
                        "one to keep the others", self.pbx, len(lot.calls), first_line(exc))
        return self._write_isolated(lot)

    def _write_all(self, conn: sa.Connection, lot: Pending) -> None:
        if lot.close_stop_gap is not None:
            self._close_stop_gap(conn, lot.close_stop_gap)
        if lot.calls:
            write_calls(conn, lot.calls)
        if lot.rejects:
            self._write_rejects(conn, lot.rejects)
        self._write_misses(conn, lot.misses)
        gaps = [*lot.gaps, *([lot.open_stop_gap] if lot.open_stop_gap else [])]
        if gaps:
            conn.execute(sa.insert(capture_gaps), [
                {"pbx": g.pbx, "start_time": g.start, "end_time": g.end, "reason": storable(g.reason)}
                for g in gaps])

    def _write_isolated(self, lot: Pending) -> Written:
        """Each call alone; a refused one becomes a reject. Then the rest, part by part."""
        done = Written()
        calls = list(lot.calls)
        while calls:
            call = calls[0]
            try:
                with self.store.engine.begin() as conn:
                    write_calls(conn, [call])
                done.calls += 1
            except Exception as exc:
                if store_down(exc):
                    raise StoreDown(exc, Pending(calls, lot.rejects, lot.gaps, lot.misses,
                                                 lot.close_stop_gap, lot.open_stop_gap)) from exc
                log.warning("AMI %s: the store refused call %r (%s); kept as a reject",
                            self.pbx, storable(call.call_key)[:160], first_line(exc))
                lot.rejects.append((f"the store refused the call: {first_line(exc)}",
                                    describe_call(call)))
                done.refused.append(call.call_key)
            calls.pop(0)
        rest = Pending([], lot.rejects, lot.gaps, lot.misses, lot.close_stop_gap, lot.open_stop_gap)
        try:
            with self.store.engine.begin() as conn:
                self._write_all(conn, rest)
            return done
        except Exception as exc:
            if store_down(exc):
                raise StoreDown(exc, rest) from exc
            log.error("AMI %s: could not write the rejects, misses and gaps together (%s); "
                      "writing them apart", self.pbx, first_line(exc))
        self._write_parts(rest)
        return done

    def _write_parts(self, rest: Pending) -> None:
        """Last resort: each part in a transaction of its own; a part the store still refuses
        is logged with what it held and dropped (never retried: it would block the others)."""
        parts = (
            ("rejects", lambda c: self._write_rejects(c, rest.rejects), rest.rejects),
            ("directory misses", lambda c: self._write_misses(c, rest.misses), rest.misses.misses),
            ("capture gaps", lambda c: self._write_all(c, Pending(
                gaps=rest.gaps, open_stop_gap=rest.open_stop_gap,
                close_stop_gap=rest.close_stop_gap)),
             [*rest.gaps, rest.open_stop_gap, rest.close_stop_gap]),
        )
        for name, part, what in parts:
            if not any(x is not None for x in what):
                continue
            try:
                with self.store.engine.begin() as conn:
                    part(conn)
            except Exception as exc:
                if store_down(exc):
                    raise StoreDown(exc, rest) from exc
                log.error("AMI %s: the store refused the %s (%s); not written: %r", self.pbx, name,
                          first_line(exc), what)

    def _write_misses(self, conn: sa.Connection, misses: DirectoryGaps) -> None:
        if self.session is None or not misses.misses:
            return
        clean = DirectoryGaps()
        for (dialed, queue, context, rejected), n in misses.misses.items():
            key = tuple(storable(v) if v is not None else None for v in (dialed, queue, context))
            clean.misses[(*key, rejected)] = n  # type: ignore[index]
        write_misses(conn, self.session, self.pbx, clean)

    def _write_rejects(self, conn: sa.Connection, rejects: list[tuple[str, str]]) -> None:
        """Calls the listener could not store, kept like an importer's rejects (`qualiphone
        ingest rejects`), under one import_batches row per listener session."""
        now = time.time()
        if self.session is None:
            self.session = conn.execute(sa.insert(import_batches).values(
                kind="ami", pbx=self.pbx, path=self.where, checksum=f"session-{now:.6f}", size=0,
                started_at=now, status="live", rows_read=0, calls_seen=0, imported=0, merged=0,
                duplicates=0, rejected=0).returning(import_batches.c.id)).scalar_one()
        conn.execute(sa.insert(rejected_records), [
            {"batch_id": self.session, "path": self.where, "line": None, "reason": storable(reason),
             "raw": storable(raw), "created_at": now} for reason, raw in rejects])
        conn.execute(sa.update(import_batches).where(import_batches.c.id == self.session)
                     .values(rejected=import_batches.c.rejected + len(rejects)))

    def _close_stop_gap(self, conn: sa.Connection, at: float) -> None:
        """End the gap the last stop of a listener for this PBX left open (if any) at `at`."""
        g = capture_gaps.c
        last = conn.execute(sa.select(g.id, g.start_time, g.end_time, g.reason)
                            .where(g.pbx == self.pbx).order_by(g.id.desc()).limit(1)).first()
        if last is None or not last.reason.startswith(STOP_REASON) or last.end_time != last.start_time:
            return
        conn.execute(sa.update(capture_gaps).where(g.id == last.id).values(
            end_time=max(at, last.start_time),
            reason=f"{last.reason}; restarted"))
