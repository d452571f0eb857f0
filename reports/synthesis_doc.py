"""The central synthesis as a document: the city-wide figures, every commitment not met site by
site, the ranking, the after-hours part, the months so far, the spread between hours, the
method. Rendered to PDF and HTML by reports.pdf and reports.html, charts drawn once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from matplotlib.figure import Figure

from reports import plots, tables
from reports.commitments import unclassified_words
from reports.document import (
    Block,
    Document,
    Heading,
    PageBreak,
    Para,
    Table,
    Title,
    chart,
    figure_chart,
)
from reports.statement_doc import boxes
from reports.synthesis import (
    MIN_HOUR_CALLS,
    RUN,
    Synthesis,
    after_hours_sentence,
    after_hours_table,
    below_definition,
    below_sentence,
    below_table,
    coverage_rows,
    directory_table,
    not_met_table,
    ranking_table,
    short_name,
    spread_table,
)
from reports.synthesis import summary as synthesis_summary
from reports.text import KICKER, commitment, generated_text, interval, month_name, num, pct


def synthesis_title(s: Synthesis) -> str:
    return f"Bilan annuel {s.period.key} des standards" if s.period.yearly else \
        "Synthèse mensuelle des standards"


def when(s: Synthesis) -> str:
    return f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)


def synthesis_figures(s: Synthesis) -> list[tuple[str, str, str, bool | None]]:
    """The city-wide key figures (label, value, note, reached?)."""
    c, p = s.city, s.city["pickup_rate"]
    ranked = [x for x in s.lines if x.rate is not None]
    reached = sum(1 for x in ranked if x.rate is not None and x.rate >= s.rules.target_rate)
    ok = None if p["value"] is None else p["value"] >= s.rules.target_rate
    missing = f" · répertoire incomplet : hors {unclassified_words(c['unclassified'])}" \
        if c.get("unclassified") else ""
    return [
        ("Appels reçus aux heures d'ouverture, 17 EPS", num(c["offered"]),
         f"dont {num(c['short_abandons'])} raccrochés en moins de {num(s.rules.short_abandon)} s",
         None),
        (f"Décrochés en moins de {num(s.rules.threshold)} s", num(c["answered_within"]),
         f"sur {num(c['answered'])} décrochés par une personne", None),
        ("Taux de décroché, Paris", pct(p["value"], 1),
         f"IC 95 % : {interval(p['low'], p['high'])} · objectif {pct(s.rules.target_rate)}"
         + missing, ok),
        ("EPS au taux cible", f"{reached} / {len(ranked)}",
         f"{len(s.below)} sous le taux cible depuis {RUN} mois ou plus", None),
    ]


def _ranking(s: Synthesis) -> Block:
    lines = s.lines
    names = [short_name(x.site) + (" (répertoire incomplet)" if x.unclassified else "")
             for x in lines]
    return chart(lambda ax: plots.ranking(
        names, [x.rate for x in lines],
        [x.head["pickup_rate"]["low"] for x in lines],
        [x.head["pickup_rate"]["high"] for x in lines], s.rules.target_rate, ax=ax), (8, 4.6),
        margins=(1.3 if not any(x.unclassified for x in lines) else 2.3, 0.15, 0.1, 0.5))


def _first_page(s: Synthesis, generated: dt.datetime) -> list[Block]:
    out: list[Block] = [Title(f"{KICKER} · équipe centrale", synthesis_title(s),
                              f"Les {len(s.lines)} Espaces Parisiens des Solidarités",
                              "Synthèse pour l'équipe centrale (Pôle Qualité)", when(s),
                              commitment(s.rules.threshold, s.rules.ring_period),
                              generated_text(generated, s.rules.tz))]
    if s.has_data:
        out.append(boxes(synthesis_figures(s)))
    out.append(Heading("En bref"))
    out += [Para(text, "lead") for text in synthesis_summary(s)]
    if s.has_data:
        out += [Heading("Classement des EPS", "Taux de décroché de la période, intervalle de "
                        "confiance à 95 % ; en pointillé le taux cible."), _ranking(s)]
    return [*out, PageBreak()]


def _not_met(s: Synthesis) -> list[Block]:
    head, rows = not_met_table(s)
    out: list[Block] = [Heading("Engagements non tenus, EPS par EPS",
                                "Décroché en moins de 25 s, message hors horaires, fermetures "
                                "planifiées annoncées : chaque engagement non tenu de la période.")]
    out.append(Table.of(head, rows, "llrl", (1.5, 1.7, 0.7, 3.2), "small") if rows else
               Para("Aucun engagement non tenu parmi ceux qui ont pu être mesurés."))
    head, rows = directory_table(s)
    if rows:
        out += [Heading("Répertoire incomplet", "Appels décrochés par un poste ou une machine "
                        "que config/sites.toml ne classe pas : hors du taux de décroché tant que "
                        "le répertoire n'est pas complété (qualiphone sites check).", level=3),
                Table.of(head, rows, widths=(2.5, 1.5, 1.5, 1.5))]
    return out


def _ranking_page(s: Synthesis) -> list[Block]:
    out: list[Block] = [Heading("Les EPS côte à côte", "Aux heures d'ouverture ; " + (
        "évolution par rapport au mois précédent en points de pourcentage." if not
        s.period.yearly else "mois de l'année sous le taux cible, et la plus longue série.")),
        Table.of(*ranking_table(s), "llrrrrrr", (0.45, 1.55, 0.85, 0.7, 0.7, 0.85, 1.0, 0.97)),
        Heading(f"Sous le taux cible {RUN} mois d'affilée", below_definition(s), level=3)]
    head, rows = below_table(s)
    out.append(Table.of(head, rows, widths=(1.9, *[1.0] * (len(head) - 1))) if rows
               else Para(below_sentence(s)))
    if s.missing:
        out += [Heading("Absents de la capture", level=3),
                Para(", ".join(x.site.name for x in s.missing) + " : aucun appel capté sur la "
                     "période ; leurs chiffres ne sont pas comptés comme zéro.")]
    return out


def _after_hours(s: Synthesis) -> list[Block]:
    head, rows = after_hours_table(s)
    out: list[Block] = [Heading("Hors horaires d'ouverture : le message des sites",
                                "Appels arrivés site fermé (soirs, week-ends, jours fériés, "
                                "fermetures planifiées), pris ou non par le message du site, et "
                                "appels test (sondes) du mois."),
                        Para(after_hours_sentence(s))]
    if rows:
        out.append(Table.of(head, rows, "lrrrrrlr", (1.45, 0.8, 0.85, 0.6, 0.6, 0.75, 1.45, 0.7),
                            "small", alert_column=7))
    return out


def _history(s: Synthesis) -> int:
    have = [bool(t["offered"]) for t in s.city_trend]
    return have.index(True) if any(have) else len(have)


def _multiples(s: Synthesis) -> list[Block]:
    """The months so far of each site, as small panels, only over the months with data."""
    first = _history(s)
    months = s.period.months[first:]
    title = "Douze mois par EPS" if first == 0 else "Les mois disponibles par EPS"
    if len(months) < 2:
        return [Heading(title, level=2), Para(
            f"Un seul mois de données ({month_name(months[0])}) : les courbes par EPS "
            "apparaîtront avec les mois suivants." if months else "Aucune donnée sur 12 mois.")]
    panels = [("Paris, 17 EPS", [t["pickup_rate"]["value"] for t in s.city_trend[first:]])]
    panels += [(short_name(x.site), [t["pickup_rate"]["value"] for t in x.trend[first:]])
               for x in s.in_site_order]
    rows = (len(panels) + 2) // 3

    def draw(fig: Figure) -> None:
        plots.multiples(fig, months, panels, s.rules.target_rate)

    note = "Taux de décroché par mois (%) ; points rouges : mois sous le taux cible (pointillé)."
    if first:
        note += f" Données depuis {month_name(months[0])}."
    return [PageBreak(), Heading(title, note), figure_chart(draw, (8, 1.55 * rows))]


def _spread(s: Synthesis) -> list[Block]:
    spread = chart(lambda ax: plots.hour_spread(
        [short_name(x.site) for x in s.lines], [x.worst.rate if x.worst else None for x in s.lines],
        [x.best.rate if x.best else None for x in s.lines], s.rules.target_rate, ax=ax), (8, 4.4),
        margins=(1.3, 0.15, 0.35, 0.5))
    return [PageBreak(), Heading("Écart entre meilleure et moins bonne heure",
                                 "Heures de la journée (tous jours confondus) ayant reçu au moins "
                                 f"{MIN_HOUR_CALLS} appels dans la période ; taux de décroché de "
                                 "l'heure."), spread,
            Table.of(*spread_table(s), "lrrr", (2.0, 1.9, 1.9, 1.27), "small")]


def _annex(s: Synthesis) -> list[Block]:
    imports = " ; ".join(f"{kind} : {n} lot(s), {num(rejected)} ligne(s) rejetée(s)"
                         for kind, (n, rejected) in s.imports.items()) or "aucun import"
    return [PageBreak(), Heading("Annexe : méthode et couverture des données"),
            *(Para(p, "small") for p in tables.parameters(s.rules, s.period)),
            Para(below_definition(s), "small"),
            Table.of(*tables.variants_table(s.city, s.rules), "llrrr",
                     (1.75, 3.1, 0.6, 0.85, 0.77), "small"),
            Table.of(*coverage_rows(s), "llrrrr", (1.75, 1.45, 1.0, 1.1, 0.9, 0.87), "small"),
            Para(f"Imports dans la base (toutes périodes) : {imports}.", "small")]


def synthesis_document(s: Synthesis, generated: dt.datetime) -> Document:
    """Every page of the synthesis, charts drawn (once)."""
    blocks: list[Any] = _first_page(s, generated)
    if s.has_data:
        blocks += [*_not_met(s), *_ranking_page(s), *_after_hours(s), *_multiples(s), *_spread(s)]
    blocks += _annex(s)
    return Document(f"{synthesis_title(s)} · {when(s)}",
                    f"{synthesis_title(s)} · {when(s).lower()}", blocks)
