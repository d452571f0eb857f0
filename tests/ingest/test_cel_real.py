"""CEL from the real captures in ../shared/data/real/cel, read verbatim, against their oracles.

Wazo call-logd (`wazo-call-logd/_expected_call_logs.json`) states, for some captures, the call
log Wazo produces: `date` (call start), `date_answer`, `date_end`. Wazo's rules
(wazo_call_logd/cel_interpretor.py, CallerCELInterpretor):
* date = the caller's CHAN_START, the caller being the first channel started;
* date_answer = the caller's BRIDGE_ENTER / BRIDGE_START (the last one: each overwrites it);
* date_end = the caller's CHAN_END.
For originates whose first two channels are Local and answered first (LocalOriginate
interpreter, the `test_call_from_mobile__*` captures), date_end is the CHAN_END of the third
channel (the mobile that was originated) and date_answer the last BRIDGE_ENTER of the last
non-Local channel that bridged.

Ours (ingest/cel.py): arrival = the CHAN_START of the channel whose uniqueid is the linkedid,
answer = the first ANSWER / BRIDGE_ENTER of a staff device (never the caller leg), end = the
caller's CHAN_END. Arrival and end therefore agree with Wazo to the microsecond, except the end
of the three LocalOriginate captures (ours is the Local;1 caller channel's CHAN_END). The answer
differs on purpose: the 25 s rule asks when a *person's phone* picked up, which is the phone's
ANSWER; Wazo's caller BRIDGE_ENTER comes after it (the bridge is set up once the phone has
answered), and being the *last* bridge entry it would move to a later transfer or requeue.
Each case below pins our answer to the phone's ANSWER row of the capture and the gap to Wazo's
date_answer (6 ms to 0.33 s in these captures).

Each capture is given a site of its own: its caller's dialed exten and context map to a test site,
and the device of the oracle's `destination_line_identity` (spelled as in the capture's channel,
`sip/hg63xv` → `SIP/hg63xv`) is the staff phone.

Excluded from the timing comparison (test_timed_oracles_are_all_covered keeps this list honest):
* `hand_edited/` and `history/hand_edited/`: timestamps written by developers (SOURCES.md);
* every other capture: its oracle states no date, date_answer or date_end (direction, extensions,
  participants or recordings only). All of them are still read, in
  test_every_real_cel_table_reads_without_a_reject.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config import SHIPPED_DIR, load_config
from ingest.cel import parse_cel, parse_cel_table
from ingest.cel_read import CelRecord, in_time_order, read_cel_table, uniqueid_epoch
from ingest.finalize import CaptureContext
from ingest.records import Reject, Skipped
from ingest.site_map import device_of
from monitor.call import CallBuilder, Outcome

pytestmark = pytest.mark.realdata

WAZO = Path("cel/wazo-call-logd")
ACCEPTANCE = Path("cel/wazo-acceptance")
TESTSUITE = Path("cel/asterisk-testsuite")


@dataclass(frozen=True)
class Case:
    our_answer: str | None  # the staff phone's first ANSWER row in the capture (UTC as written)
    gap: float | None = None  # Wazo's date_answer − our answer, seconds
    our_end: str | None = None  # where our end is not Wazo's date_end (LocalOriginate)
    staff: tuple[str, ...] | None = None  # when the oracle names no destination line
    linkedid: str | None = None  # when the oracle does not name the call
    no_site_columns: bool = False  # the dump has no exten or context column


TIMED: dict[str, Case] = {
    # Originates from a mobile (LocalOriginate). Our caller is Local;1 (uniqueid == linkedid);
    # Wazo ends the call with the mobile's channel.
    "test_call_from_mobile__test_answered_internal_calls.psql.txt": Case(
        "2017-01-03 12:11:16.957521", 0.298613, our_end="2017-01-03 12:11:17.270667"),
    # Source and destination are the same device (sip/dev_32): a device-based staff list cannot
    # tell them apart, so our answer is that device's first ANSWER (the mobile answering).
    "test_call_from_mobile__test_answered_outgoing_calls.psql.txt": Case(
        "2017-01-03 12:13:55.674715", 0.302868, our_end="2017-01-03 12:13:56.24602"),
    "test_call_from_mobile__test_non_answered_call.psql.txt": Case(
        None, our_end="2017-01-03 12:12:45.863506", staff=("SIP/rku3uo",)),  # 103 rang
    "test_call_log_generation__test_answered_internal.psql.txt": Case(
        "2015-06-18 14:08:59.864053", 0.013947),
    "test_call_log_generation__test_answered_originate.psql.txt": Case(
        "2015-06-18 14:15:16.389857", 0.006356),
    "test_call_log_generation__test_answered_outgoing_call.psql.txt": Case(
        "2015-06-18 14:12:12.500153", 0.0156),
    "test_call_log_generation__test_answered_outgoing_call_with_userfield.psql.txt": Case(
        "2015-06-18 14:13:20.98612", 0.204126),
    "test_call_log_generation__test_early_hung_up_incoming_call.psql.txt": Case(None, staff=()),
    ("test_call_log_generation__test_given_group_call_then_destination_user_uuid"
     "_should_be_answered_callee.psql.txt"): Case(
        "2021-02-08 18:41:07.285784", 0.029353, no_site_columns=True),
    ("test_call_log_generation__test_given_queue_call_then_destination_user_uuid"
     "_should_be_answered_callee.psql.txt"): Case(
        "2021-02-10 15:39:14.086632", 0.327216, no_site_columns=True),
    "test_call_log_generation__test_internal_busy_fwd_answered_call.psql.txt": Case(
        "2018-02-06 13:33:36.315745", 0.017448),
    "test_call_log_generation__test_internal_no_answer.psql.txt": Case(None),
    "test_call_log_generation__test_internal_unconditional_forwarded_answered_call.psql.txt": Case(
        "2018-02-02 15:00:29.207311", 0.021909),
    "test_call_log_generation__test_originate_hung_up_by_switchboard.psql.txt": Case(None),
    "test_call_log_generation__test_unanswered_originate.psql.txt": Case(None),
    ("test_call_log_generation__test_when_calling_unreachable_phone_then_destination_info"
     "_is_set_within_call_log.psql.txt"): Case(
        None, staff=()),  # the phone is unreachable: no channel was created for it
    ("test_call_log_generation__test_when_incall_and_unreachable_phone_then_call_log"
     "_contains_no_source_user_uuid.psql.txt"): Case(
        None, staff=("PJSIP/cul113qn",)),  # the user calls himself; his second leg fails
    # The oracle is the last of the file's three calls (the test processes the last CELs only).
    "test_call_logs_cli__test_does_not_process_more_cel_than_cel_count_param.psql.txt": Case(
        "2015-06-18 14:17:34.066573", 0.014144, staff=("SIP/je5qtq",), linkedid="1434651452.51"),
    "test_generator_scenarios__test_incoming_call_to_user_voicemail_via_local_registration.psql.txt": Case(
        None, staff=("PJSIP/w6hpvj79",), linkedid="1784576715.0"),  # Paul's phone rang
}


def utc(text: str) -> float:
    """A naive timestamp read as UTC, as the oracle reads the captures."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def same_us(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < 5e-7


