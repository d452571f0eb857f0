"""The live listener: AMI frames → call tracker → canonical calls in the store (reference §9).

The client's read loop only parses and enqueues (`asyncio.Queue.put_nowait`); a consumer task
folds the frames into the `CallTracker`, finalizes finished calls with the `CaptureContext` and
writes them with `write_calls` in small transactions run in a worker thread, so a slow store
never stops the socket from being read (Asterisk drops a session it cannot write to within
`writetimeout`). One bad frame or handler error is logged with the frame and skipped.

Connection changes travel through the same queue as markers, so they are applied in order with
the events: on a loss every call in progress is marked incomplete and the gap start is noted; on
the next login the gap (pbx, start, end, reason) is recorded in `capture_gaps` and a
CoreShowChannels snapshot rebuilds the calls that started or ended while we were away (a call
already talking to a staff phone comes back answered, incomplete). Actions are never replayed
after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import sqlalchemy as sa

from ingest.ami.calls import CallTracker
from ingest.ami.client import ActionFailed, AmiClient, ConnectionLost
from ingest.ami.live import LiveState
from ingest.ami.models import capture_gaps
from ingest.ami.protocol import Message
from ingest.batch import DirectoryGaps, write_misses
from ingest.finalize import CaptureContext
from ingest.records import RecordError, UnknownSiteError
from ingest.site_map import SiteMap
from monitor.call import Call, CallBuilder
from monitor.store import Store
from monitor.store.models import import_batches, rejected_records
from monitor.store.writer import write_calls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gap:
    pbx: str
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class _Connected:
    at: float


@dataclass(frozen=True)
class _Disconnected:
    at: float  # last moment we know we received everything
    reason: str


@dataclass(frozen=True)
class _Resync:
    items: list[Message]
    received: float  # our clock
    drift: float | None  # PBX clock minus ours from the last Pong, if any


_STOP = object()


@dataclass
class ListenerStats:
    frames: int = 0
    handler_errors: int = 0
    calls_written: int = 0
    calls_rejected: int = 0
    gaps: list[Gap] = field(default_factory=list)


def queue_agents(items: list[Message], sites: SiteMap) -> dict[str, tuple[int, int]]:
    """Per site, (members logged in, members free) from QueueStatus items. A member counts once
    per site (by its state interface); unavailable members (Status 4, 5) are not logged in;
    a free member is idle (Status 1), not paused and not in a call."""
    found: dict[str, dict[str, bool]] = {}
    for m in items:
        site = sites.site_for(queue=m.get("Queue"))
        if site is None or m.name not in ("QueueParams", "QueueMember"):
            continue
        members = found.setdefault(site, {})
        if m.name != "QueueMember" or (m.get("Status") or "") in ("4", "5"):
            continue
        free = m.get("Status") == "1" and m.get("Paused") == "0" and m.get("InCall", "0") == "0"
        member = m.get("StateInterface") or m.get("Name") or ""
        members[member] = members.get(member, True) and free
    return {site: (len(ms), sum(ms.values())) for site, ms in found.items()}


GAP_WARNING_EVERY = 3600.0  # seconds between two warnings about the directory's gaps

class Listener:
    """One PBX: an `AmiClient`, a `CallTracker`, and the writes to the store."""

    def __init__(
        self, ctx: CaptureContext, store: Store, *, host: str, port: int, username: str, secret: str,
        live: LiveState | None = None, record: BinaryIO | None = None, batch_size: int = 200,
        flush_interval: float = 0.5, clock: Callable[[], float] = time.time,
        queue_poll: float | None = None, **client_options: object,
    ) -> None:
        self.ctx, self.store, self.pbx = ctx, store, ctx.pbx.name
        self.live = live if live is not None else LiveState()
        self.tracker = CallTracker(ctx, self.live)
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.batch_size, self.flush_interval, self.clock = batch_size, flush_interval, clock
        self.stats = ListenerStats()
        self._calls: list[Call] = []
        self._gaps: list[Gap] = []
        self._rejects: list[tuple[str, str]] = []  # (reason, the call as seen), kept in the store
        self._session: int | None = None  # the import_batches row the rejects hang on
        # what the directory could not place: warned about every `gap_warning_every` seconds and
        # at exit (`_directory`), its misses stored with the session (`_misses`)
        self._directory = DirectoryGaps()
        self._misses = DirectoryGaps()
        self._directory_warned = clock()
        self.gap_warning_every = GAP_WARNING_EVERY
        self._gap_start: tuple[float, str] | None = None
        self._warned_untimed = False
        self.pbx_started: float | None = None  # from FullyBooted.Uptime
        # For a wallboard: PBX clock minus ours (last timed event), calls not yet in the store,
        # and per site (members logged in, free) from QueueStatus every `queue_poll` seconds.
        self.pbx_offset: float | None = None
        self.queue_poll = queue_poll
        self.agents: dict[str, tuple[int, int]] = {}
        self._writing: list[Call] = []
        self.client = AmiClient(
            host, port, username, secret, on_message=self.queue.put_nowait,
            on_login=lambda at: self.queue.put_nowait(_Connected(at)), on_connect=self._on_connect,
            on_disconnect=self._on_disconnect, record=record,
            clock=clock, **client_options,  # type: ignore[arg-type]
        )

    async def run(self, duration: float | None = None) -> ListenerStats:
        """Listen until `duration` seconds have passed (forever when None), then flush and stop."""
        client_task = asyncio.create_task(self.client.run())
        consumer = asyncio.create_task(self._consume())
        poller = asyncio.create_task(self._poll_queues()) if self.queue_poll else None
        try:
            if duration is None:
                await asyncio.gather(client_task, consumer)
            else:
                await asyncio.wait({client_task, consumer}, timeout=duration,
                                   return_when=asyncio.FIRST_EXCEPTION)
        finally:
            if poller is not None:
                poller.cancel()
            self.client.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(client_task, 5)
            self.queue.put_nowait(_STOP)
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        return self.stats

    # ---- connection hooks (run in the client's tasks) ---------------------------------------

    async def _on_connect(self, client: AmiClient) -> None:
        """Rebuild the calls in progress from a CoreShowChannels snapshot (reference §9)."""
        try:
            items = await client.send_list_action("CoreShowChannels", timeout=30.0)
        except (ActionFailed, TimeoutError) as exc:
            log.warning("AMI %s: CoreShowChannels failed (%s); calls in progress are not rebuilt "
                        "after this login (grant the AMI user read = call,agent,system)", self.pbx,
                        exc or "no reply")
            return
        self.queue.put_nowait(_Resync(items, self.clock(), client.stats.clock_drift))

    async def _poll_queues(self) -> None:
        """QueueStatus every `queue_poll` seconds while connected: agents logged in and free."""
        assert self.queue_poll
        while True:
            await self.client.connected.wait()
            try:
                items = await self.client.send_list_action("QueueStatus", timeout=10.0)
            except (ActionFailed, ConnectionLost, TimeoutError) as exc:
                log.debug("AMI %s: QueueStatus failed (%s)", self.pbx, exc or "no reply")
            else:
                self.agents = queue_agents(items, self.ctx.sites)
                self.live.touch()
            await asyncio.sleep(self.queue_poll)

    def unwritten(self) -> list[Call]:
        """Calls finished but not yet committed to the store (being written, or waiting)."""
        return [*self._writing, *self._calls]

    def pbx_now(self) -> float:
        """The PBX's clock now, as its last event's Timestamp told it (ours when unknown)."""
        return self.clock() + (self.pbx_offset or 0.0)

    def _on_disconnect(self, reason: str, last_received: float) -> None:
        if not self.client.stopping:  # a deliberate stop is not a capture gap
            self.queue.put_nowait(_Disconnected(last_received, reason))

    # ---- consumer ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                await self._flush()
                try:
                    item = await asyncio.wait_for(self.queue.get(), self.flush_interval)
                except TimeoutError:
                    continue
            if item is _STOP:
                break
            self._handle(item)
            if len(self._calls) >= self.batch_size:
                await self._flush()
        self._close()
        await self._flush()

    def _handle(self, item: object) -> None:
        if isinstance(item, Message):
            self.stats.frames += 1
            try:
                self.tracker.feed(item)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("AMI %s: could not fold %r (skipped): %r", self.pbx, item, item.raw[:300])
            if item.name == "FullyBooted":
                self._booted(item)
            if item.time is not None:
                self.live.last_event[self.pbx] = item.time
                if item.received is not None:
                    self.pbx_offset = item.time - item.received
            elif not self._warned_untimed and self.tracker.untimed_events:
                self._warned_untimed = True
                log.warning("AMI %s: events carry no Timestamp; set timestampevents = yes in "
                            "manager.conf [general] (using receive times meanwhile)", self.pbx)
        elif isinstance(item, _Disconnected):
            self._lost(item)
        elif isinstance(item, _Connected):
            self._connected(item)
        elif isinstance(item, _Resync):
            # PBX time of the snapshot: its receive time corrected by the PBX clock offset of
            # the events before it (FullyBooted at least), else by the drift measured with Ping
            offset = self.pbx_offset if self.pbx_offset is not None else item.drift
            self.tracker.resync(item.items, item.received + (offset or 0.0))
        self._collect()

    def _lost(self, item: _Disconnected) -> None:
        self.live.connected[self.pbx] = False
        self.live.touch()
        if self._gap_start is None:
            self._gap_start = (item.at, item.reason)
        self.tracker.mark_gap()

    def _connected(self, item: _Connected) -> None:
        self.live.connected[self.pbx] = True
        self.live.touch()
        if self._gap_start is not None:
            start, reason = self._gap_start
            self._gap_start = None
            self._add_gap(Gap(self.pbx, start, item.at, reason))
        self.tracker.connected()

    def _booted(self, msg: Message) -> None:
        """FullyBooted.Uptime after a login tells whether the PBX restarted while we were away."""
        try:
            uptime = float(msg.get("Uptime") or "")
        except ValueError:
            return  # Asterisk < 14 or no `system` read permission: CoreShowChannels still resyncs
        started = (msg.received or self.clock()) - uptime
        if self.pbx_started is not None and started > self.pbx_started + 5:
            log.warning("AMI %s: the PBX restarted (up %.0f s); calls in progress before were lost",
                        self.pbx, uptime)
        self.pbx_started = started

    def _close(self) -> None:
        """At shutdown: write the calls still in progress (incomplete) and close an open gap."""
        if self._gap_start is not None:
            start, reason = self._gap_start
            self._add_gap(Gap(self.pbx, start, self.clock(), f"{reason}; listener stopped"))
            self._gap_start = None
        self._collect(self.tracker.close_all())
        self.warn_directory()

    def _add_gap(self, gap: Gap) -> None:
        log.info("AMI %s: capture gap of %.1f s recorded (%s)", self.pbx, gap.end - gap.start, gap.reason)
        self._gaps.append(gap)
        self.stats.gaps.append(gap)

    def _collect(self, builders: list[CallBuilder] | None = None) -> None:
        for b in builders if builders is not None else self.tracker.pop_finished():
            try:
                call = self.ctx.finalize(b)
            except RecordError as exc:
                self.stats.calls_rejected += 1
                log.info("AMI %s: call %s not stored: %s", self.pbx, b.call_key, exc)
                self._rejects.append((str(exc), _describe(b)))
                if isinstance(exc, UnknownSiteError) and not b.incomplete:
                    self._directory.add_miss(exc.miss, None, rejected=True)
                    self._misses.add_miss(exc.miss, None, rejected=True)
                continue
            self._calls.append(call)
            self._directory.add_call(call)
            self.live.finished(call)
        if self.clock() - self._directory_warned >= self.gap_warning_every:
            self.warn_directory()

    def warn_directory(self) -> None:
        """Log what the directory could not place since the last warning (once an hour, and
        when the listener stops), naming devices and numbers with their calls."""
        self._directory_warned = self.clock()
        findings = self._directory.findings()
        self._directory = DirectoryGaps()
        if findings:
            log.warning("AMI %s: the site directory (sites.toml) is incomplete: %s; those calls "
                        "are marked \"directory incomplete\", never counted as abandons; propose "
                        "the fix with: qualiphone sites learn CDR_FILE (or a capture recorded "
                        "with listen --record), then qualiphone sites check",
                        self.pbx, "; ".join(findings))

    # ---- writes -----------------------------------------------------------------------------

    async def _flush(self) -> None:
        if not self._calls and not self._gaps and not self._rejects:
            return
        calls, gaps, rejects, misses = self._calls, self._gaps, self._rejects, self._misses
        self._calls, self._gaps, self._rejects, self._misses = [], [], [], DirectoryGaps()
        self._writing = calls
        try:
            await asyncio.to_thread(self._write, calls, gaps, rejects, misses)
        except Exception:
            log.exception("AMI %s: could not write %d calls; keeping them for the next try",
                          self.pbx, len(calls))
            self._calls[:0], self._gaps[:0], self._rejects[:0] = calls, gaps, rejects
            for key, n in misses.misses.items():
                self._misses.misses.setdefault(key, n)
            self._writing = []
            await asyncio.sleep(1.0)
            return
        self._writing = []
        self.stats.calls_written += len(calls)

    def _write(self, calls: list[Call], gaps: list[Gap], rejects: list[tuple[str, str]],
               misses: DirectoryGaps | None = None) -> None:
        with self.store.engine.begin() as conn:
            if calls:
                write_calls(conn, calls)
            if rejects:
                self._write_rejects(conn, rejects)
                if misses and self._session is not None:
                    write_misses(conn, self._session, self.pbx, misses)
            if gaps:
                conn.execute(sa.insert(capture_gaps), [
                    {"pbx": g.pbx, "start_time": g.start, "end_time": g.end, "reason": g.reason}
                    for g in gaps])

    def _write_rejects(self, conn: sa.Connection, rejects: list[tuple[str, str]]) -> None:
        """Calls finalize refused, kept like an importer's rejects (`qualiphone ingest rejects`),
        under one import_batches row per listener session."""
        where = f"ami://{self.client.address}"
        now = time.time()
        if self._session is None:
            self._session = conn.execute(sa.insert(import_batches).values(
                kind="ami", pbx=self.pbx, path=where, checksum=f"session-{now:.6f}", size=0,
                started_at=now, status="live", rows_read=0, calls_seen=0, imported=0, merged=0,
                duplicates=0, rejected=0).returning(import_batches.c.id)).scalar_one()
        conn.execute(sa.insert(rejected_records), [
            {"batch_id": self._session, "path": where, "line": None, "reason": reason, "raw": raw,
             "created_at": now} for reason, raw in rejects])
        conn.execute(sa.update(import_batches).where(import_batches.c.id == self._session)
                     .values(rejected=import_batches.c.rejected + len(rejects)))


def _describe(b: CallBuilder) -> str:
    """What the listener knew of a refused call, as the raw text kept with its reason."""
    fields = ("call_key", "linkedid", "dialed", "queue", "context", "arrival", "answer", "end",
              "answered_by", "incomplete")
    return " ".join(f"{name}={getattr(b, name)}" for name in fields if getattr(b, name) is not None)
