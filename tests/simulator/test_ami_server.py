"""The simulated PBX's manager interface: login, ping, lists, Originate, replay."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import Config
from ingest.ami.calls import CallTracker
from ingest.ami.protocol import Message
from ingest.ami.replay import read_capture
from ingest.finalize import CaptureContext
from monitor.call import Outcome
from simulator.ami_clock import ManualClock, SimClock
from simulator.ami_pbx import Day, DayStream, frames_from_capture
from simulator.ami_server import AmiServer
from simulator.timeline import Kind
from tests.ingest.ami.ami_support import capture_context, run
from tests.simulator.ami_sim_support import SECRET, RawSession

DAY = dt.date(2026, 10, 1)  # a Thursday
PARIS = ZoneInfo("Europe/Paris")


def at(hour: int, minute: int = 0) -> float:
    return dt.datetime.combine(DAY, dt.time(hour, minute), PARIS).timestamp()


@pytest.fixture(scope="module")
def day(config: Config) -> Day:
    return DayStream(config, DAY, seed=7, sites=("eps-05", "eps-07")).day(DAY)


async def serve(config: Config, day: Day, clock: ManualClock | SimClock) -> tuple[AmiServer, int]:
    server = AmiServer(clock, SECRET, config=config, calls=day.calls, agents=day.agents,
                       auth_delay=0.2)
    return server, await server.start()


def test_login_ping_logoff_and_refused_logins(config: Config, day: Day) -> None:
    async def go() -> None:
        server, port = await serve(config, day, ManualClock(at(10)))
        bad = await RawSession.open(port, login=False)
        started = time.monotonic()
        bad.act("Login", "l-1", Username="qualimon", Secret="not-the-secret")
        reply = await bad.until(lambda m: m.action_id == "l-1")
        assert (reply.name, reply["Message"]) == ("Error", "Authentication failed")
        assert time.monotonic() - started >= 0.19  # Asterisk waits before refusing
        with pytest.raises(EOFError):
            await bad.until(lambda m: False)
        early = await RawSession.open(port, login=False)
        early.act("Ping", "p-0")
        assert (await early.until(lambda m: m.action_id == "p-0"))["Message"] == \
            "Authentication Required"
        good = await RawSession.open(port)
        booted = await good.until(lambda m: m.name == "FullyBooted")
        assert booted["Status"] == "Fully Booted" and booted.time == at(10)
        good.act("Ping", "p-1")
        pong = await good.until(lambda m: m.action_id == "p-1")
        assert (pong["Ping"], pong["Timestamp"]) == ("Pong", f"{at(10):.6f}")
        good.act("Frobnicate", "x-1")
        assert (await good.until(lambda m: m.action_id == "x-1"))["Message"] == \
            "Invalid/unknown command"
        good.act("Logoff", "o-1")
        bye = await good.until(lambda m: m.action_id == "o-1")
        assert (bye.name, bye["Message"]) == ("Goodbye", "Thanks for all the fish.")
        with pytest.raises(EOFError):
            await good.until(lambda m: False)
        await server.close()

    run(go())


async def _list(session: RawSession, action: str, action_id: str, done: str) -> list[Message]:
    session.act(action, action_id)
    start = await session.until(lambda m: m.action_id == action_id)
    assert (start.name, start["EventList"]) == ("Success", "start")
    end = await session.until(lambda m: m.name == done)
    items = [m for m in session.frames if m.action_id == action_id and m.kind == "event"
             and m is not end]
    assert end.action_id == action_id and end["EventList"] == "Complete"
    assert int(end["ListItems"]) == len(items)
    return items


def _alive(day: Day, t: float) -> dict[str, float]:
    """Uniqueid -> creation time of every channel alive at t, from the model's timelines."""
    out = {}
    for call in day.calls:
        gone = {e.chan for e in call.events if e.kind is Kind.HANGUP and e.time <= t}
        out.update({ch.uniqueid: ch.created for ch in call.channels
                    if ch.created <= t and ch not in gone})
    return out


def _queued(day: Day, t: float) -> set[str]:
    exits = (Kind.AGENT_CONNECT, Kind.QUEUE_ABANDON, Kind.QUEUE_EXIT_EMPTY)
    out = set()
    for call in day.calls:
        joined = any(e.kind is Kind.QUEUE_JOIN and e.time <= t for e in call.events)
        left = any(e.kind in exits and e.time <= t for e in call.events)
        if joined and not left:
            out.add(call.key)
    return out


def test_core_show_channels_and_queue_status(config: Config, day: Day) -> None:
    now = next(float(t) for t in range(int(at(9)), int(at(12)), 15) if _queued(day, t))

    async def go() -> tuple[list[Message], list[Message]]:
        server, port = await serve(config, day, ManualClock(now))
        session = await RawSession.open(port)
        channels = await _list(session, "CoreShowChannels", "c-1", "CoreShowChannelsComplete")
        queues = await _list(session, "QueueStatus", "q-1", "QueueStatusComplete")
        await server.close()
        return channels, queues

    channels, queues = run(go())  # type: ignore[misc]
    alive = _alive(day, now)
    assert alive and {m["Uniqueid"] for m in channels} == set(alive)
    for m in channels:
        seconds = int(now - alive[m["Uniqueid"]])
        assert m["Duration"] == f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    in_queue = {m["Uniqueid"] for m in channels if m["Application"] == "Queue"}
    assert in_queue == _queued(day, now)
    assert queues[0].name == "QueueParams"
    names = {m["Queue"] for m in queues}
    assert "std-05" in names and "std-07" not in names  # eps-07 is a ring group: no queue
    members = [m for m in queues if m.name == "QueueMember" and m["Queue"] == "std-05"]
    assert members and all(m["Name"].startswith("PJSIP/eps05-") for m in members)
    assert {m["Uniqueid"] for m in queues if m.name == "QueueEntry"} == _queued(day, now)


