"""A wallboard fed by the simulator's frames of one call, with a clock the test moves."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ingest.ami.calls import CallTracker
from ingest.ami.live import LiveState
from ingest.ami.protocol import Message, parse_frame, render
from ingest.finalize import CaptureContext
from monitor.call import Call
from simulator.ami_frames import DIALPLAN, Frame, render_call
from simulator.timeline import SimCall


@dataclass
class ScriptedFeed:
    """What a Listener offers a wallboard, driven frame by frame from a simulated call."""

    ctx: CaptureContext
    frames: list[Frame]
    t: float
    pbx: str = "paris-eps"
    live: LiveState = field(default_factory=LiveState)
    agents: dict[str, tuple[int, int]] = field(default_factory=dict)
    finished: list[Call] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        self.tracker = CallTracker(self.ctx, self.live)
        self.live.connected[self.pbx] = True

    @classmethod
    def of(cls, ctx: CaptureContext, call: SimCall) -> ScriptedFeed:
        frames = [f for f in render_call(call) if f.cls != DIALPLAN]
        return cls(ctx, frames, call.arrival - 1.0)

    def advance(self, t: float) -> None:
        """PBX time moves to t: the call's events up to t are folded in."""
        self.t = t
        while self.sent < len(self.frames) and self.frames[self.sent].time <= t:
            msg = parse_frame(render(self.frames[self.sent].headers)[:-4])
            assert isinstance(msg, Message)
            self.tracker.feed(msg)
            self.sent += 1
        self.finished += [self.ctx.finalize(b) for b in self.tracker.pop_finished()]

    def unwritten(self) -> list[Call]:
        return list(self.finished)

    def pbx_now(self) -> float:
        return self.t


async def http_get(port: int, target: str, *headers: str,
                   host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: (status, headers in lower case, body)."""
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", *headers, "", ""]
    writer.write("\r\n".join(lines).encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *rest = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (r.partition(":") for r in rest)}
    return int(status_line.split()[1]), fields, body


class EventStream:
    """A client of /events: `next()` returns the next snapshot."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> EventStream:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
        return cls(reader, writer)

    async def next(self) -> dict[str, Any]:
        while True:
            block = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), 5)
            text = block.decode()
            if text.startswith("data: "):
                return dict(json.loads(text[6:]))

    def close(self) -> None:
        self.writer.transport.abort()


class LoopThread:
    """An event loop in a thread of its own: the server runs there, the test calls into it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def do(self, fn: Callable[[], object]) -> None:
        async def wrapped() -> None:
            fn()
        self.call(wrapped())

    def stop(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
