"""The live listener: AMI frames → call tracker → canonical calls in the store (reference §9).

Three tasks per PBX, so that neither a slow store nor a flood of events can stop the others:

* the client's read loop parses frames into a bounded `Inbox` (ingest.ami.inbox): while it is
  full the loop stops reading (backpressure); stalled too long, it sheds whole frames, and the
  shed interval becomes a capture gap, like a disconnection;
* the consumer checks each event's `Timestamp` (ingest.ami.stamps), folds it into the
  `CallTracker` and finalizes the finished calls with the `CaptureContext`; an exception in any
  handler is logged with its frame and skipped, never the end of the consumer;
* the writer writes finished calls, rejects and gaps every `flush_interval` seconds in a worker
  thread (ingest.ami.sink): a call the store refuses becomes a reject, the others are written;
  an unreachable store is tried again with backoff.

Connection changes travel through the inbox as markers, so they are applied in order with the
events: on a loss every call in progress is marked incomplete and the gap start is noted; on the
next login the gap (pbx, start, end, reason) is recorded in `capture_gaps` and a
CoreShowChannels snapshot rebuilds the calls that started or ended while we were away (a call
already talking to a staff phone comes back answered, incomplete). A call that ended unseen (a
gap, a lost Hangup) with nobody answering is a reject (`ENDED_UNSEEN`), never an abandon.
Actions are never replayed.

Stopping (`stop()`, which the CLI calls on SIGTERM and SIGINT, or the end of `run(duration)`):
the read loop stops, the consumer folds what is queued, the calls in progress are written as
incomplete, an open gap is closed and, with `gap_at_stop`, the gap from the stop until the next
start is recorded (ingest.ami.sink). A run that never connected records a gap over its whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from ingest.ami.calls import CallTracker
from ingest.ami.client import ActionFailed, AmiClient, ConnectionLost
from ingest.ami.inbox import MAX_FRAMES, STALL_LIMIT, Inbox, Shed
from ingest.ami.live import LiveState
from ingest.ami.protocol import Message
from ingest.ami.sink import STOP_REASON, Gap, Pending, Sink, StoreDown, first_line
from ingest.ami.stamps import StampCheck
from ingest.batch import DirectoryGaps
from ingest.finalize import CaptureContext
from ingest.records import RecordError, UnknownSiteError
from ingest.site_map import SiteMap
from monitor.call import Call, CallBuilder
from monitor.store import Store

__all__ = ["Gap", "Listener", "ListenerStats", "queue_agents"]

log = logging.getLogger(__name__)

GAP_WARNING_EVERY = 3600.0  # seconds between two warnings about the directory's gaps
SWEEP_EVERY = 600.0  # seconds between two sweeps of calls that can no longer be in progress
YIELD_EVERY = 200  # frames folded between two chances for the read loop and writer to run
RETRY_CAP = 30.0  # longest wait between two writes to an unreachable store


@dataclass(frozen=True)
class _Connected:
    at: float


@dataclass(frozen=True)
class _Disconnected:
    at: float  # last moment we know we received everything
    reason: str


@dataclass(frozen=True)
class _Resync:
    items: list[Message] | None  # None: CoreShowChannels failed, nothing to reconcile
    received: float  # our clock
    drift: float | None  # PBX clock minus ours from the last Pong, if any


_STOP = object()
# finished calls kept in memory while the store cannot be reached (about 1 KB each): weeks of
# the 17 switchboards' traffic; beyond it the oldest are dropped and their period is a gap
MAX_PENDING = 50_000
STILL_RINGING = (
    "still ringing or waiting when the listener stopped ({seconds:.0f} s after it arrived, no "
    "answer yet): how the call ended is unknown, so it is not counted (not as an abandon "
    "either); the day's CDR or CEL brings it")
ENDED_UNSEEN = (
    "ended while the listener was not connected, or its last events were lost (no answer and "
    "no hangup of the caller seen, {seconds:.0f} s after it arrived): how the call ended is "
    "unknown, so it is not counted (not as an abandon either); the day's CDR or CEL brings it")


@dataclass
class ListenerStats:
    frames: int = 0
    handler_errors: int = 0  # exceptions in a handler (logged with the frame, skipped)
    finalize_errors: int = 0  # calls finalize failed on with an unforeseen error (kept as rejects)
    calls_written: int = 0
    calls_rejected: int = 0
    bad_timestamps: int = 0  # implausible Timestamps replaced by the receive time
    frames_shed: int = 0  # event frames dropped because the consumer could not keep up
    gaps: list[Gap] = field(default_factory=list)
    stop_gap: Gap | None = None  # left open at the stop, closed by the next start
    unsaved: int = 0  # calls the store could not take before the exit deadline
    calls_shed: int = 0  # finished calls dropped from memory during a long store outage


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


class Listener:
    """One PBX: an `AmiClient`, a `CallTracker`, and the writes to the store."""

    def __init__(
        self, ctx: CaptureContext, store: Store, *, host: str, port: int, username: str, secret: str,
        live: LiveState | None = None, record: BinaryIO | None = None, batch_size: int = 200,
        flush_interval: float = 0.5, clock: Callable[[], float] = time.time,
        queue_poll: float | None = None, max_frames: int = MAX_FRAMES,
        stall_limit: float = STALL_LIMIT, gap_at_stop: bool = False, exit_timeout: float = 15.0,
        max_pending: int = MAX_PENDING, **client_options: object,
    ) -> None:
        self.ctx, self.store, self.pbx = ctx, store, ctx.pbx.name
        self.live = live if live is not None else LiveState()
        self.tracker = CallTracker(ctx, self.live)
        self.inbox = Inbox(max_frames, stall_limit=stall_limit, clock=clock)
        self.stamps = StampCheck()
        self.sink = Sink(store, self.pbx, f"ami://{host}:{port}")
        self.batch_size, self.flush_interval, self.clock = batch_size, flush_interval, clock
        self.gap_at_stop, self.exit_timeout = gap_at_stop, exit_timeout
        self.max_pending = max_pending
        self.stats = ListenerStats()
        self.pending = Pending()  # written by the writer task
        self._writing: list[Call] = []
        # what the directory could not place: warned about every `gap_warning_every` seconds and
        # at exit (`_directory`), its misses stored with the session (`pending.misses`)
        self._directory = DirectoryGaps()
        self._directory_warned = self._swept = clock()
        self.gap_warning_every = GAP_WARNING_EVERY
        self._gap_start: tuple[float, str | None] | None = None  # None reason: since the start
        self._warned_untimed = False
        self.pbx_started: float | None = None  # from FullyBooted.Uptime
        # For a wallboard: PBX clock minus ours (last timed event), calls not yet in the store,
        # and per site (members logged in, free) from QueueStatus every `queue_poll` seconds.
        self.pbx_offset: float | None = None
        self.queue_poll = queue_poll
        self.agents: dict[str, tuple[int, int]] = {}
        self.stop_reason: str | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # the writer: a batch is full, or the listener is closing
        self._closing = False
        self._stopped_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.client = AmiClient(
            host, port, username, secret, on_message=self.inbox.put,
            on_login=lambda at: self.inbox.mark(_Connected(at)), on_connect=self._on_connect,
            on_disconnect=self._on_disconnect, record=record, flow=self.inbox.room,
            clock=clock, **client_options,  # type: ignore[arg-type]
        )

    # ---- life -------------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> ListenerStats:
        """Listen until `stop()` or until `duration` seconds have passed (forever when None),
        then fold what was received, write everything and return."""
        started = self.clock()
        self._gap_start = (started, None)
        self.pending.close_stop_gap = started  # the gap a previous stop left open ends here
        client_task = asyncio.create_task(self.client.run())
        consumer = asyncio.create_task(self._consume())
        writer = asyncio.create_task(self._write_loop())
        stopped = asyncio.create_task(self._stop.wait())
        poller = asyncio.create_task(self._poll_queues()) if self.queue_poll else None
        try:
            await asyncio.wait({client_task, consumer, writer, stopped}, timeout=duration,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopped, poller, *self._tasks):
                if task is not None:
                    task.cancel()
            await self._shut_down(client_task, consumer, writer)
        return self.stats

    def stop(self, reason: str = "stopped") -> None:
        """Stop capturing (from the event loop: a signal handler, a test); `run` returns once
        everything received is folded and written."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    async def _shut_down(self, client_task: asyncio.Task[None], consumer: asyncio.Task[None],
                         writer: asyncio.Task[None]) -> None:
        """Stop reading, fold what is queued, write every call (in progress: incomplete)."""
        self._stopped_at = stopped_at = self.inbox.gap_start(self.clock())  # unread: lost too
        self.client.stop()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(client_task, 5)
        self.inbox.mark(_STOP)
        (failure,) = await asyncio.gather(consumer, return_exceptions=True)
        if isinstance(failure, BaseException):  # cannot happen; if it does, close here
            log.error("AMI %s: the consumer ended with %r", self.pbx, failure)
            self._close()
        if self.gap_at_stop:
            why = self.stop_reason or "end of the run"
            self.stats.stop_gap = self.pending.open_stop_gap = Gap(
                self.pbx, stopped_at, stopped_at,
                f"{STOP_REASON} ({why}); no capture until a listener starts again")
        self._closing = True
        self._wake.set()
        await asyncio.gather(writer, return_exceptions=True)

    # ---- connection hooks (run in the client's tasks) ---------------------------------------

    async def _on_connect(self, client: AmiClient) -> None:
        """Rebuild the calls in progress from a CoreShowChannels snapshot (reference §9)."""
        try:
            items = await client.send_list_action("CoreShowChannels", timeout=30.0)
        except (ActionFailed, TimeoutError) as exc:
            log.warning("AMI %s: CoreShowChannels failed (%s); calls in progress are not rebuilt "
                        "after this login (grant the AMI user read = call,agent,system)", self.pbx,
                        exc or "no reply")
            self.inbox.mark(_Resync(None, self.clock(), None))
            return
        self.inbox.mark(_Resync(items, self.clock(), client.stats.clock_drift))

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
        return [*self._writing, *self.pending.calls]

    def pbx_now(self) -> float:
        """The PBX's clock now, as its last event's Timestamp told it (ours when unknown)."""
        return self.clock() + (self.pbx_offset or 0.0)

    def _on_disconnect(self, reason: str, last_received: float) -> None:
        if not self.client.stopping:  # a deliberate stop is not a capture gap
            self.inbox.mark(_Disconnected(self.inbox.gap_start(last_received), reason))

    # ---- consumer ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        folded = 0
        while True:
            item = self.inbox.get_nowait()
            if item is None:
                item = await self.inbox.get(self.flush_interval)
                if item is None:
                    self._handle_safely(self._tick)
                    continue
            if item is _STOP:
                break
            self._handle(item)
            folded += 1
            if folded % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the read loop refill and the writer run
        self._handle_safely(self._close)

    def _handle_safely(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:
            self.stats.handler_errors += 1
            log.exception("AMI %s: %s failed (the listener goes on)", self.pbx, step.__name__)

    def _handle(self, item: object) -> None:
        """Apply one frame or marker; no exception gets out (logged with the frame, skipped)."""
        try:
            if isinstance(item, Message):
                self._fold(item)
            elif isinstance(item, _Disconnected):
                self._lost(item)
            elif isinstance(item, _Connected):
                self._connected(item)
            elif isinstance(item, _Resync):
                self._resync(item)
            elif isinstance(item, Shed):
                self._shed(item)
            self._collect()
        except Exception:
            self.stats.handler_errors += 1
            raw = item.raw[:300] if isinstance(item, Message) else b""
            log.exception("AMI %s: could not handle %r (skipped): %r", self.pbx, item, raw)

    def _fold(self, msg: Message) -> None:
        self.stats.frames += 1
        why = self.stamps.check(msg) if msg.kind == "event" else None
        if why is not None:
            self.stats.bad_timestamps += 1
            level = logging.WARNING if self.stats.bad_timestamps == 1 else logging.DEBUG
            log.log(level, "AMI %s: %s; the receive time is used instead (%d so far, counted in "
                    "the summary): %r", self.pbx, why, self.stats.bad_timestamps, msg.raw[:200])
        try:
            self.tracker.feed(msg)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("AMI %s: could not fold %r (skipped): %r", self.pbx, msg, msg.raw[:300])
        if msg.name == "FullyBooted":
            self._booted(msg)
        if msg.time is not None:
            self.live.last_event[self.pbx] = msg.time
            if msg.received is not None:
                self.pbx_offset = msg.time - msg.received
        elif not self._warned_untimed and self.tracker.untimed_events:
            self._warned_untimed = True
            log.warning("AMI %s: events carry no Timestamp; set timestampevents = yes in "
                        "manager.conf [general] (using receive times meanwhile)", self.pbx)

    def _resync(self, item: _Resync) -> None:
        if item.items is None:
            self.tracker.resync_skipped()
            return
        # PBX time of the snapshot: its receive time corrected by the PBX clock offset of the
        # events before it (FullyBooted at least), else by the drift measured with Ping
        offset = self.pbx_offset if self.pbx_offset is not None else item.drift
        self.tracker.resync(item.items, item.received + (offset or 0.0))

    def _lost(self, item: _Disconnected) -> None:
        self.live.connected[self.pbx] = False
        self.live.touch()
        if self._gap_start is None:
            self._gap_start = (item.at, item.reason)
        self.tracker.mark_gap()

    def _connected(self, item: _Connected) -> None:
        self.stamps.reset()
        self.live.connected[self.pbx] = True
        self.live.touch()
        if self._gap_start is not None:
            start, reason = self._gap_start
            self._gap_start = None
            if reason is not None:
                self._add_gap(Gap(self.pbx, start, item.at, reason))
            elif self.client.stats.failed_attempts:  # the first connections failed
                why = self.client.last_failure or "connection failed"
                self._add_gap(Gap(self.pbx, start, item.at, f"could not connect at start: {why}"))
        self.tracker.connected()

    def _shed(self, item: Shed) -> None:
        """Frames dropped while the consumer lagged: a gap, then a resync like a reconnection."""
        if not item.frames:
            return
        self.stats.frames_shed += item.frames
        log.warning("AMI %s: events came faster than they could be processed: %d dropped over "
                    "%.1f s (recorded as a capture gap; resyncing)", self.pbx, item.frames,
                    item.end - item.start)
        self._add_gap(Gap(self.pbx, item.start, item.end,
                          f"listener overloaded: {item.frames} events dropped"))
        self.tracker.mark_gap()
        self.tracker.connected()
        if self.client.connected.is_set():
            task = asyncio.get_running_loop().create_task(self._on_connect(self.client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self.tracker.resync_skipped()

    def _booted(self, msg: Message) -> None:
        """FullyBooted.Uptime after a login tells whether the PBX restarted while we were away."""
        try:
            uptime = float(msg.get("Uptime") or "")
        except ValueError:
            return  # Asterisk < 14 or no `system` read permission: CoreShowChannels still resyncs
        if not math.isfinite(uptime):
            return
        started = (msg.received or self.clock()) - uptime
        if self.pbx_started is not None and started > self.pbx_started + 5:
            log.warning("AMI %s: the PBX restarted (up %.0f s); calls in progress before were lost",
                        self.pbx, uptime)
        self.pbx_started = started

    def _tick(self) -> None:
        """The hourly directory warning and, every few minutes, the sweep of stale calls."""
        now = self.clock()
        if now - self._directory_warned >= self.gap_warning_every:
            self.warn_directory()
        if now - self._swept >= SWEEP_EVERY:
            self._swept = now
            self._collect(self.tracker.sweep(self.pbx_now()))

    def _close(self) -> None:
        """At shutdown: write the calls in progress whose outcome is known (incomplete), keep the
        others as rejects, and close an open gap."""
        if self._gap_start is not None:
            start, reason = self._gap_start
            self._gap_start = None
            if reason is not None:
                reason = f"{reason}; listener stopped"
            elif not self.client.stats.connections:
                why = self.client.last_failure or "no connection before the stop"
                reason = f"never connected to {self.client.address} during the run: {why}"
            if reason is not None:
                end = max(start, self._stopped_at or self.clock())
                self._add_gap(Gap(self.pbx, start, end, reason))
        self._collect(self._known_at_stop(self.tracker.close_all()))
        self.warn_directory()

    def _known_at_stop(self, builders: list[CallBuilder]) -> list[CallBuilder]:
        """The calls in progress at the stop whose outcome is known (a person answered, the
        message or voicemail took it, a device or machine to classify); the others, still
        ringing or waiting, are rejects saying so: counting them as abandons would be a guess."""
        known = []
        stop = self._stopped_at or self.clock()
        for b in builders:
            if b.answer is not None or b.outcome is not None or b.other_device is not None \
                    or b.machine is not None:
                known.append(b)
                continue
            waited = max(0.0, stop - (b.arrival or stop))
            self.stats.calls_rejected += 1
            self.pending.rejects.append((STILL_RINGING.format(seconds=waited), _describe(b)))
        return known

    def _add_gap(self, gap: Gap) -> None:
        log.info("AMI %s: capture gap of %.1f s recorded (%s)", self.pbx, gap.end - gap.start, gap.reason)
        self.pending.gaps.append(gap)
        self.stats.gaps.append(gap)

    def _collect(self, builders: list[CallBuilder] | None = None) -> None:
        for b in builders if builders is not None else self.tracker.pop_finished():
            if _ended_unseen(b):
                waited = max(0.0, self.pbx_now() - (b.arrival or self.pbx_now()))
                self.stats.calls_rejected += 1
                self.pending.rejects.append((ENDED_UNSEEN.format(seconds=waited), _describe(b)))
                continue
            try:
                call = self.ctx.finalize(b)
            except Exception as exc:  # a RecordError, or a value nobody foresaw: kept, not lost
                if isinstance(exc, RecordError):
                    reason = str(exc)
                else:
                    self.stats.finalize_errors += 1
                    log.error("AMI %s: finalize failed on call %r (kept as a reject)", self.pbx,
                              b.call_key[:160], exc_info=True)
                    reason = f"could not be finalized: {type(exc).__name__}: {first_line(exc)}"
                self.stats.calls_rejected += 1
                log.info("AMI %s: call %r not stored: %s", self.pbx, b.call_key[:160], reason)
                self.pending.rejects.append((reason, _describe(b)))
                if isinstance(exc, UnknownSiteError) and not b.incomplete:
                    self._directory.add_miss(exc.miss, None, rejected=True)
                    self.pending.misses.add_miss(exc.miss, None, rejected=True)
                continue
            self.pending.calls.append(call)
            self._directory.add_call(call)
            self.live.finished(call)
        if len(self.pending.calls) >= self.batch_size:
            self._wake.set()
        if builders is None:
            self._tick()

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

    # ---- writer -----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Write what is pending every `flush_interval` (or when a batch is full) until closed."""
        delay, deadline, down_since = 1.0, None, None
        while True:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                self._wake.clear()
            if not self.pending:
                if self._closing:
                    return
                continue
            if self._closing and deadline is None:
                deadline = self.clock() + self.exit_timeout
            lot = self.pending.take()
            self._writing = lot.calls
            try:
                done = await asyncio.to_thread(self.sink.write, lot)
            except StoreDown as exc:
                self.pending.restore(exc.left)
                self._writing = []
                self._bound_pending()
                if down_since is None:
                    down_since = self.clock()
                    log.warning("AMI %s: the store cannot be reached (%s); %d calls kept in memory "
                                "and written when it answers (logged once per outage)", self.pbx,
                                exc, len(self.pending.calls))
                if deadline is not None and self.clock() >= deadline:
                    self._give_up()
                    return
                wait = delay if deadline is None else min(delay, max(0.0, deadline - self.clock()))
                await asyncio.sleep(wait)
                delay = min(delay * 2, RETRY_CAP)
                continue
            self._writing = []
            if down_since is not None:
                log.info("AMI %s: the store answers again after %.0f s", self.pbx,
                         self.clock() - down_since)
                down_since, delay = None, 1.0
            self.stats.calls_written += done.calls
            self.stats.calls_rejected += len(done.refused)

    def _bound_pending(self) -> None:
        """Memory stays bounded through a long store outage: beyond `max_pending` finished
        calls, the oldest are dropped and the period they cover becomes a capture gap."""
        before = len(self.pending.calls)
        gap = self.pending.shed(self.pbx, self.max_pending, self.max_pending)
        if gap is not None:
            self.stats.calls_shed += before - len(self.pending.calls)
            self.stats.gaps.append(gap)
            log.error("AMI %s: %s", self.pbx, gap.reason)

    def _give_up(self) -> None:
        """At exit, the store still cannot be reached: say plainly what is not saved."""
        calls = self.pending.calls
        self.stats.unsaved = len(calls)
        keys = ", ".join(c.call_key for c in calls[:20]) + (" …" if len(calls) > 20 else "")
        log.error("AMI %s: the store could not be reached for %.0f s at exit: %d calls, %d "
                  "rejects and %d gaps are not saved (call keys: %s); import the day's CDR or "
                  "CEL to recover the calls", self.pbx, self.exit_timeout, len(calls),
                  len(self.pending.rejects), len(self.pending.gaps), keys or "none")


def _ended_unseen(b: CallBuilder) -> bool:
    """A call closed without its end having been seen (it ended during a connection gap, or it
    lost its last Hangup and was swept) while nobody had answered it: its outcome is unknown."""
    return (b.incomplete and b.end is None and b.answer is None and b.outcome is None
            and b.other_device is None and b.machine is None)


def _describe(b: CallBuilder) -> str:
    """What the listener knew of a refused call, as the raw text kept with its reason."""
    fields = ("call_key", "linkedid", "dialed", "queue", "context", "arrival", "answer", "end",
              "answered_by", "incomplete")
    return " ".join(f"{name}={getattr(b, name)}" for name in fields if getattr(b, name) is not None)
