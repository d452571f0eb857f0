"""parse_cdr on hand-written Master.csv rows: layouts, call shapes, DST, rejects, import, CLI.

Rows are rendered the way cdr_csv writes them (quoted strings, bare integers, a bare empty
answer) by csv.writer; `leg()` gives one row with times in seconds after 10:00:00 local.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import SHIPPED_DIR
from ingest.batch import MAX_SKIP_REASONS, SkipCount, run_batch
from ingest.cdr import CdrStats, parse_cdr
from ingest.cdr_layout import FIELDS, LAYOUTS, READ, LayoutChooser, RowSplitter, uniqueid_epoch
from ingest.finalize import CaptureContext
from ingest.records import RecordError, Reject, Skipped
from monitor.call import CallBuilder, Outcome
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from qualiphone.cli import cli

UTC = dt.UTC
BASE = dt.datetime(2026, 10, 5, 10, 0, 0)  # a Monday, 10:00 in Paris (CEST) = 08:00Z
T0 = dt.datetime(2026, 10, 5, 8, tzinfo=UTC).timestamp()
UID = f"{int(T0)}.311"
TRUNK = "PJSIP/trunk-ovh-0000012a"
A1, A2, A3 = "PJSIP/eps05-0501-0000012b", "PJSIP/eps05-0502-0000012c", "PJSIP/eps05-0503-0000012d"


class _Bare:
    """A value csv.writer (QUOTE_NONNUMERIC) writes unquoted: Asterisk's empty answer."""

    def __float__(self) -> float:
        return 0.0

    def __str__(self) -> str:
        return ""


NOT_ANSWERED = _Bare()
Row = dict[str, object]


def _time(value: int | str, base: dt.datetime) -> str:
    if isinstance(value, str):
        return value
    return (base + dt.timedelta(seconds=value)).strftime("%Y-%m-%d %H:%M:%S")


def leg(dstchannel: str = "", *, start: int | str = 0, answer: int | str | None = None,
        end: int | str = 30, channel: str = TRUNK, uid: str = UID, linkedid: str | None = None,
        seq: int = 0, base: dt.datetime = BASE, **fields: object) -> Row:
    """One cdr_csv row (all 21 fields); int times are seconds after `base`."""
    timed = isinstance(start, int) and isinstance(end, int)
    row: Row = {
        "accountcode": "", "src": "0612345678", "dst": "0199000105", "dcontext": "in-eps-05",
        "clid": '"DUPONT M" <0612345678>', "channel": channel, "dstchannel": dstchannel,
        "lastapp": "Dial" if dstchannel else "Hangup", "lastdata": "", "start": _time(start, base),
        "answer": None if answer is None else _time(answer, base), "end": _time(end, base),
        "duration": end - start if timed else 0,  # type: ignore[operator]
        "billsec": (end - answer if answer is not None else 0) if timed else 0,  # type: ignore[operator]
        "disposition": "NO ANSWER" if answer is None else "ANSWERED",
        "amaflags": "DOCUMENTATION", "uniqueid": uid, "userfield": "", "peeraccount": "",
        "linkedid": uid if linkedid is None else linkedid, "sequence": seq,
    }
    row.update(fields)
    return row


def render(row: Row, layout: str = "21") -> str:
    values = [NOT_ANSWERED if row[c] is None else row[c] for c in LAYOUTS[layout].columns]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="").writerow(values)
    return out.getvalue()


def numbered(rows: Sequence[Row | str], layout: str = "21") -> list[tuple[int, str]]:
    return [(i, r if isinstance(r, str) else render(r, layout)) for i, r in enumerate(rows, 1)]


def parse(ctx: CaptureContext, rows: Sequence[Row | str], written: str = "21", **options: object
          ) -> tuple[list[CallBuilder], list[Reject], CdrStats]:
    """Parse rows rendered in the `written` layout; options go to parse_cdr."""
    stats = CdrStats()
    items = list(parse_cdr(numbered(rows, written), ctx, stats=stats, **options))  # type: ignore[arg-type]
    return ([i for i in items if isinstance(i, CallBuilder)],
            [i for i in items if isinstance(i, Reject)], stats)


def one(ctx: CaptureContext, rows: Sequence[Row | str], written: str = "21", **options: object
        ) -> CallBuilder:
    builders, rejects, _ = parse(ctx, rows, written, **options)
    assert not rejects
    assert len(builders) == 1
    return builders[0]


