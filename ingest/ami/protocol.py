"""AMI framing: bytes in, `Message` objects out. Pure: no sockets, no clock.

The wire format (reference §1.1): an optional banner line (`Asterisk Call Manager/x.y.z\\r\\n`,
no blank line after it), then blocks of `Key: Value\\r\\n` lines, each block ended by an empty
line. Keys are case-insensitive and may repeat (`ChanVariable`, `Output`, `Variable`); a key may
contain parentheses and slashes (`ChanVariable(PJSIP/trunk-000001c4)`); values are raw bytes.

Decoding is done on whole frames only: the terminator `\\r\\n\\r\\n` is ASCII and can never fall
inside a multi-byte UTF-8 sequence, so a character split across two TCP reads is reassembled
before it is decoded, and undecodable bytes become U+FFFD instead of an exception. Lines are
split with `bytes.split`/`str.partition` (no per-line regex) for throughput.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TERMINATOR = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager"
# A frame larger than this without a terminator is garbage: it is dropped, not buffered forever.
MAX_FRAME_BYTES = 1 << 20
KINDS = {"event": "event", "response": "response", "action": "action"}


class Message:
    """One AMI message: ordered (key, value) pairs, keys compared case-insensitively.

    `msg["uniqueid"]` and `msg.get("UniqueID")` return the first value of a key; `getall`
    returns every value of a repeated key in order. `received` is the local receive time (set
    by the client), `problem` says why a frame is malformed (None when it is well formed).
    """

    __slots__ = ("_first", "_time", "headers", "kind", "name", "problem", "raw", "received",
                 "retimed")

    def __init__(self, headers: list[tuple[str, str]], raw: bytes = b"", received: float | None = None,
                 problem: str | None = None) -> None:
        self.headers = headers
        self.raw = raw
        self.received = received
        self.problem = problem
        self._time: float | bool | None = False  # False: not parsed yet
        self.retimed = False  # True once `retime` replaced an implausible Timestamp
        first: dict[str, str] = {}
        for key, value in headers:
            lowered = key.lower()
            if lowered not in first:
                first[lowered] = value
        self._first = first
        key0 = headers[0][0].lower() if headers else ""
        self.kind = KINDS.get(key0, "unknown")
        self.name = headers[0][1] if headers else ""
        if self.kind == "unknown" and problem is None:
            self.problem = "the first line is not Event:, Response: or Action:"

    @classmethod
    def build(cls, *pairs: tuple[str, str], **fields: object) -> Message:
        """A message from pairs then keyword fields (used to render actions and in tests)."""
        headers = list(pairs) + [(k, str(v)) for k, v in fields.items()]
        return cls(headers)

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._first.get(key.lower(), default)

    def getall(self, key: str) -> list[str]:
        lowered = key.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    def variables(self, prefix: str = "") -> dict[str, str]:
        """`ChanVariable: A=x` (or `{prefix}ChanVariable`, `ChanVariable(chan)`) as a dict."""
        wanted = f"{prefix}chanvariable".lower()
        found: dict[str, str] = {}
        for key, value in self.headers:
            lowered = key.lower()
            if lowered == wanted or (lowered.startswith(wanted + "(") and lowered.endswith(")")):
                name, _, val = value.partition("=")
                found[name] = val
        return found

    @property
    def time(self) -> float | None:
        """The PBX's `Timestamp` header as epoch seconds; None when it is missing or is no
        finite number (`nan`, `inf`, text), or the time `retime` set."""
        if self._time is False:
            self._time = parse_timestamp(self._first.get("timestamp"))
        return self._time  # type: ignore[return-value]

    def retime(self, t: float) -> None:
        """Use `t` instead of the frame's own Timestamp (its header and `raw` are kept)."""
        self._time, self.retimed = t, True

    @property
    def action_id(self) -> str | None:
        return self._first.get("actionid")

    def render(self) -> bytes:
        return render(self.headers)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: {v}" for k, v in self.headers[:4])
        return f"<Message {self.kind} {shown}{' …' if len(self.headers) > 4 else ''}>"


def parse_timestamp(text: str | None) -> float | None:
    """A `Timestamp` value as a finite float, else None."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def render(headers: Iterable[tuple[str, str]]) -> bytes:
    """Render key/value pairs as one CRLF-framed AMI message."""
    return b"".join((f"{k}: {v}\r\n" if k else f"{v}\r\n").encode() for k, v in headers) + b"\r\n"


def parse_frame(block: bytes, received: float | None = None) -> Message | None:
    """Parse one frame (without its terminator); None for an empty block or a lone banner."""
    text = block.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    while lines and not lines[0]:
        del lines[0]
    if lines and lines[0].startswith("Asterisk Call Manager") and ":" not in lines[0]:
        del lines[0]  # the banner glued to the first frame of a (re)connection
    if not lines or (len(lines) == 1 and not lines[0]):
        return None
    headers: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            headers.append((key, value[1:] if value.startswith(" ") else value))
        elif line:
            headers.append(("", line))  # Asterisk <= 13 `Response: Follows` body, or garbage
    problem = "a line without a key" if headers and headers[0][0] == "" else None
    return Message(headers, block, received, problem)


class FrameParser:
    """Incremental parser: `feed(chunk)` returns the messages completed by that chunk."""

    def __init__(self) -> None:
        self._buffer = b""
        self.banner: str | None = None
        self._at_start = True
        self.dropped_bytes = 0

    def feed(self, data: bytes, received: float | None = None) -> list[Message]:
        buffer = self._buffer + data if self._buffer else data
        if self._at_start:
            buffer = self._take_banner(buffer)
            if self._at_start:
                self._buffer = buffer
                return []
        pieces = buffer.split(TERMINATOR)
        self._buffer = pieces.pop()
        out = []
        for piece in pieces:
            msg = parse_frame(piece, received)
            if msg is not None:
                out.append(msg)
        if len(self._buffer) > MAX_FRAME_BYTES:
            self.dropped_bytes += len(self._buffer)
            reason = f"{len(self._buffer)} bytes without a frame end; dropped"
            out.append(Message([], self._buffer[:200], received, reason))
            self._buffer = b""
        return out

    def _take_banner(self, buffer: bytes) -> bytes:
        """Consume the banner line when the stream starts with one."""
        if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(buffer):
            return buffer  # too short to tell yet
        self._at_start = False
        if buffer.startswith(BANNER_PREFIX):
            line, sep, rest = buffer.partition(b"\r\n")
            if not sep:
                self._at_start = True
                return buffer
            self.banner = line.decode("utf-8", "replace")
            return rest
        return buffer

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unfinished frame waiting for more data."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget any partial frame (a new connection starts with a new banner)."""
        self._buffer = b""
        self._at_start = True


def parse_stream(data: bytes) -> Iterator[Message]:
    """All messages of a complete CRLF-framed stream (a recorded capture)."""
    parser = FrameParser()
    yield from parser.feed(data)
    if parser.pending_bytes:
        yield from parser.feed(TERMINATOR)


@dataclass(frozen=True, slots=True, order=True)
class Uniqueid:
    """A Uniqueid compared as (epoch, counter), never as a string (reference §2)."""

    epoch: int
    counter: int

    @classmethod
    def parse(cls, text: str) -> Uniqueid | None:
        head, _, counter = text.rpartition(".")
        epoch = head.rpartition("-")[2]
        if epoch.isdigit() and counter.isdigit():
            return cls(int(epoch), int(counter))
        return None
