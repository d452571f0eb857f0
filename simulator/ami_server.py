"""A loopback AMI server in the Asterisk 20/22 dialect, driven by the switchboard model.

The server sends the events of the simulated calls (simulator.ami_pbx) when the simulated clock
(simulator.ami_clock) reaches their `Timestamp`, to every logged-in session that reads their
class, and answers what a monitor sends (reference §1): Login (a wrong secret is answered after
`auth_delay` with `Authentication failed` and the socket is closed, as Asterisk does), Logoff,
Ping (with the PBX's `Timestamp`), Events, CoreShowChannels and QueueStatus (event lists with
the ActionID, closed by `…Complete` with `ListItems`) and Originate with `Async: true` (an
immediate acknowledgement, then the call and its `OriginateResponse`, see ami_originate; an
answered one also leaves its probe recording in `recordings`, as the PBX's MixMonitor does).
Actions of one session are handled one after the other; a session that cannot take its events
within `write_timeout` is disconnected, as Asterisk's `writetimeout` does.

Faults for reliability tests (`Faults`): connections dropped at random moments (exponential
gaps of mean `drop_every` wall seconds), logins refused for `refuse_logins` seconds once (from
the first drop, or from the start without drops), Pings left unanswered, garbage bytes sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import random
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from config import Config
from ingest.ami.protocol import FrameParser, Message, render
from ingest.ami.replay import read_capture
from simulator.ami_clock import Clock, SimClock, anchor
from simulator.ami_frames import AGENT, CALL, DIALPLAN, SYSTEM, Frame, Headers, head
from simulator.ami_originate import (
    OriginateError,
    OriginateRequest,
    answered_at,
    originate_frames,
    place_call,
    record_probe,
)
from simulator.ami_pbx import Day, DayStream, PbxState, Schedule, frames_from_capture
from simulator.arrivals import day_bounds
from simulator.messages import ToolMissing
from simulator.staff import Agent
from simulator.timeline import SimCall

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
CLASSES = frozenset({CALL, AGENT, DIALPLAN, SYSTEM, "user", "reporting", "security", "cdr"})
SLOW_CLIENT_BYTES = 256 * 1024  # a session with this much unsent waits at most write_timeout
NEXT_DAY_AHEAD = 600.0  # PBX seconds before midnight at which the next day is prepared
GARBAGE = (b"\x00\xff\xfe not a frame\r\n\r\nKey without colon\r\nEvent: \xc3\r\n\r\n"
           b": no key\r\n\r\n")


class _Close(Exception):
    """End this session (after a refused login or a Logoff)."""


@dataclass
class Faults:
    drop_every: float | None = None  # mean wall seconds between dropped connections
    refuse_logins: float = 0.0  # wall seconds logins are refused, once
    answer_pings: bool = True
    seed: int | None = None


@dataclass(eq=False)
class Session:
    writer: asyncio.StreamWriter
    logged_in: bool = False
    classes: frozenset[str] = frozenset()
    username: str = ""

    def send(self, *messages: Headers | bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(b"".join(m if isinstance(m, bytes) else render(m) for m in messages))


def event_classes(mask: str | None) -> frozenset[str]:
    """The classes a Login `Events:` / Events `EventMask:` value lets through."""
    value = (mask or "on").strip().lower()
    if value in ("on", "yes", "true", "all", "1"):
        return CLASSES
    if value in ("off", "no", "false", "0", ""):
        return frozenset()
    return frozenset(v.strip() for v in value.split(",")) & CLASSES


def _response(action: Message, status: str = "Success", *pairs: tuple[str, str]) -> Headers:
    return [("Response", status), ("ActionID", action.action_id or ""), *pairs]


@dataclass
class AmiServer:
    """The simulated PBX's manager interface. `start()`, then `close()`."""

    clock: Clock
    secret: str
    config: Config | None = None
    stream: DayStream | None = None
    calls: list[SimCall] = field(default_factory=list)
    agents: dict[str, list[Agent]] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)  # a replayed capture
    faults: Faults = field(default_factory=Faults)
    username: str | None = None  # any user name when None
    auth_delay: float = 1.0
    write_timeout: float = 0.1
    seed: int = 0
    on_frames: Callable[[list[Frame]], object] | None = None  # sees each batch sent (tests)
    hold_until_login: bool = False  # a replay starts when the first session logs in
    recordings: Path | None = None  # where answered Originates' recordings go (None: nowhere)

    def __post_init__(self) -> None:
        self.state = PbxState(self.config)
        self.state.agents = dict(self.agents)
        self.schedule = Schedule()
        self.sessions: set[Session] = set()
        self.sent = 0
        self.started = self.clock.now()
        self.refuse_until = 0.0
        self._refused = False
        self._serial = 0
        self._day_end = float("inf")
        self._loading: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._first_login = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    # ---- life -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0: any free port); returns the port."""
        # a held run starts when its first client logs in: nothing is in the past yet
        now = -float("inf") if self.hold_until_login else self.clock.now()
        if self.stream is not None:
            self._add_day(await asyncio.to_thread(next, self.stream), now)
        self.schedule.add_calls(c for c in sorted(self.calls, key=lambda c: c.arrival)
                                if c.end >= now)
        self.schedule.add_frames(self.frames)
        if not self.hold_until_login:
            for frame in self.schedule.pop_due(now - 1e-6, limit=10**9):  # calls in progress
                self.state.apply(frame)
        self._server = await asyncio.start_server(self._serve, host, port)
        self._tasks = [asyncio.create_task(self._emit_loop()), asyncio.create_task(self._faults())]
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for task in [*self._tasks, *self._writers]:
            task.cancel()
        self.drop_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    @property
    def done(self) -> bool:
        """Nothing left to send (and no next day to come)."""
        return self.stream is None and len(self.schedule) == 0

    def drop_all(self) -> None:
        for s in list(self.sessions):
            s.writer.transport.abort()

    def send_garbage(self) -> None:
        for s in self.sessions:
            if s.logged_in:
                s.send(GARBAGE)

    def _add_day(self, day: Day, now: float) -> None:
        self.schedule.add_calls(c for c in day.calls if c.end >= now)
        self.state.agents = day.agents
        tz = self.stream.tz if self.stream is not None else dt.UTC
        self._day_end = day_bounds(day.date, tz)[1]  # type: ignore[arg-type]

    # ---- sending events ---------------------------------------------------------------------

    async def _emit_loop(self) -> None:
        if self.hold_until_login:
            await self._first_login.wait()
            self.clock.restart()
        while True:
            self._prepare_next_day()
            t = self.schedule.next_time()
            delay = 0.5 if t is None else self.clock.wall_delay(t)
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(delay, 0.5))
                continue
            self._send(self.schedule.pop_due(self.clock.now()))
            await self._drain_slow_sessions()
            await asyncio.sleep(0)

    def _send(self, frames: list[Frame]) -> None:
        chunks: list[tuple[str, bytes]] = []
        for frame in frames:
            self.state.apply(frame)
            chunks.append((frame.cls, render(frame.headers)))
        self.sent += len(frames)
        for s in list(self.sessions):
            if s.logged_in:
                payload = b"".join(data for cls, data in chunks if cls in s.classes)
                if payload:
                    s.send(payload)
        if self.on_frames is not None:
            self.on_frames(frames)

    async def _drain_slow_sessions(self) -> None:
        for s in list(self.sessions):
            if s.writer.transport.get_write_buffer_size() <= SLOW_CLIENT_BYTES:
                continue
            try:
                await asyncio.wait_for(s.writer.drain(), self.write_timeout)
            except (TimeoutError, ConnectionError):
                log.warning("AMI session %s did not read its events within %.0f ms "
                            "(writetimeout): disconnected", s.username, self.write_timeout * 1000)
                s.writer.transport.abort()

    def _prepare_next_day(self) -> None:
        if self.stream is None or self._loading is not None:
            return
        if self.clock.now() >= self._day_end - NEXT_DAY_AHEAD:
            self._loading = asyncio.create_task(self._load_next_day())

    async def _load_next_day(self) -> None:
        assert self.stream is not None
        day = await asyncio.to_thread(next, self.stream)
        self._add_day(day, self.clock.now())
        self._loading = None
        self._wake.set()

    async def _faults(self) -> None:
        f = self.faults
        rng = random.Random(f.seed)
        if f.refuse_logins and not f.drop_every:
            self._refuse()
        while f.drop_every:
            await asyncio.sleep(rng.expovariate(1.0 / f.drop_every))
            if self.sessions:
                log.info("fault: dropping %d AMI connection(s)", len(self.sessions))
                self.drop_all()
                if f.refuse_logins and not self._refused:
                    self._refuse()

    def _refuse(self) -> None:
        self._refused = True
        self.refuse_until = time.monotonic() + self.faults.refuse_logins
        log.info("fault: refusing logins for %.1f s", self.faults.refuse_logins)

    # ---- sessions and actions ---------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        self.sessions.add(session)
        writer.write(BANNER)
        parser = FrameParser()
        try:
            while data := await reader.read(65536):
                for msg in parser.feed(data):
                    await self._action(session, msg)
        except (ConnectionError, _Close, asyncio.CancelledError):
            pass  # the client left, was refused, or the server is shutting down
        finally:
            self.sessions.discard(session)
            writer.transport.abort()

    async def _action(self, s: Session, msg: Message) -> None:
        if msg.kind != "action":
            s.send(_response(msg, "Error", ("Message", "Missing action in request")))
            return
        name = msg.name.lower()
        if not s.logged_in and name not in ("login", "logoff", "challenge"):
            s.send(_response(msg, "Error", ("Message", "Authentication Required")))
            return
        handler = self.actions.get(name)
        if handler is None:
            s.send(_response(msg, "Error", ("Message", "Invalid/unknown command")))
            return
        await handler(self, s, msg)

    async def _login(self, s: Session, msg: Message) -> None:
        user, secret = msg.get("Username") or "", msg.get("Secret") or ""
        good = hmac.compare_digest(secret.encode(), self.secret.encode()) and (
            self.username is None or user == self.username)
        if not good or time.monotonic() < self.refuse_until:
            await asyncio.sleep(self.auth_delay)
            s.send(_response(msg, "Error", ("Message", "Authentication failed")))
            with contextlib.suppress(ConnectionError):
                await s.writer.drain()
            raise _Close
        s.logged_in, s.username = True, user
        self._first_login.set()
        s.classes = event_classes(msg.get("Events"))
        s.send(_response(msg, "Success", ("Message", "Authentication accepted")))
        if SYSTEM in s.classes:
            now = self.clock.now()
            up = str(int(now - self.started))
            s.send([*head("FullyBooted", SYSTEM, now), ("Uptime", up), ("LastReload", up),
                    ("Status", "Fully Booted")])

    async def _logoff(self, s: Session, msg: Message) -> None:
        s.send(_response(msg, "Goodbye", ("Message", "Thanks for all the fish.")))
        with contextlib.suppress(ConnectionError):
            await s.writer.drain()
        raise _Close

    async def _ping(self, s: Session, msg: Message) -> None:
        if self.faults.answer_pings:
            s.send(_response(msg, "Success", ("Ping", "Pong"),
                             ("Timestamp", f"{self.clock.now():.6f}")))

    async def _events(self, s: Session, msg: Message) -> None:
        s.classes = event_classes(msg.get("EventMask"))
        s.send(_response(msg, "Success", ("Events", "On" if s.classes else "Off")))

    def _list(self, s: Session, msg: Message, what: str, done: str, items: Iterable[Headers],
              id_first: bool) -> None:
        action_id = ("ActionID", msg.action_id or "")
        out: list[Headers] = [_response(msg, "Success", ("EventList", "start"),
                                        ("Message", f"{what} will follow"))]
        for item in items:
            out.append([item[0], action_id, *item[1:]] if id_first else [*item, action_id])
        out.append([("Event", done), action_id, ("EventList", "Complete"),
                    ("ListItems", str(len(out) - 1))])
        s.send(*out)

    async def _core_show_channels(self, s: Session, msg: Message) -> None:
        items = self.state.core_show_channels(self.clock.now())
        self._list(s, msg, "Channels", "CoreShowChannelsComplete", items, True)

    async def _queue_status(self, s: Session, msg: Message) -> None:
        items = self.state.queue_status(self.clock.now(), msg.get("Queue"))
        self._list(s, msg, "Queue status", "QueueStatusComplete", items, False)

    async def _originate(self, s: Session, msg: Message) -> None:
        if self.config is None:
            s.send(_response(msg, "Error", ("Message", "Originate is not available in replay mode")))
            return
        try:
            request = OriginateRequest.from_message(msg)
        except OriginateError as exc:
            s.send(_response(msg, "Error", ("Message", str(exc))))
            return
        s.send(_response(msg, "Success", ("Message", "Originate successfully queued")))
        self._serial += 1
        now = self.clock.now()
        call = place_call(self.config, request, now, self.state.agents,
                          10_000_000 + 1000 * self._serial, self.seed)
        self.schedule.add_frames(originate_frames(call, request, now))
        self._wake.set()
        when = answered_at(call)
        if self.recordings is not None and call is not None and when is not None:
            task = asyncio.create_task(self._write_recording(call, when, self.recordings))
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)

    async def _write_recording(self, call: SimCall, when: float, directory: Path) -> None:
        """From the answer on (simulated clock), write the MixMonitor recording of `call`."""
        assert self.config is not None
        await asyncio.sleep(max(0.0, self.clock.wall_delay(when)))
        try:
            path = await asyncio.to_thread(record_probe, self.config, call, directory)
        except (ToolMissing, OSError, subprocess.SubprocessError) as exc:
            log.warning("recording of %s not written: %s", call.key, exc)
            return
        log.debug("recording of %s: %s", call.key, path or "none (no message)")

    actions: ClassVar[dict[str, Callable[..., Awaitable[None]]]] = {
        "login": _login, "logoff": _logoff, "ping": _ping, "events": _events,
        "coreshowchannels": _core_show_channels, "queuestatus": _queue_status,
        "originate": _originate,
    }