def ring_group() -> list[Row]:
    """Dial(eps05-0501&0502&0503): 0502 answers after 12 s, the others are cancelled."""
    return [
        leg(A1, end=12, seq=41, lastapp="Queue", lastdata="std-05,r,,,60"),
        leg(A2, answer=12, end=150, seq=42, lastapp="Queue", lastdata="std-05,r,,,60"),
        leg(A3, end=12, seq=43, lastapp="Queue", lastdata="std-05,r,,,60"),
    ]


def local_group(member: str = "stagger", answer_at: int = 18) -> list[Row]:
    """Caller -> Local/0501;1 and Local/0502;1; 0502's ;2 half starts 10 s later, answers."""
    l1, l2 = f"Local/0501@{member}-00000001", f"Local/0502@{member}-00000002"
    return [
        leg(f"{l1};1", end=answer_at, seq=1),
        leg(f"{l2};1", answer=answer_at, end=100, seq=2),
        leg(A1, channel=f"{l1};2", end=answer_at, uid=f"{int(T0)}.312", linkedid=UID, seq=3,
            dst="0501", dcontext=member),
        leg(A2, channel=f"{l2};2", start=10, answer=answer_at, end=100, uid=f"{int(T0) + 10}.314",
            linkedid=UID, seq=4, dst="0502", dcontext=member),
    ]


# --- layouts -------------------------------------------------------------------------------

