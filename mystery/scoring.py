"""Scoring a mystery call on the campaign's grid. Pure functions, no store.

Rules (also in config/campaigns/README.md):
* a criterion scores from 0 to 1: yes/no → 1/0; scale 1–4 → (v − 1) / 3; seconds → 1 when
  strictly under `target_seconds`, else 0;
* the pickup criterion scores 0 when no person answered, or not at the first try;
* when no person answered, every other criterion is not applicable;
* a criterion of another scenario, a "sans objet" answer or a blank answer is left out;
* the call's score out of 10 is 10 × Σ weight·score / Σ weight over the criteria scored;
* a criterion fails when its score is under 0.5 (no; 1 or 2 on a scale; too slow);
* a call conforms when its score reaches the required level and no critical criterion fails;
* a call not made (`not_made`) is left out of every figure.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from mystery.campaign import Campaign, Criterion, CriterionType

FAIL_BELOW = 0.5
MAX_SECONDS = 600.0


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    MESSAGE = "message"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    NOT_MADE = "not_made"


OUTCOME_LABELS = {
    Outcome.ANSWERED: "décroché par une personne",
    Outcome.NO_ANSWER: "pas de réponse",
    Outcome.BUSY: "occupé",
    Outcome.MESSAGE: "message enregistré (attente, fermeture)",
    Outcome.VOICEMAIL: "messagerie vocale",
    Outcome.FAILED: "numéro erroné ou hors service",
    Outcome.NOT_MADE: "appel non passé",
}

YES = {"1", "oui", "o", "yes", "y", "true", "vrai"}
NO = {"0", "non", "n", "no", "false", "faux"}
NOT_APPLICABLE = {"so", "sans objet", "na", "n/a", "-"}
# What the results template writes in a criterion of another scenario than the call's.
NOT_IN_SCENARIO = "hors scénario"


class AnswerError(ValueError):
    """An answer that does not fit its criterion; the message is the reason."""


@dataclass(frozen=True)
class Answer:
    value: float | None = None
    na: bool = False  # "sans objet"

    @property
    def blank(self) -> bool:
        return self.value is None and not self.na


def parse_answer(criterion: Criterion, raw: str) -> Answer:
    """Read a typed or imported answer; raise AnswerError naming the criterion and the rule."""
    text = raw.strip().lower()
    if not text:
        return Answer()
    if text in NOT_APPLICABLE:
        if not criterion.na_allowed:
            raise AnswerError(f'criterion "{criterion.id}" is "{raw.strip()}"; '
                              "expected an answer (sans objet is not allowed)")
        return Answer(na=True)
    kind = criterion.type
    if kind is CriterionType.YESNO:
        if text in YES or text in NO:
            return Answer(1.0 if text in YES else 0.0)
        raise AnswerError(f'criterion "{criterion.id}" is "{raw.strip()}"; expected oui or non')
    if kind is CriterionType.SCALE:
        if text in {"1", "2", "3", "4"}:
            return Answer(float(text))
        raise AnswerError(f'criterion "{criterion.id}" is "{raw.strip()}"; '
                          "expected a whole number from 1 to 4")
    try:
        seconds = float(text.replace(",", ".").removesuffix("s").strip())
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_SECONDS:
        raise AnswerError(f'criterion "{criterion.id}" is "{raw.strip()}"; '
                          f"expected seconds from 0 to {MAX_SECONDS:.0f}")
    return Answer(seconds)


def criterion_score(criterion: Criterion, answer: Answer | None, outcome: Outcome,
                    attempts: int, scenario: str) -> float | None:
    """The criterion's score from 0 to 1, or None when it is left out."""
    if outcome is Outcome.NOT_MADE:
        return None
    if criterion.pickup and (outcome is not Outcome.ANSWERED or attempts > 1):
        return 0.0
    if outcome is not Outcome.ANSWERED or not criterion.applies_to(scenario):
        return None
    if answer is None or answer.value is None:
        return None
    if criterion.type is CriterionType.YESNO:
        return answer.value
    if criterion.type is CriterionType.SCALE:
        return (answer.value - 1.0) / 3.0
    return 1.0 if answer.value < (criterion.target_seconds or 0.0) else 0.0


@dataclass(frozen=True)
class CallScore:
    score10: float | None  # None when nothing was scored
    criteria: dict[str, float | None]
    critical_failed: tuple[str, ...]
    conform: bool | None


def score_call(campaign: Campaign, scenario: str, outcome: Outcome, attempts: int,
               answers: dict[str, Answer]) -> CallScore:
    """Score one call (see the module's rules)."""
    scores = {c.id: criterion_score(c, answers.get(c.id), outcome, attempts, scenario)
              for c in campaign.criteria}
    weights = {c.id: c.weight for c in campaign.criteria}
    scored = {k: v for k, v in scores.items() if v is not None}
    total = sum(weights[k] for k in scored)
    score10 = 10.0 * sum(weights[k] * v for k, v in scored.items()) / total if total else None
    failed = tuple(c.id for c in campaign.criteria
                   if c.critical and scored.get(c.id, 1.0) < FAIL_BELOW)
    conform = None if score10 is None else (score10 >= campaign.required_score - 1e-9 and not failed)
    return CallScore(score10, scores, failed, conform)


def not_asked_mark(raw: str) -> bool:
    """Whether `raw` says "not asked": blank, sans objet, or the template's mark."""
    text = raw.strip().lower()
    return not text or text in NOT_APPLICABLE or text == NOT_IN_SCENARIO


def check_result(campaign: Campaign, scenario: str, outcome: Outcome, attempts: int,
                 answers: dict[str, Answer]) -> None:
    """Raise AnswerError when a complete result is inconsistent or misses a critical answer."""
    if not 1 <= attempts <= campaign.max_attempts:
        raise AnswerError(f'attempts is "{attempts}"; expected a whole number from 1 to '
                          f"{campaign.max_attempts}")
    for criterion in campaign.criteria:
        answer = answers.get(criterion.id, Answer())
        asked = criterion.applies_to(scenario) and outcome is Outcome.ANSWERED
        if not asked and not answer.blank and not criterion.pickup:
            why = "the call was not answered" if outcome is not Outcome.ANSWERED else \
                f'it does not apply to scenario "{scenario}"'
            raise AnswerError(f'criterion "{criterion.id}" has an answer but {why}; leave it blank')
        if asked and criterion.critical and answer.blank:
            raise AnswerError(f'critical criterion "{criterion.id}" has no answer')


def questions(campaign: Campaign, scenario: str, outcome: Outcome) -> list[Criterion]:
    """The criteria a scorer is asked about for this call, in grid order."""
    if outcome is not Outcome.ANSWERED:
        return []
    return [c for c in campaign.criteria if c.applies_to(scenario)]


def mean(values: list[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
