"""Asterisk queue_log: one CallBuilder per caller (callid), from the queues' own events.

A line is `<epoch>|<callid>|<queue>|<agent>|<event>|<data1>|<data2>|…` (reference §6). Lines are
grouped by callid, the caller channel's Uniqueid; queue-wide lines (callid `NONE`: QUEUESTART,
CONFIGRELOAD) and member administration (ADDMEMBER, PAUSE, … whatever their callid) are ignored.

What queue_log can say, and how each field is filled:

* `arrival` is the epoch prefix of the callid when it has Asterisk's default form `<epoch>.<n>`
  or `<systemname>-<epoch>.<n>` (the second the caller's channel was created, so the IVR before
  the queue is counted); otherwise (a custom ChannelId) the first ENTERQUEUE time, so only the
  time spent in queues is counted.
* `queue_entry` is the first ENTERQUEUE; a caller who leaves a queue (EXITWITHTIMEOUT, EXITEMPTY,
  EXITWITHKEY, WITHDRAW) and enters another keeps counting from the first arrival.
* `answer` is the first CONNECT's time (whole seconds), `answered_by` its agent field. A
  transfer or a later queue never moves it.
* A caller whose last queue exit is not followed by a CONNECT left the queues without a person
  answering (timeout, no member, a key) and the dialplan went on (voicemail, a message, another
  destination) where queue_log cannot see: outcome None, no answer, `end` = the exit, and
  `incomplete` — a partial view, so a CDR or CEL record of the same call (which knows how it
  ended) wins the merge; alone, it counts as not picked up by a person.
* A caller whose number is in the PBX's `test_accountcodes` (the probe's caller id) is a test.
* A caller still waiting when the file ends (no CONNECT, ABANDON or exit after the last
  ENTERQUEUE), or when its lines stop for six hours, is a Reject saying so: how the call ended
  is unknown, and a guess would count it as an abandon. The grown file, the next file after
  rotation, or the day's CDR or CEL brings the call. A QUEUESTART (app_queue loaded: the PBX
  restarted) closes every open caller: one still waiting was cut off, a Reject that no later
  line completes.
* `first_ring` is the earliest ring start derivable from the file: RINGNOANSWER / RINGCANCELED
  time − ringtime (ms), CONNECT time − ringtime (s), never before the first ENTERQUEUE. queue_log
  does not record the strategy; with ringall the members ring on ENTERQUEUE, which the derived
  value matches within a second. None when no line gives a ring time (old CONNECT, no misses).

A call whose first lines are in an earlier, rotated file (no ENTERQUEUE here) is still built from
what is here: a COMPLETE or transfer without CONNECT gives the answer as its time − calltime.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ingest.finalize import CaptureContext
from ingest.records import RecordError, Reject, Skipped, unexpected
from monitor.call import CallBuilder, Outcome, Source

_MIN_FIELDS = 5
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_DEFAULT_CALLID = re.compile(r"(?:.*-)?([0-9]{9,10})\.[0-9]+", re.ASCII)
# A callid epoch further back than this before the caller's first line is not a creation time.
_MAX_BEFORE_QUEUE = 86_400
# A caller without any line for this long is closed before the end of the file (bounds memory).
_SETTLE_SECONDS = 6 * 3600
_SWEEP_EVERY = 3600
_IGNORED = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
        "PENALTY",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
    }
)


@dataclass(frozen=True, slots=True)
class QueueLogEntry:
    """One queue_log line; `data` holds data1… as written (older versions write fewer)."""

    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ()

    def arg(self, index: int) -> str:
        """Data field `index` (0 = data1), or "" when this Asterisk did not write it."""
        return self.data[index] if index < len(self.data) else ""

    def render(self) -> str:
        return "|".join((str(self.time), self.callid, self.queue, self.agent, self.event, *self.data))


def parse_queue_log_line(text: str) -> QueueLogEntry:
    """Parse one line; raise RecordError saying what is wrong with it."""
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < _MIN_FIELDS:
        raise RecordError(
            f"not enough fields: {len(parts)}, expected at least {_MIN_FIELDS} "
            "(time|callid|queue|agent|event|data…); is this an Asterisk queue_log file?"
        )
    time_text, callid, queue, agent, event, *data = parts
    if not _DIGITS.fullmatch(time_text):
        raise RecordError(
            f'time "{time_text}" is not whole Unix seconds; queue_log lines start with the '
            "epoch, e.g. 1718000001|1718000000.311|…"
        )
    if not callid:
        raise RecordError("empty callid (field 2); expected the caller's Uniqueid or NONE")
    if not event:
        raise RecordError("empty event name (field 5)")
    return QueueLogEntry(int(time_text), callid, queue, agent, event, tuple(data))


@dataclass
class _Track:
    """A caller being folded: the builder plus what the fold needs to decide at the end."""

    builder: CallBuilder
    first_time: int
    last_time: int
    queues: list[str] = field(default_factory=list)
    waiting: bool = True  # no outcome or exit since the last ENTERQUEUE (or since the start)
    caller_event: bool = False  # saw a line about the caller, not only custom ones
    exited: bool = False  # the last thing seen is a queue exit: the dialplan went on elsewhere


def _int(text: str) -> int | None:
    return int(text) if _DIGITS.fullmatch(text) else None


def _rung_at(t: _Track, moment: float) -> None:
    b = t.builder
    b.first_ring = moment if b.first_ring is None else min(b.first_ring, moment)


def _enter(t: _Track, e: QueueLogEntry) -> None:
    b = t.builder
    if b.queue_entry is None:
        b.queue_entry = float(e.time)
        b.caller = e.arg(1) or None
    t.waiting, t.exited = True, False
    if b.answer is None:  # a new queue after an exit: the call is open again
        b.outcome, b.end = None, None


def _connect(t: _Track, e: QueueLogEntry) -> None:
    b = t.builder
    t.waiting = False
    if b.answer is None:
        b.answer, b.answered_by, b.outcome = float(e.time), e.agent, Outcome.ANSWERED
    ringtime = _int(e.arg(2))  # absent before Asterisk 1.6
    if ringtime is not None:
        _rung_at(t, e.time - ringtime)


def _ring_ms(t: _Track, e: QueueLogEntry) -> None:
    """RINGNOANSWER / RINGCANCELED: data1 is how long that member rang, in milliseconds."""
    ms = _int(e.arg(0))
    if ms is not None:
        _rung_at(t, e.time - ms / 1000)


def _abandon(t: _Track, e: QueueLogEntry) -> None:
    t.waiting = False
    if t.builder.answer is None:
        t.builder.outcome, t.builder.end = Outcome.ABANDONED, float(e.time)


def _exit(t: _Track, e: QueueLogEntry) -> None:
    """Left a queue unanswered; a later ENTERQUEUE reopens the call, else it ends here."""
    t.waiting = False
    if t.builder.answer is None:
        t.builder.end, t.exited = float(e.time), True


def _finish(calltime_arg: int) -> Callable[[_Track, QueueLogEntry], None]:
    """COMPLETECALLER/COMPLETEAGENT and transfers: the end of the queue call."""

    def handler(t: _Track, e: QueueLogEntry) -> None:
        b = t.builder
        t.waiting = False
        b.end = float(e.time)
        if b.answer is None:  # the CONNECT is in an earlier file
            calltime = _int(e.arg(calltime_arg))
            b.answer = None if calltime is None else float(e.time - calltime)
            b.answered_by, b.outcome = e.agent, Outcome.ANSWERED

    return handler


def _did(t: _Track, e: QueueLogEntry) -> None:
    """FreePBX logs `QueueLog(queue,uniqueid,NONE,DID,<did>)` before the caller enters."""
    t.builder.dialed = t.builder.dialed or e.arg(0) or None


_HANDLERS: dict[str, Callable[[_Track, QueueLogEntry], None]] = {
    "ENTERQUEUE": _enter,
    "CONNECT": _connect,
    "RINGNOANSWER": _ring_ms,
    "RINGCANCELED": _ring_ms,
    "ABANDON": _abandon,
    "EXITWITHTIMEOUT": _exit,
    "EXITEMPTY": _exit,
    "EXITWITHKEY": _exit,
    "WITHDRAW": _exit,
    "COMPLETECALLER": _finish(1),
    "COMPLETEAGENT": _finish(1),
    "BLINDTRANSFER": _finish(3),
    "ATTENDEDTRANSFER": _finish(3),
    "TRANSFER": _finish(3),
    "DID": _did,
}
_CALLER_EVENTS = frozenset(_HANDLERS) - {"DID"}


def _callid_epoch(callid: str, first_time: int) -> float | None:
    """The creation second in a default-form Uniqueid, when it is plausible for this call."""
    m = _DEFAULT_CALLID.fullmatch(callid)
    if m is None:
        return None
    epoch = int(m.group(1))
    return float(epoch) if first_time - _MAX_BEFORE_QUEUE <= epoch <= first_time else None


def _close(t: _Track, ctx: CaptureContext) -> CallBuilder | Skipped | None:
    """Finish a caller's builder; a Skipped when it is not a call of a configured switchboard,
    None when the callid had no caller event at all (not a call)."""
    b = t.builder
    if not t.caller_event:
        return None
    b.queue = next((q for q in t.queues if ctx.sites.site_for(queue=q)), t.queues[0])
    if ctx.sites.site_for(dialed=b.dialed, queue=b.queue) is None:
        return Skipped.no_site(b.line, b.dialed, b.queue)  # another service's queue
    start = b.queue_entry if b.queue_entry is not None else float(t.first_time)
    b.arrival = _callid_epoch(b.call_key, t.first_time) or start
    if b.first_ring is not None:
        b.first_ring = max(b.first_ring, b.arrival if b.queue_entry is None else b.queue_entry)
    b.incomplete = (t.waiting or t.exited) and b.answer is None
    b.is_test = b.caller in ctx.pbx.test_accountcodes
    return b


WAITING_AT_END = (
    'still waiting in queue "{queue}" when the file ends ({seconds:.0f} s after it entered, '
    "no answer, abandon or exit yet): how the call ended is unknown, so it is not counted (not "
    "as an abandon either); importing this file again once it has grown, the next queue_log "
    "after rotation, or the day's CDR or CEL completes it")
WAITING_RESTART = (
    'still waiting in queue "{queue}" ({seconds:.0f} s after it entered) when the PBX restarted '
    "(QUEUESTART, line {line}, {after:.0f} s after its last line): the call was cut off and how "
    "it ended is unknown, so it is not counted (not as an abandon either); the day's CDR or CEL "
    "may hold it")
WAITING_SILENT = (
    'still waiting in queue "{queue}" when its lines stop ({seconds:.0f} s after it entered, then '
    "no line for six hours): how the call ended is unknown, so it is not counted (not as an "
    "abandon either); the day's CDR or CEL completes it")


class _Callers:
    """Open callers by callid; each is emitted at the end or once silent for settle seconds."""

    def __init__(self, ctx: CaptureContext) -> None:
        self.ctx = ctx
        self.open: dict[str, _Track] = {}
        self.swept = 0

    def add(self, number: int, text: str,
            e: QueueLogEntry) -> Iterator[CallBuilder | Skipped | Reject]:
        if e.event == "QUEUESTART":  # app_queue loaded again: the PBX restarted, every caller
            yield from self._restarted(number, e.time)  # in a queue was cut off
            return
        if e.callid == "NONE" or e.event in _IGNORED:
            return
        if e.time - self.swept >= _SWEEP_EVERY:
            yield from self._sweep(e.time)
        t = self.open.get(e.callid)
        if t is None:
            builder = CallBuilder(
                pbx=self.ctx.pbx.name, call_key=e.callid, source=Source.QUEUE_LOG, resolution=1.0, line=number
            )
            t = self.open[e.callid] = _Track(builder, e.time, e.time)
        t.builder.raw.append(text)
        t.last_time = max(t.last_time, e.time)
        if e.queue and e.queue != "NONE" and e.queue not in t.queues:
            t.queues.append(e.queue)
        handler = _HANDLERS.get(e.event)
        if handler is not None:
            handler(t, e)
            t.caller_event |= e.event in _CALLER_EVENTS

    def _sweep(self, now: int) -> Iterator[CallBuilder | Skipped | Reject]:
        self.swept = now
        stale = [k for k, t in self.open.items() if t.last_time < now - _SETTLE_SECONDS]
        for key in stale:
            yield from self._emit(self.open.pop(key), WAITING_SILENT)

    def _emit(self, t: _Track, waiting: str, in_progress: bool = True,
              **said: float) -> Iterator[CallBuilder | Skipped | Reject]:
        try:
            builder = _close(t, self.ctx) if t.queues else None
        except Exception as exc:  # one caller never costs the others
            yield Reject(t.builder.line, unexpected(exc), "\n".join(t.builder.raw))
            return
        if isinstance(builder, CallBuilder) and t.waiting and builder.answer is None:
            # how it ended is unknown: never an abandon (nor a call) on a guess
            queue = builder.queue or "?"
            yield Reject(builder.line, waiting.format(queue=queue, seconds=t.last_time - (
                builder.queue_entry or t.first_time), **said), "\n".join(builder.raw),
                call=in_progress)
            return
        if builder is not None:
            yield builder

    def _restarted(self, number: int, when: int) -> Iterator[CallBuilder | Skipped | Reject]:
        """Close every open caller at a restart: one still waiting is a reject that no later
        line can complete (its channel is gone); the others are built as at the end."""
        for t in self.open.values():
            yield from self._emit(t, WAITING_RESTART, in_progress=False, line=number,
                                  after=when - t.last_time)
        self.open.clear()

    def close_all(self) -> Iterator[CallBuilder | Skipped | Reject]:
        for t in self.open.values():
            yield from self._emit(t, WAITING_AT_END)
        self.open.clear()


def parse_queue_log(lines: Iterable[tuple[int, str]],
                    ctx: CaptureContext) -> Iterator[CallBuilder | Reject | Skipped]:
    """One CallBuilder per caller of a configured queue; a Reject per malformed line; a Skipped
    per caller of a queue of no configured site.

    Blank lines are skipped; a bad line never stops the parse. Callers are yielded when the file
    ends, or earlier once they have had no line for six hours of log time.
    """
    callers = _Callers(ctx)
    for number, text in lines:
        if not text.strip():
            continue
        try:
            entry = parse_queue_log_line(text)
            ctx.window.check(entry.time, "time")
        except RecordError as exc:
            yield Reject(number, str(exc), text)
            continue
        yield from callers.add(number, text, entry)
    yield from callers.close_all()
