"""`qualiphone sites learn | apply | check | reclassify` and `ingest --again`, as an installer
would use them on a PBX the shipped directory does not match (tests/ingest/foreign_pbx.py).

The acceptance: learning from the files, applying the reviewed patch, then reclassifying (or
importing again) gives the same calls — site, outcome, answer, answering device — as a correct
directory written by hand, call by call; and a wrong directory never turns an answer into an
abandon, and says which devices it does not know.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from config import SHIPPED_DIR, load_config
from simulator.month import write_month
from tests.ingest.foreign_pbx import foreign, foreign_sites, shipped_copy
from tests.ingest.test_cdr_real import DJ_SITE, real

from qualiphone.cli import cli  # isort: skip


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days (Thu 1 – Sat 3 October 2026) of the 17 sites, as the simulator writes them."""
    out = tmp_path_factory.mktemp("sim")
    write_month(load_config(), "2026-10", out, seed=3, days=3)
    return out / "Master.csv"


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def calls_of(db: Path) -> dict[str, tuple[object, ...]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT call_key, site, outcome, answer, answered_by, in_hours FROM calls")).all()
    engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}


def stats_json(db: Path, config: Path, day: str = "2026-10-01") -> dict[str, object]:
    out = run("--db", f"sqlite:///{db}", "--config", str(config), "stats", "--from", day,
              "--to", "2026-10-03", "--format", "json")
    assert out.exit_code == 0, out.output
    return json.loads(out.output[out.output.index("{"):])  # type: ignore[no-any-return]


# ---- the case: phones named after their extension, the rest as shipped -------------

def test_unknown_phones_are_named_and_never_counted_as_abandons(simulated: Path, tmp_path: Path) -> None:
    data = foreign(simulated, tmp_path / "Master.csv", keep_dids=True, single_site=True)
    good_config = foreign_sites(tmp_path / "good", keep_dids=True)
    # eps-05's phones are PJSIP/201, PJSIP/202… here; eps-20 (no call in this file) must not
    # claim them too (the loader refuses two sites' patterns matching one device)
    text = (good_config / "sites.toml").read_text().replace('"PJSIP/05*"', '"PJSIP/2*"') \
        .replace('"PJSIP/20*"', '"PJSIP/eps20-*"')
    (good_config / "sites.toml").write_text(text)
    good_db, db = tmp_path / "good.db", tmp_path / "shipped.db"
    assert run("--db", f"sqlite:///{good_db}", "--config", str(good_config),
               "ingest", "cdr", str(data)).exit_code == 0
    out = run("--db", f"sqlite:///{db}", "ingest", "cdr", str(data))
    assert out.exit_code == 0
    assert "PJSIP/201" in out.output and "PJSIP/202" in out.output
    assert "qualiphone sites learn" in out.output
    good = {c["site"]: c for c in stats_json(good_db, good_config)["cells"]}["eps-05"]
    shipped = {c["site"]: c for c in stats_json(db, Path("config"))["cells"]}["eps-05"]
    assert good["answered"] > 20 and shipped["answered"] == 0
    # every answer is kept apart, none became an abandon
    assert shipped["unknown_device"] == good["answered"]
    assert shipped["abandoned"] == good["abandoned"]
    assert shipped["directory_incomplete"] is True and good["directory_incomplete"] is False

    # learn from the file, apply the patch to a copy of the shipped directory, reclassify
    config = shipped_copy(tmp_path / "learnt")
    patch = tmp_path / "patch.toml"
    out = run("--config", str(config), "sites", "learn", str(data), "--write", str(patch))
    assert out.exit_code == 0, out.output
    assert "PJSIP/201" in patch.read_text()
    assert run("--config", str(config), "sites", "apply", str(patch)).exit_code == 0
    assert len(list(config.glob("sites.toml.*.bak"))) == 1
    out = run("--db", f"sqlite:///{db}", "--config", str(config), "sites", "reclassify")
    assert "unknown_device -> answered" in out.output
    assert calls_of(db) == calls_of(good_db)
    learnt = {c["site"]: c for c in stats_json(db, config)["cells"]}["eps-05"]
    for key in ("offered", "answered", "answered_within", "abandoned", "short_abandons",
                "message", "voicemail", "pickup_rate"):
        assert learnt[key] == good[key], key
    check = run("--db", f"sqlite:///{db}", "--config", str(config), "sites", "check",
                "--from", "2026-10-01", "--to", "2026-10-03", "--format", "json")
    gaps = json.loads(check.output)["gaps"]
    assert not [g for g in gaps if g["kind"] in ("device", "machine")]
    # the other 16 sites had no call in this file: a timer is told (exit status 3)
    assert check.exit_code == 3 and {g["kind"] for g in gaps} == {"silent_site"}


