"""Mystery CLI as a careless user meets it: unknown values are errors, one way to name a
campaign, and a results template that imports as filled in a spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from config import Config
from monitor.store import open_store
from mystery.campaign import CriterionType, load_campaign
from mystery.exports import NOT_IN_SCENARIO, write_results_template
from mystery.planner import plan_campaign
from mystery.repository import campaign_results, save_plan
from mystery.results_import import import_results
from qualiphone.cli import cli
from tests.mystery.conftest import SMALL, campaign_text


def _stored(tmp_path: Path, config: Config) -> tuple[str, object]:
    path = tmp_path / "small.toml"
    path.write_text(campaign_text(**SMALL), encoding="utf-8")
    plan = plan_campaign(load_campaign(path, config), config, 7)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    save_plan(store, plan, config)
    store.dispose()
    return url, plan


def test_calls_of_an_unknown_campaign_or_site_are_errors(tmp_path: Path, config: Config) -> None:
    url, _ = _stored(tmp_path, config)
    runner = CliRunner()
    unknown = runner.invoke(cli, ["--db", url, "mystery", "calls", "eps-2019"])
    assert unknown.exit_code == 1
    assert unknown.output == ('Error: campaign "eps-2019" has no plan in the store (planned '
                              "campaigns: test-2026); plan it first: qualiphone mystery plan eps-2019\n")
    site = runner.invoke(cli, ["--db", url, "mystery", "calls", "test-2026", "--site", "eps-99"])
    assert site.exit_code == 1 and site.output.startswith('Error: site "eps-99" is not in ')
    assert "known sites: eps-centre, eps-05, …, eps-20." in site.output
    other = runner.invoke(cli, ["--db", url, "mystery", "calls", "test-2026", "--site", "eps-06"])
    assert other.exit_code == 1
    assert other.output == ('Error: site "eps-06" has no call in campaign "test-2026"; its sites: '
                            "eps-05, eps-13, eps-18.\n")
    listed = runner.invoke(cli, ["--db", url, "mystery", "actions", "list", "eps-2019"])
    assert listed.exit_code == 1 and listed.output.startswith('Error: campaign "eps-2019" has no plan')


def test_actions_take_the_campaign_as_an_argument_like_the_other_commands(
        tmp_path: Path, config: Config) -> None:
    url, _ = _stored(tmp_path, config)
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", url, "mystery", "actions", "list", "test-2026"])
    assert listed.exit_code == 0 and listed.output == "no actions\n"
    old = runner.invoke(cli, ["--db", url, "mystery", "actions", "list", "--campaign", "test-2026"])
    assert old.exit_code == 0 and old.stdout == "no actions\n"
    assert old.stderr == ("note: --campaign is deprecated; give the campaign as an argument: "
                          "qualiphone mystery actions list test-2026\n")
    both = runner.invoke(cli, ["--db", url, "mystery", "actions", "list", "test-2026", "--campaign",
                               "other"])
    assert both.exit_code == 2 and 'the campaign is given twice: "test-2026" and --campaign "other"' \
        in both.output
    out = tmp_path / "actions.xlsx"
    exported = runner.invoke(cli, ["--db", url, "mystery", "actions", "export", "test-2026", "--out",
                                   str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.is_file()


def _fill_as_a_user(template: Path, campaign: object) -> bytes:
    """What a person does in a spreadsheet: an outcome on every line, an answer in every empty
    criterion cell of an answered call (the marked ones left as they are), then "save as CSV"
    the way Excel does in French: `;`, CRLF, Windows-1252, dates as DD/MM/YYYY HH:MM."""
    rows = list(csv.reader(io.StringIO(template.read_text(encoding="utf-8-sig")), delimiter=";"))
    header, body = rows[0], rows[1:]
    criteria = {c.id: c for c in campaign.criteria}  # type: ignore[attr-defined]
    samples = {CriterionType.YESNO: ["oui", "non", "Oui"], CriterionType.SCALE: ["3", "4", "2"],
               CriterionType.SECONDS: ["12", "7,5", "31"]}
    for i, row in enumerate(body):
        cells = dict(zip(header, row, strict=True))
        answered = i % 5 != 4
        cells["outcome"] = "décroché" if answered else "pas de réponse"
        cells["attempts"] = "1" if answered else "3"
        day, time = cells["called_at"].split(" ")
        y, m, d = day.split("-")
        cells["called_at"] = f"{d}/{m}/{y} {time}"
        for cid, criterion in criteria.items():
            if answered and cells[cid] == "":
                cells[cid] = samples[criterion.type][i % 3]
        cells["comment"] = "accueil aimable, transfert rapide" if answered else ""
        body[i] = [cells[h] for h in header]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([header, *body])
    return out.getvalue().encode("cp1252")


def test_the_results_template_filled_in_a_spreadsheet_imports_without_refusal(
        tmp_path: Path, config: Config) -> None:
    url, plan = _stored(tmp_path, config)
    template = tmp_path / "resultats.csv"
    write_results_template(plan, template)
    rows = list(csv.DictReader(io.StringIO(template.read_text(encoding="utf-8-sig")), delimiter=";"))
    by_id = {c.call_id: c for c in plan.calls}
    for row in rows:  # a criterion of another scenario is marked on its line, the others are empty
        scenario = by_id[row["call_id"]].scenario
        for c in plan.campaign.criteria:
            assert row[c.id] == ("" if c.applies_to(scenario) else NOT_IN_SCENARIO)
    assert any(row["absence-transfert"] == NOT_IN_SCENARIO for row in rows)
    filled = tmp_path / "resultats-rempli.csv"
    filled.write_bytes(_fill_as_a_user(template, plan.campaign))
    store = open_store(url)
    summary = import_results(store, config, filled)
    assert [r.reason for r in summary.rejected] == []
    assert summary.imported == len(plan.calls) == 12
    results = {r.call_id: r for r in campaign_results(store, plan.campaign.id)}
    store.dispose()
    absent = next(r for r in results.values() if by_id[r.call_id].scenario != "personne-absente"
                  and r.outcome.value == "answered")
    assert "absence-transfert" not in absent.answers
    assert absent.comment == "accueil aimable, transfert rapide"
