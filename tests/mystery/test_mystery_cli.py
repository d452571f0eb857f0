"""`qualiphone mystery plan` end to end: output, stored plan, CSV, iCalendar, call sheets, errors."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from config import Config
from monitor.store import open_store
from monitor.store.models import metadata
from mystery import models
from mystery.campaign import load_campaign
from mystery.exports import fold, ics_escape
from mystery.planner import plan_campaign
from mystery.repository import save_plan
from qualiphone.cli import cli


@pytest.fixture
def small_file(write_campaign: Callable[..., Path], small_changes: dict[str, str]) -> Path:
    return write_campaign("small", **small_changes)


def plan(tmp_path: Path, *args: str) -> tuple[str, CliRunner, object]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    return url, runner, runner.invoke(cli, ["--db", url, "mystery", "plan", *args])


@pytest.fixture
def tiny_file(write_campaign: Callable[..., Path], small_changes: dict[str, str]) -> Path:
    """Two sites, three calls each: few call sheets to draw."""
    return write_campaign("tiny", **{**small_changes, "sites": '["eps-05", "eps-18"]', "calls_per_site": "3"})


def test_plan_writes_everything(tmp_path: Path, tiny_file: Path) -> None:
    out = tmp_path / "out"
    url, runner, result = plan(tmp_path, str(tiny_file), "--seed", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith('campaign "test-2026" (Enquête téléphonie mystère 2026') and \
        lines[0].endswith(": 6 calls, 2 sites, 2026-10-12 to 2026-10-23, seed 7")
    assert "  sites    2 sites, 3 calls each" in lines
    assert "stored the plan: call ids T26-05-001 … T26-18-003" in lines
    rows = list(csv.DictReader((out / "plan-test-2026.csv").open(encoding="utf-8-sig"), delimiter=";"))
    assert len(rows) == 6 and rows[0]["site_name"].startswith("EPS Paris")
    assert {r["weekday"] for r in rows} <= {"lundi", "mardi", "mercredi", "jeudi", "vendredi"}
    template = (out / "resultats-test-2026.csv").read_text(encoding="utf-8-sig").splitlines()
    assert template[0].startswith("call_id;role;scorer;outcome;attempts;called_at;decroche-25s;")
    _check_ics(out, rows)
    listing = runner.invoke(cli, ["--db", url, "mystery", "calls", "test-2026", "--site", "eps-18"])
    assert listing.output.count("T26-18-") == 3 and "to do" in listing.output
    sheets = sorted(out.glob("fiches-appels-*.pdf"))
    assert sheets and {p.name for p in sheets} <= {f"fiches-appels-appelant-{x}.pdf" for x in "abcd"}
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(sheets[0]), "-"], capture_output=True, text=True).stdout
        for expected in ("Fiche d'appel mystère", "Numéro à composer", "Grille d'évaluation",
                         "Issue de l'appel", "nombre de tentatives", "Réponse ou orientation attendue"):
            assert expected in text


def _check_ics(out: Path, rows: list[dict[str, str]]) -> None:
    files = sorted(out.glob("appels-*.ics"))
    events = 0
    for path in files:
        data = path.read_bytes()
        assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
        physical = data.split(b"\r\n")[:-1]
        assert all(len(line) <= 75 for line in physical)
        text = data.decode("utf-8").replace("\r\n ", "")  # unfold
        assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
        events += text.count("BEGIN:VEVENT")
        assert text.count("BEGIN:VEVENT") == text.count("UID:T26-") == text.count("DTSTART:")
        caller = path.stem.removeprefix("appels-")
        for row in (r for r in rows if r["caller"] == caller):
            local = dt.datetime.fromisoformat(f"{row['date']} {row['time']}").replace(
                tzinfo=dt.timezone(dt.timedelta(hours=2 if row["date"] < "2026-10-25" else 1)))
            assert f"UID:{row['call_id']}@test-2026.qualiphone" in text
            assert f"DTSTART:{local.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}" in text
        assert "Numéro à composer : 01 99 00 01" in text.replace("\\n", "\n")
    assert events == len(rows)


def test_ics_text_rules() -> None:
    assert ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    long = "DESCRIPTION:" + "é" * 80
    folded = fold(long)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == long


def test_plan_twice_and_errors(tmp_path: Path, write_campaign: Callable[..., Path],
                               small_changes: dict[str, str]) -> None:
    one = write_campaign("one", **{**small_changes, "sites": '["eps-05"]', "calls_per_site": "1"})
    url, runner, first = plan(tmp_path, str(one), "--dry-run")
    assert first.exit_code == 0 and first.output.endswith("dry run: nothing stored or written\n")
    args = ["--db", url, "mystery", "plan", str(one), "--out", str(tmp_path / "o")]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert again.output.endswith('Error: campaign "test-2026" already has a plan; use --replace to plan it '
                                 "again (no results are recorded yet)\n")
    assert runner.invoke(cli, [*args, "--replace", "--seed", "9"]).exit_code == 0
    missing = runner.invoke(cli, ["--db", url, "mystery", "plan", "eps-2031"])
    assert missing.exit_code == 1
    assert 'key (file) is "eps-2031"; expected a campaign TOML file or one of eps-2026.' in missing.output
    unknown = runner.invoke(cli, ["--db", url, "mystery", "report", "eps-2019"])
    assert unknown.exit_code == 1 and unknown.output == (
        'Error: campaign "eps-2019" has no plan in the store (planned campaigns: test-2026); '
        "plan it first: qualiphone mystery plan eps-2019\n")


def stored(tmp_path: Path, small_file: Path, config: Config) -> tuple[str, CliRunner]:
    """The small campaign planned and stored without writing its files (faster)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    save_plan(store, plan_campaign(load_campaign(small_file, config), config, 7), config)
    store.dispose()
    return url, CliRunner()


