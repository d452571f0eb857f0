"""A call already in conversation when the listener (re)connects is rebuilt as answered.

The fake PBX's CoreShowChannels lists the caller (in Queue) and a staff phone Up in the same
bridge: the call is answered by that phone, its answer estimated from the phone channel's age,
not waiting nor ringing on the wallboard, and stored incomplete with a 1 s resolution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.ami.calls import CallTracker
from ingest.ami.listener import Listener
from ingest.ami.protocol import Message
from ingest.finalize import CaptureContext
from monitor.call import Outcome
from monitor.store import Store, open_store
from monitor.store.models import calls
from tests.ingest.ami.ami_support import FakePbx, FakeSession, capture_context, ev, run

T0 = 1790000000.0
BRIDGE = "5f1c2d3e-0000-4000-8000-000000000001"
CALLER = {"Channel": "PJSIP/trunk-ovh-0000012a", "Uniqueid": "1790000000.311",
          "Linkedid": "1790000000.311", "Context": "in-eps-05", "Exten": "0199000105",
          "CallerIDNum": "0612345678"}
AGENT = {"Channel": "PJSIP/eps05-0501-0000012b", "Uniqueid": "1790000001.312",
         "Linkedid": "1790000000.311", "Context": "eps05-agents", "Exten": "s"}


def _item(leg: dict[str, str], aid: str, state: str, duration: str, bridge: str, app: str,
          data: str = "") -> Message:
    return Message.build(("Event", "CoreShowChannel"), ("ActionID", aid), *leg.items(),
                         ("ChannelState", state), ("ChannelStateDesc", "Up" if state == "6" else "Ring"),
                         ("Application", app), ("ApplicationData", data), ("Duration", duration),
                         ("BridgeId", bridge))


def _in_conversation(aid: str, agent_state: str = "6", bridge: str = BRIDGE) -> list[Message]:
    """The caller for 45 s in Queue(std-05), the agent's phone for 30 s (Up, bridged)."""
    return [_item(CALLER, aid, "6", "00:00:45", bridge, "Queue", "std-05,tT"),
            _item(AGENT, aid, agent_state, "00:00:30", bridge, "AppQueue", "(Outgoing Line)")]


@pytest.fixture
def ctx(tmp_path: Path) -> CaptureContext:
    return capture_context(tmp_path / "config")


