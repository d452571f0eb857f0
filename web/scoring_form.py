"""The browser's scoring form: read what was typed, check each answer, build the result.

Only the criteria of the call's scenario are asked (`Campaign.criteria_for`). Every answer is
checked with the mystery package's own rules (`parse_answer`, `check_result`) and each refusal
is said in French beside its field. A draft keeps whatever is valid so far; a final saving also
needs every critical criterion of an answered call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from mystery.campaign import Campaign, Criterion, CriterionType
from mystery.repository import ResultInput
from mystery.results_import import parse_local_time
from mystery.scoring import Answer, AnswerError, Outcome, check_result, parse_answer

HINTS = {
    CriterionType.YESNO: "répondez oui ou non",
    CriterionType.SCALE: "répondez par un niveau de 1 à 4",
    CriterionType.SECONDS: "indiquez un nombre de secondes de 0 à 600",
}


@dataclass
class FormInput:
    """What the scorer typed (kept to show the form again) and what it means."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    outcome: Outcome | None = None
    attempts: int = 1
    called_at: float | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _answer(criterion: Criterion, raw: str, answered: bool, final: bool) -> tuple[Answer, str]:
    try:
        answer = parse_answer(criterion, raw)
    except AnswerError:
        hint = HINTS[criterion.type] + (", ou SO (sans objet)" if criterion.na_allowed else "")
        return Answer(), f"Réponse « {raw.strip()} » refusée : {hint}."
    if not answered and not answer.blank and not criterion.pickup:
        return answer, "L'appel n'a pas été décroché par une personne : laissez ce critère vide."
    if final and answered and criterion.critical and answer.blank:
        return answer, "Réponse obligatoire (critère critique)."
    return answer, ""


def read_form(get: Callable[[str], str], campaign: Campaign, scenario: str,
              to_epoch: Callable[[dt.datetime], float], final: bool) -> FormInput:
    """Check the typed form; `get(name)` returns a field ("" when absent)."""
    names = ["outcome", "attempts", "called_at", "comment",
             *(f"c:{c.id}" for c in campaign.criteria_for(scenario))]
    form = FormInput({n: get(n) for n in names})
    try:
        form.outcome = Outcome(form.values["outcome"])
    except ValueError:
        form.errors["outcome"] = "Choisissez l'issue de l'appel."
    text = form.values["attempts"].strip()
    if not text.isdigit() or not 1 <= int(text) <= campaign.max_attempts:
        form.errors["attempts"] = f"Indiquez un nombre de tentatives de 1 à {campaign.max_attempts}."
    else:
        form.attempts = int(text)
    try:
        form.called_at = to_epoch(parse_local_time(form.values["called_at"]))
    except AnswerError:
        form.errors["called_at"] = "Écrivez la date et l'heure ainsi : 2026-10-15 09:40."
    answered = form.outcome is Outcome.ANSWERED
    for criterion in campaign.criteria_for(scenario):
        answer, error = _answer(criterion, form.values[f"c:{criterion.id}"], answered, final)
        if error:
            form.errors[f"c:{criterion.id}"] = error
        elif not answer.blank:
            form.answers[criterion.id] = answer
    if final and form.ok and form.outcome is not None:
        try:
            check_result(campaign, scenario, form.outcome, form.attempts, form.answers)
        except AnswerError as exc:  # a rule the checks above do not cover
            form.errors["outcome"] = f"Saisie incohérente : {exc}."
    return form


def result_input(form: FormInput, call_id: str, role: str, scorer: str, final: bool) -> ResultInput:
    assert form.outcome is not None
    return ResultInput(call_id, role, scorer, form.outcome, form.attempts, form.called_at, "form",
                       dict(form.answers), form.values["comment"].strip()[:2000],
                       "complete" if final else "in_progress")
