"""No CSV or XLSX qualiphone writes can carry a live formula (OWASP CSV injection rule)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from config import SHIPPED_DIR, Config, load_config
from monitor.call import Outcome
from monitor.export_safety import TRIGGERS, needs_quote, safe_cell, safe_xlsx_cell, unquote
from monitor.store import open_store
from monitor.store.writer import write_calls
from mystery.campaign import load_campaign
from mystery.exports import write_plan_csv, write_results_template
from mystery.planner import plan_campaign
from mystery.repository import save_plan
from qualiphone.cli import cli
from reports.xlsx import HEADERS, tracking_xlsx
from tests.monitor.test_query import at, call
from tests.mystery.conftest import SMALL, campaign_text

ATTACK = "=cmd|' /C calc'!A0"


@given(st.text())
def test_a_neutralised_cell_never_starts_like_a_formula_and_reads_back(text: str) -> None:
    cell = safe_cell(text)
    assert not needs_quote(cell) and cell in (text, "'" + text)
    assert safe_cell(cell) == cell and unquote(cell) == text


def test_numbers_stay_numbers() -> None:
    assert [safe_cell(v) for v in (-5, -2.5, 0, "-5", "+33199000105", "-12,5", "1e3")] == \
        [-5, -2.5, 0, "-5", "+33199000105", "-12,5", "1e3"]
    assert [safe_cell(v) for v in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "-", "'=x")] == \
        ["'=1+1", "'+1+1", "'-1+1", "'@SUM(A1)", "'\tx", "'\rx", "'-", "'=x"]
    assert safe_xlsx_cell("a\x07b") == "a\ufffdb"


def _no_formula(path: Path) -> list[str]:
    """Every text cell of the workbook; fails on a formula cell."""
    texts = []
    for sheet in load_workbook(path):
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts


def _hostile_config(tmp_path: Path) -> Path:
    """The shipped config with a site id and a site name that look like formulas."""
    directory = tmp_path / "cfg"
    shutil.copytree(SHIPPED_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    sites = directory / "sites.toml"
    text = sites.read_text().replace('id = "eps-06"', 'id = "=eps-06"', 1)
    sites.write_text(text.replace('name = "EPS Paris 5e"', 'name = "@EPS Paris 5e"', 1))
    return directory


def test_stats_and_afterhours_csv_are_neutralised(tmp_path: Path) -> None:
    directory = _hostile_config(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.begin() as conn:  # one after-hours call of the site, for afterhours check
        write_calls(conn, [call("1", "=eps-06", at(20), Outcome.MESSAGE, tta=2.0, end=30.0,
                                in_hours=False)])
    store.dispose()
    base = ["--db", f"sqlite:///{tmp_path / 's.db'}", "--config", str(directory)]
    stats = CliRunner().invoke(cli, [*base, "stats", "--from", "2026-10-05", "--to", "2026-10-05",
                                     "--site", "=eps-06", "--format", "csv"])
    assert stats.exit_code == 0, stats.output
    rows = list(csv.reader(io.StringIO(stats.stdout)))
    assert rows[1][0] == "'=eps-06" and rows[1][2] == "0"
    check = CliRunner().invoke(cli, [*base, "afterhours", "check", "--month", "2026-10", "--format",
                                     "csv", "--site", "=eps-06"])
    assert check.exit_code == 0, check.output
    assert list(csv.reader(io.StringIO(check.stdout)))[1][0] == "'=eps-06"


def test_plan_csv_and_results_template_are_neutralised(tmp_path: Path) -> None:
    config = load_config(_hostile_config(tmp_path))
    path = tmp_path / "c.toml"
    text = campaign_text(**{**SMALL, "sites": '["eps-05"]'})
    path.write_text(text.replace('title = "Rendez-vous avec un travailleur social"',
                                 'title = "=HYPERLINK(\\"http://x\\")"'), encoding="utf-8")
    plan = plan_campaign(load_campaign(path, config), config, 7)
    write_plan_csv(plan, config, tmp_path / "plan.csv")
    rows = list(csv.DictReader((tmp_path / "plan.csv").open(encoding="utf-8-sig"), delimiter=";"))
    assert {r["site_name"] for r in rows} == {"'@EPS Paris 5e"}
    titles = {r["scenario_title"] for r in rows}
    assert all(not t.startswith(TRIGGERS) for t in titles) and "'=HYPERLINK(\"http://x\")" in titles
    write_results_template(plan, tmp_path / "r.csv")
    for row in csv.reader((tmp_path / "r.csv").open(encoding="utf-8-sig"), delimiter=";"):
        assert not any(cell.startswith(TRIGGERS) for cell in row)


def test_campaign_report_and_actions_xlsx_hold_no_formula(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "c.toml"
    path.write_text(campaign_text(**SMALL), encoding="utf-8")
    plan = plan_campaign(load_campaign(path, config), config, 7)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = open_store(url)
    save_plan(store, plan, config)
    store.dispose()
    lines = ["call_id;outcome;attempts;decroche-25s;annonce-service;politesse;ecoute;"
             "information-orientation;absence-transfert;mise-en-attente;prise-de-conge;comment"]
    for c in plan.calls:
        absence = "non" if c.scenario == "personne-absente" else ""
        lines.append(f'{c.call_id};answered;1;40;non;non;1;1;{absence};non;non;"{ATTACK}"')
    lines[-1] = lines[-1].replace(f'"{ATTACK}"', f'"\'{ATTACK}"')  # as our own export quotes it
    results = tmp_path / "r.csv"
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    imported = runner.invoke(cli, ["--db", url, "mystery", "import", str(results)])
    assert "refused 0" in imported.output, imported.output
    assert runner.invoke(cli, ["--db", url, "mystery", "actions", "propose", "test-2026"]).exit_code == 0
    owner = runner.invoke(cli, ["--db", url, "mystery", "actions", "update", "1", "--owner",
                                '=HYPERLINK("http://evil","clic")', "--comment", "@SUM(1+1)"])
    assert owner.exit_code == 0, owner.output
    out = tmp_path / "out"
    report = runner.invoke(cli, ["--db", url, "mystery", "report", "test-2026", "--out", str(out)])
    assert report.exit_code == 0, report.output
    texts = _no_formula(out / "rapport-test-2026.xlsx")
    assert texts.count("'" + ATTACK) == len(plan.calls)
    actions = tmp_path / "actions.xlsx"
    assert runner.invoke(cli, ["--db", url, "mystery", "actions", "export", "test-2026", "--out",
                               str(actions)]).exit_code == 0
    texts = _no_formula(actions)
    assert "'=HYPERLINK(\"http://evil\",\"clic\")" in texts
    assert not any(t.startswith(TRIGGERS) for t in texts)


def test_indicator_table_xlsx_holds_no_formula_and_keeps_numbers(tmp_path: Path) -> None:
    row = [None] * len(HEADERS)
    row[:6] = [dt.datetime(2026, 10, 1), "=1+1", "@EPS", 120, -3, 90]
    generated = dt.datetime(2026, 11, 2, 8, 0)
    first = tracking_xlsx([row], None, generated)
    path = tmp_path / "t.xlsx"
    path.write_bytes(first)
    _no_formula(path)
    sheet = load_workbook(path)["Indicateurs"]
    assert [c.value for c in sheet[2][:6]] == [dt.datetime(2026, 10, 1), "'=1+1", "'@EPS", 120, -3, 90]
    again = tracking_xlsx([], first, generated)  # rows kept from an earlier workbook stay text
    path.write_bytes(again)
    assert load_workbook(path)["Indicateurs"]["B2"].value == "'=1+1"
