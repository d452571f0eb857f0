"""Agreement between two scorers of the same calls: percentage and Cohen's kappa per criterion."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from mystery.campaign import Campaign


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters' categories for the same items (NaN when undefined).

    κ = (pₒ − pₑ) / (1 − pₑ), pₒ the observed agreement, pₑ the agreement expected by chance from
    each rater's own category frequencies. Undefined (NaN) when there are no items or when both
    raters always give the same single category (pₑ = 1).
    """
    if len(first) != len(second):
        raise ValueError("both raters must rate the same items")
    n = len(first)
    if n == 0:
        return math.nan
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    count_a, count_b = Counter(first), Counter(second)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def percent_agreement(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    if not first:
        return math.nan
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)


@dataclass(frozen=True)
class CriterionAgreement:
    criterion: str
    pairs: int
    agreement: float  # 0–1, NaN without pairs
    kappa: float  # NaN when undefined
    flagged: bool  # the scorers disagree: under min_agreement, or kappa under min_kappa


def agreement_by_criterion(
    campaign: Campaign, pairs: list[tuple[dict[str, float | None], dict[str, float | None]]]
) -> list[CriterionAgreement]:
    """Per criterion, compare the two scorers' criterion scores (0–1) where both scored it.

    A criterion score is a category here: yes/no, each level of a scale, pass/fail in seconds.
    """
    result = []
    for criterion in campaign.criteria:
        a, b = [], []
        for first, second in pairs:
            x, y = first.get(criterion.id), second.get(criterion.id)
            if x is not None and y is not None:
                a.append(round(x, 6))
                b.append(round(y, 6))
        agree, kappa = percent_agreement(a, b), cohen_kappa(a, b)
        flagged = bool(a) and (agree < campaign.min_agreement
                               or (not math.isnan(kappa) and kappa < campaign.min_kappa))
        result.append(CriterionAgreement(criterion.id, len(a), agree, kappa, flagged))
    return result