def numbered(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


def table(path: Path) -> list[CelRecord]:
    items = list(read_cel_table(numbered(path)))
    assert [r for r in items if isinstance(r, Reject)] == []
    return in_time_order(r for r in items if isinstance(r, CelRecord))


def site_context(tmp_path: Path, *, dids: list[str], contexts: list[str],
                 staff: list[str]) -> CaptureContext:
    """A config directory with the shipped settings and one generated test site."""
    directory = tmp_path / "config"
    directory.mkdir()
    shutil.copy(SHIPPED_DIR / "settings.toml", directory / "settings.toml")
    pbx = next(iter(load_config(SHIPPED_DIR).pbxs))
    site = {"id": "wazo-test", "name": "Wazo capture", "pbx": pbx, "dids": dids,
            "contexts": contexts, "staff_devices": staff}
    text = "[[site]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in site.items())
    (directory / "sites.toml").write_text(text, encoding="utf-8")
    return CaptureContext.create(load_config(directory))


def context_for(tmp_path: Path, records: list[CelRecord], linkedid: str,
                identity: str | None, staff: tuple[str, ...] | None) -> CaptureContext:
    start = next(r for r in records if r.uniqueid == linkedid and r.eventtype == "CHAN_START")
    if staff is None:
        assert identity, "the oracle names no destination line: give Case.staff"
        staff = tuple(sorted({device_of(r.channel) for r in records
                              if device_of(r.channel).lower() == identity.lower()}))
        assert staff, f"no channel of {identity} in the capture"
    dids = [start.exten] if start.exten not in ("", "s") else []
    contexts = [start.context] if start.context else []
    return site_context(tmp_path, dids=dids, contexts=contexts, staff=list(staff))


def the_call(items: Iterator[CallBuilder | Reject], linkedid: str) -> CallBuilder:
    found = [b for b in items if isinstance(b, CallBuilder) and b.call_key == linkedid]
    assert len(found) == 1
    return found[0]


def wazo_oracle(real_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((real_data / WAZO / "_expected_call_logs.json").read_text())
    return data


@pytest.mark.parametrize("name", sorted(TIMED))
def test_wazo_oracle(name: str, real_data: Path, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    case, oracle = TIMED[name], wazo_oracle(real_data)[name]
    expected = oracle["expected"][0]
    linkedid = case.linkedid or oracle["linkedid"]
    path = real_data / WAZO / name
    ctx = context_for(tmp_path, table(path), linkedid,
                      expected.get("destination_line_identity"), case.staff)
    if case.no_site_columns:  # nothing in the capture can name a site: every call is one
        monkeypatch.setattr(ctx.sites, "site_for", lambda **_: "wazo-test")
    b = the_call(parse_cel_table(numbered(path), ctx), linkedid)
    assert not b.incomplete and b.resolution == 1e-6
    if "date" in expected:
        assert same_us(b.arrival, iso(expected["date"]))
    if "date_end" in expected:
        assert same_us(b.end, utc(case.our_end) if case.our_end else iso(expected["date_end"]))
    assert ("date_answer" in expected) and (case.our_answer is None) == (
        expected["date_answer"] is None)
    if case.our_answer is None:
        assert b.answer is None
    else:
        assert same_us(b.answer, utc(case.our_answer))
        assert round(iso(expected["date_answer"]) - b.answer, 6) == case.gap
    call = ctx.finalize(b)
    assert (call.outcome is Outcome.ANSWERED) == (case.our_answer is not None)


def test_timed_oracles_are_all_covered(real_data: Path) -> None:
    timed = {name for name, o in wazo_oracle(real_data).items()
             if "hand_edited/" not in name and o["expected"]
             and {"date", "date_answer", "date_end"} & set(o["expected"][0])}
    assert timed == set(TIMED)


@pytest.mark.parametrize(("name", "zone_hours"), [
    ("test_call_log_generation__test_answered_internal.psql.txt", -4),  # June 2015: EDT
    ("test_call_from_mobile__test_answered_internal_calls.psql.txt", -5),  # January 2017: EST
])
def test_naive_dump_times_are_the_pbx_local_time(real_data: Path, name: str,
                                                 zone_hours: int) -> None:
    """Dumps without an offset hold the PBX's local time (cel_pgsql without usegmtime).

    Read as UTC, as Wazo's tests read them, every CHAN_START is a whole number of hours off the
    creation second in its uniqueid; read in America/Montreal, it falls within that second.
    Durations, hence times to answer, are the same either way.
    """
    lines = numbered(real_data / WAZO / name)
    for naive_tz, shift in ((None, zone_hours * 3600), (ZoneInfo("America/Montreal"), 0)):
        starts = [r for r in read_cel_table(lines, naive_tz)
                  if isinstance(r, CelRecord) and r.eventtype == "CHAN_START"]
        assert starts
        for r in starts:
            created = uniqueid_epoch(r.uniqueid)
            assert created is not None and 0 <= r.eventtime - shift - created < 1


def acceptance_oracle(path: Path) -> dict[str, str]:
    """The one row of a Gherkin expected-call-logs table, by column name."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("|")]
    assert len(rows) == 2
    return dict(zip(rows[0], rows[1], strict=True))


@pytest.mark.parametrize(("stem", "our_answer", "gap"), [
    # BRIDGE_START/END of this one were rewritten to whole seconds upstream; the phone's ANSWER
    # we use was not.
    ("2015-03__generation_of_answered_internal_call", "2013-01-01 08:46:23.005457", None),
    ("2015-03__generation_of_non_answered_internal_call", None, None),
    ("2015-03__generation_of_unanswered_originate_call", None, None),
    ("2018-02__generation_of_answered_internal_call_forwarded_to_outgoing",
     "2018-02-02 15:41:51.553289", 0.03602),
])
def test_wazo_acceptance(real_data: Path, tmp_path: Path, stem: str, our_answer: str | None,
                         gap: float | None) -> None:
    """XiVO 15–18 scenarios; the answer is the destination line's ANSWER (here sip/dev_32, the
    outgoing trunk leg of a forward), Wazo's date_answer the caller's BRIDGE_ENTER."""
    expected = acceptance_oracle(real_data / ACCEPTANCE / f"{stem}.expected-call-logs.txt")
    path = real_data / ACCEPTANCE / f"{stem}.cel-table.txt"
    records = table(path)
    linkedid = records[0].linkedid
    ctx = context_for(tmp_path, records, linkedid, expected["destination_line_identity"], None)
    b = the_call(parse_cel_table(numbered(path), ctx), linkedid)
    assert same_us(b.arrival, utc(expected["date"]))
    assert (b.answer is not None) == (expected.get("answered", "True") == "True")
    if our_answer is not None:
        assert same_us(b.answer, utc(our_answer))
    if "date_end" in expected:
        assert same_us(b.end, utc(expected["date_end"]))
    if gap is not None:
        assert round(utc(expected["date_answer"]) - (b.answer or 0.0), 6) == gap


def test_asterisk_testsuite_cel_custom_csv(real_data: Path, tmp_path: Path) -> None:
    """Real cel_custom output (Asterisk 10/11, BRIDGE_START/END): TinCan/string dials
    Local/x@default, whose ;2 half answers (Answer) and plays tt-monkeys. The Local device stands
    for the staff phone here."""
    ctx = site_context(tmp_path, dids=[], contexts=["default"], staff=["Local/x@default"])
    lines = numbered(real_data / TESTSUITE / "self_test_CELMaster1.csv")
    b = the_call(parse_cel(lines, ctx), "1335310195.0")
    assert (b.arrival, b.answer, b.end) == (1335310195.513823, 1335310195.526390, 1335310213.625193)
    assert (b.answered_by, b.dialed, b.context, b.incomplete) == (
        "Local/x@default", None, "default", False)
    assert (b.line, len(b.raw)) == (1, 16)
    assert ctx.finalize(b).outcome is Outcome.ANSWERED


def test_asterisk_testsuite_records_missing(real_data: Path, tmp_path: Path) -> None:
    """CELMaster2 lacks the caller's CHAN_END: the end falls back to its HANGUP. Cut before its
    LINKEDID_END (as a file read while the call is still up), the call is incomplete."""
    ctx = site_context(tmp_path, dids=[], contexts=["default"], staff=["Local/x@default"])
    lines = numbered(real_data / TESTSUITE / "self_test_CELMaster2.csv")
    assert len(lines) == 14 and "LINKEDID_END" in lines[-1][1]
    b = the_call(parse_cel(lines, ctx), "1335310697.0")
    assert (b.arrival, b.answer, b.end, b.incomplete) == (
        1335310697.630407, 1335310697.648867, 1335310715.229089, False)
    cut = the_call(parse_cel(lines[:7], ctx), "1335310697.0")
    assert (cut.answer, cut.end, cut.incomplete) == (1335310697.648867, None, True)
    assert ctx.finalize(cut).incomplete


def test_every_real_cel_table_reads_without_a_reject(real_data: Path, capture: CaptureContext) -> None:
    paths = sorted((real_data / "cel").rglob("*.psql.txt"))
    paths += sorted((real_data / "cel").rglob("*.cel-table.txt"))
    assert len(paths) >= 90
    for path in paths:
        records = table(path)
        assert records and all(r.eventtype and r.uniqueid and r.linkedid for r in records), path
        for item in parse_cel_table(numbered(path), capture):  # none is an EPS call
            assert isinstance(item, CallBuilder | Reject | Skipped)


def test_ingest_cel_psql_reads_a_dump_of_a_cel_table(real_data: Path, tmp_path: Path) -> None:
    """README promises psql dumps of a CEL table: `ingest cel --psql` reads one; without the
    flag the dump is refused whole as not a cel_custom CSV (nothing stored)."""
    import sqlalchemy as sa
    from click.testing import CliRunner

    from monitor.store import open_store
    from monitor.store.models import calls
    from qualiphone.cli import cli

    name = "test_call_log_generation__test_internal_busy_fwd_answered_call.psql.txt"
    path = real_data / WAZO / name
    oracle = wazo_oracle(real_data)[name]
    records = table(path)
    context_for(tmp_path, records, oracle["linkedid"],
                oracle["expected"][0].get("destination_line_identity"), TIMED[name].staff)
    base = ["--db", f"sqlite:///{tmp_path}/s.db", "--config", str(tmp_path / "config"),
            "ingest", "cel"]
    env = {"QUALIPHONE_PSEUDONYM_KEY": "test"}
    refused = CliRunner().invoke(cli, [*base, str(path)], env=env)
    assert refused.exit_code == 1 and "does not read as a cel file" in refused.output
    done = CliRunner().invoke(cli, [*base, "--psql", str(path)], env=env)
    assert done.exit_code == 0, done.output
    with open_store(f"sqlite:///{tmp_path}/s.db").engine.connect() as conn:
        stored = {r.call_key: r.outcome for r in conn.execute(sa.select(calls))}
    assert stored == {oracle["linkedid"]: "answered"}


def test_a_ring_group_nobody_answers_ended_by_the_dialplan_is_no_abandon(
        real_data: Path, tmp_path: Path) -> None:
    """Wazo's ring-all group that nobody answers: after the group's ring time the dialplan hangs
    up on the caller (its HANGUP: hangupsource "dialplan/builtin", dialstatus NOANSWER). The
    caller did not hang up: the PBX ended the call, NO_ANSWER, not an abandon."""
    path = real_data / WAZO / ("test_generator_scenarios__test_incoming_call_to_group_ring_all_"
                               "no_answer.psql.txt")
    ctx = site_context(tmp_path, dids=["1006"], contexts=["default-key-4wfgx-from-extern"],
                       staff=["PJSIP/rNXlGVeY"])
    b = the_call(parse_cel_table(numbered(path), ctx), "1715113655.622")
    assert b.answer is None and b.outcome is Outcome.NO_ANSWER
    assert ctx.finalize(b).outcome is Outcome.NO_ANSWER
    assert b.end is not None and b.arrival is not None and 12 < b.end - b.arrival < 13


def test_a_caller_who_hangs_up_is_still_an_abandon(real_data: Path, tmp_path: Path) -> None:
    """Wazo's early hang-up: the caller's own HANGUP (no dialplan source): an abandon."""
    path = real_data / WAZO / "test_call_log_generation__test_early_hung_up_incoming_call.psql.txt"
    ctx = site_context(tmp_path, dids=["42307"], contexts=["from-extern", "did"],
                       staff=["PJSIP/nobody"])
    b = the_call(parse_cel_table(numbered(path), ctx), "1727185064.17")
    assert b.outcome is None and ctx.finalize(b).outcome is Outcome.SHORT_ABANDON