async def _until(condition: Callable[[], object], timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not met")


def test_a_call_in_conversation_at_login_is_stored_answered(ctx: CaptureContext, tmp_path: Path) -> None:
    db: Store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    sessions: list[FakeSession] = []

    def snapshot(s: FakeSession, a: Message) -> None:
        s.reply(a, ("EventList", "start"))
        s.send(*_in_conversation(a.action_id or ""))
        s.send(Message.build(("Event", "CoreShowChannelsComplete"), ("ActionID", a.action_id or ""),
                             ("EventList", "Complete"), ("ListItems", "2")))

    async def scenario() -> None:
        pbx = await FakePbx(on_login=sessions.append, handlers={"coreshowchannels": snapshot}).start()
        listener = Listener(ctx, db, host="127.0.0.1", port=pbx.port, username="qualimon",
                            secret=pbx.secret, ping_interval=30.0, flush_interval=0.05)
        task = asyncio.create_task(listener.run(duration=1.0))
        await _until(lambda: listener.live.calls)
        (live,) = listener.live.calls.values()
        assert live.answer is not None and live.answer - live.arrival == pytest.approx(15.0)
        assert listener.live.ringing() == [] and listener.live.waiting() == []
        assert listener.live.by_site(live.answer)["eps-05"].ringing == 0
        end = live.arrival + 60
        sessions[0].send(ev("Hangup", end, **CALLER, Cause=16), ev("Hangup", end + 0.1, **AGENT, Cause=16))
        stats = await task
        await pbx.close()
        assert stats.calls_written == 1 and stats.handler_errors == 0

    run(scenario())
    with db.engine.connect() as conn:
        (row,) = conn.execute(sa.select(calls)).all()
    db.dispose()
    assert (row.outcome, row.answered_by, row.incomplete, row.resolution) == \
        ("answered", "PJSIP/eps05-0501", True, 1.0)
    assert row.time_to_answer == pytest.approx(15.0) and row.queue_entry is None


@pytest.mark.parametrize(("agent_state", "bridge", "answered"), [
    ("6", "", True),  # Up, not (yet) in a bridge
    ("5", BRIDGE, True),  # state not Up but bridged
    ("5", "", False),  # still ringing: the call is not answered
])
def test_resync_answer_needs_a_staff_phone_up_or_bridged(
        ctx: CaptureContext, agent_state: str, bridge: str, answered: bool) -> None:
    tracker = CallTracker(ctx)
    tracker.resync(_in_conversation("r-1", agent_state, bridge), T0 + 45)
    (call,) = tracker.in_progress()
    assert call.builder.incomplete and call.builder.resolution == 1.0
    assert (call.builder.answer, call.builder.answered_by) == \
        ((T0 + 15, "PJSIP/eps05-0501") if answered else (None, None))
    assert call.live.ringing is not answered and (call.live.in_queue_since is None) is answered
    (done,) = tracker.close_all()
    outcome = ctx.finalize(done).outcome
    assert outcome is (Outcome.ANSWERED if answered else Outcome.ABANDONED)


def test_a_live_answer_is_not_replaced_by_the_estimate(ctx: CaptureContext) -> None:
    tracker = CallTracker(ctx)
    tracker.feed_all([ev("Newchannel", T0, **CALLER), ev("Newchannel", T0 + 1, **AGENT),
                      ev("BridgeEnter", T0 + 12.5, **AGENT, BridgeUniqueid=BRIDGE)])
    tracker.mark_gap()
    tracker.connected()
    tracker.resync(_in_conversation("r-2"), T0 + 45)
    (call,) = tracker.in_progress()
    assert call.builder.answer == T0 + 12.5 and call.builder.resolution == 1e-6


def test_a_queue_entry_before_the_estimated_arrival_moves_the_arrival_back(ctx: CaptureContext) -> None:
    """Duration is whole seconds, so a rebuilt arrival is up to 1 s late; a later AgentConnect
    whose HoldTime puts the queue entry before it must not make the call unstorable."""
    tracker = CallTracker(ctx)
    ringing = [_item(CALLER, "r-3", "4", "00:00:10", "", "Queue", "std-05,tT")]
    tracker.resync(ringing, T0 + 10.9)  # estimated arrival T0 + 0.9
    tracker.connected()
    tracker.feed_all([ev("AgentConnect", T0 + 14.6, **CALLER, DestChannel=AGENT["Channel"],
                         DestUniqueid=AGENT["Uniqueid"], Queue="std-05", HoldTime="14", RingTime="3")])
    (call,) = tracker.in_progress()
    assert call.builder.queue_entry == pytest.approx(T0 + 0.6)
    assert call.builder.arrival == call.builder.queue_entry  # was T0 + 0.9, after the entry
    (done,) = tracker.close_all()
    assert ctx.finalize(done).outcome is Outcome.ANSWERED


# ---- a directory that does not know the phones (issue: truth on an unknown PBX) ------------

BLIND = [{"id": "eps-05", "dids": ["0199000105"], "queues": ["std-05"], "contexts": [],
          "staff_devices": ["PJSIP/eps05-*"]}]
PHONE_201 = {"Channel": "PJSIP/201-0000012b", "Uniqueid": "1790000001.312",
             "Linkedid": "1790000000.311", "Context": "from-internal", "Exten": "302"}


def test_a_call_in_progress_at_connection_is_never_advised_as_a_did(tmp_path: Path) -> None:
    """The snapshot lists the caller (in a shared context, at extension "s", in Queue std-05)
    and a phone the directory does not know (at extension 302): the call is rebuilt through its
    queue, and nothing advises adding "302" to any site's dids."""
    from config import load_config
    from tests.ingest.ami.ami_support import write_config

    ctx = CaptureContext.create(load_config(write_config(tmp_path / "blind", BLIND)))
    caller = dict(CALLER, Context="from-pstn", Exten="s")
    tracker = CallTracker(ctx)
    tracker.resync([_item(caller, "r", "6", "00:00:45", BRIDGE, "Queue", "std-05,tT"),
                    _item(PHONE_201, "r", "6", "00:00:30", BRIDGE, "AppDial", "(Outgoing Line)")],
                   T0 + 45)
    (done,) = tracker.close_all()
    call = ctx.finalize(done)
    assert call.site == "eps-05" and call.incomplete
    # a phone the directory does not know, connected: kept apart, never an abandon
    assert call.outcome is not Outcome.ABANDONED
    # an internal call between two phones the directory does not know is not a reject either
    tracker = CallTracker(ctx)
    internal = dict(PHONE_201, Uniqueid="1790000100.1", Linkedid="1790000100.1")
    assert tracker.feed_all([ev("Newchannel", T0 + 100, **internal),
                             ev("Hangup", T0 + 110, **internal, Cause=16)]) == []
    assert tracker.left_out == 1


def test_the_listener_names_unknown_phones_when_it_stops(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from config import load_config
    from tests.ingest.ami.ami_support import write_config
    from tests.ingest.ami.test_ami_calls import _queue_call

    ctx = CaptureContext.create(load_config(write_config(tmp_path / "blind", BLIND)))
    frames = []
    for f in _queue_call():
        pairs = [(k, v.replace("PJSIP/eps05-0501", "PJSIP/201")) for k, v in f.headers]
        frames.append(Message.build(*pairs))
    db: Store = open_store(f"sqlite:///{tmp_path / 'store.db'}")

    async def scenario() -> None:
        pbx = await FakePbx(on_login=lambda s: s.send(*frames)).start()
        listener = Listener(ctx, db, host="127.0.0.1", port=pbx.port, username="qualimon",
                            secret=pbx.secret, ping_interval=30.0, flush_interval=0.05)
        await listener.run(duration=0.8)
        await pbx.close()

    with caplog.at_level(logging.WARNING):
        run(scenario())
    with db.engine.connect() as conn:
        (row,) = conn.execute(sa.select(calls)).all()
    db.dispose()
    assert row.outcome == "unknown_device" and row.answered_by == "PJSIP/201"
    assert "PJSIP/201 (1 calls)" in caplog.text and "qualiphone sites learn" in caplog.text
