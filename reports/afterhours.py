"""The statement's section "Hors horaires d'ouverture et fermetures": one site's calls that
arrived while it was closed (were they taken by its message, heard to the end, which failed and
when), the month's test calls (probes) with their verdicts, and the alerts.

The figures come from `afterhours.report.after_hours_section`, read once for every chosen site
by the parent process (`load`), before the statements are drawn in worker processes; each
statement takes its site's share (`site_check`) without querying the store. Probes are test
calls: they are shown here and never counted in the statement's figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from afterhours.passive import SiteSummary
from afterhours.report import AfterHoursSection, after_hours_section
from config import Config
from monitor.store import Store
from reports.data import Period
from reports.text import day_short, month_name, num, pct, plural, sec

TITLE = "Hors horaires d'ouverture et fermetures"
NO_PROBE = "Aucun appel test hors horaires ce mois-ci."
CLOSED_NOTE = ("Appels arrivés alors que le site était fermé (soirs, week-ends, jours fériés, "
               "fermetures planifiées) : ils doivent être pris par le message du site, qui donne "
               "ses coordonnées et ses horaires (engagement 1 du référentiel).")
PROBES_NOTE = ("Appels de contrôle passés site fermé ; le message entendu est comparé à "
               "l'enregistrement de référence du site. Ils ne sont pas comptés dans ce relevé.")
ALERTS_NOTE = ("Levées quand les sondes du site échouent plusieurs fois de suite (journal, code de "
               "sortie, courriel si configuré).")
FAILURES_NOTE = ("Par jour : nombre d'appels arrivés site fermé qui n'ont été pris ni par le "
                 "message ni par une personne, et leurs heures d'arrivée.")
Table = tuple[list[str], list[list[str]]]


@dataclass(frozen=True)
class AfterHoursCheck:
    """One site's after-hours month, as the statement shows it (French text in the rows)."""

    month: str
    calls: int  # arrived while the site was closed (evenings, week-ends, holidays, closures)
    by_message: int  # taken by the site's message
    heard: int  # … and heard to the end (call length ≥ the message's length)
    by_person: int  # answered by a person (not a failure)
    failures: int  # neither: ringing out, busy, failed, hung up before the message…
    flagged: bool  # too many failures (afterhours.toml [check])
    share: float | None  # by_message / (calls − by_person)
    message_seconds: float
    conform: int  # probes that heard the expected message
    probes: list[list[str]]  # day, time, verdict, time to answer, length, message, similarity
    alerts: list[list[str]]  # raised at, reason ("2 sondes hors horaires consécutives en échec.")
    failure_days: list[list[str]]  # day, failures, times by outcome
    closure_calls: int = 0  # arrived during a planned closure (closures.toml)
    closure_message: int = 0  # … taken by the message
    closure_failures: int = 0  # … by neither the message nor a person
    last_probe_ok: bool | None = None  # the month's last probe heard the expected message

    @property
    def shown(self) -> bool:
        """Whether there is anything to say (a site without any call nor probe has not)."""
        return bool(self.calls or self.probes or self.alerts)


def load(engine: sa.Engine, config: Config, period: Period,
         sites: Sequence[str]) -> AfterHoursSection | None:
    """The after-hours figures of `sites` for a monthly period (None for a year)."""
    if period.yearly or not sites:
        return None
    return after_hours_section(Store(engine), config, period.key, list(sites))


def site_check(section: AfterHoursSection, site_id: str) -> AfterHoursCheck:
    """One site's share of the section (no query)."""
    one = section.for_site(site_id)
    s = one.passive.sites[0] if one.passive.sites else SiteSummary(site_id)
    probes = [row[:2] + row[3:] for row in one.probe_rows()]  # without the site's name
    return AfterHoursCheck(
        month=one.month, calls=s.calls, by_message=s.by_message, heard=s.heard,
        by_person=s.by_person, failures=s.failures, flagged=s.flagged, share=s.answered_share,
        message_seconds=section.config.site(site_id).message_seconds,
        conform=sum(p.verdict == "expected" for p in one.probes),
        probes=[[_day(r[0]), *r[1:]] for r in probes],
        alerts=[[r[0], r[3]] for r in one.alert_rows()],
        failure_days=[[_day(r[1]), r[2], r[3]] for r in one.failure_rows()],
        closure_calls=s.closure_calls, closure_message=s.closure_message,
        closure_failures=s.closure_failures,
        last_probe_ok=one.probes[-1].verdict == "expected" if one.probes else None)


