"""The directory-gap rule: turns the gaps the directory check reports into alerts.

The detection is not here: `qualiphone sites check` (being built) reports each gap of
sites.toml (a number, queue or context that calls use and no site declares, and so on) and
whether it changes a published figure by more than 1 point. Its caller hands the findings to
`directory_gap_evaluation`, the hook; `qualiphone alerts check` takes the detection as a
function (`alerts.engine.check(..., directory_gaps=…)`) and, until one is wired, reports the
rule as not evaluated. Any object with the attributes of `GapLike` will do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from alerts.model import Evaluation, Finding
from alerts.settings import Rule, RuleSettings
from config import Config, UnknownSite


class GapLike(Protocol):
    key: str  # stable identity of the gap, e.g. "did:+33199000150" (the alert's subject)
    site: str | None  # the site concerned, when known
    description: str  # what is missing or wrong, as the check words it
    calls: int  # calls concerned
    changes_figure: bool  # it changes a published figure by more than 1 point
    change_points: float | None  # by how many points, when known


@dataclass(frozen=True)
class DirectoryGapFinding:
    """A gap as `GapLike` describes it (a ready-made type for the check to return)."""

    key: str
    site: str | None
    description: str
    calls: int = 0
    changes_figure: bool = False
    change_points: float | None = None


CLEARED = "Cet écart n'apparaît plus dans le contrôle de l'annuaire (qualiphone sites check)."


def _site_name(config: Config, site: str | None) -> str:
    if site is None:
        return "sans site"
    try:
        return config.site(site).name
    except UnknownSite:
        return site


def directory_gap_evaluation(gaps: Iterable[GapLike], settings: RuleSettings,
                             config: Config) -> Evaluation:
    """One alert per gap (per gap that moves a figure by more than 1 point with
    only_if_figure_changes = true). The list is the whole check: an open alert whose gap is no
    longer in it (or no longer qualifies) clears."""
    found = Evaluation(Rule.DIRECTORY_GAP, complete_text=CLEARED)
    for gap in gaps:
        if settings.only_if_figure_changes and not gap.changes_figure:
            continue
        moved = ""
        if gap.changes_figure:
            points = f" de {gap.change_points:.1f} points".replace(".", ",") \
                if gap.change_points is not None else " de plus d'un point"
            moved = f" Il modifie un chiffre publié{points}."
        found.findings.append(Finding(
            Rule.DIRECTORY_GAP, gap.key, gap.site,
            summary=f"directory gap {gap.key} ({gap.site or 'no site'}): {gap.description}; "
                    f"{gap.calls} calls" + ("; changes a published figure" if gap.changes_figure else ""),
            title=f"Annuaire des standards : écart {gap.key} ({_site_name(config, gap.site)})",
            detail=(f"Le contrôle de l'annuaire (sites.toml) signale : {gap.description}. "
                    f"Appels concernés : {gap.calls}.{moved} Corriger config/sites.toml puis "
                    "relancer qualiphone sites check."),
            data={"key": gap.key, "calls": gap.calls, "changes_figure": gap.changes_figure,
                  "change_points": gap.change_points}))
    return found
