"""The event → call state machine on the real captures and on composed sequences."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ingest.ami.calls import CallTracker
from ingest.ami.live import LiveState
from ingest.ami.protocol import FrameParser
from ingest.ami.replay import read_capture
from ingest.finalize import CaptureContext
from monitor.call import Call, Outcome, Source
from tests.ingest.ami.ami_support import capture_context, ev


@pytest.fixture
def ctx(tmp_path: Path) -> CaptureContext:
    return capture_context(tmp_path / "config")


def _calls(ctx: CaptureContext, frames: list) -> list[Call]:  # type: ignore[type-arg]
    tracker = CallTracker(ctx)
    calls = [ctx.finalize(b) for b in tracker.feed_all(frames)]
    assert tracker.in_progress() == []
    return calls


@pytest.mark.realdata
def test_verbara_against_its_oracle(real_data: Path, ctx: CaptureContext) -> None:
    folder = real_data / "ami/verbara"
    oracle = json.loads((folder / "_expected_queue-reload.json").read_text())
    frames = read_capture(folder / "queue-reload-asterisk-22.9.0.raw")
    calls = sorted(_calls(ctx, frames), key=lambda c: c.arrival)  # a, b, c, d in time order
    derived = oracle["collector_derived_from_timestamps_not_upstream"]
    assert len(calls) == len(oracle["calls"]) == 4
    for expected, call in zip(oracle["calls"], calls, strict=True):
        times = derived[expected["id"]]
        assert call.outcome is Outcome.ANSWERED and call.site == "lab-verbara"
        assert call.source is Source.AMI and call.resolution == 1e-6 and not call.incomplete
        # the first QueueCallerJoin, even when the caller left that queue and came back
        assert call.queue_entry == pytest.approx(times["first_join"], abs=1e-6)
        # the person's answer is the DialEnd ANSWER, a few µs before AgentConnect
        assert times["agent_connect"] - 1e-3 < call.answer <= times["agent_connect"]
        assert call.answered_by == "Local/late@agents-late"
        assert call.arrival < call.queue_entry < call.arrival + 0.01
        # AgentConnect HoldTime counts from the last queue entry, truncated: 10 for every call
        last_join = max(f.time for f in frames if f.name == "QueueCallerJoin"
                        and f["Linkedid"] == call.call_key)
        assert int(call.answer - last_join) == 10
        if "first_join_to_connect_s" in times:  # b, c, d: QueueCallerAbandon is not a hang-up
            assert call.answer - call.queue_entry == pytest.approx(times["first_join_to_connect_s"], abs=1e-3)


@pytest.mark.realdata
def test_callme_untimed_capture_uses_asterisk_durations(real_data: Path, ctx: CaptureContext) -> None:
    frames = read_capture(real_data / "ami/callme/log_setVar.asterisk13-verbose-with-ami-events.log")
    (call,) = _calls(ctx, frames)
    assert call.site == "lab-callme" and call.outcome is Outcome.ANSWERED
    assert call.answered_by == "SIP/777" and call.resolution == 1.0
    assert call.answer - call.queue_entry == pytest.approx(9, abs=1)  # AgentConnect HoldTime 9
    assert call.arrival == 1514295827  # the caller's Uniqueid epoch
    assert call.end - call.answer == pytest.approx(3, abs=1)  # AgentComplete TalkTime 3


@pytest.mark.realdata
def test_ispbx_answered_after_ringing(real_data: Path, ctx: CaptureContext) -> None:
    frames = read_capture(real_data / "ami/ispbx/ami_debbug_oncall.asterisk22-manager-debug.txt")
    (call,) = _calls(ctx, frames)
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "PJSIP/100"
    assert call.first_ring == pytest.approx(1741614725.658730, abs=1e-6)
    assert call.answer == pytest.approx(1741614736.235124, abs=1e-6)
    assert call.answer - call.first_ring == pytest.approx(10.58, abs=0.01)
    # the caller leg was answered by the dialplan (Answer()) at once: that is not the answer
    caller_up = next(f.time for f in frames if f.name == "Newstate" and f["ChannelStateDesc"] == "Up")
    assert caller_up < call.arrival + 1 < call.answer


@pytest.mark.realdata
def test_ispbx_not_answered(real_data: Path, ctx: CaptureContext) -> None:
    path = real_data / "ami/ispbx/ami_debbug_calling_butnotanswered.asterisk22-manager-debug.txt"
    (call,) = _calls(ctx, read_capture(path))
    assert call.outcome is Outcome.ABANDONED and call.answer is None and call.answered_by is None
    assert call.end - call.first_ring == pytest.approx(8.27, abs=0.01)


# ---- composed sequences -------------------------------------------------------------------------

T0 = 1790000000.0
CALLER = {"Channel": "PJSIP/trunk-ovh-0000012a", "Uniqueid": "1790000000.311",
          "Linkedid": "1790000000.311"}
AGENT = {"Channel": "PJSIP/eps05-0501-0000012b", "Uniqueid": "1790000001.312",
         "Linkedid": "1790000000.311"}
DEST = {"DestChannel": AGENT["Channel"], "DestUniqueid": AGENT["Uniqueid"],
        "DestLinkedid": CALLER["Linkedid"]}


def _queue_call(answer: bool = True) -> list:  # type: ignore[type-arg]
    frames = [
        ev("Newchannel", T0, **CALLER, ChannelState=4, CallerIDNum="0612345678", Context="in-eps-05",
           Exten="0199000105", AccountCode=""),
        ev("Newstate", T0 + 0.5, **CALLER, ChannelStateDesc="Up", Context="in-eps-05"),  # welcome message
        ev("QueueCallerJoin", T0 + 1, **CALLER, Queue="std-05", Position=1, Count=1),
        ev("Newchannel", T0 + 1.001, **AGENT, ChannelState=0),
        ev("DialBegin", T0 + 1.002, **CALLER, **DEST),
        ev("DialState", T0 + 1.2, **CALLER, **DEST, DialStatus="RINGING"),
    ]
    if answer:
        frames += [
            ev("DialEnd", T0 + 15.24, **CALLER, **DEST, DialStatus="ANSWER"),
            ev("QueueCallerLeave", T0 + 15.246, **CALLER, Queue="std-05"),
            ev("AgentConnect", T0 + 15.247, **CALLER, **DEST, Queue="std-05", HoldTime=14, RingTime=14),
            ev("BridgeEnter", T0 + 15.251, **CALLER, BridgeUniqueid="b1"),
            ev("BridgeEnter", T0 + 15.252, **AGENT, BridgeUniqueid="b1"),
            ev("Hangup", T0 + 162.5, **CALLER, Cause=16),
            ev("Hangup", T0 + 162.6, **AGENT, Cause=16),
        ]
    else:
        frames += [
            ev("QueueCallerAbandon", T0 + 30, **CALLER, Queue="std-05", HoldTime=29),
            ev("DialEnd", T0 + 30.001, **CALLER, **DEST, DialStatus="CANCEL"),
            ev("Hangup", T0 + 30.002, **AGENT, Cause=16),
            ev("QueueCallerLeave", T0 + 30.003, **CALLER, Queue="std-05"),
            ev("Hangup", T0 + 30.004, **CALLER, Cause=16),
        ]
    return frames


def test_answer_is_the_staff_leg_not_the_caller_going_up(ctx: CaptureContext) -> None:
    (call,) = _calls(ctx, _queue_call())
    assert call.site == "eps-05" and call.outcome is Outcome.ANSWERED
    assert call.time_to_answer == pytest.approx(15.24) and call.answered_by == "PJSIP/eps05-0501"
    assert call.first_ring == pytest.approx(T0 + 1.002) and call.queue_entry == T0 + 1
    assert call.end == T0 + 162.5 and call.dialed == "+33199000105"


def test_arrival_order_across_channels_does_not_matter(ctx: CaptureContext) -> None:
    """Order is guaranteed per channel only: shuffle the channels' streams against each other."""
    frames = _queue_call()
    expected = _calls(ctx, frames)[0]
    rng = random.Random(7)
    for _ in range(20):
        per_channel: dict[str, list] = {}  # type: ignore[type-arg]
        for f in frames:
            per_channel.setdefault(f["Uniqueid"], []).append(f)
        streams = list(per_channel.values())
        mixed = []
        while any(streams):
            pick = rng.choice([s for s in streams if s])
            mixed.append(pick.pop(0))
        if mixed[0] is not frames[0]:
            continue  # the caller's Newchannel opens the call
        (call,) = _calls(ctx, mixed)
        assert (call.answer, call.first_ring, call.queue_entry) == (
            expected.answer, expected.first_ring, expected.queue_entry)


