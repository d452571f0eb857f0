# ruff: noqa: E501  (the reference call's rows are kept whole, as cel_custom writes them)
"""CEL (cel_custom CSV) to calls, on hand-written files in the shipped configuration.

Site eps-05 of config/sites.toml: DID 0199000105, queue std-05, staff phones PJSIP/eps05-*,
message context msg-eps-05, voicemail context vm-eps-05.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from ingest.batch import run_batch
from ingest.cel import cel_to_calls, dialstatus, parse_cel
from ingest.cel_read import CelRecord, read_cel_csv
from ingest.finalize import CaptureContext
from ingest.records import RecordError, Reject, Skipped
from monitor.call import CallBuilder, Outcome, Source
from monitor.store import Store
from monitor.store.models import calls, rejected_records

PARIS = ZoneInfo("Europe/Paris")
TRUNK = "PJSIP/trunk-ovh-0000012a"
DID = "0199000105"
# cel_custom's de-facto column order (reference §7), written out here independently of the code.
COLUMNS = ("eventtype", "eventtime", "cid_name", "cid_num", "cid_ani", "cid_rdnis", "cid_dnid",
           "exten", "context", "channel", "appname", "appdata", "amaflags", "accountcode",
           "uniqueid", "linkedid", "peer", "userfield", "userdeftype", "extra")

# The example of reference §7 (queue call answered by a phone after 15.12 s), with the names of
# the shipped configuration instead of the reference's (DID 0199000105, phone PJSIP/eps05-0501),
# the queue's APP_START and the hang-up records that the reference leaves out.
REFERENCE_CALL = [
    '"CHAN_START","1718000000.120388","DUPONT M","0612345678","0612345678","","0199000105","0199000105","from-trunk","PJSIP/trunk-ovh-0000012a","","","3","","1718000000.311","1718000000.311","","","",""',
    '"APP_START","1718000000.350112","DUPONT M","0612345678","0612345678","","0199000105","s","in-eps-05","PJSIP/trunk-ovh-0000012a","Queue","std-05,r,,,60","3","","1718000000.311","1718000000.311","","","",""',
    '"CHAN_START","1718000001.005870","Poste 0501","0501","","","","s","from-internal","PJSIP/eps05-0501-0000012b","","","3","","1718000001.312","1718000000.311","","","",""',
    '"ANSWER","1718000015.240101","Poste 0501","0501","","","","0501","from-internal","PJSIP/eps05-0501-0000012b","AppQueue","(Outgoing Line)","3","","1718000001.312","1718000000.311","","","",""',
    '"ANSWER","1718000015.246988","DUPONT M","0612345678","0612345678","","0199000105","s","in-eps-05","PJSIP/trunk-ovh-0000012a","Queue","std-05,r,,,60","3","","1718000000.311","1718000000.311","","","",""',
    '"BRIDGE_ENTER","1718000015.252850","Poste 0501","0501","","","","0501","from-internal","PJSIP/eps05-0501-0000012b","AppQueue","(Outgoing Line)","3","","1718000001.312","1718000000.311","PJSIP/trunk-ovh-0000012a","","","{""bridge_id"":""0b8e5d3c-2f41-4c64-9a51-3e1f6a0c9d12"",""bridge_technology"":""simple_bridge""}"',
    '"BRIDGE_ENTER","1718000015.253112","DUPONT M","0612345678","0612345678","","0199000105","s","in-eps-05","PJSIP/trunk-ovh-0000012a","Queue","std-05,r,,,60","3","","1718000000.311","1718000000.311","PJSIP/eps05-0501-0000012b","","","{""bridge_id"":""0b8e5d3c-2f41-4c64-9a51-3e1f6a0c9d12"",""bridge_technology"":""simple_bridge""}"',
    '"HANGUP","1718000162.520004","DUPONT M","0612345678","0612345678","","0199000105","s","in-eps-05","PJSIP/trunk-ovh-0000012a","","","3","","1718000000.311","1718000000.311","","","","{""hangupcause"":16,""hangupsource"":""PJSIP/trunk-ovh-0000012a"",""dialstatus"":""""}"',
    '"CHAN_END","1718000162.521337","DUPONT M","0612345678","0612345678","","0199000105","s","in-eps-05","PJSIP/trunk-ovh-0000012a","","","3","","1718000000.311","1718000000.311","","","",""',
    '"HANGUP","1718000162.526001","Poste 0501","0501","","","","0501","from-internal","PJSIP/eps05-0501-0000012b","","","3","","1718000001.312","1718000000.311","","","","{""hangupcause"":16,""hangupsource"":""PJSIP/trunk-ovh-0000012a"",""dialstatus"":""""}"',
    '"CHAN_END","1718000162.527874","Poste 0501","0501","","","","0501","from-internal","PJSIP/eps05-0501-0000012b","","","3","","1718000001.312","1718000000.311","","","",""',
    '"LINKEDID_END","1718000162.530110","DUPONT M","0612345678","0612345678","","0199000105","0199000105","from-trunk","PJSIP/trunk-ovh-0000012a","","","3","","1718000000.311","1718000000.311","","","",""',
]


