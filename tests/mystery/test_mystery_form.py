"""The terminal scoring form: validates each answer, saves as it goes, resumes where it stopped."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from config import Config
from monitor.store import open_store
from mystery.campaign import Campaign
from mystery.planner import plan_campaign
from mystery.repository import campaign_results, save_plan
from mystery.scoring import Answer, Outcome
from qualiphone.cli import cli


def _setup(tmp_path: Path, small: Campaign, config: Config) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'form.db'}"
    store = open_store(url)
    plan = plan_campaign(small, config, 7)
    save_plan(store, plan, config)
    store.dispose()
    call = next(c for c in plan.calls if c.scenario == "personne-absente")
    return url, call.call_id


def test_form_validates_saves_and_resumes(tmp_path: Path, small: Campaign, config: Config) -> None:
    url, call_id = _setup(tmp_path, small, config)
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", url, "mystery", "record", call_id],
                          input="1\n1\n\n12\noui\nsans doute\noui\n")  # stops after 3 answers
    assert first.exit_code == 1  # aborted: end of input
    assert f"Appel mystère {call_id}" in first.output
    assert "Réponse refusée : répondez oui ou non." in first.output
    assert "Error" not in first.output  # the form speaks French only
    store = open_store(url)
    (partial,) = campaign_results(store, small.id)
    assert partial.status == "in_progress" and partial.source == "form"
    assert set(partial.answers) == {"decroche-25s", "annonce-service", "politesse"}

    second = runner.invoke(cli, ["--db", url, "mystery", "record", call_id],
                           input="5\n3\n4\noui\nSO\nnon\nRAS\n")
    assert second.exit_code == 0, second.output
    assert "Reprise de la saisie : 3 réponse(s) déjà enregistrée(s)." in second.output
    assert "Réponse refusée : répondez par un chiffre de 1 à 4." in second.output
    assert "Error" not in second.output
    # weights 3 2 1 2 3 2 (attente SO) 1 = 14; scores 1 1 1 2/3 1 1 0 → 10 × (12 + 1/3) / 14 = 8.8
    assert "Note de l'appel : 8,8/10 — conforme." in second.output
    (done,) = campaign_results(store, small.id)
    assert done.status == "complete" and done.comment == "RAS" and done.outcome is Outcome.ANSWERED
    assert done.answers["mise-en-attente"] == Answer(None, na=True)
    assert done.answers["ecoute"] == Answer(3.0)

    third = runner.invoke(cli, ["--db", url, "mystery", "record", call_id])
    assert "Cet appel est déjà saisi (appelant-" in third.output and third.exit_code == 0
    store.dispose()


def test_form_for_an_unanswered_call(tmp_path: Path, small: Campaign, config: Config) -> None:
    url, call_id = _setup(tmp_path, small, config)
    result = CliRunner().invoke(cli, ["--db", url, "mystery", "record", call_id, "--scorer", "K. B."],
                                input="9\n2\n4\n3\n2026-10-13 9h05\n2026-10-13 09:05\n\n")
    assert result.exit_code == 0, result.output
    assert "Note de l'appel : 0,0/10 — non conforme ; critère(s) critique(s) non atteint(s) : decroche-25s" \
        in result.output
    assert "Réponse refusée : indiquez un nombre de 1 à 7." in result.output  # outcome 9
    assert "Réponse refusée : indiquez un nombre de 1 à 3." in result.output  # 4 tries of 3
    assert "Réponse refusée : écrivez la date et l'heure ainsi" in result.output
    assert "Error" not in result.output
    store = open_store(url)
    (done,) = campaign_results(store, small.id)
    assert (done.outcome, done.attempts, done.scorer, done.answers) == (Outcome.NO_ANSWER, 3, "K. B.", {})
    store.dispose()


def test_unknown_call(tmp_path: Path, small: Campaign, config: Config) -> None:
    url, _ = _setup(tmp_path, small, config)
    result = CliRunner().invoke(cli, ["--db", url, "mystery", "record", "T26-05-042"])
    assert result.exit_code == 1
    assert result.output == ('Error: call "T26-05-042" is not a planned mystery call; '
                             "list them with: qualiphone mystery calls CAMPAIGN\n")


def test_second_scorer_and_redo(tmp_path: Path, small: Campaign, config: Config) -> None:
    url, call_id = _setup(tmp_path, small, config)
    runner = CliRunner()
    answers = "1\n1\n\n12\noui\noui\n3\n4\noui\nSO\nnon\n\n"
    assert runner.invoke(cli, ["--db", url, "mystery", "record", call_id], input=answers).exit_code == 0
    second = runner.invoke(cli, ["--db", url, "mystery", "record", call_id, "--second", "--scorer", "S2"],
                           input=answers.replace("3\n4\n", "2\n4\n"))
    assert second.exit_code == 0, second.output
    redo = runner.invoke(cli, ["--db", url, "mystery", "record", call_id, "--redo"],
                         input="\n\n\n\n\n\n\n\n\n\noui\nPrise de congé faite\n")  # Enter keeps
    assert redo.exit_code == 0, redo.output
    store = open_store(url)
    results = {r.role: r for r in campaign_results(store, small.id)}
    assert results["second"].scorer == "S2" and results["second"].answers["ecoute"] == Answer(2.0)
    assert results["primary"].answers["ecoute"] == Answer(3.0)
    assert results["primary"].answers["prise-de-conge"] == Answer(1.0)
    assert results["primary"].comment == "Prise de congé faite"
    store.dispose()