def test_plan_with_results_cannot_be_replaced(tmp_path: Path, small_file: Path, config: Config) -> None:
    url, runner = stored(tmp_path, small_file, config)
    results = tmp_path / "r.csv"
    results.write_text("call_id;outcome;attempts\nT26-05-001;busy;2\n", encoding="utf-8")
    imported = runner.invoke(cli, ["--db", url, "mystery", "import", str(results)])
    assert imported.output.endswith("1 results read: imported 1, replaced 0, unchanged 0, refused 0\n")
    again = runner.invoke(cli, ["--db", url, "mystery", "plan", str(small_file), "--replace"])
    assert again.exit_code == 1 and again.output.endswith(
        'Error: campaign "test-2026" already has a plan with 1 recorded results; it cannot be replaced '
        "(plan a new campaign id instead)\n")


def test_import_reports_refused_lines(tmp_path: Path, small_file: Path, config: Config) -> None:
    url, runner = stored(tmp_path, small_file, config)
    results = tmp_path / "r.csv"
    results.write_text("call_id;outcome;attempts;ecoute\nT26-05-001;busy;2;\nT26-05-002;answered;1;7\n",
                       encoding="utf-8")
    result = runner.invoke(cli, ["--db", url, "mystery", "import", str(results)])
    assert result.exit_code == 0
    assert (f'{results}: line 3: criterion "ecoute" is "7"; expected a whole number from 1 to 4'
            in result.output)
    assert "2 results read: imported 1, replaced 0, unchanged 0, refused 1" in result.output
    missing = runner.invoke(cli, ["--db", url, "mystery", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1
    assert missing.output == f"Error: {tmp_path / 'nope.csv'}: no such file; check the path\n"


def test_migration_matches_the_models(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = set(models.__dict__) & {t.name for t in metadata.sorted_tables}
    assert mine == {"mystery_campaigns", "mystery_planned_calls", "mystery_results", "mystery_answers",
                    "mystery_actions"}
    assert [d for d in diff if any(name in str(d) for name in mine)] == []
    with store.engine.connect() as conn:
        assert "pbx_channel_id" in {c["name"] for c in sa.inspect(conn).get_columns("mystery_results")}
    store.dispose()
