"""parse_cdr on the real Master.csv recordings of ../shared/data/real/cdr, used verbatim.

None of these PBXs is one of the 17 sites, so each test writes a small configuration whose
site, DIDs, contexts and staff devices match the file (see SOURCES.md, CDR section). Every
line of every file must end up in a call, skipped as not a switchboard call, or rejected with
a reason.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from config import load_config
from config.loader import SHIPPED_DIR
from ingest.batch import LineReader
from ingest.cdr import CdrStats, parse_cdr
from ingest.finalize import CaptureContext
from ingest.records import Reject
from monitor.call import Call, CallBuilder, Outcome

pytestmark = pytest.mark.realdata

DJ_SITE = """
[[site]]
id = "stadion"
name = "dj-asterisk-cdr switchboard"
pbx = "paris-eps"
dids = ["211553", "211474"]
contexts = ["stadion-pstn"]
# Dial(SIP/301&SIP/200@stadionpbx): extension 200 (and the ch2/ch3 members) sit behind the
# peer "stadionpbx", so that channel is the person's device as far as this PBX can tell.
staff_devices = ["SIP/301", "SIP/stadionpbx"]
"""


def context(tmp_path: Path, sites: str) -> CaptureContext:
    """A capture context on a temp config: the shipped settings.toml and these sites."""
    directory = tmp_path / "config"
    directory.mkdir(exist_ok=True)
    shutil.copy(SHIPPED_DIR / "settings.toml", directory / "settings.toml")
    (directory / "sites.toml").write_text(sites, encoding="utf-8")
    return CaptureContext.create(load_config(directory))


@dataclass
class Parsed:
    path: Path
    reader: LineReader
    stats: CdrStats
    builders: list[CallBuilder]
    rejects: list[Reject]

    def by_key(self, ctx: CaptureContext) -> dict[str, Call]:
        return {b.call_key: ctx.finalize(b) for b in self.builders}


def parse(path: Path, ctx: CaptureContext, **options: object) -> Parsed:
    """Parse through the importer's LineReader, as `qualiphone ingest cdr` does."""
    reader, stats = LineReader(path), CdrStats()
    items = list(parse_cdr(reader, ctx, stats=stats, **options))  # type: ignore[arg-type]
    parsed = Parsed(path, reader, stats, [i for i in items if isinstance(i, CallBuilder)],
                    [i for i in items if isinstance(i, Reject)])
    assert_every_line_accounted_for(parsed)
    return parsed


def assert_every_line_accounted_for(p: Parsed) -> None:
    """Each line is in exactly one call, one skipped group or one reject: nothing is lost."""
    data = p.path.read_bytes().splitlines()
    assert p.reader.lines == len(data) == p.stats.lines
    s = p.stats
    assert s.lines == s.blank + s.rejected_rows + s.call_rows + s.skipped_rows + s.rejected_call_rows
    texts = {n: line.decode("utf-8", "replace") for n, line in enumerate(data, 1)}
    placed: Counter[str] = Counter()
    for b in p.builders:
        placed.update(b.raw)
    for r in p.rejects:
        placed.update(r.raw.split("\n"))
    placed.update(texts[n] for n in s.skipped_lines)
    assert placed == Counter(t for t in texts.values() if t.strip())
    assert s.calls == len(p.builders) and len(p.rejects) == s.rejected_rows + s.rejected_calls


def real(real_data: Path, name: str) -> Path:
    return real_data / "cdr" / name


# --- dj-asterisk-cdr: 21 columns, ring groups, staggered Local groups ---------------------

# Calls checked by hand in the file: (linkedid, first line, answering device, ring time of the
# answered leg as the file's own duration - billsec, answer - start from its timestamps).
# The two can differ by 1 s: each is truncated separately (reference §5.4.3).
DJ_ANSWERED = [
    # line 39: Dial(SIP/301&SIP/200@stadionpbx); SIP/301 answers, 48 - 43
    ("1706413165.93", 39, "SIP/301", 5, 5.0),
    # lines 47-48: SIP/301 NO ANSWER, SIP/stadionpbx (extension 200) answers, 38 - 29
    ("mainserverdss-1706422609.10", 47, "SIP/stadionpbx", 9, 9.0),
    # lines 22-26: staggered Local/ch1..ch3@TimeDelay; the ch1;2 row dials SIP/301, 6 - 0
    ("1706407446.50", 22, "SIP/301", 6, 6.0),
    # lines 27-31: same group; ch1;2 -> SIP/301 4 - 0, timestamps 03:20:22 -> 03:20:27
    ("1706412022.63", 27, "SIP/301", 4, 5.0),
    # line 45: SIP/301 answers, 44 - 33, timestamps 06:05:30 -> 06:05:40
    ("mainserverdss-1706421930.5", 45, "SIP/301", 11, 10.0),
    # line 84: a single leg to SIP/stadionpbx, 69 - 66
    ("mainserverdss-1706445411.103", 84, "SIP/stadionpbx", 3, 3.0),
]