def test_queue_abandon_is_not_a_hangup(ctx: CaptureContext) -> None:
    tracker = CallTracker(ctx)
    frames = _queue_call(answer=False)
    abandon = next(i for i, f in enumerate(frames) if f.name == "QueueCallerAbandon")
    assert tracker.feed_all(frames[: abandon + 1]) == []  # still in progress
    (b,) = tracker.feed_all(frames[abandon + 1 :])
    call = ctx.finalize(b)
    assert call.outcome is Outcome.ABANDONED and call.end == T0 + 30.004


def test_message_context_is_not_an_answer(ctx: CaptureContext) -> None:
    frames = [
        ev("Newchannel", T0, **CALLER, Context="in-eps-05", Exten="0199000105"),
        ev("Newstate", T0 + 0.2, **CALLER, ChannelStateDesc="Up", Context="msg-eps-05"),
        ev("Hangup", T0 + 28, **CALLER, Context="msg-eps-05", Cause=16),
    ]
    (call,) = _calls(ctx, frames)
    assert call.outcome is Outcome.MESSAGE and call.answer is None


def test_internal_and_outbound_calls_are_skipped(ctx: CaptureContext) -> None:
    staff = {"Channel": "PJSIP/eps05-0502-00000001", "Uniqueid": "1790000100.1", "Linkedid": "1790000100.1"}
    frames = [ev("Newchannel", T0 + 100, **staff, Context="from-internal", Exten="0612345678"),
              ev("Hangup", T0 + 110, **staff, Cause=16)]
    assert CallTracker(ctx).feed_all(frames) == []


