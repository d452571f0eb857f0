"""The columnar CEL importer against the reference, call by call, on the real cel_custom
recordings, simulated days, hand-made calls (the reference tests' scenarios, and the shapes left
to the reference), generated files, and through run_batch into SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.cel import parse_cel
from ingest.columnar.cel import ColumnarCel
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from tests.ingest.columnar_support import compare, import_all, stored
from tests.ingest.test_cel import REFERENCE_CALL, Scenario, row
from tests.ingest.test_cel_real import TESTSUITE, site_context


def both(path: Path, ctx: CaptureContext) -> ColumnarCel:
    fast = ColumnarCel()
    compare(path, parse_cel, fast, ctx)
    return fast


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["self_test_CELMaster1.csv", "self_test_CELMaster2.csv"])
def test_real_recordings(real_data: Path, tmp_path: Path, name: str) -> None:
    ctx = site_context(tmp_path, dids=[], contexts=["default"], staff=["Local/x@default"])
    both(real_data / TESTSUITE / name, ctx)


def test_simulated_days(simulated: Path, capture: CaptureContext) -> None:
    fast = both(simulated / "cel.csv", capture)
    assert fast.delegated_rows < len((simulated / "cel.csv").read_bytes().splitlines()) * 0.02


def test_simulated_days_read_in_small_parts(simulated: Path, capture: CaptureContext,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts cut where no linkedid or uniqueid straddles them give the same result."""
    import ingest.columnar.cel as columnar

    monkeypatch.setattr(columnar, "CHUNK_LINES", 5_000)
    both(simulated / "cel.csv", capture)
    text = (simulated / "cel.csv").read_text(encoding="utf-8").splitlines()[:60_000]
    text[15_000] = text[15_000].replace('"HANGUP"', '"HANG\x00UP"')
    text[25_000] = text[25_000][:30]
    both(write(simulated.parent / "cel-corrupt-parts.csv", text), capture)


def _shapes() -> dict[str, list[str]]:
    announced = Scenario(1718100000.25, 20)
    announced.on(0.48, "ANSWER", appname="Playback", appdata="eps-bienvenue", context="in-eps-05")
    announced.on(6.0, "APP_START", appname="Queue", appdata="std-05,r", context="in-eps-05")
    announced.leg(6.1, "CHAN_START", "PJSIP/eps05-0502-00000015", "1718100006.21")
    announced.leg(20.3, "ANSWER", "PJSIP/eps05-0502-00000015", "1718100006.21")
    announced.leg(20.31, "BRIDGE_ENTER", "PJSIP/eps05-0502-00000015", "1718100006.21",
                  peer=announced.trunk)
    announced.on(20.312, "BRIDGE_ENTER", peer="PJSIP/eps05-0502-00000015")
    bridged = Scenario(1718700000.0, 90)
    bridged.leg(0.5, "CHAN_START", "PJSIP/eps05-0503-00000091", "1718700000.91")
    bridged.on(11.25, "BRIDGE_START", appname="Dial", peer=" PJSIP/hall-1, PJSIP/eps05-0503-00000091")
    unknown = Scenario(1718710000.0, 91)
    unknown.leg(0.5, "CHAN_START", "PJSIP/hall-00000092", "1718710000.92")
    unknown.leg(9.0, "ANSWER", "PJSIP/hall-00000092", "1718710000.92")
    machine = Scenario(1718720000.0, 93)
    machine.on(0.1, "APP_START", appname="Playback", appdata="x", context="ivr-unknown")
    machine.on(0.12, "ANSWER", appname="Playback", context="ivr-unknown")
    busy = Scenario(1718800000.0, 95)
    busy.leg(0.5, "CHAN_START", "PJSIP/eps05-0501-00000096", "1718800000.96")
    internal = [row(e, 1718500000.0 + i, "PJSIP/eps05-0501-00000070", "1718500000.70",
                    "1718500000.70", exten="0502", context="from-internal")
                for i, e in enumerate(("CHAN_START", "HANGUP", "CHAN_END", "LINKEDID_END"))]
    cut = Scenario(1718400002.0, 62)
    cut.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    open_answered = Scenario(1718400200.0, 64)
    open_answered.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    open_answered.leg(0.3, "CHAN_START", "PJSIP/eps05-0502-00000065", "1718400200.65")
    open_answered.leg(9.0, "ANSWER", "PJSIP/eps05-0502-00000065", "1718400200.65")
    open_gone = Scenario(1718400300.0, 66)
    open_gone.on(0.2, "APP_START", appname="Queue", appdata="std-05")
    late = Scenario(1718900000.0, 98)
    again = [*late.hangup(5.0),
             row("HANGUP", 1718900010.0, late.trunk, late.linkedid, late.linkedid)]
    evening = Scenario(1718052900.0, 50)
    evening.on(0.1, "APP_START", appname="Playback", appdata="eps-ferme", context="msg-eps-05")
    return {
        "reference call": REFERENCE_CALL,
        "announcement then the queue": announced.hangup(95.0),
        "bridge peers": bridged.hangup(30.1, "16,,ANSWER"),
        "unknown device": unknown.hangup(30.0),
        "machine": machine.hangup(20.0),
        "busy": busy.hangup(0.7, '{"hangupcause":17,"hangupsource":"","dialstatus":"BUSY"}'),
        "congestion cause": Scenario(1718810000.0, 97).hangup(
            0.7, '{"hangupcause":34,"hangupsource":"","dialstatus":""}'),
        "message": evening.hangup(28.5),
        "internal and unknown DID": internal + Scenario(1718500100.0, 71, did="0188888888").hangup(1),
        "test call": Scenario(1718600000.0, 80, accountcode="mystery").hangup(5.0),
        "open at the end": cut.lines,
        "open at the end, answered": open_answered.lines,
        "open at the end, the caller gone": open_gone.hangup(31.0, end=False),
        "records after LINKEDID_END": again,
        "no CHAN_START": REFERENCE_CALL[1:],
        "bad rows": [*REFERENCE_CALL[:2], "", '"HANGUP","1718000100.000000"x,"",""',
                     REFERENCE_CALL[2].replace('"1718000001.005870"', '"yesterday"'),
                     REFERENCE_CALL[3].replace('"1718000015.240101"', '"2024-06-10 08:13:35"'),
                     *REFERENCE_CALL[4:]],
    }