KEYS = {  # layout -> the call key it can give
    "16": f"{TRUNK}@{int(T0)}", "17-userfield": f"{TRUNK}@{int(T0)}", "19": UID,
    "20-userfield": UID, "17-uniqueid": UID, "18": UID, "20-uniqueid": UID, "21": UID,
    "19-custom": UID,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("option", ["auto", "explicit"])
def test_every_layout_reads_the_same_ring_group(capture: CaptureContext, layout: str,
                                                option: str) -> None:
    requested = "auto" if option == "auto" else ("20" if layout.startswith("20") else layout)
    builders, rejects, stats = parse(capture, ring_group(), layout, layout=requested)
    assert not rejects and len(builders) == 1
    b = builders[0]
    assert stats.layouts == {LAYOUTS[layout].width: layout}
    assert b.call_key == KEYS[layout]
    assert (b.arrival, b.answer, b.end) == (T0, T0 + 12, T0 + 150)
    assert (b.answered_by, b.queue, b.dialed, b.context) == (
        "PJSIP/eps05-0502", "std-05", "0199000105", "in-eps-05")
    assert b.linkedid == (UID if "linkedid" in LAYOUTS[layout].columns else None)
    assert len(b.raw) == 3 and b.line == 1 and b.resolution == 1.0 and not b.incomplete


def test_auto_mode_takes_17_columns_as_uniqueid_from_the_values(capture: CaptureContext) -> None:
    rows = [leg(A2, answer=5, uid="pbx05-1791187200.12"), leg(A2, answer=5, uid="1791187300.13")]
    _, _, stats = parse(capture, rows, "17-uniqueid")
    assert stats.layouts == {17: "17-uniqueid"}
    rows = [leg(A2, answer=5, userfield="VIP"), leg(A2, answer=5, userfield="")]
    _, _, stats = parse(capture, rows, "17-userfield")
    assert stats.layouts == {17: "17-userfield"}
    assert uniqueid_epoch("pbx05-1791187200.12") == 1791187200.0
    assert uniqueid_epoch("probe-7f3c2a") is None


def test_a_file_that_changed_layout_midway_is_read_in_auto_mode(capture: CaptureContext) -> None:
    later = [leg(A2, answer=5, end=60, uid="1791190800.5", base=BASE + dt.timedelta(hours=1))]
    lines = [*numbered(ring_group(), "18"), (4, render(later[0], "21"))]
    stats = CdrStats()
    items = list(parse_cdr(lines, capture, stats=stats))
    assert len(items) == 2 and stats.layouts == {18: "18", 21: "21"}


def test_explicit_layout_rejects_other_column_counts(capture: CaptureContext) -> None:
    builders, rejects, _ = parse(capture, ring_group(), "18", layout="21")
    assert not builders
    reason = ('wrong column count: 18 columns, expected 21 for layout "21"; '
              "check cdr.conf or pass --layout")
    assert [(r.line, r.reason) for r in rejects] == [(1, reason), (2, reason), (3, reason)]
    with pytest.raises(ValueError, match='unknown CDR layout "22"'):
        LayoutChooser("22")


# --- call shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["21", "18", "16"])
def test_staggered_local_group_answer_comes_from_the_local2_leg(capture: CaptureContext,
                                                                layout: str) -> None:
    b = one(capture, local_group(), layout)
    assert b.answer == T0 + 18 and b.answered_by == "PJSIP/eps05-0502"
    assert b.arrival == T0 and b.end == T0 + 100 and len(b.raw) == 4


def test_queue_with_local_members_names_the_real_device(capture: CaptureContext) -> None:
    rows = [dict(r, lastapp="Queue", lastdata="std-05,r,,,60") if r["channel"] == TRUNK else r
            for r in local_group(member="eps05-agents", answer_at=14)]
    b = one(capture, rows)
    assert (b.queue, b.answer, b.answered_by) == ("std-05", T0 + 14, "PJSIP/eps05-0502")


def test_welcome_message_before_the_queue_is_not_the_answer(capture: CaptureContext) -> None:
    """The caller leg is Up at once (announcement): every caller row has answer == start."""
    rows = local_group(member="eps05-agents", answer_at=15)
    rows[0].update(answer=rows[0]["start"], disposition="NO ANSWER", billsec=15)
    rows[1].update(answer=rows[1]["start"], billsec=100)
    b = one(capture, rows)
    assert (b.arrival, b.answer) == (T0, T0 + 15)  # time to answer 15 s, not 0
    assert not b.incomplete


def test_welcome_message_with_direct_devices_is_estimated_and_flagged(
        capture: CaptureContext) -> None:
    """Only the cancelled legs' end tells when 0502 answered; queue_log/CEL must confirm."""
    rows = ring_group()
    for r in rows:
        r.update(answer=r["start"], billsec=r["duration"])
    b = one(capture, rows)
    assert b.answer == T0 + 12 and b.answered_by == "PJSIP/eps05-0502"
    assert b.incomplete


def test_a_quick_answer_is_a_person_when_the_other_legs_were_never_up(
        capture: CaptureContext) -> None:
    """0502 answers 1 s after the dial began; the cancelled legs carry no answer time."""
    rows = [leg(A1, end=1, seq=1), leg(A2, answer=1, end=90, seq=2), leg(A3, end=1, seq=3)]
    b = one(capture, rows)
    assert (b.answer, b.answered_by, b.incomplete) == (T0 + 1, "PJSIP/eps05-0502", False)


def test_announcement_alone_is_not_a_person(capture: CaptureContext) -> None:
    b = one(capture, [leg(answer=0, end=40, lastapp="Playback", lastdata="bienvenue")])
    assert b.answer is None and b.outcome is None
    assert capture.finalize(b).outcome is Outcome.ABANDONED


def test_transfer_keeps_the_first_human_answer(capture: CaptureContext) -> None:
    rows = [leg(A1, answer=8, end=60, seq=1), leg(A2, start=60, answer=60, end=200, seq=5)]
    b = one(capture, rows)
    assert (b.answer, b.answered_by, b.end) == (T0 + 8, "PJSIP/eps05-0501", T0 + 200)


@pytest.mark.parametrize(("end", "outcome"), [(30, Outcome.ABANDONED), (3, Outcome.SHORT_ABANDON)])
def test_abandon(capture: CaptureContext, end: int, outcome: Outcome) -> None:
    b = one(capture, [leg(A1, end=end), leg(A2, end=end, seq=1)])
    assert b.answer is None and b.outcome is None and b.end == T0 + end
    assert capture.finalize(b).outcome is outcome


RANG = f"{A1}&{A2},30"  # Dial(…,30): ring the group for 30 s


@pytest.mark.parametrize(("rows", "outcome"), [
    # the Dial rang its whole 30 s, then the dialplan ended: the PBX ended the call
    ([leg(A1, end=30, lastdata=RANG), leg(A2, end=30, seq=1, lastdata=RANG)], Outcome.NO_ANSWER),
    # within a second of it: CDR times are truncated to the second
    ([leg(A1, end=29, lastdata=RANG), leg(A2, end=29, seq=1, lastdata=RANG)], Outcome.NO_ANSWER),
    # the caller hung up after 20 s of the 30: an abandon
    ([leg(A1, end=20, lastdata=RANG), leg(A2, end=20, seq=1, lastdata=RANG)], Outcome.ABANDONED),
    # rang out, then the dialplan's Hangup() (a row of its own): the PBX ended the call
    ([leg(A1, end=30, lastdata=RANG), leg(start=30, answer=30, end=30, seq=2)],
     Outcome.NO_ANSWER),
    # rang out, then the site's voicemail: voicemail
    ([leg(A1, end=30, lastdata=RANG), leg(start=30, answer=31, end=60, seq=2,
                                          lastapp="VoiceMail", dcontext="vm-eps-05")],
     Outcome.VOICEMAIL),
    # a device the directory does not know answered, then Hangup(): to classify, never no-answer
    ([leg("PJSIP/hall-00000007", answer=9, end=40, lastdata="PJSIP/hall,30"),
      leg(start=40, answer=40, end=40, seq=2)], Outcome.UNKNOWN_DEVICE),
    # no time-out in the Dial: who hung up is not written, an abandon as before
    ([leg(A1, end=30, lastdata=f"{A1}&{A2}"), leg(A2, end=30, seq=1)], Outcome.ABANDONED),
    # a time-out that is no ASCII number ("²", Arabic-Indic "٣٠"): none
    ([leg(A1, end=30, lastdata=f"{A1},²")], Outcome.ABANDONED),
    ([leg(A1, end=30, lastdata=f"{A1},٣٠")], Outcome.ABANDONED),
], ids=["rang out", "rang out, truncated", "hung up", "hangup row", "voicemail",
        "unknown device", "no time-out", "superscript", "other digits"])
def test_a_call_the_pbx_ended_is_no_abandon(capture: CaptureContext, rows: list[Row],
                                            outcome: Outcome) -> None:
    """`pbx_ended`: nobody answered and the PBX, not the caller, ended the call (a Dial that
    rang its whole time-out, or the dialplan's Hangup())."""
    b = one(capture, rows)
    assert b.answer is None and capture.finalize(b).outcome is outcome


def test_end_is_read_from_duration_at_the_short_abandon_threshold(
        capture: CaptureContext) -> None:
    """10:00:00.6 -> 10:00:05.4 is written 10:00:00, 10:00:05 and duration 4 (4.8 s)."""
    b = one(capture, [leg(A1, end=5, duration=4)])
    assert b.end == T0 + 4 and capture.finalize(b).outcome is Outcome.SHORT_ABANDON
    assert one(capture, [leg(A1, end=5)]).end == T0 + 5  # duration 5: 5 s or more


@pytest.mark.parametrize("disposition", ["BUSY", "FAILED", "CONGESTION"])
def test_busy_failed_congestion(capture: CaptureContext, disposition: str) -> None:
    b = one(capture, [leg(A1, end=0, disposition=disposition)])
    assert b.outcome is Outcome(disposition.lower())
    assert capture.finalize(b).outcome is Outcome(disposition.lower())


@pytest.mark.parametrize("lastapp", ["Playback", "Hangup"])
def test_after_hours_message(capture: CaptureContext, lastapp: str) -> None:
    row = leg(answer=0, end=28, dcontext="msg-eps-05", lastapp=lastapp, lastdata="ferme")
    b = one(capture, [row])
    assert b.outcome is Outcome.MESSAGE and b.answer is None
    assert capture.finalize(b).site == "eps-05"


@pytest.mark.parametrize("fields", [
    {"dcontext": "vm-eps-05", "lastapp": "Hangup"},  # the site's voicemail context
    {"lastapp": "VoiceMail", "lastdata": "0105@eps,u"},  # VoiceMail() anywhere
])
def test_voicemail(capture: CaptureContext, fields: dict[str, str]) -> None:
    row = leg(answer=20, end=60, seq=1) | fields
    assert one(capture, [leg(A1, end=20), row]).outcome is Outcome.VOICEMAIL


def test_asterisk_11_voicemail_after_the_phone_rang_is_not_a_person(
        capture: CaptureContext) -> None:
    """One CDR per call: dstchannel keeps the phone that rang, VoiceMail answered."""
    row = leg(A1, answer=20, end=60, lastapp="VoiceMail", lastdata="0105@eps,u")
    b = one(capture, [row], "18")
    assert b.answer is None and b.outcome is Outcome.VOICEMAIL


def test_test_account_code(capture: CaptureContext) -> None:
    b = one(capture, [dict(r, accountcode="qualiphone-test") for r in ring_group()])
    assert b.is_test and capture.finalize(b).is_test
    assert not one(capture, ring_group()).is_test


def _summary(builders: list[CallBuilder]) -> list[tuple[object, ...]]:
    return sorted((b.call_key, b.arrival, b.answer, b.answered_by, b.outcome, b.end, b.queue,
                   sorted(b.raw)) for b in builders)


def _four_calls() -> list[Row]:
    second = BASE + dt.timedelta(minutes=5)
    ids = [f"{int(T0) + 300 + i}.{i}" for i in range(3)]
    other = "PJSIP/trunk-ovh-00000100"
    return [
        *ring_group(),
        *[dict(r, uniqueid=ids[0], linkedid=ids[0], channel=other) if r["channel"] == TRUNK
          else dict(r, uniqueid=f"{int(T0) + 300}.{10 + i}", linkedid=ids[0])
          for i, r in enumerate(local_group())],
        leg(A1, answer=8, end=60, uid=ids[1], base=second, channel="PJSIP/trunk-ovh-00000200"),
        leg(A2, start=60, answer=60, end=90, uid=ids[1], base=second, seq=1,
            channel="PJSIP/trunk-ovh-00000200"),
        leg(A3, end=40, uid=ids[2], base=second, channel="PJSIP/trunk-ovh-00000300"),
    ]


@pytest.mark.parametrize("layout", ["21", "18"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(_four_calls()))))
def test_rows_out_of_order_give_the_same_calls(capture: CaptureContext, layout: str,
                                               order: list[int]) -> None:
    rows = _four_calls()
    expected = _summary(parse(capture, rows, layout)[0])
    assert len(expected) == 4
    assert _summary(parse(capture, [rows[i] for i in order], layout)[0]) == expected