def row(eventtype: str, t: float, channel: str, uniqueid: str, linkedid: str, **kw: str) -> str:
    """One cel_custom line, all fields quoted (the csv module as the writer)."""
    values = dict.fromkeys(COLUMNS, "") | {"amaflags": "3"} | kw
    values |= {"eventtype": eventtype, "eventtime": f"{t:.6f}", "channel": channel,
               "uniqueid": uniqueid, "linkedid": linkedid}
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(values[c] for c in COLUMNS)
    return out.getvalue()


class Scenario:
    """Writes the rows of one call: a caller on the trunk and the legs it rings."""

    def __init__(self, base: float, n: int, *, did: str = DID, caller: str = "0612345678",
                 accountcode: str = "") -> None:
        self.base, self.linkedid, self.lines = base, f"{int(base)}.{n}", []
        self.caller = {"cid_num": caller, "cid_name": "DUPONT M", "accountcode": accountcode}
        self.trunk = f"PJSIP/trunk-ovh-{n:08x}"
        self.on(0.0, "CHAN_START", exten=did, cid_dnid=did, context="from-trunk")

    def on(self, dt_: float, eventtype: str, **kw: str) -> Scenario:
        """A caller-leg record `dt_` seconds after arrival."""
        return self.leg(dt_, eventtype, self.trunk, self.linkedid, **(self.caller | kw))

    def leg(self, dt_: float, eventtype: str, channel: str, uniqueid: str, **kw: str) -> Scenario:
        self.lines.append(row(eventtype, self.base + dt_, channel, uniqueid, self.linkedid, **kw))
        return self

    def hangup(self, dt_: float, extra: str = "", *, end: bool = True) -> list[str]:
        self.on(dt_, "HANGUP", extra=extra).on(dt_ + 0.001, "CHAN_END")
        if end:
            self.on(dt_ + 0.002, "LINKEDID_END")
        return self.lines


def parse(lines: list[str], ctx: CaptureContext) -> tuple[list[CallBuilder], list[Reject]]:
    out = list(parse_cel(enumerate(lines, start=1), ctx))
    return ([b for b in out if isinstance(b, CallBuilder)], [r for r in out if isinstance(r, Reject)])


def one_call(lines: list[str], ctx: CaptureContext) -> CallBuilder:
    builders, rejects = parse(lines, ctx)
    assert rejects == []
    assert len(builders) == 1
    return builders[0]


