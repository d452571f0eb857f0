"""The simulator's AMI frames: the Asterisk 22 captures' fields, our parser, our call tracker."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import Config
from ingest.ami.calls import CallTracker
from ingest.ami.protocol import FrameParser, render
from ingest.ami.replay import read_capture
from ingest.finalize import CaptureContext
from monitor.call import Outcome
from simulator.ami_frames import DIALPLAN, render_calls
from simulator.ami_pbx import DayStream
from simulator.month import write_month
from simulator.timeline import SimCall

DEBUG_FIELDS = {"SequenceNumber", "File", "Line", "Func"}  # `manager set debug on` only
CAPTURES = ("verbara/queue-reload-asterisk-22.9.0.raw",
            "ispbx/ami_debbug_oncall.asterisk22-manager-debug.txt")


def stream(calls: list[SimCall]) -> bytes:
    """What a listener logged in with call,agent,system receives."""
    frames = [f for f in render_calls(calls) if f.cls != DIALPLAN]
    return b"Asterisk Call Manager/11.0.0\r\n" + b"".join(render(f.headers) for f in frames)


def test_frames_drive_the_tracker_to_the_model_truth(capture: CaptureContext,
                                                     sim_calls: list[SimCall]) -> None:
    data = stream(sim_calls)
    parser, tracker = FrameParser(), CallTracker(capture)
    for i in range(0, len(data), 65536):  # as a socket delivers it
        for msg in parser.feed(data[i:i + 65536]):
            assert msg.problem is None, msg.raw[:200]
            tracker.feed(msg)
    built = {b.call_key: capture.finalize(b) for b in tracker.pop_finished()}
    assert not tracker.calls and set(built) == {c.key for c in sim_calls}
    for truth in sim_calls:
        call = built[truth.key]
        assert (call.site, call.arrival, call.end) == (truth.site, truth.arrival, truth.end)
        assert call.answer == truth.answer, truth.key  # to the microsecond: same float
        assert (call.answered_by or "") == truth.answered_by
        assert call.is_test == truth.is_test and not call.incomplete
        # cause 34 (no circuit) is what AMI says of the model's trunk congestion
        expected = Outcome.CONGESTION if truth.outcome is Outcome.FAILED else truth.outcome
        assert call.outcome is expected, truth.key
    assert tracker.untimed_events == 0


@pytest.mark.realdata
def test_frames_have_the_fields_of_the_asterisk_22_captures(real_data: Path,
                                                             sim_calls: list[SimCall]) -> None:
    real: dict[str, list[str]] = {}
    values: dict[str, set[str]] = {}
    for name in CAPTURES:
        for msg in read_capture(real_data / "ami" / name):
            if msg.kind == "event" and "actionid" not in msg:
                real.setdefault(msg.name, [k for k, _ in msg.headers if k not in DEBUG_FIELDS])
                values.setdefault(msg.name, set()).add(msg.get("Privilege") or "")
    ours = {}
    for frame in render_calls(sim_calls):
        ours.setdefault(frame.name, frame)
    common = set(real) & set(ours)
    assert {"Newchannel", "Newstate", "DialBegin", "DialState", "DialEnd", "Hangup",
            "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
            "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "BridgeCreate", "BridgeEnter",
            "BridgeLeave", "BridgeDestroy"} <= common
    for name in common:
        frame = ours[name]
        assert [k for k, _ in frame.headers] == real[name], name  # same keys, same order
        assert frame.get("Privilege") in values[name], name
        assert re.fullmatch(r"\d{10}\.\d{6}", frame.get("Timestamp") or ""), name


def test_uniqueids_are_those_of_simulate_month(config: Config, tmp_path: Path) -> None:
    day = dt.date(2026, 10, 1)
    got = DayStream(config, day, seed=5).day(day)
    write_month(config, "2026-10", tmp_path, seed=5, days=2)
    tz = ZoneInfo("Europe/Paris")
    with (tmp_path / "truth.csv").open() as fh:
        month = {r["call_key"] for r in csv.DictReader(fh)
                 if dt.datetime.fromtimestamp(float(r["arrival"]), tz).date() == day}
    assert month and {c.key for c in got.calls} == month
    assert got.agents and all(a.device.startswith("PJSIP/") for a in got.agents["eps-05"])
