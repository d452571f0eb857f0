"""A small asyncio AMI client for an always-on listener (reference §1 and §9).

Why our own client rather than a library (reference §10): `asterisk-ami` kills its listener
after 3 s of silence and on any handler exception; `pyst2` dies on the first `ChanVariable`
header, reads one byte per `recv` and hands replies out in arrival order; `panoramisk`, the best
of the three, drops multi-byte characters split across reads, drops the connection when a
callback raises, never checks that its Pings are answered and re-sends unanswered actions after
a reconnect. Patching all of that behind a subclass would leave us maintaining a fork of its
internals; the protocol is small, so this module implements it directly with the standard
library only. Each of those defects has a regression test in tests/ingest/ami.

What it does:

* reads in 64 KiB chunks and hands every complete frame to `on_message` (never awaits in the
  read loop); an exception raised by `on_message` is logged with the frame and skipped;
* matches responses and event-list items to their action by `ActionID` (a per-process random
  prefix plus a counter); list actions resolve with their items once `EventList: Complete`
  arrives; an action that gets no reply times out and its entry is removed;
* reads the banner first and logs in only to a server that announces itself as Asterisk
  (`Asterisk Call Manager/…`): anything else (an SSH server, a web server, silence) gets one
  ERROR naming the host and what answered, a long backoff, and never the secret;
* logs in with the secret (never logged, never recorded) and the event classes it needs;
* after each read, awaits `flow(drained)` when given (`drained`: the read took all that was
  waiting): the owner's bounded queue stops the reading while it is full (backpressure: the
  kernel and Asterisk buffer what comes next);
* sends `Ping` every `ping_interval` seconds: a reply missing after `ping_timeout` aborts the
  transport (a half-open TCP connection is otherwise never noticed); TCP keepalive is on too;
* reconnects with capped exponential backoff and jitter, longer after a refused login, logs one
  WARNING per outage, and calls `on_connect` after each login so the owner can resync;
* never re-sends an action after a reconnect: pending actions fail with `ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import random
import socket
import sys
import termios
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from ingest.ami.protocol import BANNER_PREFIX, TERMINATOR, FrameParser, Message, render

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
BANNER_SHOWN = 80  # characters of a wrong banner shown in the error
_PREFIX = uuid.uuid4().hex[:10]  # unique for the life of the process (reference §1.6)
_COUNTER = itertools.count(1)


def next_action_id(kind: str = "a") -> str:
    return f"qp-{_PREFIX}-{kind}-{next(_COUNTER)}"


class AmiError(Exception):
    """Base class of the client's errors."""


class AuthenticationFailed(AmiError):
    """The PBX refused the login (wrong user or secret, or no permission from this host)."""


class NotAsterisk(AmiError):
    """The server on the port did not announce itself as an Asterisk manager interface."""

    def __init__(self, address: str, answered: str) -> None:
        self.answered = answered
        super().__init__(f"{address} is not an Asterisk manager interface: {answered} (expected "
                         f'"{BANNER_PREFIX.decode()}/…"); the secret was not sent; check the '
                         "host and port of the AMI (manager.conf [general] port, 5038 by default)")


class ConnectionLost(AmiError):
    """The connection ended before the action was answered; the action is not re-sent."""


class ActionFailed(AmiError):
    """The PBX answered `Response: Error`."""

    def __init__(self, response: Message) -> None:
        self.response = response
        super().__init__(response.get("Message") or "Response: Error")