def test_reference_queue_call_answered_after_15_12_s(capture: CaptureContext) -> None:
    b = one_call(REFERENCE_CALL, capture)
    assert (b.call_key, b.linkedid, b.source) == ("1718000000.311", "1718000000.311", Source.CEL)
    assert (b.dialed, b.caller, b.queue) == (DID, "0612345678", "std-05")
    assert b.arrival == 1718000000.120388
    assert b.answer == 1718000015.240101  # the phone's ANSWER, not the caller leg's (.246988)
    assert abs((b.answer - b.arrival) - 15.119713) < 5e-7
    assert round(b.answer - b.arrival, 2) == 15.12
    assert b.answered_by == "PJSIP/eps05-0501"
    assert (b.queue_entry, b.first_ring) == (1718000000.350112, 1718000001.005870)
    assert b.end == 1718000162.521337  # the caller's CHAN_END
    assert (b.resolution, b.incomplete, b.is_test, b.outcome) == (1e-6, False, False, None)
    assert (b.line, b.raw) == (1, REFERENCE_CALL)
    call = capture.finalize(b)
    assert (call.site, call.outcome) == ("eps-05", Outcome.ANSWERED)
    assert abs(call.time_to_answer - 15.119713) < 5e-7


def test_caller_leg_answered_first_by_an_announcement(capture: CaptureContext) -> None:
    c = Scenario(1718100000.250000, 20)
    c.on(0.48, "ANSWER", appname="Playback", appdata="eps-bienvenue", context="in-eps-05")
    c.on(6.0, "APP_START", appname="Queue", appdata="std-05,r", context="in-eps-05")
    c.leg(6.1, "CHAN_START", "PJSIP/eps05-0502-00000015", "1718100006.21")
    c.leg(20.3, "ANSWER", "PJSIP/eps05-0502-00000015", "1718100006.21", appname="AppQueue")
    c.leg(20.31, "BRIDGE_ENTER", "PJSIP/eps05-0502-00000015", "1718100006.21", peer=c.trunk)
    c.on(20.312, "BRIDGE_ENTER", peer="PJSIP/eps05-0502-00000015")
    b = one_call(c.hangup(95.0), capture)
    assert b.answer is not None and abs(b.answer - b.arrival - 20.3) < 1e-6
    assert b.answered_by == "PJSIP/eps05-0502"
    assert capture.finalize(b).outcome is Outcome.ANSWERED


def test_ring_group_the_losing_leg_is_not_the_answer(capture: CaptureContext) -> None:
    c = Scenario(1718200000.0, 30)
    c.on(0.2, "APP_START", appname="Dial", appdata="PJSIP/eps05-0501&PJSIP/eps05-0502,30")
    c.leg(0.25, "CHAN_START", "PJSIP/eps05-0501-00000031", "1718200000.31")
    c.leg(0.26, "CHAN_START", "PJSIP/eps05-0502-00000032", "1718200000.32")
    c.leg(9.5, "ANSWER", "PJSIP/eps05-0502-00000032", "1718200000.32", appname="AppDial")
    c.leg(9.51, "HANGUP", "PJSIP/eps05-0501-00000031", "1718200000.31",
          extra='{"hangupcause":26,"hangupsource":"","dialstatus":""}')
    c.leg(9.52, "CHAN_END", "PJSIP/eps05-0501-00000031", "1718200000.31")
    c.on(9.53, "ANSWER", appname="Dial")
    c.leg(9.54, "BRIDGE_ENTER", "PJSIP/eps05-0502-00000032", "1718200000.32", peer=c.trunk)
    b = one_call(c.hangup(40.0, '{"hangupcause":16,"dialstatus":"ANSWER"}'), capture)
    assert (b.answer, b.answered_by) == (1718200009.5, "PJSIP/eps05-0502")
    assert b.first_ring == 1718200000.25


