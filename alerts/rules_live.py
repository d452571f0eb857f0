"""The live rules, evaluated by the listener: pickup rate of the last hour and of the day, a call
ringing too long, a PBX connection down too long. Pure functions of what the listener sees.

A rate rule judges a site only while it is open and only when the rate rests on at least
`min_calls` calls (its n); otherwise the site's alert keeps its state (no flapping over a quiet
lunch hour, no reminders at night). The rates are the wallboard's (`monitor.wallboard.figures`,
the same core as `stats`: in hours, test calls left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alerts.model import Evaluation, Finding
from alerts.settings import Rule, RuleSettings
from alerts.texts import duration_fr, pct
from config import Config

WINDOW = {Rule.RATE_HOUR: ("the last hour", "de la dernière heure", "Sur la dernière heure"),
          Rule.RATE_DAY: ("today", "du jour", "Depuis l'ouverture aujourd'hui")}


def _rate(record: Mapping[str, Any] | None) -> tuple[float | None, int, dict[str, Any]]:
    if not record:
        return None, 0, {}
    rate = record["pickup_rate"]
    return rate["value"], int(rate["n"] or 0), rate


def rate_evaluation(rule: Rule, settings: RuleSettings, config: Config,
                    records: Mapping[str, Mapping[str, Any]], open_sites: Iterable[str]) -> Evaluation:
    """`records`: site -> the core's record for the window (monitor.metrics.records)."""
    goal = config.targets.pickup_rate_goal
    english, french, opening = WINDOW[rule]
    found = Evaluation(rule)
    for site_id in open_sites:
        value, n, rate = _rate(records.get(site_id))
        if value is None or n < settings.min_calls:
            continue  # not judged: too few calls
        seen = f"Taux de décroché {french} : {pct(value)} sur {n} appels (objectif {pct(goal, 0)})."
        if value >= goal:
            found.checked[site_id] = seen
            continue
        record = records[site_id]
        name = config.site(site_id).name
        found.findings.append(Finding(
            rule, site_id, site_id,
            summary=f"{site_id}: pickup rate {value:.1%} over {english} (n={n}) is below the goal "
                    f"{goal:.0%}",
            title=f"{name} : taux de décroché {french} sous l'objectif ({pct(value)} < {pct(goal, 0)})",
            detail=(f"{opening}, {record['answered_within']} appels décrochés par une personne en "
                    f"moins de {config.targets.threshold_seconds:g} s sur {n} appels comptés : taux "
                    f"de décroché {pct(value)} (intervalle de confiance à 95 % : "
                    f"{pct(rate.get('low'), 0)}–{pct(rate.get('high'), 0)}). Objectif : "
                    f"{pct(goal, 0)}."),
            data={"rate": value, "n": n, "low": rate.get("low"), "high": rate.get("high"),
                  "goal": goal, "window": "hour" if rule is Rule.RATE_HOUR else "day"}))
    return found


def long_ring_evaluation(settings: RuleSettings, config: Config,
                         rings: Mapping[str, list[float]]) -> Evaluation:
    """`rings`: per site of a connected PBX, the ring times (s) of its calls ringing now."""
    limit = settings.seconds
    found = Evaluation(Rule.LONG_RING)
    for site_id, seconds in rings.items():
        late = [s for s in seconds if s >= limit]
        if not late:
            found.checked[site_id] = f"Plus aucun appel ne sonne depuis plus de {duration_fr(limit)}."
            continue
        longest, name = max(late), config.site(site_id).name
        found.findings.append(Finding(
            Rule.LONG_RING, site_id, site_id,
            summary=f"{site_id}: a call has been ringing for {longest:.0f} s ({len(late)} beyond "
                    f"{limit:g} s)",
            title=f"{name} : un appel sonne depuis {duration_fr(longest)}",
            detail=(f"{len(late)} appel{'s' if len(late) > 1 else ''} sonne{'nt' if len(late) > 1 else ''} "
                    f"depuis plus de {duration_fr(limit)} sans être décroché ; le plus long depuis "
                    f"{duration_fr(longest)}. Le délai visé est de {config.targets.threshold_seconds:g} s "
                    "(5 sonneries)."),
            data={"longest_seconds": round(longest, 1), "calls": len(late), "limit_seconds": limit}))
    return found


def listener_down_evaluation(settings: RuleSettings, down_since: Mapping[str, float | None],
                             now: float) -> Evaluation:
    """`down_since`: per PBX, since when (UTC epoch) its AMI session is down, None when up."""
    limit = settings.minutes * 60
    found = Evaluation(Rule.LISTENER_DOWN)
    for pbx, since in down_since.items():
        if since is None:
            found.checked[pbx] = "La connexion au standard (AMI) est rétablie ; la capture a repris."
            continue
        if now - since < limit:
            continue  # not judged yet: a short cut is a reconnect, recorded as a capture gap
        found.findings.append(Finding(
            Rule.LISTENER_DOWN, pbx, None,
            summary=f"PBX {pbx}: AMI connection down for {(now - since) / 60:.0f} min",
            title=f"Standard {pbx} : écoute interrompue depuis {duration_fr(now - since)}",
            detail=("qualiphone ne reçoit plus les événements du standard (AMI) : le tableau mural "
                    "est figé et les appels de cette période seront complétés par l'import des "
                    "journaux (CDR, CEL). Vérifier le réseau, l'utilisateur AMI et le service "
                    "qualiphone listen."),
            data={"pbx": pbx, "down_since": since, "minutes": round((now - since) / 60, 1)}))
    return found
