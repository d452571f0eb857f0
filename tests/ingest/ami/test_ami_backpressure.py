"""Memory bounded by design (issue 13 item 13): the read loop stops reading when the inbox is
full, sheds whole frames when the consumer stalls, and the shed interval becomes a capture gap;
the channel ids noted for a resync and the calls that lost their Hangup do not pile up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.ami import calls as calls_module
from ingest.ami.calls import CallTracker
from ingest.ami.inbox import Inbox, Shed
from ingest.ami.listener import Listener
from ingest.ami.models import capture_gaps
from ingest.ami.protocol import Message
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from tests.ingest.ami.ami_support import FakePbx, FakeSession, capture_context, ev, run

T0 = 1790000000.0


def _call(i: int, t: float) -> list[Message]:
    uid = f"17900{i:05d}.{i}"
    caller = {"Channel": f"PJSIP/trunk-{i:08d}", "Uniqueid": uid, "Linkedid": uid,
              "Context": "in-eps-05", "Exten": "0199000105", "CallerIDNum": "0612345678"}
    return [ev("Newchannel", t, **caller), ev("Newstate", t + 1, **caller, ChannelState="4"),
            ev("Hangup", t + 9, **caller, Cause=16)]


def _burst(first: int, n: int) -> bytes:
    return b"".join(m.render() for i in range(first, first + n) for m in _call(i, T0 + 10 * i))


@pytest.fixture
def ctx(tmp_path: Path) -> CaptureContext:
    return capture_context(tmp_path / "config")


def _rows(store: Store, table: sa.Table) -> list[sa.Row]:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(table)))


def test_a_full_inbox_stops_the_reading_and_loses_nothing(ctx: CaptureContext, store: Store) -> None:
    """1,200 frames sent at once never sit in memory together: the inbox holds at most its
    bound plus one read; the rest waits in the socket buffers. No frame is lost, no gap."""
    stream = _burst(0, 400)

    async def scenario() -> Listener:
        pbx = await FakePbx(on_login=lambda s: s.send(stream)).start()
        listener = Listener(ctx, store, host="127.0.0.1", port=pbx.port, username="qualimon",
                            secret=pbx.secret, ping_interval=30.0, flush_interval=0.05,
                            max_frames=20, stall_limit=30.0)
        await listener.run(duration=2.0)
        await pbx.close()
        return listener

    listener = run(scenario(), timeout=30)
    assert isinstance(listener, Listener)
    per_read = 65536 // min(len(m.render()) for m in _call(0, T0)) + 1
    assert 20 <= listener.inbox.peak <= 20 + per_read < 1200
    assert listener.stats.frames == 1200 + 1 and listener.stats.frames_shed == 0  # + FullyBooted
    assert len(_rows(store, calls)) == 400 and _rows(store, capture_gaps) == []


def test_a_stalled_consumer_sheds_whole_frames_and_records_the_gap(
        ctx: CaptureContext, store: Store) -> None:
    """The connection stays up (Pongs and CoreShowChannels still pass); the dropped interval is
    a gap; a call cut by it that ended unseen is a reject; later calls are whole."""
    sessions: list[FakeSession] = []

    async def scenario() -> Listener:
        long_call = _call(999, T0 - 5)  # rings through the shed: its Hangup comes after
        first = long_call[0].render() + _burst(0, 300)
        def on_login(s: FakeSession) -> None:
            sessions.append(s)
            s.send(first)

        pbx = await FakePbx(on_login=on_login).start()
        listener = Listener(ctx, store, host="127.0.0.1", port=pbx.port, username="qualimon",
                            secret=pbx.secret, ping_interval=0.2, ping_timeout=1.0,
                            flush_interval=0.05, max_frames=30, stall_limit=0.1)
        gate = asyncio.Event()  # the consumer is stuck until the gate opens
        get_nowait, get = listener.inbox.get_nowait, listener.inbox.get

        async def gated_get(timeout: float) -> object | None:
            await gate.wait()
            return await get(timeout)

        listener.inbox.get_nowait = lambda: get_nowait() if gate.is_set() else None  # type: ignore[method-assign]
        listener.inbox.get = gated_get  # type: ignore[method-assign]
        task = asyncio.create_task(listener.run())
        while not listener.inbox.shedding:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)  # shedding: reading goes on, Pings are answered
        gate.set()
        while not any(a.name == "CoreShowChannels" for a in pbx.actions[2:]):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        sessions[0].send(_burst(1000, 5), long_call[2].render())  # after the shed
        await asyncio.sleep(0.5)
        listener.stop()
        await task
        await pbx.close()
        return listener

    listener = run(scenario(), timeout=30)
    assert isinstance(listener, Listener)
    assert listener.client.stats.connections == 1 and listener.client.stats.missed_pongs == 0
    assert 0 < listener.stats.frames_shed < 901
    (gap,) = _rows(store, capture_gaps)
    assert gap.reason == f"listener overloaded: {listener.stats.frames_shed} events dropped"
    assert gap.start_time < gap.end_time
    stored = {r.call_key: r for r in _rows(store, calls)}
    after = {f"17900{i:05d}.{i}" for i in range(1000, 1005)}
    assert after <= set(stored) and not any(stored[k].incomplete for k in after)
    # the call ringing across the shed ended unseen (the snapshot no longer lists it): how it
    # ended is unknown, so it is kept as a reject saying so, never stored as an abandon
    assert "1790000999.999" not in stored
    (kept,) = [r for r in _rows(store, rejected_records) if "1790000999.999" in r.raw]
    assert kept.reason.startswith("ended while the listener was not connected")
    assert listener.inbox.peak <= 30 + 65536 // 100


def test_markers_pass_a_full_inbox_and_a_shed_ends_after_what_was_kept() -> None:
    async def scenario() -> None:
        inbox = Inbox(max_frames=3, stall_limit=0.05, low_water=1, clock=lambda: 100.0)
        frames = [ev("Newstate", T0 + i) for i in range(6)]
        for f in frames[:3]:
            inbox.put(f)
        assert inbox.full
        await inbox.room()  # nobody takes: it sheds after the stall limit
        assert inbox.shedding
        inbox.put(frames[3])  # dropped
        inbox.mark("marker")  # markers always pass
        taken = [inbox.get_nowait(), inbox.get_nowait()]  # down to the low water: shed ends
        assert taken == frames[:2] and not inbox.shedding
        inbox.put(frames[4])
        rest = [inbox.get_nowait() for _ in range(4)]
        assert rest == [frames[2], "marker", Shed(100.0, 100.0, 1), frames[4]]
        assert inbox.get_nowait() is None and inbox.shed_total == 1

    asyncio.run(scenario())


def test_seen_channel_ids_are_forgotten_once_the_snapshot_is_applied(
        ctx: CaptureContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The set grew until the next reconnection; now it lives only until the resync."""
    tracker = CallTracker(ctx)
    tracker.connected()
    for i in range(5):
        tracker.feed(_call(i, T0 + 10 * i)[0])
    assert len(tracker._since_connect) == 5
    tracker.resync([], T0 + 100)
    for i in range(5, 10):
        tracker.feed(_call(i, T0 + 10 * i)[0])
    assert tracker._since_connect == set()
    monkeypatch.setattr(calls_module, "MAX_SINCE", 3)  # a snapshot that never comes
    tracker.connected()
    for i in range(10, 20):
        tracker.feed(_call(i, T0 + 10 * i)[0])
    assert len(tracker._since_connect) <= 3


def test_a_call_open_for_a_day_is_swept_as_incomplete(ctx: CaptureContext) -> None:
    """A call whose Hangup never came (lost in a malformed frame) does not stay in memory."""
    tracker = CallTracker(ctx)
    tracker.feed(_call(1, T0)[0])
    tracker.feed(_call(2, T0 + 80_000)[0])
    assert tracker.sweep(T0 + 80_000) == []
    (swept,) = tracker.sweep(T0 + 90_000)
    assert swept.call_key == "1790000001.1" and swept.incomplete
    assert len(tracker.in_progress()) == 1 and "1790000001.1" not in tracker.channels
    assert ("paris-eps", "1790000001.1") not in tracker.live.calls
    assert ctx.finalize(swept).incomplete