def _day(iso: str) -> str:
    """"2026-10-05" -> "lun. 05/10"."""
    return day_short(dt.date.fromisoformat(iso))


def key_figures(c: AfterHoursCheck) -> list[tuple[str, str, str, bool | None]]:
    """(label, value, note, good?) for the boxes at the top of the section."""
    person = f" ; {plural(c.by_person, 'décroché')} par une personne" if c.by_person else ""
    return [
        ("Appels arrivés site fermé", num(c.calls), "soirs, week-ends, jours fériés et "
         "fermetures planifiées", None),
        ("Pris par le message", num(c.by_message), f"soit {pct(c.share)} des appels{person}",
         None if c.share is None else not c.flagged),
        ("Écoutés jusqu'au bout", num(c.heard),
         f"appel au moins aussi long que le message ({sec(c.message_seconds, 0)})", None),
        ("Non pris par le message", num(c.failures), "sans réponse, occupé, échec, appelant "
         "parti avant", False if c.failures else None),
    ]


def _agree(n: int, one: str, many: str) -> str:
    """The word agreeing with `n` (French: 0 and 1 take the singular)."""
    return one if abs(n) < 2 else many


def passive_sentence(c: AfterHoursCheck) -> str:
    """The calls of the month that arrived while the site was closed, in a sentence or two."""
    if not c.calls:
        return f"Aucun appel n'est arrivé site fermé en {month_name(c.month)}."
    person = f", {plural(c.by_person, 'décroché')} par une personne" if c.by_person else ""
    text = (f"En {month_name(c.month)}, {plural(c.calls, 'appel')} "
            f"{_agree(c.calls, 'est arrivé', 'sont arrivés')} alors que le site était fermé : "
            f"{num(c.by_message)} {_agree(c.by_message, 'a été pris', 'ont été pris')} par le "
            f"message ({pct(c.share)}), dont {num(c.heard)} {_agree(c.heard, 'écouté', 'écoutés')} "
            f"jusqu'au bout{person} ; {plural(c.failures, 'échec')} (ni le message ni une "
            "personne).")
    if c.flagged:
        text += (" Site signalé : trop d'appels hors horaires ne sont pas pris par le message ; "
                 "vérifier le message et l'aiguillage du soir.")
    return text


def probes_sentence(c: AfterHoursCheck) -> str:
    """The month's test calls in a sentence, or that there was none."""
    if not c.probes:
        return NO_PROBE
    day, time, verdict = c.probes[-1][:3]
    alerts = plural(len(c.alerts), "alerte") if c.alerts else "aucune alerte"
    return (f"{plural(len(c.probes), 'appel test', 'appels test')} hors horaires ce mois-ci, "
            f"{num(c.conform)} avec le message attendu ; le dernier, {day} à {time} : {verdict} ; "
            f"{alerts}.")


def probes_table(c: AfterHoursCheck) -> Table:
    return (["Jour", "Heure", "Verdict", "Décroché en", "Durée du message", "Message reconnu",
             "Similarité"], c.probes)


def alerts_table(c: AfterHoursCheck) -> Table:
    return ["Levée le", "Motif"], c.alerts


def failures_table(c: AfterHoursCheck) -> Table:
    return ["Jour", "Appels", "Heures d'arrivée, par issue"], c.failure_days


def failures_sentence(c: AfterHoursCheck) -> str:
    """What to write instead of an empty table of failures."""
    if not c.calls:
        return "Aucun appel arrivé site fermé."
    return "Aucun : tous les appels arrivés site fermé ont été pris par le message ou une personne."
