"""The columnar CDR importer against the reference, call by call (every stored column, rejects
with line and reason, skipped calls, directory gaps), on the real recordings, simulated days
(the two DST Sundays of 2026 included), hand-made call shapes and corrupt lines, generated
files, and through run_batch into SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import SHIPPED_DIR, load_config
from ingest.cdr import parse_cdr
from ingest.columnar.cdr import ColumnarCdr
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import calls
from tests.ingest.columnar_support import compare, import_all, stored
from tests.ingest.test_cdr import (
    A1,
    A2,
    A3,
    BAD_ROWS,
    BASE,
    T0,
    TRUNK,
    UID,
    Row,
    _four_calls,
    _utc,
    leg,
    local_group,
    numbered,
    render,
    ring_group,
)
from tests.ingest.test_cdr_real import BUGADM_SITE, DJ_SITE, SIMULARENT_SITE

REFERENCE = functools.partial(parse_cdr, layout="auto", usegmtime=False)
NO_SITE = '[[site]]\nid = "other"\nname = "other"\ncontexts = ["nothing-here"]\n'  # matches nothing


def write(path: Path, rows: list[Row | str], layout: str = "21", end: str = "\n") -> Path:
    path.write_text("\n".join(text for _, text in numbered(rows, layout)) + end, encoding="utf-8")
    return path


def both(path: Path, ctx: CaptureContext, layout: str = "auto", gmt: bool = False) -> ColumnarCdr:
    fast = ColumnarCdr(layout, gmt)
    compare(path, functools.partial(parse_cdr, layout=layout, usegmtime=gmt), fast, ctx)
    return fast


def site_context(tmp_path: Path, sites: str) -> CaptureContext:
    directory = tmp_path / "config"
    directory.mkdir(exist_ok=True)
    shutil.copy(SHIPPED_DIR / "settings.toml", directory / "settings.toml")
    (directory / "sites.toml").write_text(sites, encoding="utf-8")
    return CaptureContext.create(load_config(directory))


# --- real recordings -----------------------------------------------------------------------

REAL = [
    ("dj-asterisk-cdr/Master.csv", DJ_SITE),
    ("simularent/Master.csv", SIMULARENT_SITE),
    ("bugadm/Master.csv", BUGADM_SITE),
    ("asterisk-testsuite/self_test_Master.csv",
     '[[site]]\nid = "console"\nname = "console"\ncontexts = ["default"]\n'),
    ("kelysaina/Master.csv", '[[site]]\nid = "kely"\nname = "kely"\ncontexts = ["default"]\n'
                             'staff_devices = ["PJSIP/client2"]\n'),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "sites"), REAL)
def test_real_recordings(real_data: Path, tmp_path: Path, name: str, sites: str) -> None:
    ctx = site_context(tmp_path, sites)
    both(real_data / "cdr" / name, ctx)
    if name.startswith("dj"):  # 21 columns with linkedid: read by the fast path
        both(real_data / "cdr" / name, site_context(tmp_path, NO_SITE))  # no site: all skipped


# --- simulated days ------------------------------------------------------------------------

def test_simulated_days_with_both_dst_changes(simulated: Path, capture: CaptureContext) -> None:
    fast = both(simulated / "Master.csv", capture)
    lines = len((simulated / "Master.csv").read_bytes().splitlines())
    assert lines > 15_000
    # Ring groups answered within a second and the ambiguous October hour are left to the
    # reference: a small share of the lines.
    assert fast.delegated_rows < lines * 0.02


def test_simulated_days_read_in_small_parts(simulated: Path, capture: CaptureContext,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts cut where no call straddles them give the same result as one part."""
    import ingest.columnar.cdr as columnar

    monkeypatch.setattr(columnar, "CHUNK_LINES", 1_000)
    both(simulated / "Master.csv", capture)
    corrupt = simulated.parent / "corrupt-parts.csv"
    text = (simulated / "Master.csv").read_text(encoding="utf-8").splitlines()
    text[1500] = text[1500].replace('"ANSWERED"', '"ANSW\x00ERED"')
    text[2500] = text[2500][:40]
    corrupt.write_text("\n".join(text) + "\n", encoding="utf-8")
    both(corrupt, capture)


def test_simulated_days_without_a_directory(simulated: Path, tmp_path: Path) -> None:
    """No site matches: every call is skipped (or rejected as unknown site) the same way."""
    both(simulated / "Master.csv", site_context(tmp_path, NO_SITE))


# --- call shapes and corrupt lines ----------------------------------------------------------

def _at(seconds: int) -> Row:
    """Answered by A2 exactly `seconds` after the arrival (25.0 s: not within the target)."""
    uid = f"{int(T0) + 1000 + seconds}.{seconds}"
    return leg(A2, answer=seconds, end=seconds + 60, uid=uid, channel=f"PJSIP/trunk-x-{seconds:08x}")


