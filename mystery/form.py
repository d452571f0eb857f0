"""The scoring form in the terminal (French): one question at a time, each answer saved at once.

Stopping half-way (Ctrl-C, a closed terminal) loses nothing: running the form again asks only
the questions not answered yet. `redo` asks every question again, the stored answers as defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

from config import Config
from monitor.store import Store
from monitor.timeutil import local_to_epoch, zone
from mystery.campaign import Campaign, Criterion, CriterionType
from mystery.exports import format_number, french_date, french_time
from mystery.repository import (
    Result,
    ResultInput,
    UnknownCall,
    find_result,
    planned_call,
    save_answer,
    set_status,
    start_result,
    stored_campaign,
)
from mystery.results_import import parse_local_time
from mystery.scoring import (
    OUTCOME_LABELS,
    Answer,
    AnswerError,
    Outcome,
    check_result,
    parse_answer,
    questions,
    score_call,
)

HINTS = {
    CriterionType.YESNO: "oui/non",
    CriterionType.SCALE: "1-4",
    CriterionType.SECONDS: "secondes",
}
MADE_OUTCOMES = list(Outcome)


class AnswerParam(click.ParamType):
    """A criterion's answer typed in French; refused answers are asked again."""

    name = "réponse"

    def __init__(self, criterion: Criterion, required: bool) -> None:
        self.criterion, self.required = criterion, required

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Answer:
        if isinstance(value, Answer):
            return value
        try:
            answer = parse_answer(self.criterion, str(value))
        except AnswerError:
            hint = {CriterionType.YESNO: "répondez oui ou non",
                    CriterionType.SCALE: "répondez par un chiffre de 1 à 4",
                    CriterionType.SECONDS: "indiquez un nombre de secondes (0 à 600)"}[self.criterion.type]
            if self.criterion.na_allowed:
                hint += ", ou SO (sans objet)"
            self.fail(hint)
        if answer.blank and self.required:
            self.fail("réponse obligatoire (critère critique)")
        return answer


def _prompt(text: str, convert: Callable[[str], Any], **options: Any) -> Any:
    """click.prompt, with a refused answer explained in French and asked again (click's own
    retry would print its English "Error: …" inside the French form)."""
    while True:
        value = click.prompt(text, **options)
        try:
            return convert(value)
        except click.BadParameter as exc:
            click.echo(f"Réponse refusée : {exc.message}.")