@dataclass
class Simulator:
    """A configured server and where it listens (what `qualiphone simulate ami` runs)."""

    server: AmiServer
    host: str
    port: int
    what: str

    async def run(self, duration: float | None = None,
                  on_ready: Callable[[Simulator], object] | None = None) -> None:
        self.port = await self.server.start(self.host, self.port)
        if on_ready is not None:
            on_ready(self)
        try:
            await asyncio.sleep(duration) if duration else await asyncio.Event().wait()
        finally:
            await self.server.close()

    def describe(self) -> str:
        return (f"AMI simulator on {self.host}:{self.port}: {self.what}, speed "
                f"{self.server.clock.speed:g}x. Stop with Ctrl-C.")


def build_simulator(config: Config, address: tuple[str, int], secret: str, *, speed: float = 1.0,
                    day: dt.date | None = None, start: dt.time | None = None,
                    sites: Iterable[str] = (), seed: int = 0, replay: Path | None = None,
                    faults: Faults | None = None, username: str | None = None,
                    write_timeout: float = 0.1, recordings: Path | None = None) -> Simulator:
    """The model's day (or a recorded capture) behind an AMI server on `address`.

    `recordings`: where answered Originates leave `<ChannelId>.wav` (None: not written).
    """
    faults = faults or Faults()
    if replay is not None:
        frames = frames_from_capture(read_capture(replay))
        first = frames[0].time if frames else time.time()
        server = AmiServer(SimClock(first, speed), secret, frames=frames, hold_until_login=True,
                           faults=faults, username=username, write_timeout=write_timeout)
        return Simulator(server, *address, f"replay of {replay} ({len(frames)} events, from the "
                                            "first login on)")
    pbx = next(iter(config.pbxs))
    tz = config.pbxs[pbx].tz
    day = day or dt.datetime.now(tz).date()
    clock = SimClock(anchor(day, start, tz), speed)
    stream = DayStream(config, day, seed, pbx, sites or None)
    server = AmiServer(clock, secret, config=config, stream=stream, faults=faults,
                       username=username, write_timeout=write_timeout, seed=seed,
                       recordings=recordings)
    shown = len(stream.shown)
    begin = dt.datetime.fromtimestamp(clock.start, tz).strftime("%H:%M")
    return Simulator(server, *address, f"{day} from {begin} ({tz.key}), {shown} site"
                                       f"{'s' if shown != 1 else ''}, seed {seed}")