SHAPES: dict[str, list[Row | str]] = {
    "ring group": ring_group(),
    "local group": local_group(),
    "four calls and a transfer": _four_calls(),
    "answered at 24, 25 and 26 s": [_at(24), _at(25), _at(26)],
    "welcome message then the queue": [
        leg(A1, answer=0, end=12, lastapp="Queue", lastdata="std-05"),
        leg(A2, answer=0, end=90, seq=1, lastapp="Queue", lastdata="std-05")],
    "quick answer, other legs never up": [leg(A1, end=1), leg(A2, answer=1, end=60, seq=1)],
    "abandons": [leg(uid="1791187000.1", end=3), leg(uid="1791187100.2", end=30,
                                                       channel="PJSIP/trunk-y-00000001")],
    "unknown device": [leg("PJSIP/hall-00000007", answer=9, end=40)],
    "rang out, the PBX ended the call": [
        leg(A1, end=30, lastdata=f"{A1}&{A2},30"), leg(A2, end=30, seq=1, lastdata=f"{A1},30"),
        leg(A1, uid="1791187900.1", end=20, lastdata=f"{A1},30", channel="PJSIP/trunk-v-0001"),
        leg(A1, uid="1791188000.2", end=30, lastdata=f"{A1},30", channel="PJSIP/trunk-u-0001"),
        leg(uid="1791188000.2", start=30, answer=30, end=30, seq=2,
            channel="PJSIP/trunk-u-0001"),
        leg("PJSIP/hall-0000000b", uid="1791188100.3", answer=9, end=40,
            lastdata="PJSIP/hall,30", channel="PJSIP/trunk-t-0001"),
        leg(uid="1791188100.3", start=40, answer=40, end=40, seq=2,
            channel="PJSIP/trunk-t-0001")],
    "machine answer": [leg(answer=0, end=20, lastapp="Playback", dcontext="ivr-unknown",
                           dst="0199000105")],
    "after-hours message": [leg(answer=0, end=20, lastapp="Playback", dcontext="msg-eps-05")],
    "voicemail and busy": [leg(lastapp="VoiceMail", dcontext="vm-eps-05", answer=5, end=30),
                           leg(A1, uid="1791187300.3", disposition="BUSY",
                               channel="PJSIP/trunk-z-00000001")],
    "test call": [leg(A2, answer=5, end=30, accountcode="TEST")],
    "skipped calls": [
        leg(A2, channel=A1, answer=3, uid="1791187400.1", dst="0502", dcontext="from-internal"),
        leg("PJSIP/trunk-ovh-00000400", channel=A1, answer=9, uid="1791187500.2",
            dst="0612345678", dcontext="from-internal"),
        leg(channel="PJSIP/hall-0000000a", uid="1791187600.3", dst="700", dcontext="from-internal"),
        leg("PJSIP/trunk-ovh-00000500", channel="Local/probe@out-00000001;1", uid="1791187700.4",
            dst="0199000105"),
        leg(channel="PJSIP/trunk-ovh-00000600", uid="1791187800.5", dst="0199009999",
            dcontext="from-trunk")],
    "ambiguous and skipped local times": [
        leg(A1, start="2026-10-25 02:30:00", answer="2026-10-25 02:30:12",
            end="2026-10-25 02:31:00", uid=f"{int(_utc(2026, 10, 25, 1, 30))}.7"),
        leg(A1, start="2026-03-29 02:30:00", end="2026-03-29 03:31:00",
            uid=f"{int(_utc(2026, 3, 29, 1, 30))}.3", channel="PJSIP/trunk-q-00000001"),
        leg(A1, start="2026-10-25 02:59:50", answer="2026-10-25 02:00:05",
            end="2026-10-25 02:01:00", uid=f"{int(_utc(2026, 10, 25, 0, 59, 50))}.2",
            channel="PJSIP/trunk-r-00000001")],
    "blank lines and corrupt lines": [*ring_group(), "", "  ", "\x00", '"a","b",3',
                                      '"","0612345678","0199000105","in-eps-05","""DUP'],
    "a row without linkedid": [*ring_group(), leg(A1, uid="1791189000.1", linkedid="",
                                                  channel="PJSIP/trunk-w-00000001")],
    "a row of another column count": [*ring_group(), render(leg(A1, uid="1791189100.1"), "18")],
    "two calls with one key": [leg(A2, answer=5, end=30),
                               leg(A1, answer=7, end=30, linkedid="1791189200.9")],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_call_shapes(capture: CaptureContext, tmp_path: Path, shape: str) -> None:
    both(write(tmp_path / "Master.csv", SHAPES[shape]), capture)


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_bad_rows(capture: CaptureContext, tmp_path: Path, bad: Row | str, reason: str) -> None:
    rows: list[Row | str] = [*ring_group()]
    rows[1] = bad
    both(write(tmp_path / "Master.csv", [*rows, *_four_calls()]), capture)


def test_bytes_the_fast_path_never_reads(capture: CaptureContext, tmp_path: Path) -> None:
    """Not UTF-8, a BOM, a NUL, CRLF, a line cut at the end of the file."""
    text = "\n".join(t for _, t in numbered(_four_calls()))
    lines = text.encode().split(b"\n")
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    lines[2] = lines[2].replace(b'"0612345678"', b'"06\xe912345678"', 1)
    lines[3] = lines[3] + b"\r"
    lines[4] = lines[4].replace(b"ANSWERED", b"ANSW\x00ERED")
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\n".join(lines) + b"\n" + lines[5][:40])
    both(path, capture)


@pytest.mark.parametrize("layout", ["auto", "21", "20", "18"])
def test_requested_layouts_and_gmt(capture: CaptureContext, tmp_path: Path, layout: str) -> None:
    path = write(tmp_path / "Master.csv", _four_calls(), "21")
    both(path, capture, layout)
    both(path, capture, layout, gmt=True)


# --- generated files -----------------------------------------------------------------------

_EDITS = st.sampled_from(["", '"', ",", '""', " ", "x", "2026-10-25 02:30:00", "-1", "\x7f"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from(list(SHAPES)), min_size=1, max_size=5),
       edits=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 400), _EDITS), max_size=4),
       shift=st.integers(-3, 3))
