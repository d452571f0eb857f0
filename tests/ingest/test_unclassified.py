"""An answer the site directory cannot classify is never an abandon.

A caller connected to a device that no `staff_devices` pattern matches gets the outcome
`unknown_device` (its connection time and device kept), and a caller answered by a machine
application in a context the directory does not list gets `machine`; both are counted apart
and out of the pickup rate ("directory incomplete"). Checked for CDR, CEL and AMI, on
hand-made calls and on the real recordings read with a directory that knows no staff phone.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ingest.ami.calls import CallTracker
from ingest.ami.replay import read_capture
from ingest.cel import parse_cel
from ingest.finalize import CaptureContext
from monitor.call import Call, CallBuilder, Outcome
from tests.ingest.ami.ami_support import CAPTURE_SITES, ev, write_config
from tests.ingest.ami.test_ami_calls import AGENT, CALLER, T0, _queue_call
from tests.ingest.test_cdr import T0 as CDR_T0
from tests.ingest.test_cdr import TRUNK, leg, local_group, one
from tests.ingest.test_cdr_real import DJ_SITE, context, parse, real
from tests.ingest.test_cel import REFERENCE_CALL

FOREIGN = "PJSIP/201-0000012b"  # a staff phone named after its extension, unknown to sites.toml


def _final(ctx: CaptureContext, b: CallBuilder) -> Call:
    return ctx.finalize(b)


# ---- CDR ----------------------------------------------------------------------------------

def test_cdr_answer_by_an_unknown_device_is_kept_not_abandoned(capture: CaptureContext) -> None:
    b = one(capture, [leg(FOREIGN, answer=12, end=150, lastapp="Queue", lastdata="std-05")])
    call = _final(capture, b)
    assert call.outcome is Outcome.UNKNOWN_DEVICE
    assert (call.answer, call.answered_by) == (CDR_T0 + 12, "PJSIP/201")
    assert call.time_to_answer is None  # not a person's answer as far as the directory knows


def test_cdr_unknown_device_behind_a_local_member(capture: CaptureContext) -> None:
    rows = local_group(member="from-queue", answer_at=18)
    for r in rows:
        if r["dstchannel"] == "PJSIP/eps05-0502-0000012c":
            r["dstchannel"] = "PJSIP/202-0000012c"
        elif r["dstchannel"] == "PJSIP/eps05-0501-0000012b":
            r["dstchannel"] = "PJSIP/201-0000012b"
    call = _final(capture, one(capture, rows))
    assert (call.outcome, call.answered_by, call.answer) == (
        Outcome.UNKNOWN_DEVICE, "PJSIP/202", CDR_T0 + 18)


def test_cdr_staff_answer_wins_over_an_unknown_device(capture: CaptureContext) -> None:
    rows = [leg(FOREIGN, answer=8, end=60, seq=1), leg("PJSIP/eps05-0502-0000012c", start=60,
                                                     answer=60, end=200, seq=5)]
    call = _final(capture, one(capture, rows))
    assert call.outcome is Outcome.ANSWERED and call.answered_by == "PJSIP/eps05-0502"


@pytest.mark.parametrize("lastapp", ["Playback", "Background", "Read", "WaitExten"])
def test_cdr_machine_in_an_unlisted_context(capture: CaptureContext, lastapp: str) -> None:
    b = one(capture, [leg(answer=0, end=28, dcontext="accueil-nuit", lastapp=lastapp,
                          lastdata="ferme")])
    call = _final(capture, b)
    assert call.outcome is Outcome.MACHINE and call.answered_by == f"{lastapp}@accueil-nuit"


def test_cdr_machine_in_the_sites_own_context_is_an_abandon(capture: CaptureContext) -> None:
    """Hanging up during the site's welcome message (its inbound context) is an abandon."""
    b = one(capture, [leg(answer=0, end=20, lastapp="Playback", lastdata="bienvenue")])
    assert _final(capture, b).outcome is Outcome.ABANDONED


def test_cdr_nobody_answered_is_still_an_abandon(capture: CaptureContext) -> None:
    b = one(capture, [leg(FOREIGN, end=40, lastapp="Queue", lastdata="std-05")])
    assert _final(capture, b).outcome is Outcome.ABANDONED


# ---- CEL ----------------------------------------------------------------------------------

def _cel(ctx: CaptureContext, lines: list[str]) -> list[Call]:
    items = list(parse_cel(enumerate(lines, 1), ctx))
    return [ctx.finalize(i) for i in items if isinstance(i, CallBuilder)]