def test_channel_name_reused_without_ids_gives_two_calls(capture: CaptureContext) -> None:
    later = BASE + dt.timedelta(hours=2)
    builders, _, _ = parse(capture, [leg(A1, answer=6, end=60), leg(A2, answer=9, base=later)], "16")
    assert [b.call_key for b in builders] == [f"{TRUNK}@{int(T0)}", f"{TRUNK}@{int(T0) + 7200}"]


# --- times ---------------------------------------------------------------------------------

def _utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("creation", "arrival"), [
    (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 0, 30)),  # first 02:30 (CEST)
    (_utc(2026, 10, 25, 1, 30), _utc(2026, 10, 25, 1, 30)),  # second 02:30 (CET)
])
def test_ambiguous_time_on_2026_10_25_is_resolved_with_the_uniqueid(
        capture: CaptureContext, creation: float, arrival: float) -> None:
    uid = f"{int(creation)}.7"
    row = leg(A1, start="2026-10-25 02:30:00", answer="2026-10-25 02:30:12",
              end="2026-10-25 02:31:00", uid=uid, duration=60, billsec=48)
    for layout in ("21", "18"):
        b = one(capture, [row], layout)
        assert (b.arrival, b.answer, b.end) == (arrival, arrival + 12, arrival + 60)
    # Without a uniqueid the first occurrence is taken (monitor.timeutil's rule).
    assert one(capture, [row], "16").arrival == _utc(2026, 10, 25, 0, 30)


