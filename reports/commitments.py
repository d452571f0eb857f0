"""The commitments a switchboard carries, each with its state for the period: met, not met or
no data. One place decides them, for the statements' first page and for the synthesis' list
of what is not met.

* Pickup in under 25 s: the period's pickup rate (the figure of `qualiphone stats`) against the
  target rate; no data without a call in opening hours.
* After-hours message: calls arriving while the site is closed must be taken by its message.
  Not met when the passive check flags the site (afterhours.toml [check]), when the probes
  raised an alert, or when the month's last probe did not hear the expected message; no data
  without any such call nor probe (and in the annual review, which has no after-hours check).
* Planned closures announced: calls arriving during a planned closure (closures.toml) must be
  taken by the closure message. Not met as soon as one was not (nor by a person); no data
  without a planned closure, or without a call during one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.afterhours import AfterHoursCheck
from reports.data import DayMark, Rules
from reports.document import Verdict
from reports.text import day_short, interval, num, pct, plural, rate_digits

PICKUP, MESSAGE, CLOSURES = "Décroché en moins de 25 s", "Message hors horaires", \
    "Fermetures planifiées annoncées"


def pickup(head: dict[str, Any], rules: Rules) -> Verdict:
    """The pickup commitment from a `stats` record of the period (opening hours)."""
    p, t = head["pickup_rate"], rules.target_rate
    name = f"Décroché en moins de {num(rules.threshold)} s"
    if p["value"] is None:
        return Verdict(name, "no_data", "—", "aucun appel reçu aux heures d'ouverture")
    detail = (f"{plural(p['n'], 'appel')} à traiter, {num(head['answered_within'])} décrochés "
              f"par une personne en moins de {num(rules.threshold)} s (IC 95 % "
              f"{interval(p['low'], p['high'])}) ; objectif {pct(t)}")
    if head.get("unclassified"):
        detail += (f" ; chiffre hors {unclassified_words(head['unclassified'])} "
                   "(répertoire incomplet)")
    return Verdict(name, "met" if p["value"] >= t else "not_met",
                   pct(p["value"], max(1, rate_digits(p["value"], t))), detail)


def unclassified_words(n: int) -> str:
    return plural(n, "appel non classé", "appels non classés")


def after_hours(c: AfterHoursCheck | None) -> Verdict:
    """The after-hours message commitment from the month's check and probes."""
    if c is None:
        return Verdict(MESSAGE, "no_data", "—", "vérifié mois par mois : voir les relevés mensuels")
    if not c.calls and not c.probes:
        return Verdict(MESSAGE, "no_data", "—", "aucun appel arrivé site fermé ni appel test")
    parts = []
    if c.calls:
        parts.append(f"{num(c.by_message)} des {plural(c.calls, 'appel')} arrivés site fermé "
                     f"pris par le message, {num(c.failures)} non pris")
    if c.probes:
        parts.append(f"appels test : {num(c.conform)} conformes sur {num(len(c.probes))}")
    if c.flagged:
        parts.append("site signalé")
    if c.alerts:
        parts.append(plural(len(c.alerts), "alerte"))
    failed = c.flagged or bool(c.alerts) or c.last_probe_ok is False
    figure = pct(c.share) if c.share is not None else f"{c.conform}/{len(c.probes)}"
    return Verdict(MESSAGE, "not_met" if failed else "met", figure, " ; ".join(parts))


def closures(marks: Sequence[DayMark], c: AfterHoursCheck | None) -> Verdict:
    """The planned-closures commitment from the site's closures and the calls during them."""
    planned = [m for m in marks if m.kind == "fermeture"]
    if not planned:
        return Verdict(CLOSURES, "no_data", "—", "aucune fermeture planifiée sur la période")
    days = ", ".join(day_short(m.day) for m in planned[:6]) + (" …" if len(planned) > 6 else "")
    what = f"{plural(len(planned), 'fermeture planifiée', 'fermetures planifiées')} ({days})"
    if c is None:
        return Verdict(CLOSURES, "no_data", "—", f"{what} ; voir les relevés mensuels")
    if not c.closure_calls:
        return Verdict(CLOSURES, "no_data", "—", f"{what} ; aucun appel pendant la fermeture")
    detail = (f"{what} ; {num(c.closure_message)} des {plural(c.closure_calls, 'appel')} "
              f"arrivés pendant la fermeture pris par le message")
    if c.closure_failures:
        detail += f", {num(c.closure_failures)} sans réponse"
    return Verdict(CLOSURES, "not_met" if c.closure_failures else "met",
                   f"{c.closure_message}/{c.closure_calls}", detail)


def verdicts(head: dict[str, Any], rules: Rules, closed: AfterHoursCheck | None,
             marks: Sequence[DayMark]) -> list[Verdict]:
    """The three commitments of one site, in the order the first page shows them."""
    return [pickup(head, rules), after_hours(closed), closures(marks, closed)]


def not_met_sentence(items: Sequence[Verdict], when: str) -> str:
    """The first sentence of "En bref": what is not met, or that every measured one is
    (`when`: "en octobre 2026", "sur l'année 2026")."""
    missed = [v for v in items if v.state == "not_met"]
    if not missed:
        measured = [v for v in items if v.state == "met"]
        if not measured:
            return f"Aucun engagement n'a pu être vérifié {when} (pas de données)."
        return (f"{when[0].upper()}{when[1:]}, les engagements mesurés sont tenus : "
                + ", ".join(v.name.lower() for v in measured) + ".")
    one = len(missed) == 1
    return (f"Engagement{'' if one else 's'} non tenu{'' if one else 's'} {when} : "
            + " ; ".join(f"{v.name.lower()} ({v.figure})" for v in missed)
            + " (détail ci-dessus).")
