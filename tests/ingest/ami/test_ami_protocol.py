"""AMI framing: real captures, round-trips, and the decoding defects of reference §10."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.ami.protocol import MAX_FRAME_BYTES, FrameParser, Message, Uniqueid, parse_stream, render
from ingest.ami.replay import capture_frames, capture_to_stream, detect_format, read_capture

pytestmark = pytest.mark.realdata

CAPTURES = {
    # file: (format, frames without client actions)
    "verbara/queue-reload-asterisk-22.9.0.raw": ("crlf", 360),
    "callme/log_setVar.asterisk13-verbose-with-ami-events.log": ("console", 205),
    "ispbx/ami_debbug_oncall.asterisk22-manager-debug.txt": ("console", 104),
    "ispbx/ami_debbug_calling_butnotanswered.asterisk22-manager-debug.txt": ("console", 65),
    "panoramisk/originate_with_events.ami.txt": ("lf", 749),
    "panoramisk/agent_loggued_in.ami.txt": ("lf", 156),
    "panoramisk/agent_not_in_pause.ami.txt": ("lf", 61),
    "panoramisk/queue_status.ami.txt": ("lf", 9),
    "wazo-amid/ami-messages.2017-original.ami.txt": ("lf", 242),
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_every_real_capture_parses(real_data: Path, name: str) -> None:
    data = (real_data / "ami" / name).read_bytes()
    fmt, count = CAPTURES[name]
    assert detect_format(data) == fmt
    frames = capture_frames(data)
    assert len(frames) == count
    good = [f for f in frames if f.problem is None]
    assert all(f.kind in ("event", "response") for f in good)
    # the re-rendered stream (the simulator's replay input) parses back to the same frames
    again = list(parse_stream(capture_to_stream(data)))
    assert [f.headers for f in again] == [f.headers for f in frames]


def test_verbara_raw_stream_byte_exact(real_data: Path) -> None:
    data = (real_data / "ami/verbara/queue-reload-asterisk-22.9.0.raw").read_bytes()
    parser = FrameParser()
    frames = parser.feed(data)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert len(frames) == 360 and parser.pending_bytes == 0
    assert sum(f.name == "AgentConnect" for f in frames) == 4
    assert all(f.time is not None for f in frames if f.kind == "event" and "ActionID" not in f)
    # one read per byte gives the same result (no frame lost or merged at any boundary)
    bytewise = FrameParser()
    out = [m for i in range(len(data)) for m in bytewise.feed(data[i : i + 1])]
    assert [m.headers for m in out] == [m.headers for m in frames]


def test_console_dump_dedupes_events_printed_per_session(real_data: Path) -> None:
    frames = read_capture(real_data / "ami/callme/log_setVar.asterisk13-verbose-with-ami-events.log")
    seqs = [f["SequenceNumber"] for f in frames]
    assert len(seqs) == len(set(seqs))
    with_actions = read_capture(real_data / "ami/ispbx/ami_debbug_oncall.asterisk22-manager-debug.txt",
                                actions=True)
    assert [f.name for f in with_actions if f.kind == "action"] == ["Ping", "Ping", "Ping"]


def test_garbage_in_a_real_recording_is_flagged_not_fatal(real_data: Path) -> None:
    frames = read_capture(real_data / "ami/panoramisk/agent_loggued_in.ami.txt")
    bad = [f for f in frames if f.problem]
    assert bad and len(frames) - len(bad) > 100


# ---- keys, repeated keys, ChanVariable -----------------------------------------------------------

def test_keys_are_case_insensitive_and_repeats_kept() -> None:
    msg = Message.build(("Event", "Cdr"), ("UniqueID", "1.2"), ("Output", "a"), ("Output", "b"),
                        ("AccountCode", ""))
    assert msg["uniqueid"] == msg["Uniqueid"] == msg.get("UNIQUEID") == "1.2"
    assert msg.getall("output") == ["a", "b"] and msg["Output"] == "a"
    assert msg["AccountCode"] == "" and "accountcode" in msg


def test_chanvariable_headers_do_not_break_the_reader() -> None:
    """pyst2 died on any ChanVariable header (reference §10)."""
    raw = (b"Event: OriginateResponse\r\nActionID: x-1\r\nChanVariable: A=1\r\n"
           b"ChanVariable: B=two=2\r\nChanVariable(PJSIP/trunk-ovh-000001c4): C=3\r\n"
           b"DestChanVariable: D=4\r\nAccountCode:\r\n\r\nEvent: Next\r\n\r\n")
    first, second = FrameParser().feed(raw)
    assert first.problem is None and second.name == "Next"
    assert first.variables() == {"A": "1", "B": "two=2", "C": "3"}
    assert first.variables("Dest") == {"D": "4"}
    assert first["ChanVariable(PJSIP/trunk-ovh-000001c4)"] == "C=3"
    assert first["AccountCode"] == ""


def test_multibyte_utf8_split_across_reads() -> None:
    """panoramisk dropped characters split across reads (reference §10)."""
    data = "Event: Newchannel\r\nCallerIDName: Hélène Ñoël 日本\r\n\r\n".encode()
    cut = data.index("é".encode()) + 1  # inside the two bytes of é
    parser = FrameParser()
    assert parser.feed(data[:cut]) == []
    (msg,) = parser.feed(data[cut:])
    assert msg["CallerIDName"] == "Hélène Ñoël 日本"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    (msg,) = FrameParser().feed(b"Event: X\r\nCallerIDName: H\xe9l\xe8ne\r\n\r\n")
    assert msg["CallerIDName"] == "H\ufffdl\ufffdne"


def test_banner_glued_to_a_frame_and_garbage() -> None:
    stream = (b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n"
              b"\x00\xff garbage \r\n\r\nEvent: Ok\r\n\r\n"
              b"Asterisk Call Manager/11.0.0\r\nEvent: AfterReconnect\r\n\r\n")
    frames = list(parse_stream(stream))
    assert [f.kind for f in frames] == ["response", "unknown", "event", "event"]
    assert frames[1].problem and frames[3].name == "AfterReconnect"


def test_endless_frame_is_dropped_with_a_problem() -> None:
    parser = FrameParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    out = parser.feed(b"x" * (MAX_FRAME_BYTES + 10))
    assert len(out) == 1 and out[0].problem and parser.pending_bytes == 0
    assert parser.feed(b"Event: Fine\r\n\r\n")[0].name == "Fine"


def test_uniqueid_compares_as_numbers() -> None:
    assert Uniqueid.parse("1718000000.10") > Uniqueid.parse("1718000000.9")  # type: ignore[operator]
    assert Uniqueid.parse("pbx05-1718000000.3") == Uniqueid(1718000000, 3)
    assert Uniqueid.parse("probe-7f3c2a") is None


# ---- hypothesis: render -> parse round trip, split at random byte boundaries ----------------------

_key = st.from_regex(r"[A-Za-z][A-Za-z0-9()/_-]{0,20}", fullmatch=True)
_value = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\r\n"),
                 max_size=40).map(str.strip)


@st.composite
def _frames(draw: st.DrawFn) -> list[tuple[str, str]]:
    first = draw(st.sampled_from(["Event", "Response"]))
    pairs = [(first, draw(_key))]
    keys = draw(st.lists(_key, min_size=0, max_size=4))
    for _ in range(draw(st.integers(0, 12))):
        key = draw(st.sampled_from(keys)) if keys and draw(st.booleans()) else draw(_key)
        pairs.append((key, draw(_value)))
    return pairs


@settings(max_examples=100, deadline=None)
@given(st.lists(_frames(), min_size=1, max_size=6), st.lists(st.integers(1, 60), max_size=30))
def test_round_trip_split_anywhere(frames: list[list[tuple[str, str]]], cuts: list[int]) -> None:
    stream = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(render(f) for f in frames)
    parser, out, pos = FrameParser(), [], 0
    for size in [*cuts, len(stream)]:
        out += parser.feed(stream[pos : pos + size])
        pos += size
    out += parser.feed(stream[pos:])
    assert [m.headers for m in out] == frames
    for msg, pairs in zip(out, frames, strict=True):
        for key, _ in pairs:
            assert msg.getall(key.upper()) == [v for k, v in pairs if k.lower() == key.lower()]