def test_dj_ring_groups(real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, DJ_SITE)
    p = parse(real(real_data, "dj-asterisk-cdr/Master.csv"), ctx)
    assert p.stats.layouts == {21: "21"}
    # Eight lines (41-44, 69-70, 79-80) carry non-UTF-8 bytes in the caller name (clid): they
    # are kept with replacement characters, so their four calls are not lost.
    assert p.reader.replaced == 8
    assert not p.rejects and p.stats.skipped_rows == 0
    found = p.by_key(ctx)
    assert len(found) == 36
    # Of the 11 calls nobody answered, 8 were ended by the PBX (a Dial that rang its whole
    # time-out, or the dialplan's Hangup()): no abandon; the 3 others hung up after 7-23 s.
    assert Counter(c.outcome for c in found.values()) == {
        Outcome.ANSWERED: 24, Outcome.ABANDONED: 3, Outcome.NO_ANSWER: 8, Outcome.BUSY: 1}
    for key, line, device, ring, tta in DJ_ANSWERED:
        call = found[key]
        assert (call.answered_by, call.time_to_answer) == (device, tta), key
        assert abs(tta - ring) <= 1 and call.site == "stadion"
        assert next(b.line for b in p.builders if b.call_key == key) == line
    assert not any(b.incomplete for b in p.builders)


def test_dj_unanswered_calls(real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, DJ_SITE)
    p = parse(real(real_data, "dj-asterisk-cdr/Master.csv"), ctx)
    found = p.by_key(ctx)
    rows = {b.call_key: len(b.raw) for b in p.builders}
    # lines 7-13: caller -> Local/ch1..3;1 and four ;2 legs (ch3 rings twice, the second time
    # 20 s later): nobody answers, and Dial(…,40) gives up after its 40 s: the PBX ended it.
    staggered = found["1706372196.12"]
    assert (staggered.outcome, rows["1706372196.12"]) == (Outcome.NO_ANSWER, 7)
    assert staggered.end is not None and staggered.end - staggered.arrival == 40
    # lines 4-6: both phones ring for 60 s (Dial's time-out), then the dialplan hangs up.
    assert (found["1706369600.6"].outcome, rows["1706369600.6"]) == (Outcome.NO_ANSWER, 3)
    # line 1: answered by the dialplan for 27 s (lastapp Hangup, no dstchannel), which then
    # hung up: no person answered, and the caller did not hang up.
    assert found["1706368044.0"].outcome is Outcome.NO_ANSWER
    # lines 63-64: the caller hung up after 7 s of a 60 s Dial: an abandon.
    assert found["mainserverdss-1706430495.50"].outcome is Outcome.ABANDONED
    assert found["mainserverdss-1706443058.100"].outcome is Outcome.BUSY  # line 83


def test_dj_call_with_a_non_utf8_caller_name(real_data: Path, tmp_path: Path) -> None:
    """Lines 43-44 carry a caller name that is not UTF-8; the call is still read."""
    ctx = context(tmp_path, DJ_SITE)
    found = parse(real(real_data, "dj-asterisk-cdr/Master.csv"), ctx).by_key(ctx)
    call = found["mainserverdss-1706420300.0"]
    # SIP/301 answers 05:38:20 -> 05:38:24; duration - billsec = 21 - 16 = 5
    assert (call.answered_by, call.time_to_answer) == ("SIP/301", 4.0)


# --- simularent: 18 columns (Asterisk 13), inbound trunk, Local originates -----------------

SIMULARENT_SITE = """
[[site]]
id = "simularent"
name = "simularent lab"
pbx = "paris-eps"
contexts = ["public", "from-trunk"]
staff_devices = ["SIP/123654987", "SIP/1500", "SIP/jerbeartest", "Console/*"]
"""


def test_simularent(real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, SIMULARENT_SITE)
    p = parse(real(real_data, "simularent/Master.csv"), ctx)
    assert p.stats.layouts == {18: "18"} and not p.rejects
    # Inbound: SIP/50.112.48.21 into "public" (17 calls) and the trunk SIP/sipus1 into
    # "from-trunk" (2). Staff phones calling out, and the 204 rows of calls originated
    # through Local/…@LocalSets, @nova and @onsite channels, are skipped.
    assert (p.stats.calls, p.stats.call_rows, p.stats.skipped_rows) == (19, 19, 250)
    found = p.by_key(ctx)
    # The dialplan answers every one of them (BackGround, Playback, VoiceMail, Dial(Console)
    # with no dstchannel): no person answered.
    assert all(c.answer is None for c in found.values())
    assert [b.line for b in p.builders if found[b.call_key].outcome is Outcome.VOICEMAIL] == [
        11, 17, 29]
    assert found["1474036309.12"].outcome is Outcome.ABANDONED  # line 60, Playback hello-world