def test_abandon_while_ringing(capture: CaptureContext) -> None:
    c = Scenario(1718300000.0, 40)
    c.on(0.3, "APP_START", appname="Queue", appdata="std-05", context="in-eps-05")
    c.leg(0.4, "CHAN_START", "PJSIP/eps05-0501-00000041", "1718300000.41")
    c.on(12.0, "HANGUP", extra='{"hangupcause":16,"hangupsource":"PJSIP/trunk","dialstatus":""}')
    c.on(12.001, "CHAN_END")
    c.leg(12.01, "HANGUP", "PJSIP/eps05-0501-00000041", "1718300000.41")
    c.leg(12.02, "CHAN_END", "PJSIP/eps05-0501-00000041", "1718300000.41")
    c.leg(12.03, "LINKEDID_END", "PJSIP/eps05-0501-00000041", "1718300000.41")
    b = one_call(c.lines, capture)
    assert (b.answer, b.answered_by, b.outcome) == (None, None, None)
    assert b.end == 1718300012.001
    call = capture.finalize(b)
    assert call.outcome is Outcome.ABANDONED and call.answer is None


@pytest.mark.parametrize(("context", "app", "outcome"), [
    ("msg-eps-05", "Playback", Outcome.MESSAGE),
    ("vm-eps-05", "VoiceMail", Outcome.VOICEMAIL),
])
def test_after_hours_message_and_voicemail(capture: CaptureContext, context: str, app: str,
                                           outcome: Outcome) -> None:
    evening = dt.datetime(2024, 6, 10, 20, 15, tzinfo=PARIS).timestamp()
    c = Scenario(evening, 50)
    c.on(0.1, "APP_START", appname=app, appdata="eps-ferme", context=context)
    c.on(0.12, "ANSWER", appname=app, appdata="eps-ferme", context=context)  # not a person
    b = one_call(c.hangup(28.5), capture)
    assert (b.answer, b.outcome) == (None, outcome)
    call = capture.finalize(b)
    assert (call.site, call.outcome, call.in_hours, call.answer) == ("eps-05", outcome, False, None)


def test_missing_linkedid_end_among_interleaved_calls(capture: CaptureContext) -> None:
    a = Scenario(1718400000.0, 60)
    a.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    a.leg(0.3, "CHAN_START", "PJSIP/eps05-0501-00000061", "1718400000.61")
    a.leg(7.0, "ANSWER", "PJSIP/eps05-0501-00000061", "1718400000.61")
    a.hangup(60.0)
    cut = Scenario(1718400002.0, 62)  # the file ends before this call does
    cut.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    cut.leg(0.3, "CHAN_START", "PJSIP/eps05-0502-00000063", "1718400002.63")
    lines = [a.lines[0], cut.lines[0], *a.lines[1:3], *cut.lines[1:], *a.lines[3:]]
    builders, rejects = parse(lines, capture)
    assert [(b.call_key, b.incomplete) for b in builders] == [("1718400000.60", False)]
    assert builders[0].answer == 1718400007.0
    # the cut call still rings: its outcome is unknown, so it is a reject, never an abandon
    assert [(r.line, r.call) for r in rejects] == [(2, True)]
    assert rejects[0].reason.startswith("still ringing or waiting when the records end (0 s")
    assert "PJSIP/eps05-0502-00000063" in rejects[0].raw


def test_an_open_call_whose_outcome_is_known_is_stored_incomplete(
        capture: CaptureContext) -> None:
    """Without its LINKEDID_END, a call answered by a person is an incomplete answered call,
    and a caller who hung up is an incomplete abandon: those outcomes are known."""
    answered = Scenario(1718400002.0, 62)
    answered.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    answered.leg(0.3, "CHAN_START", "PJSIP/eps05-0502-00000063", "1718400002.63")
    answered.leg(9.0, "ANSWER", "PJSIP/eps05-0502-00000063", "1718400002.63")
    gone = Scenario(1718400100.0, 70)
    gone.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    gone.hangup(31.0, end=False)  # the caller hung up; a member's phone still rings
    builders, rejects = parse([*answered.lines, *gone.lines], capture)
    assert rejects == []
    calls = [capture.finalize(b) for b in builders]
    assert [(c.incomplete, c.outcome, c.answer) for c in calls] == [
        (True, Outcome.ANSWERED, 1718400011.0), (True, Outcome.ABANDONED, None)]