@dataclass
class Backoff:
    """Capped exponential delays with jitter; a longer floor after a refused login."""

    base: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5  # the delay is drawn in [raw * (1 - jitter), raw]
    auth_floor: float = 30.0
    wrong_server_floor: float = 300.0  # after a server that is not Asterisk answered
    healthy_after: float = 60.0  # a session this long resets the delay
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self, auth_failed: bool = False, wrong_server: bool = False) -> float:
        raw = min(self.cap, self.base * self.factor ** self.attempt)
        self.attempt += 1
        delay = raw * (1.0 - self.jitter * self.rng.random())
        if wrong_server:
            return max(delay, self.wrong_server_floor)
        return max(delay, self.auth_floor) if auth_failed else delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class ClientStats:
    reads: int = 0
    bytes: int = 0
    frames: int = 0
    bad_frames: int = 0
    handler_errors: int = 0
    connections: int = 0
    logins_refused: int = 0
    wrong_servers: int = 0  # connections to a server that is not Asterisk (no Login sent)
    failed_attempts: int = 0  # connection attempts that did not end in a login
    pings: int = 0
    missed_pongs: int = 0
    clock_drift: float | None = None  # PBX clock minus ours, from the last Pong's Timestamp


@dataclass
class _Pending:
    future: asyncio.Future[Message | list[Message]]
    is_list: bool
    items: list[Message] = field(default_factory=list)
    on_reply: Callable[[Message], object] | None = None  # run in the read loop, in order


