"""Mutated AMI frames for the fuzz suite (tests/ingest/ami/test_ami_fuzz.py, bench/fuzz_ami.py).

A stream is a list of `Frame`s: the headers of one AMI message and the call it belongs to (its
Linkedid, else its Uniqueid; None for a frame of no call). `mutate` rewrites one frame into the
bytes sent instead (none, one or two frames, each with its own terminator, so that a mutation
never eats the frame after it), and the driver folds a byte stream through the real parser, the
client's frame checks and the real `Listener` (Timestamp check, tracker, finalize, the write
path with its isolation of what the store refuses), without a socket.

What must hold: nothing raises out of the listener, and every call none of whose frames was
mutated, that the unmutated stream stores, is stored (`calls_lost`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from config import Config
from ingest.ami.calls import CallTracker
from ingest.ami.listener import Listener
from ingest.ami.models import capture_gaps
from ingest.ami.protocol import TERMINATOR, FrameParser, Message, render
from ingest.ami.replay import read_capture
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import calls, directory_misses, import_batches, rejected_records

Headers = list[tuple[str, str]]

# Values a broken or hostile PBX (or a caller's name) can put in a field.
HOSTILE = (
    "", " ", "\x00", "0199\x00000105", "nan", "inf", "-inf", "1e20", "-1", "0", "1e308",
    "99999999999999", "4102444800.5", "946684799", "1790000000.5.5", "00:00:99", "-00:01:00",
    "9" * 40, "7" * 160, "x" * 300, "é" * 64, "\u202eRTL", "\U0001f600 emoji", "<unknown>",
    "<null>", "::::", "Key: value", "=", "a=b=c", "\t", "ChanVariable(x): y", "\ufffd",
    "NaN", "+1", "0x10", "1_000", "٣٤", "１２３",
)
EVENT_NAMES = ("Newchannel", "Newstate", "Hangup", "DialBegin", "DialState", "DialEnd",
               "AgentConnect", "AgentComplete", "BridgeEnter", "QueueCallerJoin", "Join",
               "QueueCallerLeave", "Leave", "QueueCallerAbandon", "Dial", "Bridge", "LocalBridge",
               "FullyBooted", "Cdr", "")
KINDS = ("value", "timestamp", "drop_header", "dup_header", "rename", "key_case", "bytes",
         "truncate", "crlf", "drop", "duplicate", "invalid_utf8", "huge", "no_colon", "swap")


@dataclass(frozen=True)
class Frame:
    headers: Headers
    call: str | None  # the call (Linkedid, else Uniqueid) the frame belongs to

    def render(self) -> bytes:
        return render(self.headers)


@dataclass(frozen=True)
class Mutation:
    frame: int  # index in the stream
    kind: str
    param: int  # picks the header, the value, the position …


def _pick(seq: Sequence[object], param: int) -> int:
    return param % len(seq) if seq else 0


def mutate(frame: Frame, kind: str, param: int) -> bytes:
    """The bytes sent instead of `frame` (deterministic in `kind` and `param`)."""
    h = list(frame.headers)
    value = HOSTILE[param % len(HOSTILE)]
    i = _pick(h, param // 7)
    if kind == "value" and h:
        h[i] = (h[i][0], value)
    elif kind == "timestamp":
        h = [(k, v) for k, v in h if k.lower() != "timestamp"] + [("Timestamp", value)]
    elif kind == "drop_header" and h:
        del h[i]
    elif kind == "dup_header" and h:
        h.insert(i + 1, (h[i][0], value))
    elif kind == "rename" and h:
        h[0] = (h[0][0], EVENT_NAMES[param % len(EVENT_NAMES)])
    elif kind == "key_case" and h:
        h[i] = (h[i][0].upper() if param % 2 else h[i][0].lower(), h[i][1])
    elif kind == "crlf" and h:
        h[i] = (h[i][0], h[i][1] + ("\r\n\r\n" if param % 2 else "\r\n") + value)
    elif kind == "huge" and h:
        h[i] = (h[i][0], "Z" * (1000 + (param * 97) % 300_000))
    elif kind == "no_colon":
        h.insert(i, ("", value or "no colon here"))
    elif kind == "swap" and len(h) > 1:
        j = _pick(h, param // 13)
        h[i], h[j] = (h[i][0], h[j][1]), (h[j][0], h[i][1])
    elif kind == "drop":
        return b""
    elif kind == "duplicate":
        return frame.render() * 2
    body = render(h)[:-2]  # without the blank line that ends it
    if kind == "bytes" and body:
        data = bytearray(body)
        for n in range(1 + param % 4):
            data[(param * 31 + n * 17) % len(data)] = (param >> (n * 3)) & 0xFF
        body = bytes(data)
    elif kind == "truncate" and body:
        body = body[: param % len(body)]
    elif kind == "invalid_utf8":
        cut = param % (len(body) + 1)
        body = body[:cut] + b"\xff\xfe\xc3" + body[cut:]
    return body.rstrip(b"\r\n") + TERMINATOR if body.strip() else b""


def apply(stream: Sequence[Frame], mutations: Iterable[Mutation]) -> tuple[list[bytes], set[str]]:
    """The byte frames to send and the calls touched by a mutation."""
    out = [f.render() for f in stream]
    touched: set[str] = set()
    for m in mutations:
        frame = stream[m.frame]
        out[m.frame] = mutate(frame, m.kind, m.param)
        if frame.call is not None:
            touched.add(frame.call)
    return out, touched


# ---- streams --------------------------------------------------------------------------------

def _call_of(headers: Headers) -> str | None:
    found = {k.lower(): v for k, v in reversed(headers)}
    return found.get("linkedid") or found.get("uniqueid") or found.get("uniqueid1")


def frames_of(messages: Iterable[Message]) -> list[Frame]:
    return [Frame(list(m.headers), _call_of(m.headers)) for m in messages
            if m.problem is None and m.kind == "event"]


REAL_CAPTURES = (
    "verbara/queue-reload-asterisk-22.9.0.raw",
    "callme/log_setVar.asterisk13-verbose-with-ami-events.log",
    "ispbx/ami_debbug_oncall.asterisk22-manager-debug.txt",
    "ispbx/ami_debbug_calling_butnotanswered.asterisk22-manager-debug.txt",
    "panoramisk/originate_with_events.ami.txt",
    "wazo-amid/ami-messages.2017-original.ami.txt",
)


def real_streams(real: Path) -> dict[str, list[Frame]]:
    """The real recordings, read in place (never copied)."""
    return {name: frames_of(read_capture(real / "ami" / name)) for name in REAL_CAPTURES}


def simulated_stream(config: Config, sites: Sequence[str], day: object, seed: int = 7,
                     limit: int | None = None) -> list[Frame]:
    """The model's calls of `day` at `sites` as the events a listener receives."""
    from monitor.calendar import SiteCalendar
    from simulator.ids import assign_ids
    from simulator.model import simulate_site_day

    calendar = SiteCalendar(config)
    sim = assign_ids([c for s in sites for c in simulate_site_day(config, s, day, seed,  # type: ignore[arg-type]
                                                                  calendar=calendar)])
    return calls_stream(sorted(sim, key=lambda c: c.arrival)[:limit])