# --- bugadm: 18 columns, Asterisk 11 (one CDR per call) ------------------------------------

BUGADM_SITE = """
[[site]]
id = "bugadm"
name = "bugadm lab"
pbx = "paris-eps"
contexts = ["phones"]
staff_devices = ["SIP/100"]
"""


def test_bugadm_asterisk_11(real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, BUGADM_SITE)
    p = parse(real(real_data, "bugadm/Master.csv"), ctx)
    assert p.stats.layouts == {18: "18"} and not p.rejects
    found = p.by_key(ctx)
    assert len(found) == 20
    # line 30: SIP/101 dials SIP/100, answered 12:49:35 -> 12:49:40; duration - billsec = 30 - 25
    answered = [c for c in found.values() if c.outcome is Outcome.ANSWERED]
    assert [(c.call_key, c.answered_by, c.time_to_answer) for c in answered] == [
        ("1427374175.5", "SIP/100", 5.0)]
    # line 33: SIP/100 rang, then VoiceMail answered (dstchannel still SIP/100): not a person.
    assert found["1428415849.0"].outcome is Outcome.VOICEMAIL
    assert found["1429025256.1"].outcome is Outcome.BUSY  # line 74
    assert Counter(c.outcome for c in found.values())[Outcome.VOICEMAIL] == 4


# --- asterisk testsuite: 18 columns, 1.6/1.8 era --------------------------------------------

def test_asterisk_testsuite(real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, '[[site]]\nid = "console"\nname = "console"\ncontexts = ["default"]\n')
    p = parse(real(real_data, "asterisk-testsuite/self_test_Master.csv"), ctx)
    assert p.stats.layouts == {18: "18"}
    found = p.by_key(ctx)
    assert sorted(found) == ["1270167992.0", "1270168442.0"]
    # Console/dsp answered by the dialplan for 7 s, which then hung up (lastapp Hangup): nobody
    # picked up, and the PBX, not the caller, ended the call.
    assert all(c.outcome is Outcome.NO_ANSWER and c.end - c.arrival == 7  # type: ignore[operator]
               for c in found.values())


# --- kelysaina: 19 columns in the cdr_custom sample order (clid first) ---------------------

@pytest.mark.parametrize(("staff", "lines", "checked"), [
    # client1 calls client2: line 1 answered 01:51:32 -> 01:51:50, duration - billsec = 31 - 13;
    # line 4: 02:18:26 -> 02:18:33, 25 - 18; line 10 was not answered (4 s).
    ("PJSIP/client2", [1, 4, 6, 7, 8, 9, 10, 11, 12], {1: 18.0, 4: 7.0, 10: None}),
    # client2 calls client1: line 2 not answered (30 s); line 3: 01:54:19 -> 01:54:23, 17 - 13.
    ("PJSIP/client1", [2, 3, 5, 13, 14], {2: None, 3: 4.0, 14: 2.0}),
])
def test_kelysaina_custom_layout_is_detected(real_data: Path, tmp_path: Path, staff: str,
                                             lines: list[int], checked: dict[int, float]) -> None:
    sites = f'[[site]]\nid = "kely"\nname = "kely"\ncontexts = ["default"]\n' \
            f'staff_devices = ["{staff}"]\n'
    ctx = context(tmp_path, sites)
    p = parse(real(real_data, "kelysaina/Master.csv"), ctx)
    assert p.stats.layouts == {19: "19-custom"} and not p.rejects
    assert [b.line for b in p.builders] == lines
    ttas = {b.line: ctx.finalize(b).time_to_answer for b in p.builders}
    assert {line: ttas[line] for line in checked} == checked
    answered_by = {ctx.finalize(b).answered_by for b in p.builders} - {None}
    assert answered_by == {staff}


def test_kelysaina_with_the_standard_19_layout_is_rejected_row_by_row(
        real_data: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, '[[site]]\nid = "kely"\nname = "kely"\ncontexts = ["default"]\n')
    p = parse(real(real_data, "kelysaina/Master.csv"), ctx, layout="19")
    assert not p.builders and len(p.rejects) == 14
    # Read as the standard order, billsec falls on the disposition column.
    assert p.rejects[0].reason == ('billsec "ANSWERED" is not a whole number of seconds '
                                   '(the row reads as layout "19-custom": pass --layout auto)')
    assert all(r.reason.endswith('pass --layout auto)') for r in p.rejects)