def test_call_across_the_october_change_keeps_its_real_duration(capture: CaptureContext) -> None:
    """02:59:50 summer time, answered at 02:00:05 winter time: 15 s later."""
    row = leg(A1, start="2026-10-25 02:59:50", answer="2026-10-25 02:00:05",
              end="2026-10-25 02:01:00", uid=f"{int(_utc(2026, 10, 25, 0, 59, 50))}.2")
    b = one(capture, [row])
    assert b.arrival == _utc(2026, 10, 25, 0, 59, 50)
    assert b.answer is not None and b.answer - b.arrival == 15


def test_times_on_2026_03_29(capture: CaptureContext) -> None:
    """01:59:50 winter time, answered at 03:00:05 summer time: 15 s later. A hand-made 02:30
    (a time that did not exist) is read with the offset in force before the change."""
    row = leg(A1, start="2026-03-29 01:59:50", answer="2026-03-29 03:00:05",
              end="2026-03-29 03:01:00", uid=f"{int(_utc(2026, 3, 29, 0, 59, 50))}.2")
    b = one(capture, [row])
    assert b.arrival == _utc(2026, 3, 29, 0, 59, 50)
    assert b.answer is not None and b.answer - b.arrival == 15
    missing = leg(A1, start="2026-03-29 02:30:00", end="2026-03-29 03:31:00",
                  uid=f"{int(_utc(2026, 3, 29, 1, 30))}.3")
    assert one(capture, [missing]).arrival == _utc(2026, 3, 29, 1, 30)