def calls_stream(sim: Sequence[object]) -> list[Frame]:
    """Simulated calls (simulator.timeline.SimCall) as the frames a listener receives."""
    from simulator.ami_frames import DIALPLAN, render_calls

    frames = sorted((f for f in render_calls(sim) if f.cls != DIALPLAN),  # type: ignore[arg-type]
                    key=lambda f: f.time)
    return [Frame(list(f.headers), _call_of(list(f.headers))) for f in frames]


# ---- the driver -----------------------------------------------------------------------------

def expected_calls(ctx: CaptureContext, stream: Sequence[Frame]) -> set[str]:
    """The calls the unmutated stream gives (tracker and finalize, as the listener does)."""
    tracker = CallTracker(ctx)
    received = time.time()
    for i, frame in enumerate(stream):
        msg = Message(list(frame.headers), received=received + i * 1e-3)
        tracker.feed(msg)
    keys = set()
    for b in [*tracker.pop_finished(), *tracker.close_all()]:
        try:
            keys.add(ctx.finalize(b).call_key)
        except Exception:  # not stored without a mutation either
            continue
    return keys


@dataclass
class FuzzRun:
    listener: Listener
    frames_sent: int
    malformed: int  # frames the client would skip (logged) before the listener sees them


def fold(ctx: CaptureContext, store: Store, data: Iterable[bytes], chunk: int = 1 << 16) -> FuzzRun:
    """Feed the bytes as a socket would (64 KiB reads) through the parser, the client's checks
    and a real Listener, then stop it as `run()` does and write what it kept."""
    listener = Listener(ctx, store, host="fuzz.invalid", port=5038, username="fuzz", secret="-")
    parser, malformed, sent = FrameParser(), 0, 0
    received = time.time()
    for piece in _chunks(data, chunk):
        received += 1e-3
        for msg in parser.feed(piece, received):
            sent += 1
            if msg.problem is not None:
                malformed += 1
                continue
            listener._handle(msg)  # what the consumer does with each frame
    listener._handle_safely(listener._close)
    lot = listener.pending.take()
    written = listener.sink.write(lot)
    listener.stats.calls_written += written.calls
    listener.stats.calls_rejected += len(written.refused)
    return FuzzRun(listener, sent, malformed)


def _chunks(data: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in data:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def stored_calls(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(calls.c.call_key)).scalars())


def calls_lost(store: Store, expected: set[str], touched: set[str]) -> set[str]:
    """Calls the unmutated stream stores, none of whose frames was mutated, not stored."""
    return (expected - touched) - stored_calls(store)


def wipe(store: Store) -> None:
    """Empty the tables a listener writes (between fuzz examples on one store)."""
    with store.engine.begin() as conn:
        for table in (rejected_records, directory_misses, import_batches, calls, capture_gaps):
            conn.execute(sa.delete(table))