# ---- nothing matches: other DIDs, queues, contexts and phones ---------------------------------

def test_learn_and_apply_give_the_calls_of_a_correct_directory(simulated: Path,
                                                               tmp_path: Path) -> None:
    data = foreign(simulated, tmp_path / "Master.csv")
    good_config = foreign_sites(tmp_path / "good")
    good_db, db = tmp_path / "good.db", tmp_path / "learnt.db"
    assert run("--db", f"sqlite:///{good_db}", "--config", str(good_config),
               "ingest", "cdr", str(data)).exit_code == 0

    # the shipped directory: every call is left out, and the check fails for a timer
    out = run("--db", f"sqlite:///{db}", "ingest", "cdr", str(data))
    assert "imported 0" in out.output
    check = run("sites", "check", str(data))
    assert check.exit_code == 3 and "site with no call" in check.output

    config = shipped_copy(tmp_path / "learnt")
    patch = tmp_path / "patch.toml"
    assert run("--config", str(config), "sites", "learn", str(data), "--write",
               str(patch)).exit_code == 0
    text = patch.read_text()
    assert "\n[[unassigned]]\n" not in text  # every number's last digits name one site
    diff = run("--config", str(config), "sites", "apply", str(patch), "--dry-run")
    assert '+dids = ["0199000105", "+33199000105", "0105"]' in diff.output
    assert not list(config.glob("sites.toml.*.bak"))  # --dry-run writes nothing
    assert run("--config", str(config), "sites", "apply", str(patch)).exit_code == 0
    out = run("--db", f"sqlite:///{db}", "--config", str(config), "ingest", "cdr", str(data))
    assert "already imported" in out.output  # same checksum: --again is needed
    out = run("--db", f"sqlite:///{db}", "--config", str(config), "ingest", "cdr", "--again",
              str(data))
    assert out.exit_code == 0 and "warning" not in out.output
    assert calls_of(db) == calls_of(good_db)
    check = run("--db", f"sqlite:///{db}", "--config", str(config), "sites", "check",
                "--from", "2026-10-01", "--to", "2026-10-03", "--format", "json")
    report = json.loads(check.output)
    assert check.exit_code == 0 and report["fails"] is False
    assert [g for g in report["gaps"] if g["kind"] in ("device", "machine", "did")] == []


def test_a_number_of_no_site_is_left_for_a_person_to_fill_in(simulated: Path,
                                                             tmp_path: Path) -> None:
    data = foreign(simulated, tmp_path / "Master.csv")
    text = data.read_text().replace('"0112"', '"0153009999"')
    data.write_text(text)
    config = shipped_copy(tmp_path / "learnt")
    patch = tmp_path / "patch.toml"
    out = run("--config", str(config), "sites", "learn", str(data), "--write", str(patch))
    assert 'cannot tell the site' in out.output and "0153009999" in out.output
    assert "([[unassigned]] block)" in out.output  # not swallowed as console markup
    assert '\n[[unassigned]]\n' in patch.read_text() and 'site = ""' in patch.read_text()
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 0 and "no site given" in out.output
    assert "0153009999" not in (config / "sites.toml").read_text()
    patch.write_text(patch.read_text().replace('site = ""', 'site = "eps-12"'))
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 0
    assert "0153009999" in (config / "sites.toml").read_text()
    # each apply kept its own dated backup: the first one is the original directory
    backups = sorted(config.glob("sites.toml.*.bak"))
    assert len(backups) == 2 and any(b.name in out.output for b in backups)
    assert (SHIPPED_DIR / "sites.toml").read_text() in [b.read_text() for b in backups]