def test_cel_unknown_device_keeps_its_microsecond_answer(capture: CaptureContext) -> None:
    lines = [line.replace("PJSIP/eps05-0501-0000012b", FOREIGN) for line in REFERENCE_CALL]
    (call,) = _cel(capture, lines)
    assert call.outcome is Outcome.UNKNOWN_DEVICE and call.answered_by == "PJSIP/201"
    assert call.answer == pytest.approx(1718000015.240101, abs=1e-6)


def test_cel_machine_answer_in_an_unlisted_context(capture: CaptureContext) -> None:
    def row(event: str, t: float, **kw: str) -> str:
        values = dict.fromkeys(range(20), "")
        values |= {0: event, 1: f"{t:.6f}", 3: "0612345678", 6: "0199000105", 7: "0199000105",
                   8: kw.get("context", "accueil-nuit"), 9: TRUNK, 10: kw.get("app", ""),
                   12: "3", 14: "1718000000.311", 15: "1718000000.311"}
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(values.values())
        return out.getvalue()

    lines = [row("CHAN_START", 1718000000.1, context="from-trunk"),
             row("APP_START", 1718000000.2, app="Playback"),
             row("ANSWER", 1718000000.25, app="Playback"),
             row("HANGUP", 1718000028.0), row("CHAN_END", 1718000028.1),
             row("LINKEDID_END", 1718000028.2)]
    (call,) = _cel(capture, lines)
    assert call.outcome is Outcome.MACHINE and call.answered_by == "Playback@accueil-nuit"


# ---- AMI ----------------------------------------------------------------------------------

@pytest.fixture
def ami_ctx(tmp_path: Path) -> CaptureContext:
    from tests.ingest.ami.ami_support import capture_context

    return capture_context(tmp_path / "config")


def _renamed(frames: list, old: str, new: str) -> list:  # type: ignore[type-arg]
    out = []
    for f in frames:
        pairs = [(k, v.replace(old, new) if isinstance(v, str) else v) for k, v in f.headers]
        out.append(type(f).build(*pairs))
    return out


def test_ami_unknown_device_is_kept_and_stops_ringing(ami_ctx: CaptureContext) -> None:
    frames = _renamed(_queue_call(), AGENT["Channel"], FOREIGN)
    tracker = CallTracker(ami_ctx)
    for f in frames[:-2]:  # up to the bridge: the caller is talking to 201
        tracker.feed(f)
    (live,) = tracker.live.calls.values()
    assert not live.ringing and live.unclassified
    for f in frames[-2:]:
        tracker.feed(f)
    (b,) = tracker.pop_finished()
    call = ami_ctx.finalize(b)
    assert call.outcome is Outcome.UNKNOWN_DEVICE and call.answered_by == "PJSIP/201"
    assert call.answer == pytest.approx(T0 + 15.24)


def test_ami_machine_answer_in_an_unlisted_context(ami_ctx: CaptureContext) -> None:
    frames = [
        ev("Newchannel", T0, **CALLER, ChannelState=4, CallerIDNum="0612345678",
           Context="in-eps-05", Exten="0199000105", AccountCode=""),
        ev("Newstate", T0 + 0.2, **CALLER, ChannelState=6, ChannelStateDesc="Up",
           Context="accueil-nuit"),
        ev("Hangup", T0 + 28, **CALLER, Cause=16, Context="accueil-nuit"),
    ]
    tracker = CallTracker(ami_ctx)
    (b,) = tracker.feed_all(frames)
    call = ami_ctx.finalize(b)
    assert call.outcome is Outcome.MACHINE and call.answered_by == "Answer@accueil-nuit"


# ---- the real recordings, read with a directory that knows no staff phone -----------------

NO_STAFF_DJ = "\n".join(line for line in DJ_SITE.splitlines() if not line.startswith("staff"))


