"""Printable call sheets (PDF, A4, French): one page per call, the grid to fill with boxes.

Typeset by Typst (templates/call_sheets.typ; see qualiphone.typeset): this module only gathers
what each sheet says, as JSON. One PDF per caller, their calls in time order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config import Config
from mystery.campaign import Campaign, Criterion, CriterionType
from mystery.exports import format_number, french_date, french_time
from mystery.planner import Plan, PlannedCall
from mystery.scoring import OUTCOME_LABELS, Outcome

TEMPLATE = Path(__file__).with_name("templates") / "call_sheets.typ"


def _rows(call: PlannedCall, config: Config, caller: str) -> list[tuple[str, str]]:
    site = config.site(call.site)
    return [
        ("Site", f"{site.name} ({site.area})" if site.area else site.name),
        ("Numéro à composer", format_number((site.numbers or ("",))[0])),
        ("Créneau", f"{french_date(call.start.date())}, {french_time(call.start)} (heure de Paris)"),
        ("Appelant", caller),
        ("Double notation", "oui : un second évaluateur écoute l'appel" if call.double else "non"),
    ]


def instructions(campaign: Campaign) -> str:
    return (f"Chronométrez de la première sonnerie au décroché par une personne (un message "
            f"d'attente n'est pas un décroché). Laissez sonner {campaign.ring_limit_seconds} s au "
            f"plus ({campaign.ring_limit_seconds // 5} sonneries). Sans réponse, rappelez "
            f"{campaign.retry_minutes} min plus tard, {campaign.max_attempts} tentatives au plus. "
            "Ne donnez jamais de vrai numéro de dossier ; restez dans le personnage.")


def _criterion(c: Criterion) -> dict[str, Any]:
    answers = ["oui", "non"] if c.type is CriterionType.YESNO else \
        [str(n) for n in range(1, 5)] if c.type is CriterionType.SCALE else []
    levels = " · ".join(f"{i} = {lvl}" for i, lvl in enumerate(c.levels, 1)) \
        if c.type is CriterionType.SCALE else ""
    return {"question": " ".join(c.question.split()), "critical": c.critical, "answers": answers,
            "seconds": not answers, "na": c.na_allowed, "levels": levels}


def sheet_data(call: PlannedCall, campaign: Campaign, config: Config) -> dict[str, Any]:
    """What one call's sheet says."""
    scenario = campaign.scenario(call.scenario)
    caller = next(c.name for c in campaign.callers if c.id == call.caller)
    return {"call_id": call.call_id, "rows": _rows(call, config, caller),
            "scenario": {"title": scenario.title, "persona": " ".join(scenario.persona.split()),
                         "script": " ".join(scenario.script.split()),
                         "expected": " ".join(scenario.expected.split())},
            "criteria": [_criterion(c) for c in campaign.criteria_for(call.scenario)]}


def call_sheets_pdf(calls: list[PlannedCall], campaign: Campaign, config: Config,
                    title: str) -> bytes:
    """The sheets of `calls`, one page each, as PDF bytes."""
    from qualiphone.typeset import typeset

    data = {"title": title, "campaign": campaign.name, "instructions": instructions(campaign),
            "outcomes": [OUTCOME_LABELS[o] for o in Outcome if o is not Outcome.NOT_MADE],
            "attempts": [str(n) for n in range(1, campaign.max_attempts + 1)],
            "sheets": [sheet_data(c, campaign, config) for c in calls]}
    return typeset(TEMPLATE, json.dumps(data, ensure_ascii=False))


def write_call_sheets(plan: Plan, config: Config, directory: Path,
                      progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """One PDF per caller, their calls in time order; `progress(done, total)` after each."""
    paths = []
    callers = plan.campaign.callers
    for k, caller in enumerate(callers, start=1):
        mine = sorted((c for c in plan.calls if c.caller == caller.id), key=lambda c: c.epoch)
        if mine:
            path = directory / f"fiches-appels-{caller.id}.pdf"
            path.write_bytes(call_sheets_pdf(mine, plan.campaign, config,
                                             f"{plan.campaign.name} — {caller.name}"))
            paths.append(path)
        if progress:
            progress(k, len(callers))
    return paths
