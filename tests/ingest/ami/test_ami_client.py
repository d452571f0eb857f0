"""The AMI client against a scripted fake PBX on 127.0.0.1: each defect of reference §10."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import socket

import pytest

from ingest.ami.client import AmiClient, Backoff, ConnectionLost
from ingest.ami.protocol import Message
from tests.ingest.ami.ami_support import BANNER, FakePbx, FakeSession, ev, run

FAST = {"ping_interval": 30.0, "ping_timeout": 1.0, "connect_timeout": 2.0}


def _client(pbx: FakePbx, got: list[Message], secret: str | None = None, **kw: object) -> AmiClient:
    options = {**FAST, "backoff": Backoff(base=0.05, cap=0.2, auth_floor=0.3, rng=random.Random(1))}
    options.update(kw)
    return AmiClient("127.0.0.1", pbx.port, "qualimon", pbx.secret if secret is None else secret,
                     on_message=got.append, **options)  # type: ignore[arg-type]


async def _until(predicate: object, timeout: float = 3.0) -> None:
    async def wait() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), timeout)


def test_backoff_is_capped_exponential_with_jitter() -> None:
    b = Backoff(base=1, cap=60, jitter=0.5, auth_floor=30, rng=random.Random(3))
    raws = [1, 2, 4, 8, 16, 32, 60, 60]
    delays = [b.next() for _ in raws]
    assert all(r * 0.5 <= d <= r for d, r in zip(delays, raws, strict=True))
    assert len(set(delays)) == len(delays)  # jittered
    b.reset()
    assert b.next() <= 1 and b.next(auth_failed=True) >= 30


def test_login_events_and_fullybooted() -> None:
    async def scenario() -> None:
        pbx = await FakePbx().start()
        got: list[Message] = []
        connected: list[AmiClient] = []

        async def on_connect(c: AmiClient) -> None:
            connected.append(c)

        client = _client(pbx, got, on_connect=on_connect)
        task = asyncio.create_task(client.run())
        await _until(lambda: got and connected)
        (login,) = [a for a in pbx.actions if a.name == "Login"]
        assert login["Events"] == "call,agent,system" and login["Username"] == "qualimon"
        assert login.action_id and login.action_id.startswith("qp-")
        assert got[0].name == "FullyBooted" and client.banner == "Asterisk Call Manager/11.0.0"
        sock = client._writer.get_extra_info("socket") if client._writer else None
        assert sock is not None and sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_refused_login_backs_off_longer_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> AmiClient:
        pbx = await FakePbx().start()
        client = _client(pbx, [], secret="wrong")
        task = asyncio.create_task(client.run())
        await asyncio.sleep(0.8)
        client.stop()
        await task
        await pbx.close()
        return client

    with caplog.at_level(logging.DEBUG, logger="ingest.ami"):
        client = run(scenario())
    assert isinstance(client, AmiClient)
    # the auth floor (0.3 s) instead of 0.05 s: 2 or 3 attempts in 0.8 s, not a dozen
    assert 1 <= client.stats.logins_refused <= 3 and client.stats.connections == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "login refused" in warnings[0].getMessage()


def test_one_warning_per_outage_when_nobody_listens(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> AmiClient:
        pbx = await FakePbx().start()
        port = pbx.port
        await pbx.close()  # the port is now closed: connection refused
        client = AmiClient("127.0.0.1", port, "u", "s", on_message=lambda m: None,
                           backoff=Backoff(base=0.01, cap=0.02))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(0.4)
        client.stop()
        await task
        return client

    with caplog.at_level(logging.DEBUG, logger="ingest.ami"):
        client = run(scenario())
    assert isinstance(client, AmiClient) and client.backoff.attempt > 5
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 1
    assert not any(r.exc_info for r in caplog.records)  # no traceback on the operator's screen


def test_replies_matched_by_actionid_not_arrival_order() -> None:
    """pyst2 handed replies out in arrival order (reference §10)."""
    async def scenario() -> None:
        held: list[tuple[FakeSession, Message]] = []

        def slow(s: FakeSession, a: Message) -> None:
            held.append((s, a))

        def fast(s: FakeSession, a: Message) -> None:
            s.reply(a, ("Which", "fast"))
            for session, action in held:
                session.reply(action, ("Which", "slow"))

        pbx = await FakePbx(handlers={"slow": slow, "fast": fast}).start()
        client = _client(pbx, [])
        task = asyncio.create_task(client.run())
        await client.connected.wait()
        first = asyncio.create_task(client.send_action("Slow"))
        await _until(lambda: held)
        second = await client.send_action("Fast")
        assert second["Which"] == "fast" and (await first)["Which"] == "slow"
        assert client._pending == {}
        with pytest.raises(TimeoutError):
            await client.send_action("Unanswered", timeout=0.1)
        assert client._pending == {}  # no entry leaks when an action gets no reply
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_event_list_items_go_to_the_action_not_the_stream() -> None:
    async def scenario() -> None:
        def channels(s: FakeSession, a: Message) -> None:
            aid = a.action_id or ""
            s.reply(a, ("EventList", "start"), ("Message", "Channels will follow"))
            for uid in ("1.1", "1.2"):
                s.send(Message.build(("Event", "CoreShowChannel"), ("ActionID", aid), ("Uniqueid", uid)))
            s.send(ev("Newstate", 1.0, Uniqueid="1.1"))  # a live event in between
            s.send(Message.build(("Event", "CoreShowChannelsComplete"), ("ActionID", aid),
                                 ("EventList", "Complete"), ("ListItems", "2")))

        pbx = await FakePbx(handlers={"coreshowchannels": channels}).start()
        got: list[Message] = []
        client = _client(pbx, got)
        task = asyncio.create_task(client.run())
        await client.connected.wait()
        items = await client.send_list_action("CoreShowChannels")
        assert [i["Uniqueid"] for i in items] == ["1.1", "1.2"]
        assert [m.name for m in got] == ["FullyBooted", "Newstate"]
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_idle_line_does_not_kill_the_listener() -> None:
    """asterisk-ami's 3 s socket timeout killed the listener on a quiet line (reference §10)."""
    async def scenario() -> None:
        pbx = await FakePbx().start()
        got: list[Message] = []
        client = _client(pbx, got, ping_interval=1.0)
        task = asyncio.create_task(client.run())
        await client.connected.wait()
        await asyncio.sleep(3.3)  # nothing but Ping/Pong on the line
        assert client.connected.is_set() and client.stats.connections == 1
        assert client.stats.pings >= 2 and client.stats.missed_pongs == 0
        assert client.stats.clock_drift is not None
        pbx.sessions[0].send(ev("Newchannel", 2.0, Uniqueid="9.9"))
        await _until(lambda: got[-1].name == "Newchannel")
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_missing_pong_aborts_the_connection_and_reconnects(caplog: pytest.LogCaptureFixture) -> None:
    """panoramisk sent Pings but never checked the reply (reference §10)."""
    async def scenario() -> AmiClient:
        pbx = await FakePbx(answer_pings=False).start()  # connected but silent: a half-dead peer
        client = _client(pbx, [], ping_interval=0.2, ping_timeout=0.2)
        task = asyncio.create_task(client.run())
        await _until(lambda: client.stats.connections >= 2, timeout=4)
        client.stop()
        await task
        await pbx.close()
        return client

    with caplog.at_level(logging.WARNING, logger="ingest.ami"):
        client = run(scenario())
    assert isinstance(client, AmiClient) and client.stats.missed_pongs >= 1
    assert any("no reply to Ping" in r.getMessage() for r in caplog.records)


