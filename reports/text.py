"""French wording of the statements: numbers ("3 412", "84 %", "12,5 s"), dates, and the
summary sentences written from the figures.

Thousands are separated by a narrow no-break space (U+202F) and units by a no-break space
(U+00A0), as French typography wants; `plain()` turns both into ordinary spaces (tests, search).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from monitor.french import MONTHS, SHORT_DAYS, SHORT_MONTHS, WEEKDAYS, long_date, month_name

NNBSP, NBSP = "\u202f", "\u00a0"
KICKER = "Ville de Paris · Espaces Parisiens des Solidarités"
DASH = "—"
COMMITMENT = ("Engagement QualiPARIS : appels décrochés en moins de {t} secondes "
              "({r} sonneries)")


def plain(text: str) -> str:
    """The text with French no-break spaces as ordinary spaces."""
    return text.replace(NNBSP, " ").replace(NBSP, " ")


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: Any, digits: int = 0) -> str:
    """3412 -> "3 412"; 12.5 -> "12,5" (digits=1); None/NaN -> "—"."""
    if missing(value):
        return DASH
    text = f"{float(value):,.{digits}f}" if digits else f"{round(float(value)):,d}"
    text = text.replace(",", NNBSP).replace(".", ",")
    return text.replace("-", "−")


def pct(value: Any, digits: int = 0) -> str:
    """0.844 -> "84 %" (digits=0) or "84,4 %" (digits=1)."""
    return DASH if missing(value) else f"{num(float(value) * 100, digits)}{NBSP}%"


def sec(value: Any, digits: int = 1) -> str:
    """12.5 -> "12,5 s"."""
    return DASH if missing(value) else f"{num(value, digits)}{NBSP}s"


def points(delta: Any) -> str:
    """A change of rate in percentage points: "+3,0 points", "−1,5 point"."""
    if missing(delta):
        return DASH
    value = round(float(delta) * 100, 1)
    sign = "+" if value > 0 else ""
    return f"{sign}{num(value, 1)}{NBSP}{'point' if abs(value) < 2 else 'points'}"


def interval(low: Any, high: Any, digits: int | None = None) -> str:
    """The 95 % interval as "82–86 %" (by default one decimal when it is narrower than 4
    points; tables pass `digits` so that a column reads the same all the way down)."""
    if missing(low) or missing(high):
        return DASH
    if digits is None:
        digits = 1 if high - low < 0.04 else 0
    return f"{num(low * 100, digits)}–{num(high * 100, digits)}{NBSP}%"


def month_short(key: str) -> str:
    """"2026-10" -> "oct. 26", "2026-07" -> "juil. 26" (axis labels)."""
    year, month = key.split("-")
    return f"{SHORT_MONTHS[int(month) - 1]} {year[2:]}"


def day_name(day: dt.date) -> str:
    """"vendredi 16 octobre 2026"."""
    return long_date(day)


def day_short(day: dt.date) -> str:
    """"ven. 16/10"."""
    return f"{SHORT_DAYS[day.weekday()]}. {day.day:02d}/{day.month:02d}"


def hour_slot(hour: int) -> str:
    """9 -> "9 h–10 h"."""
    return f"{hour}{NBSP}h–{hour + 1}{NBSP}h"


def generated_text(moment: dt.datetime, tz: str = "Europe/Paris") -> str:
    """"Établi le 2 novembre 2026 à 08:30", in the sites' time zone (a naive time is taken as
    already local)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz))
    return f"Établi le {moment.day} {MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M}"


def unclassified_sentence(head: dict[str, Any]) -> str:
    """The "directory incomplete" warning of a `stats` record with unclassified calls."""
    n = head["unclassified"]
    parts = [f"poste inconnu : {num(head['unknown_device'])}" if head.get("unknown_device") else "",
             f"machine : {num(head['machine'])}" if head.get("machine") else ""]
    detail = " ; ".join(p for p in parts if p)
    return (f"Répertoire incomplet : {plural(n, 'appel')} décroché{'s' if n > 1 else ''} par un "
            f"poste ou une machine que config/sites.toml ne classe pas ({detail}). Le taux de "
            "décroché les exclut en attendant que le répertoire soit complété (qualiphone sites "
            "check).")


def plural(n: int, one: str, many: str | None = None) -> str:
    """"1 appel", "3 412 appels"."""
    word = one if abs(n) < 2 else (many or one + "s")
    return f"{num(n)} {word}"


def rate_digits(value: float, target: float) -> int:
    """Whole percents, unless rounding would hide which side of the target the rate is on."""
    if missing(value):
        return 0
    if (round(value * 100) >= round(target * 100)) != (value >= target):
        return 1
    return 0


def commitment(threshold: float, ring_period: float) -> str:
    rings = threshold / ring_period
    return COMMITMENT.format(t=num(threshold, 0 if threshold == int(threshold) else 1),
                             r=num(rings, 0 if rings == int(rings) else 1))


def period_name(key: str) -> str:
    """"octobre 2026" for a month, "l'année 2026" for a year."""
    return month_name(key) if len(key) == 7 else f"l'année {key}"