def test_apply_refuses_a_patch_the_loader_would_refuse(tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "c")
    patch = tmp_path / "p.toml"
    patch.write_text('[[site]]\nid = "eps-99"\nqueues = ["x"]\n')
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 1 and 'site "eps-99" is not in sites.toml' in out.output
    patch.write_text('[[site]]\nid = "eps-05"\nqueues = ["std-06"]\n')  # eps-06's queue
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 1 and "would be refused" in out.output and "std-06" in out.output
    patch.write_text('[[site]]\nid = "eps-05"\nhours = ["x"]\n')
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 1 and 'key "hours" cannot be learned' in out.output
    # nothing was written by the refused patches
    assert (config / "sites.toml").read_text() == (SHIPPED_DIR / "sites.toml").read_text()
    assert not list(config.glob("sites.toml.*.bak"))


@pytest.mark.realdata
def test_learn_on_a_real_master_csv_proposes_its_staff_devices(real_data: Path,
                                                               tmp_path: Path) -> None:
    """dj-asterisk-cdr with a directory that knows its DIDs but no phone: learning proposes the
    devices that answered, and applying them gives the calls of the hand-written directory."""
    from tests.ingest.test_cdr_real import context, parse

    config = tmp_path / "config"
    config.mkdir()
    blind = "\n".join(line for line in DJ_SITE.splitlines() if not line.startswith("staff"))
    context(tmp_path, blind)  # writes config/ (settings.toml + this sites.toml)
    path = real(real_data, "dj-asterisk-cdr/Master.csv")
    patch = tmp_path / "patch.toml"
    out = run("--config", str(config), "sites", "learn", str(path), "--write", str(patch))
    assert out.exit_code == 0, out.output
    text = patch.read_text()
    assert "SIP/301" in text and "SIP/stadionpbx" in text
    assert run("--config", str(config), "sites", "apply", str(patch)).exit_code == 0
    for name in ("good", "learnt"):
        (tmp_path / name).mkdir()
    learnt_ctx = context(tmp_path / "learnt", (config / "sites.toml").read_text())
    good_ctx = context(tmp_path / "good", DJ_SITE)
    learnt = parse(path, learnt_ctx).by_key(learnt_ctx)
    good = parse(path, good_ctx).by_key(good_ctx)
    assert {k: (c.outcome, c.answer, c.answered_by) for k, c in learnt.items()} == \
        {k: (c.outcome, c.answer, c.answered_by) for k, c in good.items()}


@pytest.mark.realdata
def test_learn_from_a_recorded_ami_capture(real_data: Path, tmp_path: Path) -> None:
    from tests.ingest.ami.ami_support import CAPTURE_SITES, write_config

    sites = [dict(s, staff_devices=[], queues=[]) for s in CAPTURE_SITES]
    config = write_config(tmp_path / "config", sites)
    capture = real_data / "ami/verbara/queue-reload-asterisk-22.9.0.raw"
    out = run("--config", str(config), "sites", "learn", str(capture), "--write",
              str(tmp_path / "p.toml"))
    assert out.exit_code == 0, out.output
    text = (tmp_path / "p.toml").read_text()
    assert '"q-late"' in text and "Local/late@agents-late" in text


def test_a_phone_answering_for_two_sites_is_proposed_for_one(simulated: Path,
                                                              tmp_path: Path) -> None:
    """A shared phone: proposed for the site it answered most, noted for the other, so the
    patched directory loads (one device belongs to one site) and both sites' calls count it."""
    data = foreign(simulated, tmp_path / "Master.csv")
    data.write_text(data.read_text().replace("PJSIP/0601", "PJSIP/0501"))
    config = shipped_copy(tmp_path / "learnt")
    patch = tmp_path / "patch.toml"
    assert run("--config", str(config), "sites", "learn", str(data), "--write",
               str(patch)).exit_code == 0
    text = patch.read_text()
    assert text.count('"PJSIP/0501"') == 1 and "also answered for eps-0" in text
    out = run("--config", str(config), "sites", "apply", str(patch))
    assert out.exit_code == 0, out.output
    db = tmp_path / "q.db"
    run("--db", f"sqlite:///{db}", "--config", str(config), "ingest", "cdr", str(data))
    outcomes = {row[1] for row in calls_of(db).values()}
    assert "unknown_device" not in outcomes