def test_list_items_with_actionid_are_not_live_events(ctx: CaptureContext) -> None:
    snapshot = ev("Newchannel", T0, **CALLER, ActionID="x-1", Exten="0199000105")
    tracker = CallTracker(ctx)
    tracker.feed(snapshot)
    assert tracker.in_progress() == []


def test_asterisk_11_dial_and_bridge(ctx: CaptureContext) -> None:
    caller = {"Channel": "SIP/trunk-00000001", "Uniqueid": "1400000000.1"}
    agent = {"Channel": "PJSIP/eps05-0501-00000002", "Uniqueid": "1400000001.2"}
    frames = [
        ev("Newchannel", 1400000000.0, **caller, Context="in-eps-05", Exten="0199000105"),
        ev("Join", 1400000000.5, **caller, Queue="std-05", Position=1),
        ev("Newchannel", 1400000001.0, **agent, Context="from-internal", Exten="s"),
        ev("Dial", 1400000001.1, SubEvent="Begin", Channel=caller["Channel"], UniqueID=caller["Uniqueid"],
           Destination=agent["Channel"], DestUniqueID=agent["Uniqueid"]),
        ev("Bridge", 1400000009.5, Bridgestate="Link", Channel1=caller["Channel"],
           Channel2=agent["Channel"], Uniqueid1=caller["Uniqueid"], Uniqueid2=agent["Uniqueid"]),
        ev("Hangup", 1400000050.0, **agent, Cause=16),
        ev("Hangup", 1400000050.1, **caller, Cause=16),
    ]
    (call,) = _calls(ctx, frames)
    assert call.time_to_answer == pytest.approx(9.5) and call.queue_entry == 1400000000.5
    assert call.answered_by == "PJSIP/eps05-0501" and call.first_ring == 1400000001.1