def _originate(session: RawSession, action_id: str, channel_id: str) -> None:
    session.act("Originate", action_id, Channel="PJSIP/0199000105@trunk-paris",
                Context="probe-listen", Exten="s", Priority=1, Timeout=45000,
                CallerID='"Sonde qualite" <0140000000>', Account="probe", ChannelId=channel_id,
                Async="true")


def _originated(config: Config, day: Day, start: float, channel_id: str,
                capture: CaptureContext) -> tuple[Message, Message, list[Message]]:
    async def go() -> tuple[Message, Message, list[Message]]:
        server, port = await serve(config, day, SimClock(start, speed=50))
        session = await RawSession.open(port)
        _originate(session, "o-7", channel_id)
        ack = await session.until(lambda m: m.action_id == "o-7")
        response = await session.until(lambda m: m.name == "OriginateResponse", timeout=8)
        await session.until(lambda m: m.name == "Hangup" and m["Uniqueid"] == channel_id,
                            timeout=8)
        await server.close()
        return ack, response, session.frames

    ack, response, frames = run(go(), timeout=15)  # type: ignore[misc]
    return ack, response, frames


def test_originate_after_hours_is_answered_by_the_message(config: Config, day: Day,
                                                          capture: CaptureContext) -> None:
    ack, response, frames = _originated(config, day, at(20), "probe-7f3c2a", capture)
    assert (ack.name, ack["Message"]) == ("Success", "Originate successfully queued")
    assert response.action_id == "o-7" and (response["Response"], response["Reason"]) == \
        ("Success", "4")
    assert response["Uniqueid"] == "probe-7f3c2a" and response["CallerIDNum"] == "0140000000"
    tracker = CallTracker(capture)
    calls = {b.call_key: b for b in tracker.feed_all(frames)}
    call = capture.finalize(calls["probe-7f3c2a"])
    assert call.outcome is Outcome.MESSAGE and call.is_test and call.site == "eps-05"
    newchannel = next(m for m in frames if m.name == "Newchannel" and m["Uniqueid"] == "probe-7f3c2a")
    assert newchannel["AccountCode"] == "probe" and newchannel["Linkedid"] == "probe-7f3c2a"


def test_originate_in_hours_is_answered_by_an_agent(config: Config, day: Day,
                                                    capture: CaptureContext) -> None:
    _, response, frames = _originated(config, day, at(10, 5), "probe-in-hours", capture)
    assert (response["Response"], response["Reason"]) == ("Success", "4")
    calls = {b.call_key: b for b in CallTracker(capture).feed_all(frames)}
    call = capture.finalize(calls["probe-in-hours"])
    assert call.outcome is Outcome.ANSWERED and call.is_test
    assert (call.answered_by or "").startswith("PJSIP/eps05-")
    assert call.answer is not None and response.time is not None
    assert call.answer <= response.time  # the caller leg goes Up once the agent answered


def test_a_bad_originate_is_refused(config: Config, day: Day) -> None:
    async def go() -> Message:
        server, port = await serve(config, day, ManualClock(at(10)))
        session = await RawSession.open(port)
        session.act("Originate", "o-1", Channel="PJSIP/0199000105@trunk-paris", Exten="s")
        reply = await session.until(lambda m: m.action_id == "o-1")
        await server.close()
        return reply

    reply = run(go())
    assert reply.name == "Error" and "Async: true" in reply["Message"]  # type: ignore[attr-defined]


@pytest.mark.realdata
def test_replay_keeps_the_gaps_between_timestamps(real_data: Path, tmp_path: Path) -> None:
    path = real_data / "ami" / "verbara" / "queue-reload-asterisk-22.9.0.raw"
    frames = frames_from_capture(read_capture(path))
    span = frames[-1].time - frames[0].time
    speed = span / 1.0  # the capture in about one second

    async def go() -> list[Message]:
        server = AmiServer(SimClock(frames[0].time, speed), SECRET, frames=frames,
                           hold_until_login=True)
        port = await server.start()
        await asyncio.sleep(0.3)  # nothing is sent before the first login
        session = await RawSession.open(port, events="on")
        last = frames[-1].get("Timestamp")
        await session.until(lambda m: m.get("Timestamp") == last, timeout=5)
        await server.close()
        return [m for m in session.frames if m.kind == "event" and m.name != "FullyBooted"]

    got = run(go())
    assert [m.headers for m in got] == [f.headers for f in frames]  # type: ignore[union-attr]
    timed = [m for m in got if m.time is not None]  # type: ignore[union-attr]
    wall = timed[-1].received - timed[0].received  # type: ignore[operator]
    assert 0.8 <= wall <= 2.0, wall
    ctx = capture_context(tmp_path / "config")
    direct = {b.call_key: (b.arrival, b.answer, b.end)
              for b in CallTracker(ctx).feed_all(read_capture(path))}
    replayed = {b.call_key: (b.arrival, b.answer, b.end)
                for b in CallTracker(ctx).feed_all(got)}  # type: ignore[arg-type]
    assert len(direct) == 4 and replayed == direct
