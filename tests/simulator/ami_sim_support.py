"""A raw AMI session against the simulator, for tests: send actions, collect frames."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from ingest.ami.protocol import FrameParser, Message, render

SECRET = "sim-Sécret-42"


class RawSession:
    """One TCP session: `act()` sends an action, `until()` reads frames up to a condition."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.frames: list[Message] = []
        self._seen = 0
        self.closed = False

    @classmethod
    async def open(cls, port: int, login: bool = True, events: str = "call,agent,system",
                   secret: str = SECRET) -> RawSession:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = cls(reader, writer)
        if login:
            session.act("Login", "l-1", Username="tester", Secret=secret, Events=events)
            reply = await session.until(lambda m: m.action_id == "l-1")
            assert reply.name == "Success", reply.headers
        return session

    def act(self, action: str, action_id: str, *pairs: tuple[str, str], **fields: object) -> None:
        headers = [("Action", action), ("ActionID", action_id), *pairs,
                   *((k, str(v)) for k, v in fields.items())]
        self.writer.write(render(headers))

    async def until(self, done: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """The first frame from now on (or already read) that satisfies `done`."""
        deadline = time.monotonic() + timeout
        while True:
            while self._seen < len(self.frames):
                msg = self.frames[self._seen]
                self._seen += 1
                if done(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the expected frame did not come")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                self.closed = True
                raise EOFError("the server closed the connection")
            self.frames.extend(self.parser.feed(data, time.monotonic()))

    async def close(self) -> None:
        self.writer.transport.abort()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