@pytest.mark.realdata
def test_real_cdr_without_staff_devices_has_no_answer_turned_into_an_abandon(
        real_data: Path, tmp_path: Path) -> None:
    path = real(real_data, "dj-asterisk-cdr/Master.csv")
    (tmp_path / "good").mkdir()
    (tmp_path / "blind").mkdir()
    good_ctx = context(tmp_path / "good", DJ_SITE)
    blind_ctx = context(tmp_path / "blind", NO_STAFF_DJ + '\nstaff_devices = []\n')
    good = parse(path, good_ctx).by_key(good_ctx)
    blind = parse(path, blind_ctx).by_key(blind_ctx)
    assert good.keys() == blind.keys()
    answered = [k for k, c in good.items() if c.outcome is Outcome.ANSWERED]
    assert len(answered) >= 6
    for key, call in good.items():
        other = blind[key]
        if call.outcome is Outcome.ANSWERED:
            assert other.outcome is Outcome.UNKNOWN_DEVICE, key
            assert (other.answer, other.answered_by) == (call.answer, call.answered_by)
        else:
            assert other.outcome is call.outcome, key
    assert not any(c.outcome is Outcome.ABANDONED for k, c in blind.items() if k in answered)


@pytest.mark.realdata
def test_real_ami_capture_without_staff_devices(real_data: Path, tmp_path: Path) -> None:
    sites = [dict(s, staff_devices=[]) for s in CAPTURE_SITES]
    from config import load_config

    ctx = CaptureContext.create(load_config(write_config(tmp_path / "blind", sites)))
    frames = read_capture(real_data / "ami/verbara/queue-reload-asterisk-22.9.0.raw")
    tracker = CallTracker(ctx)
    calls = [ctx.finalize(b) for b in tracker.feed_all(frames)]
    assert len(calls) == 4
    # the members are Local/late@agents-late channels answered in the dialplan (a lab set-up,
    # no phone behind them): connected to something the directory does not know, not abandoned
    assert {c.outcome for c in calls} == {Outcome.UNKNOWN_DEVICE}
    assert {c.answered_by for c in calls} == {"Local/late@agents-late"}



@pytest.mark.realdata
def test_real_cel_answers_without_staff_devices_are_never_abandons(
        real_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Wazo capture whose call a phone answered, read with a directory that knows the
    capture's number and context but no phone: the call is kept as answered by an unknown
    device, at the same instant as the staff answer or before it, never as an abandon."""
    from ingest.cel import parse_cel_table
    from tests.ingest.test_cel_real import TIMED, WAZO, context_for, numbered, table, the_call, wazo_oracle

    oracles = wazo_oracle(real_data)
    checked = 0
    for name, case in TIMED.items():
        if case.our_answer is None:
            continue
        oracle = oracles[name]
        linkedid = case.linkedid or oracle["linkedid"]
        path = real_data / WAZO / name
        records = table(path)
        (tmp_path / f"{checked}-good").mkdir()
        good = context_for(tmp_path / f"{checked}-good", records, linkedid,
                           oracle["expected"][0].get("destination_line_identity"), case.staff)
        (tmp_path / f"{checked}-blind").mkdir()
        blind = context_for(tmp_path / f"{checked}-blind", records, linkedid, None, ("NOBODY",))
        if case.no_site_columns:
            for ctx in (good, blind):
                monkeypatch.setattr(ctx.sites, "site_for", lambda **_: "wazo-test")
        staff = good.finalize(the_call(parse_cel_table(numbered(path), good), linkedid))
        other = blind.finalize(the_call(parse_cel_table(numbered(path), blind), linkedid))
        assert staff.outcome is Outcome.ANSWERED, name
        assert other.outcome is Outcome.UNKNOWN_DEVICE, name
        assert other.answer is not None and other.answer <= staff.answer + 1e-6, name
        checked += 1
    assert checked >= 10


def test_reclassify_reads_a_dialplan_hangup_as_no_answer(capture: CaptureContext) -> None:
    """A machine answer in a context later listed for a site: Hangup() there means the PBX
    ended the call (no_answer, as a new import of the file says: ingest.cdr.pbx_ended); any
    other application, an abandon (or a short one)."""
    from types import SimpleNamespace

    from ingest.reclassify import _change

    context = next(iter(capture.sites.by_context))
    def row(app: str, seconds: float) -> SimpleNamespace:
        return SimpleNamespace(id=1, pbx="paris-eps", call_key="k", outcome="machine",
                               answered_by=f"{app}@{context}", answer=None, arrival=100.0,
                               end_time=100.0 + seconds)

    outcomes = {app: _change(row(app, seconds), capture.sites, 5.0).outcome  # type: ignore[union-attr]
                for app, seconds in (("Hangup", 27), ("Playback", 27), ("Read", 2))}
    assert outcomes == {"Hangup": Outcome.NO_ANSWER, "Playback": Outcome.ABANDONED,
                        "Read": Outcome.SHORT_ABANDON}