def _rate_sentence(s: Any) -> str:
    h, r = s.head, s.rules
    p = h["pickup_rate"]
    digits = rate_digits(p["value"], r.target_rate)
    when = "En " + period_name(s.period.key) if not s.period.yearly else "Sur " + period_name(
        s.period.key)
    text = (f"{when}, {pct(p['value'], digits)} des {plural(p['n'], 'appel')} reçus aux heures "
            f"d'ouverture ont été décrochés par une personne en moins de {num(r.threshold)} "
            f"secondes (objectif : {num(r.threshold)} s / {r.rings} sonneries), soit "
            f"{plural(h['answered_within'], 'appel')}.")
    if h["short_abandons"]:
        text += (f" Les {plural(h['short_abandons'], 'appel')} raccrochés en moins de "
                 f"{num(r.short_abandon)} s ne sont pas comptés ({num(h['offered'])} reçus en tout).")
    return text


def target_sentence(rate: dict[str, Any], target: float) -> str:
    """Whether the rate reaches the target rate, with the 95 % interval."""
    value, low, high = rate["value"], rate["low"], rate["high"]
    ic = f"intervalle de confiance à 95 % : {interval(low, high)}"
    if value >= target:
        verdict = "est atteint" if low >= target else "est atteint, de peu"
    else:
        verdict = "n'est pas atteint" if high < target else "n'est pas atteint, de peu"
    return f"Le taux cible de {pct(target)} {verdict} ({ic})."


def _previous_sentence(s: Any) -> str:
    prev = s.previous
    if prev is None or prev["pickup_rate"]["value"] is None:
        return ""
    before, now = prev["pickup_rate"]["value"], s.head["pickup_rate"]["value"]
    return (f"En {month_name(prev['period'])}, il était de {pct(before, 1)} "
            f"({points(now - before)}).")


def _year_sentence(s: Any) -> str:
    months = [(t["pickup_rate"]["value"], t["period"]) for t in s.trend
              if t["pickup_rate"]["value"] is not None]
    if len(months) < 2:
        return ""
    best, worst = max(months), min(months)
    below = sum(1 for v, _ in months if v < s.rules.target_rate)
    return (f"Meilleur mois : {month_name(best[1])} ({pct(best[0], 1)}) ; moins bon : "
            f"{month_name(worst[1])} ({pct(worst[0], 1)}) ; {plural(below, 'mois', 'mois')} "
            f"sous le taux cible.")


def _wait_sentence(s: Any) -> str:
    t, h = s.head["time_to_answer"], s.head
    if not h["answered"]:
        return "Aucun appel n'a été décroché par une personne."
    text = (f"Les appels décrochés l'ont été en {sec(t['mean'])} en moyenne (médiane "
            f"{sec(t['median'])}) ; 90 % l'ont été en moins de {sec(t['p90'])}.")
    if h["abandoned"]:
        text += (f" {plural(h['abandoned'], 'appelant')} ont raccroché avant d'obtenir une "
                 f"réponse, dont {num(h['abandoned_before_target'])} avant "
                 f"{num(s.rules.threshold)} secondes.")
    if h.get("no_answer"):
        n = h["no_answer"]
        text += (f" {plural(n, 'appel')} {'a' if n < 2 else 'ont'} sonné jusqu'à ce que le "
                 "standard y mette fin, sans réponse.")
    return text


def _slip_sentence(s: Any) -> str:
    parts = []
    if s.busiest:
        b = s.busiest[0]
        parts.append(f"Le créneau le plus chargé est le {WEEKDAYS[b.weekday]} {hour_slot(b.hour)} "
                     f"({plural(b.offered, 'appel')}, {pct(b.rate)} décrochés à temps).")
    hours = [int(r["hour"]) for r in s.understaffed]
    if hours:
        listed = ", ".join(f"{h}{NBSP}h" for h in hours)
        parts.append(f"Heures de la journée sous le taux cible : {listed} (effectifs "
                     "conseillés : voir « Où le décroché fléchit »).")
    return " ".join(parts)


def _coverage_sentence(s: Any) -> str:
    c = s.coverage
    if c.complete:
        return "Couverture des données : complète (aucun jour d'ouverture sans appel capté, " \
               "aucune coupure de capture, aucun appel incomplet)."
    parts = []
    if c.silent_days:
        parts.append(f"{plural(len(c.silent_days), 'jour')} d'ouverture sans aucun appel capté")
    if c.gaps:
        parts.append(f"{plural(len(c.gaps), 'coupure')} de la capture en direct "
                     f"({num(c.gap_open_hours, 1)} h d'ouverture)")
    if c.incomplete_total:
        parts.append(plural(c.incomplete_total, "appel incomplet", "appels incomplets"))
    return "Attention, couverture des données partielle : " + " ; ".join(parts) + \
        " (voir « Couverture des données »)."


def summary(s: Any) -> list[str]:
    """The statement's summary, a few plain French sentences written from its figures."""
    if not s.has_data:
        return [f"Aucun appel n'a été capté pour {s.site.name} en "
                f"{period_name(s.period.key)} : ce relevé ne contient donc aucun chiffre du mois. "
                "Vérifiez que les fichiers du PBX de ce mois ont été importés "
                "(qualiphone store batches)."]
    if not s.head["offered"]:
        return [f"Aucun appel n'a été reçu aux heures d'ouverture en "
                f"{period_name(s.period.key)} ; {plural(s.head_all['offered'], 'appel')} hors "
                "heures d'ouverture.", _coverage_sentence(s)]
    first = _rate_sentence(s) + " " + target_sentence(s.head["pickup_rate"], s.rules.target_rate)
    trend = _year_sentence(s) if s.period.yearly else _previous_sentence(s)
    return [p for p in (first + (" " + trend if trend else ""), _wait_sentence(s),
                        _slip_sentence(s), _coverage_sentence(s)) if p]