def _set_keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _drained(reader: asyncio.StreamReader) -> bool:
    """True when nothing more waits to be read (the stream is current, not behind the PBX):
    neither in the reader's buffer nor in the kernel's receive queue (FIONREAD)."""
    if getattr(reader, "_buffer", None):  # asyncio.StreamReader keeps what it read ahead here
        return False
    transport = getattr(reader, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return True
    try:
        waiting = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return True
    return int.from_bytes(waiting, sys.byteorder) == 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


class AmiClient:
    """One AMI session kept alive across disconnections. Use `run()` in a task, `stop()` to end."""

    def __init__(
        self, host: str, port: int, username: str, secret: str, *,
        on_message: Callable[[Message], object],
        on_login: Callable[[float], object] | None = None,
        on_connect: Callable[[AmiClient], Awaitable[None]] | None = None,
        on_disconnect: Callable[[str, float], object] | None = None,
        events: str = "call,agent,system", ping_interval: float = 15.0, ping_timeout: float = 5.0,
        connect_timeout: float = 10.0, backoff: Backoff | None = None,
        record: BinaryIO | None = None, clock: Callable[[], float] = time.time,
        flow: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self.__secret = secret
        self.on_message, self.on_connect, self.on_disconnect = on_message, on_connect, on_disconnect
        self.on_login = on_login
        self.events = events
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.connect_timeout = connect_timeout
        self.backoff = backoff or Backoff()
        self.record = record
        self.clock = clock
        self.flow = flow
        self.stats = ClientStats()
        self.last_failure: str | None = None  # why the last connection attempt or session ended
        self.connected = asyncio.Event()
        self.banner: str | None = None
        self.last_received: float | None = None
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._in_outage = self._wrong_server_logged = False
        self._outage_since: float | None = None

    def __repr__(self) -> str:  # never shows the secret
        return f"<AmiClient {self.username}@{self.host}:{self.port}>"

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- public API -------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, log in, read; reconnect with backoff until `stop()`."""
        while not self._stopping:
            auth_failed, wrong_server, started = False, False, self.clock()
            logins = self.stats.connections
            try:
                await self._session()
                reason = "the PBX closed the connection"
            except AuthenticationFailed:
                auth_failed, reason = True, "login refused: check the AMI user name and secret"
                self.stats.logins_refused += 1
            except NotAsterisk as exc:
                wrong_server, reason = True, str(exc)
                self.stats.wrong_servers += 1
            except (OSError, TimeoutError, AmiError, EOFError) as exc:
                reason = _describe(exc)
            if self.stats.connections == logins:
                self.stats.failed_attempts += 1
            if self._stopping:
                break
            self.last_failure = reason
            if self.clock() - started >= self.backoff.healthy_after:
                self.backoff.reset()
            self._note_outage(reason, wrong_server)
            delay = self.backoff.next(auth_failed, wrong_server)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)

    def stop(self) -> None:
        self._stopping = True
        self._stop_event.set()
        if self._writer is not None:
            self._writer.transport.abort()

    async def send_action(self, action: str, *pairs: tuple[str, str], timeout: float = 10.0,
                          **fields: object) -> Message:
        """Send an action and wait for its response (matched by ActionID)."""
        result = await self._send(action, pairs, fields, timeout, is_list=False)
        assert isinstance(result, Message)
        return result

    async def send_list_action(self, action: str, *pairs: tuple[str, str], timeout: float = 30.0,
                               **fields: object) -> list[Message]:
        """Send an event-list action (CoreShowChannels, QueueStatus …) and return its items."""
        result = await self._send(action, pairs, fields, timeout, is_list=True)
        assert isinstance(result, list)
        return result

    # ---- actions ----------------------------------------------------------------------------

    async def _send(self, action: str, pairs: tuple[tuple[str, str], ...], fields: dict[str, object],
                    timeout: float, is_list: bool,
                    on_reply: Callable[[Message], object] | None = None) -> Message | list[Message]:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionLost(f"not connected to {self.address}")
        action_id = next_action_id(action.lower()[:8])
        headers = [("Action", action), ("ActionID", action_id), *pairs,
                   *((k, str(v)) for k, v in fields.items())]
        future: asyncio.Future[Message | list[Message]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(future, is_list, on_reply=on_reply)
        writer.write(render(headers))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(action_id, None)  # answered, failed or timed out: never kept

    def _fail_pending(self, reason: str) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionLost(reason))
        self._pending.clear()

    def _route(self, msg: Message) -> bool:
        """Deliver a response or list item to its waiting action; False when it is not one."""
        action_id = msg.action_id
        pending = self._pending.get(action_id) if action_id else None
        if pending is None or pending.future.done():
            return False
        marker = (msg.get("EventList") or "").lower()
        if msg.kind == "response":
            if msg.name.lower() == "error":
                pending.future.set_exception(ActionFailed(msg))
            elif not (pending.is_list and marker == "start"):
                if pending.on_reply is not None:
                    try:
                        pending.on_reply(msg)
                    except Exception:
                        log.exception("AMI %s: reply hook failed for %r", self.address, msg)
                pending.future.set_result(pending.items if pending.is_list else msg)
            return True
        if msg.kind == "event" and pending.is_list:
            if marker in ("complete", "cancelled"):
                pending.future.set_result(pending.items)
            else:
                pending.items.append(msg)
            return True
        return False

    # ---- one connection ---------------------------------------------------------------------

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.connect_timeout)
        _set_keepalive(writer)
        try:
            self.banner = await self._read_banner(reader)
        except BaseException:
            writer.transport.abort()
            raise
        self._writer = writer
        parser = FrameParser()
        read_task = asyncio.create_task(self._read_loop(reader, parser))
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._login(read_task)
            self.stats.connections += 1
            self.connected.set()
            self._end_outage()
            tasks.append(asyncio.create_task(self._ping_loop(writer)))
            if self.on_connect is not None:
                tasks.append(asyncio.create_task(self._run_hook(self.on_connect(self))))
            await read_task
        finally:
            was_connected = self.connected.is_set()
            self.connected.clear()
            for task in (*tasks, read_task):
                task.cancel()
            if read_task.done() and not read_task.cancelled():
                read_task.exception()  # retrieved here; the cause was already reported
            self._fail_pending(f"connection to {self.address} lost")
            if self.record is not None and parser.pending_bytes:
                self.record.write(TERMINATOR)  # close the partial frame before the next banner
            writer.transport.abort()
            self._writer = None
            if was_connected and self.on_disconnect is not None:
                self.on_disconnect("connection lost", self.last_received or self.clock())

    async def _read_banner(self, reader: asyncio.StreamReader) -> str:
        """The first line; NotAsterisk unless it is `Asterisk Call Manager/…` (reference §1.1).
        Nothing is sent before it, so the secret never reaches another kind of server."""
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self.connect_timeout)
        except TimeoutError:
            raise NotAsterisk(self.address, f"it sent no banner within {self.connect_timeout:g} s"
                              ) from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise EOFError("the server closed the connection before its banner") from None
            line = exc.partial
        except asyncio.LimitOverrunError:
            raise NotAsterisk(self.address, "it sent 64 KiB without a line end") from None
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not line.startswith(BANNER_PREFIX + b"/"):
            shown = text[:BANNER_SHOWN] + ("…" if len(text) > BANNER_SHOWN else "")
            raise NotAsterisk(self.address, f"it answered {shown!r}")
        if self.record is not None:
            self.record.write(line)
            self.record.flush()
        return text

    async def _login(self, read_task: asyncio.Task[None]) -> None:
        fields: dict[str, object] = {"Username": self.username, "Secret": self.__secret,
                                     "Events": self.events}
        try:
            await self._send("Login", (), fields, self.connect_timeout, False, self._logged_in)
        except ActionFailed:
            raise AuthenticationFailed(f"login refused by {self.address}") from None
        except ConnectionLost:
            if read_task.done() and read_task.exception() is not None:
                raise read_task.exception() from None  # type: ignore[misc]
            raise

    def _logged_in(self, response: Message) -> None:
        """Runs in the read loop before the session's first event: owners can mark the start."""
        if self.on_login is not None:
            self.on_login(response.received or self.clock())

    async def _run_hook(self, hook: Awaitable[None]) -> None:
        try:
            await hook
        except ConnectionLost:
            pass
        except Exception:
            log.exception("AMI %s: the on-connect hook failed (the session goes on)", self.address)

    async def _read_loop(self, reader: asyncio.StreamReader, parser: FrameParser) -> None:
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise EOFError("the PBX closed the connection")
                now = self.clock()
                self.last_received = now
                self.stats.reads += 1
                self.stats.bytes += len(data)
                if self.record is not None:
                    self.record.write(data)
                    self.record.flush()
                for msg in parser.feed(data, now):
                    self._dispatch(msg)
                if self.flow is not None:
                    await self.flow(_drained(reader))
        finally:
            self._fail_pending(f"connection to {self.address} lost")

    def _dispatch(self, msg: Message) -> None:
        self.stats.frames += 1
        if msg.problem is not None:
            self.stats.bad_frames += 1
            log.warning("AMI %s: skipped a malformed frame (%s): %r", self.address, msg.problem,
                        msg.raw[:200])
            return
        try:
            if not self._route(msg):
                self.on_message(msg)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("AMI %s: error while handling %r (frame skipped)", self.address, msg)

    async def _ping_loop(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            self.stats.pings += 1
            sent = self.clock()
            try:
                pong = await self.send_action("Ping", timeout=self.ping_timeout)
            except TimeoutError:
                self.stats.missed_pongs += 1
                log.warning("AMI %s: no reply to Ping within %.0f s; the connection is dead, "
                            "aborting it", self.address, self.ping_timeout)
                writer.transport.abort()
                return
            if pong.time is not None:
                self.stats.clock_drift = pong.time - (sent + self.clock()) / 2

    # ---- outage logging ---------------------------------------------------------------------

    def _note_outage(self, reason: str, wrong_server: bool = False) -> None:
        if wrong_server and not self._wrong_server_logged:
            self._wrong_server_logged = True
            log.error("AMI %s; trying again every %.0f s (logged once per outage)", reason,
                      self.backoff.wrong_server_floor)
            if not self._in_outage:
                self._in_outage, self._outage_since = True, self.clock()
        elif not self._in_outage:
            self._in_outage, self._outage_since = True, self.clock()
            log.warning("AMI %s: %s; reconnecting with backoff (logged once per outage)",
                        self.address, reason)
        else:
            log.debug("AMI %s: reconnection failed: %s", self.address, reason)

    def _end_outage(self) -> None:
        if self._in_outage:
            lasted = self.clock() - (self._outage_since or self.clock())
            log.info("AMI %s: reconnected after %.0f s", self.address, lasted)
        self._in_outage = self._wrong_server_logged = False