def test_generated_files(capture: CaptureContext, tmp_path_factory: pytest.TempPathFactory,
                         picks: list[str], edits: list[tuple[int, int, str]], shift: int) -> None:
    """Shapes put together (their ids made distinct), then characters inserted at random."""
    texts = []
    for n, name in enumerate(picks):
        for _, text in numbered(SHAPES[name]):
            texts.append(text.replace(f"{int(T0)}.", f"{int(T0) + 10_000 * n}.")
                         .replace("10:0", f"1{(n + shift) % 10}:0"))
    for line, at, edit in edits:
        if texts:
            i = line % len(texts)
            texts[i] = texts[i][:at] + edit + texts[i][at:]
    path = tmp_path_factory.mktemp("gen") / "Master.csv"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    both(path, capture)


# --- through run_batch into the store -------------------------------------------------------

def test_stores_the_same_rows_and_counts(capture: CaptureContext, tmp_path: Path,
                                         simulated: Path, store: Store) -> None:
    """Same tables and counts; a second import is skipped; --again counts duplicates; a CDR
    import after queue_log merges by the same precedence."""
    from ingest.queue_log import parse_queue_log
    from monitor.store import open_store

    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    cdr = simulated / "Master.csv"
    corrupt = write(tmp_path / "corrupt.csv", [*_four_calls(), '"a","b",3'])
    paths = [cdr, corrupt]
    for target, parser in ((reference, REFERENCE), (store, ColumnarCdr())):
        import_all(target, "queue_log", [simulated / "queue_log"], parse_queue_log, capture)
        first = import_all(target, "cdr", paths, parser, capture)
        assert import_all(target, "cdr", paths, parser, capture) == [(0, 0, 0), (0, 0, 0)]
        again = import_all(target, "cdr", paths, parser, capture, again=True)
        assert again[0][2] > 0 and first[0][1] > 0  # duplicates, merged with queue_log
    expected, got = stored(reference), stored(store)
    assert got["batches"] == expected["batches"]
    assert got["rejects"] == expected["rejects"]
    assert got["misses"] == expected["misses"]
    assert len(got["calls"]) == len(expected["calls"]) > 5000
    assert got["calls"] == expected["calls"]
    reference.dispose()


def test_an_existing_call_is_merged_by_precedence(capture: CaptureContext, tmp_path: Path,
                                                  sqlite_store: Store) -> None:
    """An incomplete CEL record of the same call is completed by the CDR (complete beats
    incomplete), and the CDR never overwrites a complete, more precise record."""
    path = write(tmp_path / "Master.csv", [*ring_group()])
    run_import = functools.partial(import_all, sqlite_store, "cdr", [path])
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.insert(calls).values(
            pbx="paris-eps", call_key=UID, site="eps-05", arrival=T0, outcome="abandoned",
            in_hours=True, incomplete=True, sources=8, time_source=4, resolution=1e-6,
            local_date="2026-10-05", local_hour=10, local_weekday=0, caller_withheld=False,
            is_test=False))
    assert run_import(ColumnarCdr(), capture) == [(0, 1, 0)]
    with sqlite_store.engine.connect() as conn:
        row = conn.execute(sa.select(calls)).one()
    assert (row.outcome, row.incomplete, row.sources, row.time_source, row.answered_by) == (
        "answered", False, 10, 4, "PJSIP/eps05-0502")
    assert TRUNK and A3 and BASE  # the shapes above use the reference tests' legs
