"""Printable call sheets (PDF, A4, French): one page per call, the grid to fill with boxes.

Drawn with matplotlib's PdfPages (already a dependency, no new package): text and rectangles
placed on a plain `Figure` (no pyplot state) from the top down.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from config import Config
from mystery.campaign import Campaign, Criterion, CriterionType
from mystery.exports import format_number, french_date, french_time
from mystery.planner import Plan, PlannedCall
from mystery.scoring import OUTCOME_LABELS, Outcome

A4 = (8.27, 11.69)
LEFT, RIGHT = 0.07, 0.93
LINE = 0.0145  # height of a 9-point line, in page fractions
BOX = 0.011


class _Page:
    """A cursor that writes down an A4 figure."""

    def __init__(self, fig: Figure) -> None:
        self.fig, self.y = fig, 0.95

    def text(self, x: float, text: str, size: float = 9, **kw: Any) -> None:
        self.fig.text(x, self.y, text, fontsize=size, va="top", **kw)

    def para(self, text: str, width: int = 105, size: float = 9, indent: float = 0.0,
             **kw: Any) -> None:
        for line in textwrap.wrap(" ".join(text.split()), width) or [""]:
            self.text(LEFT + indent, line, size, **kw)
            self.y -= LINE * size / 9

    def heading(self, text: str) -> None:
        self.y -= 0.006
        self.fig.add_artist(Rectangle((LEFT - 0.01, self.y - 0.017), RIGHT - LEFT + 0.02, 0.021,
                                      transform=self.fig.transFigure, color="#dfe7f2", zorder=0))
        self.text(LEFT, text, 10.5, weight="bold")
        self.y -= 0.026

    def box(self, x: float, label: str) -> float:
        """A tick box then its label at x; returns the x after the label."""
        self.fig.add_artist(Rectangle((x, self.y - BOX * 0.95), BOX * 0.7, BOX,
                                      transform=self.fig.transFigure, fill=False, lw=0.8))
        self.fig.text(x + 0.014, self.y, label, fontsize=9, va="top")
        return x + 0.035 + 0.0088 * len(label)

    def rule(self, x0: float, x1: float) -> None:
        self.fig.add_artist(Line2D([x0, x1], [self.y - 0.012, self.y - 0.012],
                                       transform=self.fig.transFigure, lw=0.5, color="#555555"))


def _header(page: _Page, call: PlannedCall, campaign: Campaign, config: Config, caller: str) -> None:
    site = config.site(call.site)
    page.text(LEFT, campaign.name, 9, color="#444444")
    page.y -= 0.02
    page.text(LEFT, f"Fiche d'appel mystère  {call.call_id}", 15, weight="bold")
    page.y -= 0.038
    rows = [
        ("Site", f"{site.name} ({site.area})" if site.area else site.name),
        ("Numéro à composer", format_number((site.numbers or ("",))[0])),
        ("Créneau", f"{french_date(call.start.date())}, {french_time(call.start)} (heure de Paris)"),
        ("Appelant", caller),
        ("Double notation", "oui : un second évaluateur écoute l'appel" if call.double else "non"),
    ]
    for label, value in rows:
        page.text(LEFT, label, 9.5, weight="bold")
        page.text(LEFT + 0.2, value, 9.5)
        page.y -= LINE * 1.15


def _scenario(page: _Page, call: PlannedCall, campaign: Campaign) -> None:
    scenario = campaign.scenario(call.scenario)
    page.heading(f"Scénario : {scenario.title}")
    page.para(f"Personnage : {scenario.persona}", style="italic")
    page.y -= 0.004
    page.para(f"Ce que vous dites : {scenario.script}")
    page.y -= 0.004
    page.para(f"Réponse ou orientation attendue : {scenario.expected}", color="#1a3d6b")


def _instructions(page: _Page, campaign: Campaign) -> None:
    page.heading("Consignes")
    page.para(
        f"Chronométrez de la première sonnerie au décroché par une personne (un message "
        f"d'attente n'est pas un décroché). Laissez sonner {campaign.ring_limit_seconds} s au plus "
        f"({campaign.ring_limit_seconds // 5} sonneries). Sans réponse, rappelez "
        f"{campaign.retry_minutes} min plus tard, {campaign.max_attempts} tentatives au plus. "
        "Ne donnez jamais de vrai numéro de dossier ; restez dans le personnage.")


def _outcome(page: _Page, campaign: Campaign) -> None:
    page.heading("Issue de l'appel")
    outcomes = [o for o in Outcome if o is not Outcome.NOT_MADE]
    for i, outcome in enumerate(outcomes):
        page.box(LEFT + (i % 2) * 0.43, OUTCOME_LABELS[outcome])
        if i % 2 or i == len(outcomes) - 1:
            page.y -= LINE * 1.4
    page.y -= LINE * 0.3
    page.text(LEFT, "En cas de non-réponse, nombre de tentatives :", 9)
    x = LEFT + 0.37
    for n in range(1, campaign.max_attempts + 1):
        x = page.box(x, str(n))
    page.text(x + 0.04, "Heure réelle de l'appel : ____ h ____", 9)
    page.y -= LINE * 1.6


def _answer_boxes(page: _Page, criterion: Criterion, x: float) -> None:
    if criterion.type is CriterionType.YESNO:
        for label in ("oui", "non"):
            x = page.box(x, label)
    elif criterion.type is CriterionType.SCALE:
        for n in range(1, 5):
            x = page.box(x, str(n))
    else:
        page.text(x, "______ s", 9)
        x += 0.08
    if criterion.na_allowed:
        page.box(x, "sans objet")


def _grid(page: _Page, call: PlannedCall, campaign: Campaign) -> None:
    page.heading("Grille d'évaluation   (★ critère critique : réponse obligatoire)")
    for criterion in campaign.criteria_for(call.scenario):
        star = "★ " if criterion.critical else ""
        lines = textwrap.wrap(star + criterion.question, 68)
        top = page.y
        for line in lines:
            page.text(LEFT, line, 8.8)
            page.y -= LINE * 0.98
        bottom = page.y
        page.y = top
        _answer_boxes(page, criterion, 0.64)
        page.y = bottom
        if criterion.type is CriterionType.SCALE:
            page.para(" · ".join(f"{i} = {lvl}" for i, lvl in enumerate(criterion.levels, 1)),
                      width=120, size=7.3, indent=0.02, color="#555555")
        page.y -= 0.006


def _footer(page: _Page, call: PlannedCall) -> None:
    page.heading("Commentaires (ce qui a été dit, nom de l'agent s'il l'a donné)")
    for _ in range(max(2, int((page.y - 0.075) / 0.022))):
        page.rule(LEFT, RIGHT)
        page.y -= 0.022
    page.y = 0.045
    page.text(LEFT, "Évaluateur : ______________________    Date : ___ / ___ / ______", 9)
    page.fig.text(RIGHT, 0.012, f"{call.call_id} · à saisir : qualiphone mystery record {call.call_id}",
                  fontsize=7, ha="right", color="#666666")


def call_sheet(call: PlannedCall, campaign: Campaign, config: Config) -> Figure:
    """One call's sheet as an A4 figure."""
    fig = Figure(figsize=A4)
    page = _Page(fig)
    caller = next(c.name for c in campaign.callers if c.id == call.caller)
    _header(page, call, campaign, config, caller)
    _instructions(page, campaign)
    _scenario(page, call, campaign)
    _outcome(page, campaign)
    _grid(page, call, campaign)
    _footer(page, call)
    return fig


def write_call_sheets(plan: Plan, config: Config, directory: Path) -> list[Path]:
    """One PDF per caller, their calls in time order."""
    paths = []
    for caller in plan.campaign.callers:
        mine = sorted((c for c in plan.calls if c.caller == caller.id), key=lambda c: c.epoch)
        if not mine:
            continue
        path = directory / f"fiches-appels-{caller.id}.pdf"
        with PdfPages(path, metadata={"Title": f"{plan.campaign.name} — {caller.name}",
                                      "Creator": "qualiphone"}) as pdf:
            for call in mine:
                fig = call_sheet(call, plan.campaign, config)
                pdf.savefig(fig)
        paths.append(path)
    return paths
