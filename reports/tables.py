"""The statement's tables as header + rows of French text, shared by the PDF and the HTML page.

Every value is a figure of the core (a `qualiphone stats` record, the staffing hint, the
coverage), only formatted here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from reports.coverage import SiteCoverage
from reports.data import Period, Rules
from reports.statement import Statement
from reports.text import (
    NBSP,
    WEEKDAYS,
    day_name,
    day_short,
    hour_slot,
    interval,
    month_name,
    num,
    pct,
    plural,
    sec,
)

Table = tuple[list[str], list[list[str]]]


def key_figures(s: Statement) -> list[tuple[str, str, str, bool | None]]:
    """(label, value, note, reached?) for the boxes at the top of the statement."""
    h, p = s.head, s.head["pickup_rate"]
    reached = None if p["value"] is None else p["value"] >= s.rules.target_rate
    t = num(s.rules.threshold)
    return [
        ("Appels reçus aux heures d'ouverture", num(h["offered"]),
         f"dont {num(h['short_abandons'])} raccrochés en moins de {num(s.rules.short_abandon)} s", None),
        ("Décrochés par une personne", num(h["answered"]), f"soit {pct(s.head['agent_pickup_rate']['value'])}"
         " des appels à traiter", None),
        (f"Décrochés en moins de {t} s", num(h["answered_within"]), f"{s.rules.rings} sonneries ou moins",
         None),
        ("Taux de décroché", pct(p["value"], 1), f"IC 95 % : {interval(p['low'], p['high'])} · "
         f"objectif {pct(s.rules.target_rate)}", reached),
    ]


def wait_table(s: Statement) -> Table:
    t = s.head["time_to_answer"]
    rows = [["Attente moyenne avant décroché", sec(t["mean"])],
            ["Médiane (la moitié des appels décrochés l'ont été plus vite)", sec(t["median"])],
            ["90 % des appels décrochés l'ont été en moins de", sec(t["p90"])],
            ["Attente la plus longue", sec(t["max"])]]
    return ["Délai de décroché (appels décrochés par une personne)", "Valeur"], rows


def unanswered_table(s: Statement) -> Table:
    h, t = s.head, num(s.rules.threshold)
    rows = [
        ["Abandons : l'appelant a raccroché avant toute réponse", num(h["abandoned"])],
        [f"   dont avant {t} secondes", num(h["abandoned_before_target"])],
        [f"Abandons courts (moins de {num(s.rules.short_abandon)} s, hors calcul du taux)",
         num(h["short_abandons"])],
        ["Sans réponse : le standard a mis fin à l'appel sans qu'une personne décroche",
         num(h["no_answer"])],
        ["Occupé", num(h["busy"])],
        ["Échec ou encombrement du réseau", num(h["failed"] + h["congestion"])],
        ["Messagerie vocale du standard", num(h["voicemail"])],
    ]
    return ["Appels aux heures d'ouverture non décrochés par une personne", "Appels"], rows


def after_hours_table(s: Statement) -> Table:
    a = s.after_hours
    rows = [["Appels reçus hors heures d'ouverture (soirs, week-ends, fériés, fermetures)",
             num(a.offered)],
            ["Décrochés par le message hors horaires ou de fermeture", num(a.message)],
            ["   dont jours fériés et jours de fermeture", num(a.message_marked_days)],
            ["Décrochés par une personne", num(a.answered)],
            ["Restés sans réponse (raccroché avant le message, occupé, échec…)", num(a.unanswered)]]
    return ["Hors heures d'ouverture", "Appels"], rows


def busiest_table(s: Statement) -> Table:
    rows = [[f"{WEEKDAYS[b.weekday]} {hour_slot(b.hour)}", num(b.offered), pct(b.rate)]
            for b in s.busiest]
    return ["Créneaux les plus chargés", "Appels", "Taux"], rows


def worst_days_table(s: Statement) -> Table:
    rows = [[day_short(d.day) + (" *" if d.marks else ""), num(d.offered), pct(d.rate),
             interval(d.low, d.high, 0)] for d in s.worst_days]
    return ["Jours les moins bons", "Appels", "Taux", "IC 95 %"], rows


def staffing_table(s: Statement) -> Table:
    def agents(value: Any) -> str:
        return "—" if value is None else str(value)

    rows = [[hour_slot(int(r["hour"])), num(r["calls"]), num(r["arrival_rate_per_hour"], 1),
             sec(r["handle_mean"], 0), pct(r["pickup_rate"]), agents(r["agents_erlang_a"]),
             agents(r["agents_erlang_c"])] for r in s.understaffed]
    head = ["Heure", "Appels", "Appels / heure", "Durée moy.", "Taux obtenu",
            "Personnes (Erlang-A)", "Personnes (Erlang-C)"]
    return head, rows


def marks_table(s: Statement) -> Table:
    by_day = {d.day: d for d in s.days}
    rows = []
    for m in s.marks:
        d = by_day[m.day]
        rows.append([day_name(m.day), m.kind, m.label, num(d.offered_all), num(d.message)])
    return ["Date", "Nature", "Motif", "Appels", "Message"], rows


def trend_table(s: Statement) -> Table:
    rows = []
    for t in s.trend:
        p = t["pickup_rate"]
        rows.append([month_name(t["period"]), num(t["offered"]), num(t["answered_within"]),
                     pct(p["value"], 1), interval(p["low"], p["high"], 1),
                     sec(t["time_to_answer"]["mean"])])
    return ["Mois", "Appels reçus", f"Décrochés < {num(s.rules.threshold)} s", "Taux",
            "IC 95 %", "Attente moy."], rows


def _dates(days: tuple[Any, ...], limit: int = 12) -> str:
    shown = ", ".join(day_short(d) for d in days[:limit])
    return shown + (f" et {len(days) - limit} autres" if len(days) > limit else "")


def coverage_table(c: SiteCoverage, tz: str) -> Table:
    sources = ", ".join(f"{k} {num(v)}" for k, v in sorted(c.by_source.items())) or "aucune"
    gaps = "aucune" if not c.gaps else "; ".join(
        f"{_moment(g.start, tz)} → {_moment(g.end, tz)} ({num(g.open_seconds / 3600, 1)}{NBSP}h "
        f"d'ouverture, {g.reason})" for g in c.gaps[:6])
    rows = [["Jours d'ouverture dans la période", num(c.open_days)],
            ["Jours d'ouverture sans aucun appel capté",
             "aucun" if not c.silent_days else f"{len(c.silent_days)} : {_dates(c.silent_days)}"],
            ["Coupures de la capture en direct (AMI)", gaps],
            ["Appels incomplets (coupés par une coupure, non complétés par un import)",
             num(c.incomplete_total)],
            ["Appels captés (toutes heures, hors appels de test)", num(c.calls)],
            ["Appels vus par source", sources]]
    return ["Couverture des données", ""], rows


def _moment(epoch: float, tz: str) -> str:
    return f"{dt.datetime.fromtimestamp(epoch, ZoneInfo(tz)):%d/%m %H:%M}"


def variants_table(h: dict[str, Any], rules: Rules) -> Table:
    """The commitment's pickup rate and its variants, with their formulas (annex)."""
    t = num(rules.threshold)
    formulas = [
        ("pickup_rate", "Taux de décroché (QualiPARIS, chiffre de l'engagement)",
         f"décrochés par une personne en moins de {t} s / (appels reçus − abandons courts)"),
        ("asterisk_sl", "Niveau de service Asterisk (SL)",
         f"décrochés en moins de {t} s / décrochés"),
        ("asterisk_sl2", "Niveau de service Asterisk (SL2)",
         f"(décrochés en moins de {t} s + abandons avant {t} s, courts compris) / "
         "(décrochés + abandons + abandons courts)"),
        ("agent_pickup_rate", "Taux de décroché agent (Services Publics+)",
         "décrochés par une personne, quel que soit le délai / (appels reçus − message − "
         "abandons courts)"),
    ]
    rows = [[label, formula, pct(h[key]["value"], 1), interval(h[key]["low"], h[key]["high"], 1),
             num(h[key]["n"])] for key, label, formula in formulas]
    return ["Indicateur", "Formule", "Valeur", "IC 95 %", "n"], rows