def test_a_call_whose_start_is_not_in_the_file_is_rejected(capture: CaptureContext) -> None:
    """A file that begins mid-call (log rotation): no arrival, so the call cannot be timed."""
    builders, rejects = parse(REFERENCE_CALL[1:], capture)
    assert builders == []
    assert [r.line for r in rejects] == [1]
    assert rejects[0].reason.startswith(
        'no CHAN_START for the caller channel "PJSIP/trunk-ovh-0000012a": the call began before')
    assert rejects[0].raw.splitlines() == REFERENCE_CALL[1:]


def test_bad_rows_are_rejected_with_their_line_and_parsing_goes_on(capture: CaptureContext) -> None:
    short = '"CHAN_START","1718000000.1","","","","","","s","default","SIP/x-1","","","3","1.1"'
    bad_time = REFERENCE_CALL[2].replace('"1718000001.005870"', '"yesterday"')  # phone's start
    broken = '"HANGUP","1718000100.000000"x,"",""'
    # lines 3 to 6; the blank line is no record
    lines = [*REFERENCE_CALL[:2], short, bad_time, "", broken, *REFERENCE_CALL[3:]]
    builders, rejects = parse(lines, capture)
    assert [(r.line, r.raw) for r in rejects] == [(3, short), (4, bad_time), (6, broken)]
    assert rejects[0].reason.startswith("wrong column count: 14 columns, expected 20")
    assert "cel_custom.conf" in rejects[0].reason
    assert rejects[1].reason.startswith('bad eventtime "yesterday"')
    assert rejects[2].reason.startswith("malformed CSV")
    assert len(builders) == 1
    assert builders[0].answer == 1718000015.240101 and builders[0].first_ring is None


def test_calls_that_are_not_switchboard_calls(capture: CaptureContext) -> None:
    phone, uid = "PJSIP/eps05-0501-00000070", "1718500000.70"  # one phone calls another
    internal = [row(event, 1718500000.0 + i, phone, uid, uid, exten="0502", context="from-internal")
                for i, event in enumerate(("CHAN_START", "HANGUP", "CHAN_END", "LINKEDID_END"))]
    unknown = Scenario(1718500100.0, 71, did="0188888888")  # inbound, but no site has this DID
    builders, rejects = parse(internal + unknown.hangup(10.0), capture)
    assert rejects == []
    assert [b.call_key for b in builders] == ["1718500100.71"]
    with pytest.raises(RecordError, match=r'unknown site: .* dialed number "0188888888"'):
        capture.finalize(builders[0])
    skipped = [i for i in parse_cel(enumerate(internal, start=1), capture) if isinstance(i, Skipped)]
    assert skipped == [Skipped(1, "internal call between staff phones")]  # one per call, not per row


def test_test_calls_are_flagged_by_account_code(capture: CaptureContext) -> None:
    assert one_call(Scenario(1718600000.0, 80, accountcode="mystery").hangup(5.0), capture).is_test
    assert not one_call(Scenario(1718600000.0, 81, accountcode="eps").hangup(5.0), capture).is_test


def test_asterisk_11_bridge_start_names_the_phone_as_peer(capture: CaptureContext) -> None:
    """Asterisk ≤ 11 writes BRIDGE_START/BRIDGE_END on the caller's channel, the phone as peer."""
    c = Scenario(1718700000.0, 90)
    c.leg(0.5, "CHAN_START", "PJSIP/eps05-0503-00000091", "1718700000.91")
    c.on(11.25, "BRIDGE_START", appname="Dial", peer="PJSIP/eps05-0503-00000091")
    c.on(30.0, "BRIDGE_END", appname="Dial", peer="PJSIP/eps05-0503-00000091")
    b = one_call(c.hangup(30.1, "16,,ANSWER"), capture)
    assert (b.answer, b.answered_by) == (1718700011.25, "PJSIP/eps05-0503")


@pytest.mark.parametrize("extra", ['{"hangupcause":17,"hangupsource":"","dialstatus":"BUSY"}',
                                   "17,,BUSY"])