def test_live_state_for_a_wallboard(ctx: CaptureContext) -> None:
    live = LiveState()
    tracker = CallTracker(ctx, live)
    frames = _queue_call()
    for f in frames[:6]:
        tracker.feed(f)
    (ringing,) = live.ringing("eps-05")
    assert ringing.arrival == T0 and ringing.devices_ringing == 1 and ringing.queue == "std-05"
    now = live.by_site(T0 + 26, ["eps-05", "eps-06"])
    assert now["eps-05"].ringing == 1 and now["eps-05"].waiting == 1
    assert now["eps-05"].longest_ring == pytest.approx(26) and now["eps-06"].ringing == 0
    for f in frames[6:9]:
        tracker.feed(f)
    assert live.ringing() == [] and live.waiting() == []
    for f in frames[9:]:
        tracker.feed(f)
    assert live.calls == {}


def _synthetic_stream(count: int) -> bytes:
    """`count` answered queue calls with full channel blocks, ~19 events each."""
    out = []
    for i in range(count):
        t = T0 + i
        c = {**CALLER, "Channel": f"PJSIP/trunk-ovh-{i:08x}", "Uniqueid": f"{T0:.0f}.{2 * i}",
             "Linkedid": f"{T0:.0f}.{2 * i}", "ChannelStateDesc": "Ring", "CallerIDName": "Hélène",
             "Context": "in-eps-05", "Exten": "0199000105", "Priority": 1}
        a = {**c, "Channel": f"PJSIP/eps05-0501-{i:08x}", "Uniqueid": f"{T0:.0f}.{2 * i + 1}"}
        d = {"Dest" + k: v for k, v in a.items()}
        out += [ev("Newchannel", t, **c), ev("QueueCallerJoin", t + 1, **c, Queue="std-05"),
                ev("Newchannel", t + 1, **a), ev("AgentCalled", t + 1, **c, **d),
                ev("DialBegin", t + 1, **c, **d), ev("Newstate", t + 1.1, **a),
                ev("DialState", t + 1.2, **c, **d, DialStatus="RINGING"), ev("Newstate", t + 15, **a),
                ev("DialEnd", t + 15, **c, **d, DialStatus="ANSWER"), ev("QueueCallerLeave", t + 15, **c),
                ev("AgentConnect", t + 15, **c, **d, HoldTime=14, RingTime=14), ev("Newstate", t + 15, **c),
                ev("BridgeEnter", t + 15, **c), ev("BridgeEnter", t + 15, **a),
                ev("BridgeLeave", t + 99, **c), ev("Hangup", t + 99, **c, Cause=16),
                ev("AgentComplete", t + 99, **c, **d, TalkTime=84),
                ev("BridgeLeave", t + 99, **a), ev("Hangup", t + 99, **a, Cause=16)]
    return b"".join(m.render() for m in out)


def test_a_long_stream_in_64k_reads_gives_every_call(ctx: CaptureContext) -> None:
    """600 queue calls read in 64 KiB chunks all come out (speed is measured in bench/bench_ami.py)."""
    data = _synthetic_stream(600)
    parser, tracker = FrameParser(), CallTracker(ctx)
    for pos in range(0, len(data), 1 << 16):
        for msg in parser.feed(data[pos : pos + (1 << 16)]):
            tracker.feed(msg)
    assert len(tracker.pop_finished()) == 600 and tracker.in_progress() == []
