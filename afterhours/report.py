"""The month's after-hours figures (French rows): passive figures, probes and verdicts, failures,
alerts.

`after_hours_section(store, config, month)` reads them once: `summary_rows()` (one dict per
site, French headers), `probe_rows()`, `failure_rows()`, `alert_rows()`; `for_site(site)` is one
site's share (reports.afterhours slices it per statement). The stand-alone report
(`qualiphone afterhours report`) is laid out by reports.afterhours_report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from afterhours.alerts import describe
from afterhours.passive import PassiveCheck, SiteDay, check_month, month_bounds
from afterhours.repository import AlertRecord, ProbeRecord, alerts_between, probes_between
from afterhours.settings import load_settings
from config import Config
from monitor.french import month_name
from monitor.store import Store

PERIOD_FR = {"closed": "hors horaires", "closure": "fermeture planifiée", "holiday": "jour férié"}
OUTCOME_FR = {"abandoned": "raccroché avant réponse", "short_abandon": "raccroché avant réponse",
              "busy": "occupé", "failed": "échec / encombrement", "congestion": "encombrement",
              "voicemail": "messagerie vocale", "answered": "décroché",
              "no_answer": "sans réponse, fin par le standard"}
KIND_FR = {"closed": "hors horaires", "closure": "fermeture", "daytime": "accueil de jour"}


def fr(value: float | None, digits: int = 1, suffix: str = "") -> str:
    """7.4 → "7,4"; None → "—"."""
    return "—" if value is None else f"{value:.{digits}f}".replace(".", ",") + suffix


def _reference_fr(matched: str | None) -> str:
    """"eps-05/closed" → "eps-05 hors horaires"."""
    if not matched:
        return "—"
    site, _, kind = matched.partition("/")
    return f"{site} {KIND_FR.get(kind, kind)}"


def month_fr(month: str) -> str:
    dt.date.fromisoformat(f"{month}-01")  # a ValueError for a month that is not one
    return month_name(month)


@dataclass
class AfterHoursSection:
    """The month's after-hours data for one set of sites."""

    month: str
    config: Config
    passive: PassiveCheck
    probes: list[ProbeRecord]
    alerts: list[AlertRecord]

    def _site_probes(self, site: str) -> list[ProbeRecord]:
        return [p for p in self.probes if p.site == site]

    def for_site(self, site: str) -> AfterHoursSection:
        """The same month restricted to one site (that site's monthly statement); no query."""
        passive = PassiveCheck(self.month, [d for d in self.passive.days if d.site == site],
                               [s for s in self.passive.sites if s.site == site])
        return AfterHoursSection(self.month, self.config, passive, self._site_probes(site),
                                 [a for a in self.alerts if a.site == site])

    def summary_rows(self) -> list[dict[str, str]]:
        """One row per site with French headers (the statement's table)."""
        rows = []
        for s in self.passive.sites:
            probes = self._site_probes(s.site)
            ok = sum(p.verdict == "expected" for p in probes)
            alerts = sum(a.site == s.site for a in self.alerts)
            rows.append({
                "Site": self.config.site(s.site).name,
                "Appels hors horaires": str(s.calls),
                "Pris par le message": str(s.by_message),
                "Part prise par le message": fr(None if s.answered_share is None else 100 * s.answered_share,
                                                0, " %"),
                "Écoutés jusqu'au bout": str(s.heard),
                "Échecs": str(s.failures),
                "Sondes": str(len(probes)),
                "Sondes conformes": str(ok),
                "Dernière sonde": describe(probes[-1]) if probes else "—",
                "Alerte": "OUI" if s.flagged or alerts else "",
            })
        return rows

    def probe_rows(self) -> list[list[str]]:
        return [[p.local_date, p.local_time[:5], self.config.site(p.site).name,
                 describe(p).split(" : ", 1)[1], fr(p.time_to_answer, 1, " s"),
                 fr(p.message_seconds, 1, " s"), _reference_fr(p.matched),
                 fr(p.worst, 2) if p.worst is not None else "—"] for p in self.probes]

    def alert_rows(self) -> list[list[str]]:
        tz = next(iter(self.config.pbxs.values())).tz
        return [[dt.datetime.fromtimestamp(a.raised_at, tz).strftime("%Y-%m-%d %H:%M"),
                 self.config.site(a.site).name, str(len(a.probes)),
                 a.message.splitlines()[0].split(" — ", 1)[-1]] for a in self.alerts]

    def failure_rows(self, limit: int = 6) -> list[list[str]]:
        rows = []
        for day in self.passive.days:
            if day.failures:
                rows.append([self.config.site(day.site).name, day.date.isoformat(), str(len(day.failures)),
                             _failure_times(day, limit)])
        return rows


def _failure_times(day: SiteDay, limit: int) -> str:
    """"échec / encombrement : 21:30, 21:40 … (+3)", one group per outcome."""
    groups: dict[str, list[str]] = {}
    for f in day.failures:
        groups.setdefault(OUTCOME_FR.get(f.outcome, f.outcome), []).append(f"{f.local_time:%H:%M}")
    parts = []
    for label, times in groups.items():
        more = f" … (+{len(times) - limit})" if len(times) > limit else ""
        parts.append(f"{label} : {', '.join(times[:limit])}{more}")
    return " ; ".join(parts)


def after_hours_section(store: Store, config: Config, month: str,
                        sites: Sequence[str] | None = None) -> AfterHoursSection:
    """The month's after-hours figures for the monthly statement (and this report)."""
    settings = load_settings(config)
    passive = check_month(store, config, month, sites, settings.check)
    first, last = month_bounds(month)
    tz = next(iter(config.pbxs.values())).tz
    start = dt.datetime.combine(first, dt.time(), tz).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).timestamp()
    site_ids = list(sites or config.site_ids)
    return AfterHoursSection(month, config, passive, probes_between(store, first, last, site_ids),
                             alerts_between(store, start, end, site_ids))
