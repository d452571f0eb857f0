"""Cohen's kappa on textbook examples; agreement per criterion flags the disagreements."""

from __future__ import annotations

import math

import pytest

from config import Config
from mystery.agreement import agreement_by_criterion, cohen_kappa, percent_agreement
from mystery.campaign import find_campaign, load_campaign


def _pairs(table: dict[tuple[str, str], int]) -> tuple[list[str], list[str]]:
    first, second = [], []
    for (a, b), n in table.items():
        first += [a] * n
        second += [b] * n
    return first, second


def test_kappa_textbook_yes_no() -> None:
    # Cohen's kappa, Wikipedia's worked example: 50 proposals read by A and B.
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: pₒ = 0.7, pₑ = 0.5 × 0.6 + 0.5 × 0.4 = 0.5, κ = 0.4
    a, b = _pairs({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    assert percent_agreement(a, b) == pytest.approx(0.7)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_three_categories_by_hand() -> None:
    # 100 items, rows = first rater (a 50, b 30, c 20), columns = second (a 60, b 30, c 10):
    # pₒ = 0.70, pₑ = 0.5 × 0.6 + 0.3 × 0.3 + 0.2 × 0.1 = 0.41, κ = 0.29 / 0.59 = 0.4915
    table = {("a", "a"): 44, ("a", "b"): 5, ("a", "c"): 1, ("b", "a"): 7, ("b", "b"): 20, ("b", "c"): 3,
             ("c", "a"): 9, ("c", "b"): 5, ("c", "c"): 6}
    a, b = _pairs(table)
    po = (44 + 20 + 6) / 100
    pe = 0.50 * 0.60 + 0.30 * 0.30 + 0.20 * 0.10
    assert cohen_kappa(a, b) == pytest.approx((po - pe) / (1 - pe))
    assert cohen_kappa(a, b) == pytest.approx(0.4915, abs=1e-4)


def test_kappa_edges() -> None:
    assert cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))  # one category only: undefined
    assert math.isnan(cohen_kappa([], []))
    assert cohen_kappa(["x", "y"], ["y", "x"]) == -1.0


def test_agreement_by_criterion_flags_disagreement(config: Config) -> None:
    grid = load_campaign(find_campaign("eps-2026", config), config)
    pairs = []
    for i in range(10):
        first = {"politesse": 1.0, "annonce-service": float(i % 2), "ecoute": 2 / 3}
        second = {"politesse": 1.0, "annonce-service": float(i < 5), "ecoute": 2 / 3}
        pairs.append((first, second))
    result = {g.criterion: g for g in agreement_by_criterion(grid, pairs)}
    assert result["annonce-service"].pairs == 10
    assert result["annonce-service"].agreement == pytest.approx(0.4) and result["annonce-service"].flagged
    assert result["politesse"].agreement == 1.0 and math.isnan(result["politesse"].kappa)
    assert not result["politesse"].flagged
    assert result["prise-de-conge"].pairs == 0 and not result["prise-de-conge"].flagged
