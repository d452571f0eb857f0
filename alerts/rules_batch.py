"""The scheduled rules, evaluated by `qualiphone alerts check`: a month below target and an
after-hours probe that failed twice in a row.

The month's figure is `qualiphone stats`' for the month and site (`monitor.query.store_stats`,
its defaults: opening hours, test calls left out). The probe rule reads the probes the way the
probe run itself decides its alert (`afterhours.alerts.failed_in_a_row`, N from afterhours.toml
[alert] consecutive_failures) and words it with the same French text.
"""

from __future__ import annotations

import calendar
import datetime as dt

from afterhours.alerts import alert_text, describe, failed_in_a_row
from afterhours.repository import last_probes
from afterhours.settings import load_settings as load_afterhours_settings
from alerts.model import Evaluation, Finding
from alerts.settings import Rule, RuleSettings
from alerts.texts import pct
from config import Config
from monitor.french import month_name
from monitor.metrics.records import records
from monitor.query import StatsRequest, store_stats
from monitor.store import Store


def month_fr(month: str) -> str:
    return month_name(month)


def last_day(month: str) -> str:
    year, number = (int(p) for p in month.split("-"))
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def month_figures(store: Store, config: Config, month: str) -> dict[str, dict]:
    """Per site, `stats`' record for the month (pickup_rate with value, low, high, n)."""
    year, number = (int(p) for p in month.split("-"))
    start = dt.date(year, number, 1)
    end = dt.date(year, number, calendar.monthrange(year, number)[1])
    t = config.targets
    zones = {p.timezone for p in config.pbxs.values()}
    request = StatsRequest(start, end, tuple(config.site_ids), clock_start=t.clock_start,
                           threshold=t.threshold_seconds, ring_period=t.ring_period_seconds,
                           tz=zones.pop() if len(zones) == 1 else "Europe/Paris")
    return {r["site"]: r for r in records(store_stats(store.engine, request)["site"])}


def month_evaluation(store: Store, config: Config, settings: RuleSettings, month: str) -> Evaluation:
    """Sites whose pickup rate for `month` is below targets.pickup_rate_goal (n >= min_calls)."""
    goal = config.targets.pickup_rate_goal
    found = Evaluation(Rule.MONTH_BELOW_TARGET)
    for site_id, record in month_figures(store, config, month).items():
        rate = record["pickup_rate"]
        value, n = rate["value"], int(rate["n"] or 0)
        if value is None or n < settings.min_calls:
            continue
        subject = f"{site_id}/{month}"
        if value >= goal:
            found.checked[subject] = (f"Taux de décroché de {month_fr(month)} : {pct(value)} sur {n} "
                                      f"appels, l'objectif de {pct(goal, 0)} est atteint.")
            continue
        name = config.site(site_id).name
        found.findings.append(Finding(
            Rule.MONTH_BELOW_TARGET, subject, site_id,
            summary=f"{site_id}: pickup rate {value:.1%} for {month} (n={n}) is below the goal {goal:.0%}",
            title=f"{name} : {month_fr(month)} sous l'objectif ({pct(value)} < {pct(goal, 0)})",
            detail=(f"En {month_fr(month)}, {record['answered_within']} appels décrochés par une "
                    f"personne en moins de {config.targets.threshold_seconds:g} s sur {n} appels "
                    f"comptés (heures d'ouverture) : taux de décroché {pct(value)} (intervalle de "
                    f"confiance à 95 % : {pct(rate['low'], 0)}–{pct(rate['high'], 0)}). Objectif : "
                    f"{pct(goal, 0)}. Détail : qualiphone stats --from {month}-01 --to {last_day(month)} "
                    f"--site {site_id} --by day."),
            data={"month": month, "rate": value, "n": n, "low": rate["low"], "high": rate["high"],
                  "goal": goal}))
    return found


def afterhours_evaluation(store: Store, config: Config) -> Evaluation:
    """Sites whose last N known probes all failed (N: afterhours.toml [alert])."""
    n = load_afterhours_settings(config).alert.consecutive_failures
    found = Evaluation(Rule.AFTERHOURS_PROBE)
    for site_id in config.site_ids:
        failed = failed_in_a_row(store, site_id, n)
        if failed:
            name = config.site(site_id).name
            found.findings.append(Finding(
                Rule.AFTERHOURS_PROBE, site_id, site_id,
                summary=f"{site_id}: {len(failed)} after-hours probes failed in a row "
                        f"({'; '.join(describe(p) for p in failed)})",
                title=f"{name} : message hors horaires en échec ({len(failed)} sondes de suite)",
                detail=alert_text(config, site_id, failed),
                data={"probes": [p.id for p in failed],
                      "verdicts": [p.verdict for p in failed]}))
            continue
        latest = last_probes(store, site_id, 1)
        if latest and not latest[0].failed:
            found.checked[site_id] = f"Dernière sonde hors horaires réussie : {describe(latest[0])}."
    return found