def test_unanswered_action_is_not_resent_after_reconnect() -> None:
    """panoramisk re-sent pending actions after a reconnect (reference §10)."""
    async def scenario() -> None:
        pbx = await FakePbx(handlers={"originate": lambda s, a: None}).start()
        client = _client(pbx, [])
        task = asyncio.create_task(client.run())
        await client.connected.wait()
        originate = asyncio.create_task(client.send_action("Originate", Channel="PJSIP/1@t", Async="true"))
        await _until(lambda: any(a.name == "Originate" for a in pbx.actions))
        pbx.drop_all()
        with pytest.raises(ConnectionLost):
            await originate
        await _until(lambda: client.stats.connections == 2)
        await asyncio.sleep(0.2)
        assert sum(a.name == "Originate" for a in pbx.actions) == 1
        assert sum(a.name == "Login" for a in pbx.actions) == 2
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_handler_exception_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in a callback dropped the connection in panoramisk and asterisk-ami."""
    got: list[Message] = []

    def handler(msg: Message) -> None:
        if msg.name == "Boom":
            raise ValueError("handler bug")
        got.append(msg)

    async def scenario() -> AmiClient:
        pbx = await FakePbx(on_login=lambda s: s.send(ev("Boom"), ev("After"))).start()
        client = _client(pbx, [])
        client.on_message = handler
        task = asyncio.create_task(client.run())
        await _until(lambda: got and got[-1].name == "After")
        client.stop()
        await task
        await pbx.close()
        return client

    with caplog.at_level(logging.ERROR, logger="ingest.ami"):
        client = run(scenario())
    assert isinstance(client, AmiClient)
    assert client.stats.handler_errors == 1 and client.stats.connections == 1
    assert any("Boom" in r.getMessage() for r in caplog.records)


def test_split_utf8_and_chunked_reads_over_a_socket() -> None:
    """A character split across TCP reads survives; reads are 64 KiB, not one byte each (pyst2)."""
    async def scenario() -> None:
        name = "Hélène Ñoël"
        frame = f"Event: Newchannel\r\nCallerIDName: {name}\r\n\r\n".encode()
        cut = frame.index("é".encode()) + 1

        async def burst(s: FakeSession) -> None:
            s.send(frame[:cut])
            await s.writer.drain()
            await asyncio.sleep(0.05)
            s.send(frame[cut:])
            s.send(b"".join(ev("Filler", 1.0, Padding="x" * 150).render() for _ in range(300)))

        pbx = await FakePbx(on_login=lambda s: pbx.tasks.append(asyncio.ensure_future(burst(s)))).start()
        got: list[Message] = []
        client = _client(pbx, got)
        task = asyncio.create_task(client.run())
        await _until(lambda: len(got) >= 302)
        assert got[1]["CallerIDName"] == name
        assert client.stats.reads < 30 < 50_000 < client.stats.bytes
        client.stop()
        await task
        await pbx.close()

    run(scenario())


def test_secret_never_logged_nor_recorded(caplog: pytest.LogCaptureFixture) -> None:
    record = io.BytesIO()

    async def scenario() -> None:
        pbx = await FakePbx(on_login=lambda s: s.send(ev("Hello", 1.0))).start()
        ok = _client(pbx, [], record=record)
        bad = _client(pbx, [], secret="wrong-" + pbx.secret)
        tasks = [asyncio.create_task(c.run()) for c in (ok, bad)]
        await ok.connected.wait()
        await asyncio.sleep(0.5)
        assert pbx.secret not in repr(ok)
        assert pbx.secret.encode() in pbx.raw_received  # it was sent, UTF-8 encoded
        for c in (ok, bad):
            c.stop()
        await asyncio.gather(*tasks)
        await pbx.close()

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "s3cret" not in text and "wrong-" not in text
    assert b"Hello" in record.getvalue() and b"s3cret" not in record.getvalue()


# ---- the banner is checked before the secret is sent (issue 13 item 14) ---------------------

class _Impostor:
    """A server on the AMI port that is not Asterisk: it sends `greeting` and keeps what comes."""

    def __init__(self, greeting: bytes) -> None:
        self.greeting, self.received, self.connections = greeting, bytearray(), 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(self.greeting)
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                self.received += data
        writer.close()

    async def close(self) -> None:
        self.server.close()


@pytest.mark.parametrize("greeting", [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", b"",
                                      b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_the_secret_is_never_sent_to_a_server_that_is_not_asterisk(
        greeting: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """7 logins went to an SSH-style banner in 60 s: now none, one error, a long backoff."""
    impostor = _Impostor(greeting)

    async def scenario() -> AmiClient:
        port = await impostor.start()
        client = AmiClient("127.0.0.1", port, "qualimon", "s3cret-value", on_message=lambda m: None,
                           connect_timeout=0.3, backoff=Backoff(base=0.01, cap=0.02))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(1.2)
        client.stop()
        await task
        await impostor.close()
        return client

    with caplog.at_level(logging.DEBUG, logger="ingest.ami"):
        client = run(scenario())
    assert isinstance(client, AmiClient)
    assert impostor.received == b""  # not a byte: no Login, no secret
    assert impostor.connections == 1 and client.stats.wrong_servers == 1  # backed off long
    (error,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    text = error.getMessage()
    assert error.levelno == logging.ERROR and f"127.0.0.1:{client.port}" in text
    assert "is not an Asterisk manager interface" in text and "secret was not sent" in text
    shown = greeting.split(b"\r\n")[0].decode()
    assert (f"it answered '{shown}'" if shown else "it sent no banner within 0.3 s") in text
    assert "s3cret-value" not in caplog.text


def test_the_login_waits_for_the_banner() -> None:
    """The Login goes out only once `Asterisk Call Manager/…` has been read."""
    before: list[bytes] = []
    after = bytearray()

    async def slow_pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            before.append(await asyncio.wait_for(reader.read(100), 0.3))
        except TimeoutError:
            before.append(b"")
        writer.write(BANNER)
        with contextlib.suppress(ConnectionError):
            while b"\r\n\r\n" not in after and (data := await reader.read(4096)):
                after.extend(data)
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(slow_pbx, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = AmiClient("127.0.0.1", port, "qualimon", "s", on_message=lambda m: None,
                           connect_timeout=2.0, backoff=Backoff(base=5))
        task = asyncio.create_task(client.run())
        await _until(lambda: b"\r\n\r\n" in after)
        client.stop()
        await task
        server.close()

    run(scenario())
    assert before == [b""] and after.startswith(b"Action: Login\r\n")