def parameters(r: Rules, period: Period, site_id: str | None = None) -> list[str]:
    """The counting rules in plain French, and the `stats` command giving the same figures."""
    site = f"--site {site_id} " if site_id else ""
    start = "l'arrivée de l'appel sur le PBX" if r.clock_start == "arrival" else \
        "l'entrée dans la file d'attente (à défaut, l'arrivée)"
    return [
        f"Un appel est décroché à temps quand une personne l'a décroché strictement moins de "
        f"{num(r.threshold)} s après {start} : un appel décroché à {num(r.threshold)},0 s ne l'est "
        f"pas. Une sonnerie dure {num(r.ring_period)} s : {r.rings} sonneries = "
        f"{num(r.threshold)} s. Les appels raccrochés en moins de {num(r.short_abandon)} s "
        "(abandons courts) sont comptés à part et sortent du dénominateur.",
        "Les appels décrochés par le message hors horaires ou de fermeture, occupés, en échec, "
        "envoyés sur la messagerie vocale ou abandonnés comptent comme non décrochés. Les appels "
        "de test et les appels mystères sont exclus. Seuls les appels reçus aux heures "
        "d'ouverture (fériés et fermetures planifiées retirés) entrent dans le taux.",
        f"Taux cible : {pct(r.target_rate)} des appels décrochés en moins de "
        f"{num(r.threshold)} s (option --target-rate, {pct(0.8)} par défaut). IC 95 % : intervalle "
        "de confiance de Wilson, honnête sur les petits effectifs.",
        f"Mêmes chiffres que : qualiphone stats --from {period.start} --to {period.end} "
        f"{site}--format json (champs : docs/stats-json.md).",
        f"Effectifs conseillés : modèles d'attente Erlang-A (les appelants raccrochent après leur "
        f"patience moyenne observée) et Erlang-C, pour atteindre {pct(r.target_rate)} à l'heure "
        "dite, d'après les appels, la durée moyenne des appels et les heures d'ouverture.",
    ]


def marks_note(s: Statement) -> str:
    if not s.marks:
        return "Aucun jour férié ni fermeture planifiée dans la période."
    many = len(s.marks) > 1
    return (f"{plural(len(s.marks), 'jour')} férié{'s' if many else ''} ou de fermeture "
            f"planifiée, surligné{'s' if many else ''} en jaune sur les graphiques ; les jours "
            "sans ouverture (week-ends) sont en gris.")