def test_busy_from_the_callers_dialstatus(capture: CaptureContext, extra: str) -> None:
    c = Scenario(1718800000.0, 95)
    c.leg(0.5, "CHAN_START", "PJSIP/eps05-0501-00000096", "1718800000.96")
    c.leg(0.6, "HANGUP", "PJSIP/eps05-0501-00000096", "1718800000.96")
    b = one_call(c.hangup(0.7, extra), capture)
    assert b.outcome is Outcome.BUSY and capture.finalize(b).outcome is Outcome.BUSY


@pytest.mark.parametrize(("cause", "outcome"), [(17, Outcome.BUSY), (34, Outcome.CONGESTION),
                                               (16, Outcome.SHORT_ABANDON)])
def test_busy_or_congestion_from_the_cause_when_no_dial_ran(
    capture: CaptureContext, cause: int, outcome: Outcome
) -> None:
    """Busy() / Congestion() in the dialplan leave no DIALSTATUS: the Q.850 cause tells."""
    c = Scenario(1718800000.0, 97)
    b = one_call(c.hangup(0.7, f'{{"hangupcause":{cause},"hangupsource":"","dialstatus":""}}'),
                 capture)
    assert capture.finalize(b).outcome is outcome


def test_dialstatus_of_both_extra_formats() -> None:
    assert dialstatus('{"hangupcause":16,"hangupsource":"x","dialstatus":"ANSWER"}') == "ANSWER"
    assert dialstatus("16,dialplan/builtin,CHANUNAVAIL") == "CHANUNAVAIL"
    assert dialstatus("") == dialstatus("{not json") == dialstatus("16,,") == ""


def test_local_time_eventtimes(capture: CaptureContext) -> None:
    """cel.conf `dateformat` set: local times, read in the PBX's zone (Europe/Paris)."""
    lines = [line.replace('"1718000000.120388"', '"2024-06-10 08:13:20.120388"')
                 .replace('"1718000015.240101"', '"2024-06-10 08:13:35"') for line in REFERENCE_CALL]
    b = one_call(lines, capture)
    assert b.arrival == 1718000000.120388
    assert b.answer == 1718000015.0
    assert b.resolution == 1.0  # whole-second times in the call


def test_local_time_repeated_at_the_october_change_uses_the_uniqueid() -> None:
    """02:30 happens twice on 2026-10-25 in Paris; the uniqueid's epoch tells which one."""
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=0).timestamp()
    second = dt.datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1).timestamp()
    assert second - first == 3600
    lines = [(1, row("CHAN_START", 0, TRUNK, f"{int(first) - 1}.5", "x.5")),
             (2, row("CHAN_START", 0, TRUNK, f"{int(second) - 1}.6", "x.6"))]
    lines = [(n, text.replace('"0.000000"', '"2026-10-25 02:30:00.250000"')) for n, text in lines]
    records = list(read_cel_csv(lines, PARIS))
    assert [r.eventtime for r in records] == [first + 0.25, second + 0.25]


@st.composite
def cel_records(draw: st.DrawFn) -> CelRecord:
    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                   max_size=30)
    seconds = draw(st.integers(0, 4_000_000_000))
    micros = draw(st.integers(0, 999_999))
    names = [f for f in CelRecord.__dataclass_fields__ if f not in
             ("eventtime", "resolution", "line", "raw")]
    values = {name: draw(text) for name in names}
    return CelRecord(eventtime=float(f"{seconds}.{micros:06d}"), **values)


@given(cel_records())
def test_csv_round_trip(record: CelRecord) -> None:
    fields = {c: "" for c in COLUMNS} | {"amaflags": "3"}
    fields |= {name: getattr(record, name) for name in fields if hasattr(record, name)}
    fields["eventtime"] = f"{record.eventtime:.6f}"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(fields[c] for c in COLUMNS)
    (parsed,) = read_cel_csv([(7, out.getvalue())], PARIS)
    assert parsed == record
    assert isinstance(parsed, CelRecord) and parsed.line == 7