def _number(low: int, high: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        text = str(value).strip()
        if not text.isdigit() or not low <= int(text) <= high:
            raise click.BadParameter(f"indiquez un nombre de {low} à {high}")
        return int(text)
    return convert


def answer_text(criterion: Criterion, answer: Answer) -> str:
    """How an answer is shown back (and offered as the default when redoing)."""
    if answer.na:
        return "SO"
    if answer.value is None:
        return ""
    if criterion.type is CriterionType.YESNO:
        return "oui" if answer.value else "non"
    if criterion.type is CriterionType.SCALE:
        return str(int(answer.value))
    return f"{answer.value:g}"


def _show_call(echo: Callable[[str], None], planned: Any, campaign: Campaign, config: Config) -> None:
    site = config.site(planned.site)
    start = dt.datetime.strptime(planned.local_start, "%Y-%m-%d %H:%M")
    scenario = campaign.scenario(planned.scenario)
    echo(f"Appel mystère {planned.call_id} — {campaign.name}")
    echo(f"  Site : {site.name}   Numéro : {format_number(planned.number)}")
    echo(f"  Créneau : {french_date(start.date())}, {french_time(start)}")
    echo(f"  Scénario : {scenario.title}")
    echo(f"  Réponse attendue : {scenario.expected}")


def _ask_header(planned: Any, campaign: Campaign, config: Config, existing: Result | None,
                scorer: str, role: str) -> ResultInput:
    """Outcome, tries and time of the call, as a result input."""
    click.echo("Issue de l'appel :")
    for i, outcome in enumerate(MADE_OUTCOMES, start=1):
        click.echo(f"  {i} = {OUTCOME_LABELS[outcome]}")
    default = MADE_OUTCOMES.index(existing.outcome) + 1 if existing else 1
    choice = _prompt("Issue (numéro)", _number(1, len(MADE_OUTCOMES)), default=default)
    outcome = MADE_OUTCOMES[choice - 1]
    attempts = _prompt(f"Nombre de tentatives (1 à {campaign.max_attempts})",
                       _number(1, campaign.max_attempts),
                       default=existing.attempts if existing else 1)
    tz = zone(config.pbxs[config.site(planned.site).pbx].timezone)
    shown = planned.local_start
    if existing and existing.called_at:
        shown = dt.datetime.fromtimestamp(existing.called_at, tz).strftime("%Y-%m-%d %H:%M")
    while True:
        text = click.prompt("Heure de l'appel (AAAA-MM-JJ HH:MM)", default=shown)
        try:
            called = local_to_epoch(parse_local_time(text), tz)
            break
        except AnswerError:
            click.echo("Réponse refusée : écrivez la date et l'heure ainsi : 2026-10-15 09:40.")
    return ResultInput(planned.call_id, role, scorer, outcome, attempts, called, "form",
                       status="in_progress")


def run_form(store: Store, config: Config, call_id: str, *, role: str = "primary",
             scorer: str | None = None, redo: bool = False) -> Result | None:
    """Ask, save as it goes, and mark the result complete; returns the stored result."""
    with store.engine.connect() as conn:
        planned = planned_call(conn, call_id)
        existing = find_result(conn, call_id, role) if planned else None
    if planned is None:
        raise UnknownCall(call_id)
    campaign, _ = stored_campaign(store, planned.campaign_id, config)
    _show_call(click.echo, planned, campaign, config)
    if existing and existing.status == "complete" and not redo:
        click.echo(f"Cet appel est déjà saisi ({existing.scorer}). Pour le corriger : --redo")
        return existing
    if existing and not redo:
        click.echo(f"Reprise de la saisie : {len(existing.answers)} réponse(s) déjà enregistrée(s).")
    scorer = scorer or (existing.scorer if existing else None) or planned.caller
    item = _ask_header(planned, campaign, config, existing if (existing and redo) else None, scorer, role) \
        if redo or existing is None else _resume_header(existing, scorer, role)
    asked = {c.id for c in questions(campaign, planned.scenario, item.outcome)}
    with store.engine.begin() as conn:
        result_id = start_result(conn, item, asked)
    answers = dict(existing.answers) if existing else {}
    for criterion in questions(campaign, planned.scenario, item.outcome):
        if criterion.id in answers and not redo:
            continue
        answers[criterion.id] = _ask(criterion, answers.get(criterion.id))
        with store.engine.begin() as conn:
            save_answer(conn, result_id, criterion.id, answers[criterion.id])
    return _finish(store, campaign, planned, item, result_id, answers, existing)


def _resume_header(existing: Result, scorer: str, role: str) -> ResultInput:
    return ResultInput(existing.call_id, role, scorer, existing.outcome, existing.attempts,
                       existing.called_at, existing.source, status="in_progress")


def _ask(criterion: Criterion, previous: Answer | None) -> Answer:
    required = criterion.critical
    hint = HINTS[criterion.type] + ("/SO" if criterion.na_allowed else "")
    if not required:
        hint += ", Entrée = non renseigné"
    click.echo(("★ " if required else "") + criterion.question)
    if criterion.type is CriterionType.SCALE:
        click.echo("   " + " · ".join(f"{i} = {lvl}" for i, lvl in enumerate(criterion.levels, 1)))
    default = answer_text(criterion, previous) if previous is not None else None
    if default is None and not required:
        default = ""
    param = AnswerParam(criterion, required)
    return _prompt(f"  Réponse ({hint})", lambda value: param.convert(value, None, None),
                   default=default, show_default=bool(default))


def _finish(store: Store, campaign: Campaign, planned: Any, item: ResultInput, result_id: int,
            answers: dict[str, Answer], existing: Result | None) -> Result | None:
    comment = click.prompt("Commentaire (Entrée pour aucun)", default=existing.comment if existing else "",
                           show_default=False)
    try:
        check_result(campaign, planned.scenario, item.outcome, item.attempts,
                     {k: v for k, v in answers.items() if not v.blank})
    except AnswerError as exc:
        click.echo(f"Saisie incomplète : {exc}. Relancez la commande pour la compléter.")
        return None
    with store.engine.begin() as conn:
        set_status(conn, result_id, "complete", comment)
        stored = find_result(conn, item.call_id, item.role)
    score = score_call(campaign, planned.scenario, item.outcome, item.attempts, answers)
    if score.score10 is None:
        click.echo("Saisie enregistrée (appel non passé : il ne compte pas dans les notes).")
    else:
        verdict = "conforme" if score.conform else "non conforme"
        failed = f" ; critère(s) critique(s) non atteint(s) : {', '.join(score.critical_failed)}" \
            if score.critical_failed else ""
        note = f"{score.score10:.1f}".replace(".", ",")
        click.echo(f"Saisie enregistrée. Note de l'appel : {note}/10 — {verdict}{failed}.")
    return stored
