"""Helpers for the AMI tests: a temporary config for the real captures, a scripted fake PBX."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from config import SHIPPED_DIR, load_config
from ingest.ami.protocol import FrameParser, Message, render
from ingest.finalize import CaptureContext

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

# One site per capture, mapping the capture's DIDs, queues, contexts and agent devices.
CAPTURE_SITES = [
    {"id": "lab-verbara", "dids": ["4021", "4022", "4023", "4024"], "queues": ["q-late", "q-noans"],
     "contexts": ["from-pstn"], "staff_devices": ["Local/*@agents-late", "PJSIP/agent*"]},
    {"id": "lab-callme", "dids": ["888999"], "queues": ["Q1"], "contexts": ["incoming"],
     "staff_devices": ["SIP/777"]},
    {"id": "lab-ispbx", "dids": ["100"], "queues": [], "contexts": ["internal"],
     "staff_devices": ["PJSIP/100"]},
    {"id": "eps-05", "dids": ["0199000105"], "queues": ["std-05"], "contexts": ["in-eps-05"],
     "staff_devices": ["PJSIP/eps05-*", "Local/*@eps05-agents"], "message_contexts": ["msg-eps-05"]},
]


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def write_config(directory: Path, sites: list[dict[str, object]] | None = None) -> Path:
    """A config dir: the shipped settings.toml and a generated sites.toml."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_DIR / "settings.toml", directory / "settings.toml")
    blocks = []
    for site in sites or CAPTURE_SITES:
        lines = ["[[site]]", f'id = "{site["id"]}"', f'name = "{site["id"]}"', 'pbx = "paris-eps"',
                 'hours = { mon = ["00:00-23:59"], tue = ["00:00-23:59"], wed = ["00:00-23:59"], '
                 'thu = ["00:00-23:59"], fri = ["00:00-23:59"], sat = ["00:00-23:59"], '
                 'sun = ["00:00-23:59"] }']
        for key in ("dids", "queues", "contexts", "staff_devices", "message_contexts"):
            lines.append(f"{key} = {_toml_list(site.get(key, []))}")  # type: ignore[arg-type]
        blocks.append("\n".join(lines))
    (directory / "sites.toml").write_text("\n\n".join(blocks) + "\n")
    return directory


def capture_context(directory: Path) -> CaptureContext:
    return CaptureContext.create(load_config(write_config(directory)))


def ev(name: str, t: float | None = None, **fields: object) -> Message:
    """An event message; keyword fields in order, `Timestamp` from t."""
    pairs = [("Event", name)] + ([("Timestamp", f"{t:.6f}")] if t is not None else [])
    return Message.build(*pairs, **fields)


# ---- a scripted fake PBX on loopback --------------------------------------------------------

Script = Callable[["FakeSession", Message], object]


def run(coro: object, timeout: float = 8.0) -> object:
    """Run a coroutine with a hard timeout, so no test can hang."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@dataclass
class FakeSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    server: FakePbx

    def send(self, *messages: Message | bytes) -> None:
        for m in messages:
            self.writer.write(m if isinstance(m, bytes) else render(m.headers))

    def reply(self, action: Message, *pairs: tuple[str, str], **fields: object) -> None:
        self.send(Message.build(("Response", "Success"), ("ActionID", action.action_id or ""),
                                *pairs, **fields))


@dataclass
class FakePbx:
    """asyncio.start_server on 127.0.0.1:0; every action goes to `script` (default: polite)."""

    secret: str = "s3cret-Ünïcode"
    answer_pings: bool = True
    refuse_logins: int = 0  # refuse this many logins first
    on_login: Callable[[FakeSession], object] | None = None
    handlers: dict[str, Script] = field(default_factory=dict)  # action name (lower) -> script
    actions: list[Message] = field(default_factory=list)
    raw_received: bytearray = field(default_factory=bytearray)
    sessions: list[FakeSession] = field(default_factory=list)
    tasks: list[asyncio.Future[object]] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> FakePbx:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for s in self.sessions:
            s.writer.transport.abort()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    def drop_all(self) -> None:
        for s in self.sessions:
            s.writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = FakeSession(reader, writer, self)
        self.sessions.append(session)
        writer.write(BANNER)
        parser = FrameParser()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await reader.read(4096):
                self.raw_received += data
                for action in parser.feed(data):
                    self.actions.append(action)
                    await self._answer(session, action)

    async def _answer(self, s: FakeSession, action: Message) -> None:
        name = action.name.lower()
        if name in self.handlers:
            result = self.handlers[name](s, action)
            if asyncio.iscoroutine(result):
                self.tasks.append(asyncio.ensure_future(result))
        elif name == "login":
            if self.refuse_logins > 0 or action.get("Secret") != self.secret:
                self.refuse_logins -= 1
                s.send(Message.build(("Response", "Error"), ("ActionID", action.action_id or ""),
                                     ("Message", "Authentication failed")))
                await s.writer.drain()
                s.writer.close()
                return
            s.reply(action, ("Message", "Authentication accepted"))
            s.send(ev("FullyBooted", Status="Fully Booted", Uptime=1000, LastReload=10))
            if self.on_login is not None:
                self.on_login(s)
        elif name == "ping" and self.answer_pings:
            s.reply(action, ("Ping", "Pong"), ("Timestamp", "1718000100.532114"))
        elif name == "coreshowchannels":
            s.reply(action, ("EventList", "start"), ("Message", "Channels will follow"))
            s.send(Message.build(("Event", "CoreShowChannelsComplete"),
                                 ("ActionID", action.action_id or ""), ("EventList", "Complete"),
                                 ("ListItems", "0")))


@contextlib.contextmanager
def pbxs_in_thread(*pbxs: FakePbx) -> Iterator[None]:
    """The fake PBXs on 127.0.0.1 ephemeral ports, served from a thread with its own loop (for
    tests that drive the synchronous CLI); closed and stopped on exit."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        for pbx in pbxs:
            loop.run_until_complete(pbx.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(5)
    try:
        yield
    finally:
        for pbx in pbxs:
            asyncio.run_coroutine_threadsafe(pbx.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