def test_cel_to_calls_passes_rejects_through(capture: CaptureContext) -> None:
    reject = Reject(4, "bad", "raw")
    assert list(cel_to_calls([reject], capture)) == [reject]


def test_batch_import_is_idempotent_and_keeps_rejects(store: Store, capture: CaptureContext,
                                                      tmp_path: Path) -> None:
    abandon = Scenario(1718300000.0, 40)
    abandon.leg(0.4, "CHAN_START", "PJSIP/eps05-0501-00000041", "1718300000.41")
    lines = [*REFERENCE_CALL[:3], '"CHAN_START","not a time"', *REFERENCE_CALL[3:],
             *abandon.hangup(12.0), '"only","three","columns"']
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = run_batch(store, "cel", path, parse_cel, capture)
    assert (first.calls_seen, first.counts.imported, first.rejected) == (2, 2, 2)
    with store.engine.connect() as conn:
        stored = {r.call_key: r for r in conn.execute(sa.select(calls))}
        rejected = conn.execute(sa.select(rejected_records.c.line, rejected_records.c.reason)
                                .order_by(rejected_records.c.line)).all()
    assert stored["1718000000.311"].outcome == "answered"
    assert abs(stored["1718000000.311"].time_to_answer - 15.119713) < 5e-7
    assert stored["1718300000.40"].outcome == "abandoned"
    assert [(line, reason.split(":")[0]) for line, reason in rejected] == [
        (4, "wrong column count"), (len(lines), "wrong column count")]
    again = run_batch(store, "cel", path, parse_cel, capture)
    assert again.skipped_as == first.batch_id
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # new checksum, same calls
    copy = run_batch(store, "cel", path, parse_cel, capture)
    assert (copy.counts.imported, copy.counts.duplicates) == (0, 2)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(calls)).scalar() == 2


@pytest.mark.parametrize("importer", [[], ["--reference"]])
def test_cli_says_which_rejects_are_calls_still_in_progress(tmp_path: Path,
                                                            importer: list[str]) -> None:
    from click.testing import CliRunner

    from qualiphone.cli import cli

    cut = Scenario(1718400002.0, 62)
    cut.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    path = tmp_path / "cel.csv"
    path.write_text("".join(f"{line}\n" for line in [*REFERENCE_CALL, *cut.lines]),
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "cel",
                                      *importer, str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1, merged 0, duplicates 0, rejected 1" in result.output
    assert ("  1 of the rejects is a call whose end is not in the file yet (still ringing or "
            "waiting, or a row still being written): not counted yet, never as abandons"
            ) in result.output


@pytest.mark.parametrize(("extra", "outcome"), [
    ('{"hangupcause":16,"hangupsource":"dialplan/builtin","dialstatus":"NOANSWER"}',
     Outcome.NO_ANSWER),  # the ring time ran out, then the dialplan hung up
    ('{"hangupcause":16,"hangupsource":"PJSIP/trunk-0001","dialstatus":"NOANSWER"}', None),
    ('{"hangupcause":16,"hangupsource":"","dialstatus":"NOANSWER"}', None),  # who: unknown
    ('{"hangupcause":34,"hangupsource":"dialplan/builtin","dialstatus":""}',
     Outcome.CONGESTION),  # Congestion() hangs up from the dialplan with its cause
    ('{"hangupcause":17,"hangupsource":"dialplan/builtin","dialstatus":"BUSY"}', Outcome.BUSY),
    ('{"hangupcause":16,"hangupsource":"dialplan/builtin","dialstatus":""}', Outcome.NO_ANSWER),
    ("16,dialplan/builtin,", Outcome.NO_ANSWER),  # Asterisk 11: cause,source,dialstatus
    ("16,PJSIP/trunk-0001,NOANSWER", None),
    ('{"hangupsource": [', None),  # not JSON
])
def test_what_the_callers_hangup_says(extra: str, outcome: Outcome | None) -> None:
    from ingest.cel import hangup_outcome

    assert hangup_outcome(extra) is outcome