def test_usegmtime_reads_utc(capture: CaptureContext) -> None:
    b = one(capture, ring_group(), usegmtime=True)
    assert b.arrival == _utc(2026, 10, 5, 10) and b.answer == _utc(2026, 10, 5, 10, 0, 12)


# --- rejects -------------------------------------------------------------------------------

def _with(field: str, value: object) -> Row:
    """The ring group's answered leg with one field replaced as written in the file."""
    return leg(A2, answer=12, end=150, seq=42) | {field: value}


BAD_ROWS = [
    (",".join(render(leg(A2)).split(",")[:14]), "wrong column count: 14 columns, expected 16"),
    ('"","0612345678","0199000105","in-eps-05","""DUP', "bad quoting: "),
    (_with("start", "2026-13-05 10:00:00"),
     'bad start time "2026-13-05 10:00:00": expected YYYY-MM-DD HH:MM:SS'),
    (_with("end", "05/10/2026 10:02"), 'bad end time "05/10/2026 10:02": expected'),
    (_with("answer", "2026-10-05 09:59:00"),
     'answer before start: start "2026-10-05 10:00:00", answer "2026-10-05 09:59:00"'),
    (_with("end", "2026-10-05 09:00:00") | {"answer": None},
     'end before start: start "2026-10-05 10:00:00", end "2026-10-05 09:00:00"'),
    (_with("duration", -5), 'negative duration "-5"'),
    (_with("billsec", "1.5"), 'billsec "1.5" is not a whole number of seconds'),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_a_bad_row_rejects_itself_and_marks_its_call_incomplete(
        capture: CaptureContext, bad: Row | str, reason: str) -> None:
    rows: list[Row | str] = [*ring_group()]
    rows[1] = bad  # the answered leg
    builders, rejects, stats = parse(capture, rows)
    assert [(r.line, r.raw) for r in rejects] == [(2, bad if isinstance(bad, str) else render(bad))]
    assert rejects[0].reason.startswith(reason)
    assert len(builders) == 1 and builders[0].answer is None and len(builders[0].raw) == 2
    assert builders[0].incomplete is not isinstance(bad, str)  # unsplittable rows name no call
    assert (stats.rejected_rows, stats.call_rows) == (1, 2)


def test_wrong_column_count_says_what_was_expected(capture: CaptureContext) -> None:
    _, rejects, _ = parse(capture, ['"a","b",3'])
    assert rejects[0].reason == ("wrong column count: 3 columns, expected 16 to 21; "
                                 "check cdr.conf or pass --layout")


def test_a_call_whose_caller_row_was_rejected_is_rejected(capture: CaptureContext) -> None:
    rows: list[Row | str] = [*local_group()]
    rows[0] = leg("Local/0501@stagger-00000001;1", start="yesterday")
    rows[1] = leg("Local/0502@stagger-00000002;1", end=-1)
    builders, rejects, stats = parse(capture, rows)
    assert not builders
    assert [r.line for r in rejects] == [1, 2, 3]
    assert rejects[2].reason == ("no caller row left for this call: the caller's row on line 1 "
                                 "was rejected; fix that line and import the file again")
    assert rejects[2].raw.splitlines() == [text for _, text in numbered(rows)[2:]]
    assert (stats.rejected_rows, stats.rejected_calls, stats.rejected_call_rows) == (2, 1, 2)


def test_blank_lines_are_counted_not_rejected(capture: CaptureContext) -> None:
    builders, rejects, stats = parse(capture, [*ring_group(), "", "  "])
    assert len(builders) == 1 and not rejects and stats.blank == 2 and stats.lines == 5


# --- what is a switchboard call ------------------------------------------------------------

def test_non_switchboard_calls_are_skipped_and_unknown_dids_kept(capture: CaptureContext) -> None:
    internal = leg(A2, channel=A1, answer=3, uid="1791187400.1", dst="0502",
                   dcontext="from-internal")
    outbound = leg("PJSIP/trunk-ovh-00000400", channel=A1, answer=9, uid="1791187500.2",
                   dst="0612345678", dcontext="from-internal")
    extension = leg(channel="PJSIP/hall-0000000a", uid="1791187600.3", dst="700",
                    dcontext="from-internal")
    originated = leg("PJSIP/trunk-ovh-00000500", channel="Local/probe@out-00000001;1",
                     uid="1791187700.4", dst="0199000105")
    unknown = leg(channel="PJSIP/trunk-ovh-00000600", uid="1791187800.5", dst="0199009999",
                  dcontext="from-trunk")
    builders, _, stats = parse(capture, [internal, outbound, extension, originated, unknown])
    assert [b.line for b in builders] == [5]
    assert stats.skipped_lines == [1, 2, 3, 4]
    with pytest.raises(RecordError, match=r'unknown site: .* dialed number "0199009999"'):
        capture.finalize(builders[0])
    rows = numbered([internal, outbound, extension, originated, unknown])
    skipped = [i for i in parse_cdr(rows, capture) if isinstance(i, Skipped)]
    assert [(s.line, s.reason) for s in skipped] == [
        (1, "internal call between staff phones"),
        (2, "outbound call"),
        (3, 'dialed "700" / context "from-internal" of no configured site'),
        (4, "call originated by the PBX (Local channel)"),
    ]


# --- row layer: hypothesis round trip ------------------------------------------------------

_TEXT = st.text(st.sampled_from('",; é€') | st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
                max_size=12)
_DATE = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2037, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
_INT = st.integers(min_value=0, max_value=10**7)
_ROW = st.fixed_dictionaries({
    name: (_DATE if name in ("start", "end") else st.none() | _DATE if name == "answer"
           else _INT if name in ("duration", "billsec", "sequence") else _TEXT)
    for name in FIELDS
})


@given(row=_ROW, layout=st.sampled_from(list(LAYOUTS)))
def test_rendered_rows_split_back_field_by_field(row: Row, layout: str) -> None:
    lay = LAYOUTS[layout]
    text = render(row, layout)
    fields = RowSplitter().split(text)
    expected = {name: "" if row[name] is None else str(row[name]) for name in FIELDS}
    assert fields == [expected[c] for c in lay.columns]
    assert lay.read(fields) == tuple(expected[f] if f in lay.columns else "" for f in READ)


def test_a_cut_line_is_an_error_of_its_own() -> None:
    """The splitter never reads on into the next line to close an open quote."""
    splitter = RowSplitter()
    with pytest.raises(csv.Error):
        splitter.split('"a","b,c')
    assert splitter.split('"x","y"""') == ["x", 'y"']


# --- batch import and CLI ------------------------------------------------------------------

def _master_csv(path: Path) -> Path:
    """Four calls (one with a bad leg) and three corrupt lines."""
    rows: list[Row | str] = [*_four_calls()]
    transfer = _four_calls()[8]  # the transfer's second leg
    rows[8] = _with("start", "2026-10-05 25:00:00") | {"uniqueid": transfer["uniqueid"],
                                                       "linkedid": transfer["linkedid"]}
    rows.insert(3, '"","0612345678","0199000105","in-eps-05","""DUP')
    rows.insert(6, '"only","five","columns",1,2')
    path.write_text("\n".join(text for _, text in numbered(rows)) + "\n", encoding="utf-8")
    return path


EXPECTED_REJECTS = [
    (4, "bad quoting: unexpected end of data; the line was cut or edited"),
    (7, "wrong column count: 5 columns, expected 16 to 21; check cdr.conf or pass --layout"),
    (11, 'bad start time "2026-10-05 25:00:00": expected YYYY-MM-DD HH:MM:SS'),
]


def test_full_import_keeps_each_bad_line_and_is_idempotent(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    path = _master_csv(tmp_path / "Master.csv")
    parser = functools.partial(parse_cdr, layout="auto", usegmtime=False)
    first = run_batch(store, "cdr", path, parser, capture)
    assert (first.rows_read, first.calls_seen, first.rejected) == (12, 4, 3)
    assert (first.counts.imported, first.counts.merged, first.counts.duplicates) == (4, 0, 0)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(calls.c.call_key, calls.c.outcome, calls.c.time_to_answer,
                                        calls.c.incomplete).order_by(calls.c.call_key)).all()
        kept = conn.execute(sa.select(rejected_records.c.line, rejected_records.c.reason,
                                      rejected_records.c.raw).order_by(rejected_records.c.line)).all()
    assert [tuple(row) for row in stored] == [
        (UID, "answered", 12.0, False),
        (f"{int(T0) + 300}.0", "answered", 18.0, False),
        (f"{int(T0) + 301}.1", "answered", 8.0, True),  # its second leg is the bad line 11
        (f"{int(T0) + 302}.2", "abandoned", None, False),
    ]
    assert [(line, reason) for line, reason, _ in kept] == EXPECTED_REJECTS
    assert kept[0].raw == path.read_text(encoding="utf-8").splitlines()[3]
    again = run_batch(store, "cdr", path, parser, capture)
    assert again.skipped_as == first.batch_id and again.calls_seen == 0
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # new checksum
    third = run_batch(store, "cdr", path, parser, capture)
    assert (third.counts.imported, third.counts.duplicates) == (0, 4)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(calls)).scalar() == 4


