"""Read recorded AMI traffic in the formats found in the wild, as `Message` objects.

Three formats are recognised (see shared/data/real/SOURCES.md):

* a raw socket stream, CRLF framed, optionally starting with the banner (what
  `qualiphone listen --record FILE` writes);
* an LF-only recording of the same (panoramisk fixtures, wazo-amid benchmark data), which may
  also contain the client's `Action:` frames;
* an Asterisk console dump with `manager set debug on` or verbose logging, where each message
  follows a `<-- Examining AMI event ... -->` or `<--- Examining AMI action: -->` header line
  and CLI output is interleaved. Events printed once per manager session are de-duplicated by
  their `SequenceNumber`.

`capture_frames` is the public entry point; `capture_to_stream` re-renders a capture as the
CRLF byte stream a PBX would send (the simulator's replay mode feeds it to a socket).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.ami.protocol import Message, parse_frame, parse_stream, render

EXAMINING = b"Examining AMI "


def detect_format(data: bytes) -> str:
    """"console", "crlf" or "lf" for a recorded capture."""
    if EXAMINING in data:
        return "console"
    return "crlf" if b"\r\n\r\n" in data else "lf"


def console_frames(data: bytes, *, actions: bool = True, dedupe: bool = True) -> Iterator[Message]:
    """Messages of a console dump: the block after each `Examining AMI …` header line."""
    seen: set[str] = set()
    block: list[bytes] | None = None
    for line in data.replace(b"\r\n", b"\n").split(b"\n"):
        if EXAMINING in line:
            if block:
                yield from _console_block(block, actions, dedupe, seen)
            block = []
        elif block is not None:
            if line.strip():
                block.append(line)
            elif block:
                yield from _console_block(block, actions, dedupe, seen)
                block = None
    if block:
        yield from _console_block(block, actions, dedupe, seen)


def _console_block(lines: list[bytes], actions: bool, dedupe: bool, seen: set[str]) -> Iterator[Message]:
    msg = parse_frame(b"\r\n".join(lines))
    if msg is None or (msg.kind == "action" and not actions):
        return
    seq = msg.get("SequenceNumber")
    if dedupe and seq is not None and msg.kind == "event":
        if seq in seen:
            return
        seen.add(seq)
    yield msg


def capture_frames(data: bytes, *, actions: bool = False) -> list[Message]:
    """Every message of a recorded capture, in order; client actions only when asked."""
    fmt = detect_format(data)
    if fmt == "console":
        frames = list(console_frames(data, actions=actions))
    else:
        if fmt == "lf":
            data = data.replace(b"\n", b"\r\n")
        frames = list(parse_stream(data))
    if not actions:
        frames = [f for f in frames if f.kind != "action"]
    return frames


def read_capture(path: Path | str, *, actions: bool = False) -> list[Message]:
    return capture_frames(Path(path).read_bytes(), actions=actions)


def capture_to_stream(data: bytes, banner: str = "Asterisk Call Manager/11.0.0") -> bytes:
    """A capture as the CRLF stream a PBX sends: banner, then every non-action frame."""
    frames = capture_frames(data)
    return (banner.encode() + b"\r\n" if banner else b"") + b"".join(render(f.headers) for f in frames)
