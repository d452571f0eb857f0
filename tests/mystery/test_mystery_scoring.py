"""Scores on hand-computed grids of the shipped campaign; answers parsed and checked."""

from __future__ import annotations

import pytest

from config import Config
from mystery.campaign import Campaign, find_campaign, load_campaign
from mystery.scoring import Answer, AnswerError, Outcome, check_result, parse_answer, score_call


@pytest.fixture(scope="module")
def grid(config: Config) -> Campaign:
    return load_campaign(find_campaign("eps-2026", config), config)


def answers(grid: Campaign, **raw: str) -> dict[str, Answer]:
    return {key.replace("_", "-"): parse_answer(grid.criterion(key.replace("_", "-")), text)
            for key, text in raw.items()}


def test_answered_call(grid: Campaign) -> None:
    # weights 3 2 1 2 3 (absence: other scenario) (attente: SO) 1
    # scores   1 1 1 2/3 1 0  → 10 × (3 + 2 + 1 + 4/3 + 3 + 0) / 12 = 8.6111…
    a = answers(grid, decroche_25s="12", annonce_service="oui", politesse="o", ecoute="3",
                information_orientation="4", mise_en_attente="SO", prise_de_conge="non")
    score = score_call(grid, "rdv-social", Outcome.ANSWERED, 1, a)
    assert score.score10 == pytest.approx(10 * (9 + 4 / 3) / 12)
    assert score.criteria["absence-transfert"] is None and score.criteria["mise-en-attente"] is None
    assert score.criteria["ecoute"] == pytest.approx(2 / 3)
    assert score.critical_failed == () and score.conform is True


def test_second_try_and_critical_failures(grid: Campaign) -> None:
    # weights 3 2 1 2 3 2 1 1 = 15; scores 0 (second try) 0 1 1/3 1/3 1 1 1 → 10 × 6.6667 / 15
    a = answers(grid, decroche_25s="10", annonce_service="non", politesse="oui", ecoute="2",
                information_orientation="2", absence_transfert="oui", mise_en_attente="oui",
                prise_de_conge="oui")
    score = score_call(grid, "personne-absente", Outcome.ANSWERED, 2, a)
    assert score.score10 == pytest.approx(10 * (1 + 2 / 3 + 1 + 2 + 1 + 1) / 15)
    assert score.critical_failed == ("decroche-25s", "information-orientation")
    assert score.conform is False


def test_twenty_five_seconds_is_too_late(grid: Campaign) -> None:
    late = score_call(grid, "rdv-social", Outcome.ANSWERED, 1, answers(grid, decroche_25s="25"))
    early = score_call(grid, "rdv-social", Outcome.ANSWERED, 1, answers(grid, decroche_25s="24,9"))
    assert late.criteria["decroche-25s"] == 0.0 and early.criteria["decroche-25s"] == 1.0


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.MESSAGE, Outcome.VOICEMAIL])
def test_unanswered_call_scores_zero(grid: Campaign, outcome: Outcome) -> None:
    score = score_call(grid, "rdv-social", outcome, 3, {})
    assert score.score10 == 0.0 and score.critical_failed == ("decroche-25s",) and score.conform is False
    assert [k for k, v in score.criteria.items() if v is not None] == ["decroche-25s"]


def test_call_not_made_is_left_out(grid: Campaign) -> None:
    score = score_call(grid, "rdv-social", Outcome.NOT_MADE, 1, {})
    assert score.score10 is None and score.conform is None


@pytest.mark.parametrize(
    ("criterion", "raw", "message"),
    [
        ("ecoute", "5", 'criterion "ecoute" is "5"; expected a whole number from 1 to 4'),
        ("ecoute", "2.5", 'criterion "ecoute" is "2.5"; expected a whole number from 1 to 4'),
        ("politesse", "peut-être", 'criterion "politesse" is "peut-être"; expected oui or non'),
        ("politesse", "SO", 'criterion "politesse" is "SO"; expected an answer (sans objet is not allowed)'),
        ("decroche-25s", "-3", 'criterion "decroche-25s" is "-3"; expected seconds from 0 to 600'),
        ("decroche-25s", "vite", 'criterion "decroche-25s" is "vite"; expected seconds from 0 to 600'),
    ],
)
def test_bad_answers(grid: Campaign, criterion: str, raw: str, message: str) -> None:
    with pytest.raises(AnswerError) as err:
        parse_answer(grid.criterion(criterion), raw)
    assert str(err.value) == message


def test_check_result(grid: Campaign) -> None:
    full = answers(grid, decroche_25s="8", information_orientation="3")
    check_result(grid, "rdv-social", Outcome.ANSWERED, 1, full)
    with pytest.raises(AnswerError, match=r'^critical criterion "information-orientation" has no answer$'):
        check_result(grid, "rdv-social", Outcome.ANSWERED, 1, answers(grid, decroche_25s="8"))
    with pytest.raises(AnswerError, match=r'^criterion "politesse" has an answer but the call was not'):
        check_result(grid, "rdv-social", Outcome.BUSY, 2, answers(grid, politesse="oui"))
    with pytest.raises(AnswerError, match='does not apply to scenario "rdv-social"'):
        extra = answers(grid, absence_transfert="oui")
        check_result(grid, "rdv-social", Outcome.ANSWERED, 1, {**full, **extra})
    with pytest.raises(AnswerError, match=r'^attempts is "4"; expected a whole number from 1 to 3$'):
        check_result(grid, "rdv-social", Outcome.NO_ANSWER, 4, {})
