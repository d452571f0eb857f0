"""The directory-gap rule: turns the gaps the directory check reports into alerts.

The detection is `monitor.directory_gaps` (what `qualiphone sites check` prints): each gap of
sites.toml (an unknown device, a machine answer, a number, queue or context of no site, a site
without calls) and whether it changes a published figure by more than 1 point.
`findings_from_report` turns its report into findings for `directory_gap_evaluation`;
`qualiphone alerts check` evaluates the store over the month (`store_gaps`). Any object with
the attributes of `GapLike` will do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from alerts.model import Evaluation, Finding
from alerts.settings import Rule, RuleSettings
from config import Config, UnknownSite
from monitor.directory_gaps import Gap, GapReport, check_store
from monitor.store import Store


class GapLike(Protocol):
    """What the rule reads of a gap (read-only)."""

    @property
    def key(self) -> str: ...  # stable identity of the gap, e.g. "did::0153000099" (the subject)

    @property
    def site(self) -> str | None: ...  # the site concerned, when known

    @property
    def description(self) -> str: ...  # what is missing or wrong, in French

    @property
    def calls(self) -> int: ...  # calls concerned

    @property
    def changes_figure(self) -> bool: ...  # it changes a published figure by more than 1 point

    @property
    def change_points(self) -> float | None: ...  # by how many points, when known


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


_DESCRIPTIONS = {
    "device": "le poste {value}, inconnu de staff_devices, a pris des appels (comptés « à classer »)",
    "machine": "une machine ({value}) a répondu hors des contextes de message (appels « à classer »)",
    "did": "le numéro composé {value} n'appartient à aucun site",
    "queue": "la file {value} n'appartient à aucun site",
    "context": "le contexte {value} n'appartient à aucun site",
    "silent_site": "aucun appel reçu sur la période",
}


def _after_hours(gap: Gap) -> str:
    """Where the gap's calls came in: after hours they move the share of calls taken by the
    message, not the pickup rate."""
    after = gap.after_hours
    if not after or gap.kind not in ("device", "machine"):
        return ""
    if after == gap.calls:
        return ", hors horaires (effet sur la part des appels pris par le message)"
    return (f", dont {after} hors horaires (effet sur la part des appels pris par le "
            "message ; les autres sur le taux de décroché)")


def findings_from_report(report: GapReport) -> list[DirectoryGapFinding]:
    """The gaps of `qualiphone sites check` (monitor.directory_gaps) as alert findings."""
    failing = report.failing()
    return [
        DirectoryGapFinding(
            key=f"{g.kind}:{g.site or ''}:{g.value}", site=g.site,
            description=_DESCRIPTIONS[g.kind].format(value=g.value) + _after_hours(g),
            calls=g.calls,
            changes_figure=g in failing, change_points=g.impact)
        for g in report.gaps
    ]


def store_gaps(store: Store, config: Config, month: str) -> Callable[[], list[DirectoryGapFinding]]:
    """The detection for `alerts check`: the store's directory gaps over the month (to today)."""
    def detect() -> list[DirectoryGapFinding]:
        first = dt.date.fromisoformat(f"{month}-01")
        last = min((first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1),
                   dt.date.today())
        sites = [s.id for s in config.sites]
        report = check_store(store.engine, first, max(first, last), sites,
                             config.targets.threshold_seconds)
        return findings_from_report(report)

    return detect