SHAPES = _shapes()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_calls(capture: CaptureContext, tmp_path: Path, shape: str) -> None:
    both(write(tmp_path / "cel.csv", SHAPES[shape]), capture)


def test_all_calls_interleaved(capture: CaptureContext, tmp_path: Path) -> None:
    lines = sorted((line for k, v in SHAPES.items() if k not in ("no CHAN_START", "bad rows")
                    for line in v), key=lambda text: text.split('","')[1])
    both(write(tmp_path / "cel.csv", lines), capture)


_EDITS = st.sampled_from(['"', ",", "", " ", "x", "LINKEDID_END", "1718000000"])


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from([k for k in SHAPES if k != "no CHAN_START"]),
                      min_size=1, max_size=4),
       cut=st.integers(0, 30),
       edits=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 300), _EDITS), max_size=3))
def test_generated_files(capture: CaptureContext, tmp_path_factory: pytest.TempPathFactory,
                         picks: list[str], cut: int, edits: list[tuple[int, int, str]]) -> None:
    lines = [line for name in picks for line in SHAPES[name]]
    lines = lines[:len(lines) - cut] if cut < len(lines) else lines
    for at, pos, edit in edits:
        if lines:
            i = at % len(lines)
            lines[i] = lines[i][:pos] + edit + lines[i][pos:]
    both(write(tmp_path_factory.mktemp("gen") / "cel.csv", lines), capture)


def test_stores_the_same_rows_and_counts(capture: CaptureContext, tmp_path: Path,
                                         simulated: Path, store: Store) -> None:
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    paths = [simulated / "cel.csv", write(tmp_path / "bad.csv", SHAPES["bad rows"])]
    for target, parser in ((reference, parse_cel), (store, ColumnarCel())):
        import_all(target, "cel", paths, parser, capture)
        import_all(target, "cel", paths, parser, capture, again=True)
    assert stored(store) == stored(reference)
    reference.dispose()


DIALPLAN_HANGUP = '{"hangupcause":16,"hangupsource":"dialplan/builtin","dialstatus":""}'


@pytest.mark.parametrize(("shape", "outcome"), [("machine", "machine"),
                                                ("unknown device", "unknown_device"),
                                                ("rang out", "no_answer")])
def test_a_dialplan_hangup_never_hides_a_directory_gap(capture: CaptureContext, tmp_path: Path,
                                                      shape: str, outcome: str) -> None:
    """The dialplan hanging up on the caller says the PBX ended the call (no_answer), but a
    machine that answered first, or a device no site lists, is still a gap to classify: in
    both importers."""
    from monitor.call import CallBuilder
    from tests.ingest.test_cdr import T0

    c = Scenario(T0, 1)
    if shape == "machine":
        c.on(0.2, "APP_START", appname="Playback", context="accueil-nuit")
        c.on(0.25, "ANSWER", appname="Playback", context="accueil-nuit")
    elif shape == "unknown device":
        c.on(0.2, "APP_START", appname="Queue", appdata="std-05,r", context="in-eps-05")
        c.leg(1.0, "CHAN_START", "PJSIP/201-00000099", f"{int(T0) + 1}.5")
        c.leg(10.0, "ANSWER", "PJSIP/201-00000099", f"{int(T0) + 1}.5", appname="AppQueue")
    else:
        c.on(0.2, "APP_START", appname="Dial", context="in-eps-05")
    path = tmp_path / "cel.csv"
    path.write_text("\n".join(c.hangup(40.0, DIALPLAN_HANGUP)) + "\n", encoding="utf-8")
    assert compare(path, parse_cel, ColumnarCel(), capture).calls == 1  # the same in both
    lines = enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
    built = [i for i in parse_cel(lines, capture) if isinstance(i, CallBuilder)]
    assert [capture.finalize(b).outcome.value for b in built] == [outcome]