def test_cli_ingest_cdr_then_list_rejects(tmp_path: Path) -> None:
    path = _master_csv(tmp_path / "Master.csv")
    db = ["--db", f"sqlite:///{tmp_path / 'q.db'}"]
    runner = CliRunner()
    result = runner.invoke(cli, [*db, "ingest", "cdr", str(path)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"{re.escape(str(path))}: batch 1: read 12 lines, 4 calls: imported 4, merged 0, "
        r"duplicates 0, rejected 3 \(\d+\.\d s\)\n"
        r"  list the rejected records: qualiphone ingest rejects --batch 1\n", result.output)
    listing = runner.invoke(cli, [*db, "ingest", "rejects", "--batch", "1"])
    assert listing.exit_code == 0, listing.output
    flat = re.sub(r"[\s│┃|]+", " ", listing.output)
    for line, reason in EXPECTED_REJECTS:
        assert f" {line} " in flat and reason[:30] in flat


def test_cli_says_why_calls_were_skipped(tmp_path: Path) -> None:
    """A file of internal and outbound calls only (e.g. a wrong sites.toml) names the reasons."""
    rows = [leg(A2, channel=A1, answer=3, uid=f"179118740{i}.1", dst="0502",
                dcontext="from-internal") for i in range(3)]
    rows.append(leg("PJSIP/trunk-ovh-00000400", channel=A1, answer=9, uid="1791187500.2",
                    dst="0612345678", dcontext="from-internal"))
    path = tmp_path / "Master.csv"
    path.write_text("".join(render(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "cdr",
                                      str(path)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"{re.escape(str(path))}: batch 1: read 4 lines, 0 calls: imported 0, merged 0, "
        r"duplicates 0, rejected 0 \(\d+\.\d s\)\n"
        r"  skipped 4 calls of no configured switchboard \(internal, outbound or other services' "
        r"calls\): 3\u00d7 internal call between staff phones, 1\u00d7 outbound call; if that is "
        rf"unexpected, check the dids, queues and contexts in {re.escape(str(SHIPPED_DIR))}/"
        r"sites\.toml\n", result.output)


def test_skip_reasons_kept_are_bounded() -> None:
    count = SkipCount()
    for i in range(MAX_SKIP_REASONS + 10):
        count.add(Skipped(i, f'dialed "{i}" of no configured site'))
        count.add(Skipped(i, "outbound call"))
    assert count.total == 2 * (MAX_SKIP_REASONS + 10)
    assert len(count.reasons) == MAX_SKIP_REASONS and count.reasons["outbound call"] == MAX_SKIP_REASONS + 10


def test_cli_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "Master.csv"
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}",
                                      "ingest", "cdr", str(missing)])
    assert result.exit_code == 1
    assert result.output == f"Error: {missing}: no such file; check the path\n"
