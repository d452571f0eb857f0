"""The monthly (or yearly) statement of one EPS as an A4 PDF: title block, key figures, summary,
charts (vectors) and tables, page numbers; the method in an annex."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from matplotlib.axes import Axes

from reports import afterhours, plots, tables
from reports.afterhours import AfterHoursCheck
from reports.layout import (
    A4,
    ACCENT,
    BAND,
    MARGIN,
    MUTED,
    WIDTH,
    Builder,
    Flow,
    Page,
    key_figures,
    render_pdf,
    table,
)
from reports.statement import Statement
from reports.synthesis import (
    MIN_HOUR_CALLS,
    RUN,
    Synthesis,
    below_definition,
    below_sentence,
    below_table,
    coverage_rows,
    ranking_table,
    short_name,
    spread_table,
)
from reports.synthesis import summary as synthesis_summary
from reports.text import commitment, generated_text, interval, month_name, num, pct, summary

GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#1a1a1a"


def document_title(s: Statement) -> str:
    if s.period.yearly:
        return f"Bilan annuel {s.period.key} du trafic du standard"
    return "Relevé mensuel du trafic du standard"


def title_block(page: Page, kicker: str, title: str, subject: tuple[str, str], when: str,
                line: str, generated: dt.datetime) -> None:
    """The head of the first page: who (name, area), what, when, the commitment."""
    name, area = subject
    page.rect(0, 0, A4[0], 0.12, ACCENT)
    page.text(MARGIN, 0.35, kicker, 8, color=MUTED)
    page.text(A4[0] - MARGIN, 0.35, generated_text(generated), 8, color=MUTED, ha="right")
    page.text(MARGIN, 0.6, title, 18, weight="bold", color=ACCENT)
    page.text(MARGIN, 1.0, name, 14, weight="bold")
    page.text(A4[0] - MARGIN, 1.0, when, 14, weight="bold", ha="right")
    page.text(MARGIN, 1.3, area, 9, color=MUTED)
    page.rect(MARGIN, 1.6, WIDTH, 0.34, BAND)
    page.text(MARGIN + 0.12, 1.68, line, 9.5, weight="bold", color=ACCENT)
    page.y = 2.12


def _when(s: Statement) -> str:
    return f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)


def _first_page(s: Statement, generated: dt.datetime) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        title_block(page, "Ville de Paris · Espaces Parisiens des Solidarités",
                    document_title(s), (s.site.name, s.site.area), _when(s),
                    commitment(s.rules.threshold, s.rules.ring_period), generated)
        if s.has_data:
            boxes = tables.key_figures(s)
            key_figures(page, [(label, value, note, GOOD if ok else BAD if ok is False else NEUTRAL)
                               for label, value, note, ok in boxes])
        page.heading("En bref")
        for text in summary(s):
            page.paragraph(text, 9.5)
        page.heading("Les 12 derniers mois" if not s.period.yearly else "Les 12 mois de l'année",
                     "Taux de décroché par mois, trait : intervalle de confiance à 95 % ; en pointillé "
                     "rouge le taux cible ; en gris, l'ensemble des 17 EPS.")
        page.space(0.25)  # the legend sits above the chart
        ax = page.axes(min(3.2, A4[1] - page.y - 1.3))
        _trend(s, ax)
        if not s.has_data:
            _coverage(page, s)
    return build


def _trend(s: Statement, ax: Axes) -> None:
    rates = [t["pickup_rate"] for t in s.trend]
    plots.trend([t["period"] for t in s.trend], [r["value"] for r in rates],
                [r["low"] for r in rates], [r["high"] for r in rates], s.rules.target_rate,
                city=[t["pickup_rate"]["value"] for t in s.city_trend], ax=ax)


def _wait_page(s: Statement) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Délai de décroché", "Appels décrochés par une personne aux heures "
                     "d'ouverture, par nombre de sonneries et par seconde d'attente.")
        table(page, *tables.wait_table(s), widths=[WIDTH - 1.2, 1.2])
        top = page.y + 0.1
        page.y = top
        half = (WIDTH - 0.9) / 2
        ax = page.axes(2.3, x=MARGIN + 0.5, width=half - 0.1, advance=False)
        plots.rings(list(s.head["rings"].values()), s.rules.ring_period, s.rules.rings, ax=ax)
        ax.set_title("Par nombre de sonneries")
        ax = page.axes(2.3, x=MARGIN + 0.5 + half + 0.45, width=half - 0.1)
        plots.seconds(s.head["answer_seconds"], s.rules.threshold, ax=ax)
        ax.set_title("Par seconde d'attente")
        page.heading("Appels non décrochés")
        table(page, *tables.unanswered_table(s), widths=[WIDTH - 1.2, 1.2])
        table(page, *tables.after_hours_table(s), widths=[WIDTH - 1.2, 1.2])
    return build


def _slip_page(s: Statement) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Où le décroché fléchit", "Par jour de la semaine et heure, aux heures "
                     "d'ouverture : taux de décroché en moins de 25 s (%) puis appels reçus.")
        rows = max(1, int((s.heat_offered.sum(axis=1) > 0).sum()))
        height = min(2.1, 0.28 * rows + 0.3)
        page.space(0.2)
        ax = page.axes(height, x=MARGIN + 0.4, width=WIDTH - 0.45)
        plots.heatmap(s.heat_rate, s.heat_offered, kind="rate", target=s.rules.target_rate, ax=ax)
        ax.set_title("Taux de décroché (%)")
        page.space(0.1)
        ax = page.axes(height, x=MARGIN + 0.4, width=WIDTH - 0.45)
        plots.heatmap(s.heat_offered, s.heat_offered, kind="volume", ax=ax)
        ax.set_title("Appels reçus")
        top, half = page.y, (WIDTH - 0.3) / 2
        table(page, *tables.busiest_table(s), widths=[half - 1.3, 0.65, 0.65])
        left_end, page.y = page.y, top
        table(page, *tables.worst_days_table(s), widths=[half - 2.0, 0.6, 0.6, 0.8],
              x=MARGIN + half + 0.3)
        page.y = max(page.y, left_end)
        _staffing(page, s)
    return build


def _staffing(page: Page, s: Statement) -> None:
    page.heading("Heures sous le taux cible et effectifs conseillés",
                 f"Heures de la journée (tous jours confondus) dont le taux est sous "
                 f"{num(s.rules.target_rate * 100)} % ; nombre de personnes au téléphone à prévoir.")
    head, rows = tables.staffing_table(s)
    if rows:
        table(page, head, rows, widths=[1.2, 0.8, 1.0, 0.9, 0.9, 1.138, 1.138])
    else:
        page.paragraph("Aucune heure de la journée sous le taux cible.", 9)


def _calendar_page(s: Statement) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Jour par jour", tables.marks_note(s))
        ax = page.axes(1.5)
        plots.daily_rate(s.days, s.rules.target_rate, ax=ax)
        page.space(0.15)
        ax = page.axes(1.5)
        plots.daily_volume(s.days, ax=ax)
        head, rows = tables.marks_table(s)
        if rows:
            table(page, head, rows, widths=[1.9, 0.8, 2.55, 0.9, 0.92], align="lllrr")
        _coverage(page, s)
    return build


def _coverage(page: Page, s: Statement) -> None:
    page.heading("Couverture des données", "Ce qui n'a pas été capté est dit ici : un jour "
                 "d'ouverture sans aucun appel est plus probablement un trou de capture.")
    table(page, *tables.coverage_table(s.coverage, s.rules.tz), widths=[2.6, WIDTH - 2.6],
          align="ll")


def _closed_page(c: AfterHoursCheck) -> Builder:
    def build(page: Page) -> list[Page]:
        page.heading(afterhours.TITLE, afterhours.CLOSED_NOTE)
        key_figures(page, [(label, value, note, GOOD if ok else BAD if ok is False else NEUTRAL)
                           for label, value, note, ok in afterhours.key_figures(c)])
        flow = Flow(page, afterhours.TITLE)
        flow.paragraph(afterhours.passive_sentence(c), 9)
        flow.heading("Appels test (sondes)", afterhours.PROBES_NOTE)
        flow.paragraph(afterhours.probes_sentence(c), 9)
        if c.probes:
            flow.table(*afterhours.probes_table(c), widths=[0.85, 0.55, 2.1, 0.85, 0.9, 1.2, 0.62],
                       align="lllrrlr", size=7.5)
        if c.alerts:
            flow.heading("Alertes", afterhours.ALERTS_NOTE)
            flow.table(*afterhours.alerts_table(c), widths=[1.3, 5.77], align="ll", size=7.5)
        flow.heading("Appels non pris par le message", afterhours.FAILURES_NOTE)
        if c.failure_days:
            flow.table(*afterhours.failures_table(c), widths=[0.9, 0.7, 5.47], align="lrl",
                       size=7.5)
        else:
            flow.paragraph(afterhours.failures_sentence(c), 9)
        return flow.pages[1:]
    return build


def _annex_page(s: Statement) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Annexe : méthode et variantes du taux")
        for text in tables.parameters(s.rules, s.period, s.site.id):
            page.paragraph(text, 8.5)
        table(page, *tables.variants_table(s.head, s.rules), widths=[1.75, 3.1, 0.6, 0.85, 0.77],
              align="llrrr", size=7.5)
        page.heading("Les 12 mois en chiffres")
        table(page, *tables.trend_table(s), widths=[1.5, 1.05, 1.25, 0.9, 1.25, 1.12])
    return build


def statement_pdf(s: Statement, generated: dt.datetime) -> bytes:
    """The statement as PDF bytes; the same statement and `generated` give the same bytes."""
    pages: list[Builder] = [_first_page(s, generated)]
    if s.head["offered"]:
        pages += [_wait_page(s), _slip_page(s)]
    if s.has_data:
        pages.append(_calendar_page(s))
    if s.closed and s.closed.shown:
        pages.append(_closed_page(s.closed))
    pages.append(_annex_page(s))
    footer = f"{s.site.name} · {document_title(s)} · {_when(s).lower()}"
    with plots.styled():
        return render_pdf(pages, footer, f"{document_title(s)} · {s.site.name} · {_when(s)}")


def synthesis_title(s: Synthesis) -> str:
    return f"Bilan annuel {s.period.key} des standards" if s.period.yearly else \
        "Synthèse mensuelle des standards"


def _synthesis_when(s: Synthesis) -> str:
    return f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)


def _synthesis_first(s: Synthesis, generated: dt.datetime) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        title_block(page, "Ville de Paris · Espaces Parisiens des Solidarités · équipe centrale",
                    synthesis_title(s), (f"Les {len(s.lines)} Espaces Parisiens des Solidarités",
                                         "Synthèse pour l'équipe centrale (Pôle Qualité)"),
                    _synthesis_when(s), commitment(s.rules.threshold, s.rules.ring_period),
                    generated)
        if s.has_data:
            boxes = synthesis_figures(s)
            key_figures(page, [(label, value, note, GOOD if ok else BAD if ok is False else NEUTRAL)
                               for label, value, note, ok in boxes])
        page.heading("En bref")
        for text in synthesis_summary(s):
            page.paragraph(text, 9.5)
        if s.has_data:
            page.heading("Classement des EPS", "Taux de décroché de la période, intervalle de "
                         "confiance à 95 % ; en pointillé le taux cible.")
            ax = page.axes(A4[1] - page.y - 1.3, x=MARGIN + 1.2, width=WIDTH - 1.3)
            _ranking_chart(s, ax)
    return build


def _ranking_chart(s: Synthesis, ax: Axes) -> None:
    lines = s.lines
    plots.ranking([short_name(x.site) for x in lines], [x.rate for x in lines],
                  [x.head["pickup_rate"]["low"] for x in lines],
                  [x.head["pickup_rate"]["high"] for x in lines], s.rules.target_rate, ax=ax)


def synthesis_figures(s: Synthesis) -> list[tuple[str, str, str, bool | None]]:
    """The city-wide key figures (label, value, note, reached?)."""
    c, p = s.city, s.city["pickup_rate"]
    ranked = [x for x in s.lines if x.rate is not None]
    reached = sum(1 for x in ranked if x.rate is not None and x.rate >= s.rules.target_rate)
    ok = None if p["value"] is None else p["value"] >= s.rules.target_rate
    return [
        ("Appels reçus aux heures d'ouverture, 17 EPS", num(c["offered"]),
         f"dont {num(c['short_abandons'])} raccrochés en moins de {num(s.rules.short_abandon)} s",
         None),
        (f"Décrochés en moins de {num(s.rules.threshold)} s", num(c["answered_within"]),
         f"sur {num(c['answered'])} décrochés par une personne", None),
        ("Taux de décroché, Paris", pct(p["value"], 1),
         f"IC 95 % : {interval(p['low'], p['high'])} · objectif {pct(s.rules.target_rate)}", ok),
        ("EPS au taux cible", f"{reached} / {len(ranked)}",
         f"{len(s.below)} sous le taux cible depuis {RUN} mois ou plus", None),
    ]


def _ranking_page(s: Synthesis) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Les EPS côte à côte", "Aux heures d'ouverture ; " + (
            "évolution par rapport au mois précédent en points de pourcentage." if not
            s.period.yearly else "mois de l'année sous le taux cible, et la plus longue série."))
        table(page, *ranking_table(s), widths=[0.45, 1.55, 0.85, 0.7, 0.7, 0.85, 1.0, 0.97],
              align="llrrrrrr")
        page.heading(f"Sous le taux cible {RUN} mois d'affilée", below_definition(s))
        head, rows = below_table(s)
        if rows:
            rest = (WIDTH - 1.9) / (len(head) - 1)
            table(page, head, rows, widths=[1.9, *[rest] * (len(head) - 1)],
                  align="l" + "r" * (len(head) - 1))
        else:
            page.paragraph(below_sentence(s), 9)
        if s.missing:
            page.heading("Absents de la capture")
            page.paragraph(", ".join(x.site.name for x in s.missing) + " : aucun appel capté sur "
                           "la période ; leurs chiffres ne sont pas comptés comme zéro.", 9)
    return build


def _multiples_page(s: Synthesis) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Douze mois par EPS", "Taux de décroché par mois (%) ; points rouges : "
                     "mois sous le taux cible (pointillé).")
        months = s.period.months
        panels = [("Paris, 17 EPS", [t["pickup_rate"]["value"] for t in s.city_trend])]
        panels += [(short_name(x.site), [t["pickup_rate"]["value"] for t in x.trend])
                   for x in s.in_site_order]
        floor = min(40.0, plots.floor_of([v * 100 for _, r in panels for v in r if v is not None]
                                         or [100.0]) + 10)
        cols, w, h = 3, (WIDTH - 0.5) / 3, 1.12
        top = page.y + 0.2
        for k, (name, rates) in enumerate(panels):
            page.y = top + (k // cols) * (h + 0.45)
            ax = page.axes(h, x=MARGIN + 0.35 + (k % cols) * (w + 0.08), width=w - 0.3,
                           advance=False)
            plots.mini_trend(months, rates, s.rules.target_rate, name, floor, ax=ax)
    return build


def _spread_page(s: Synthesis) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Écart entre meilleure et moins bonne heure",
                     "Heures de la journée (tous jours confondus) ayant reçu au moins "
                     f"{MIN_HOUR_CALLS} appels dans la période ; taux de décroché de l'heure.")
        ax = page.axes(4.3, x=MARGIN + 1.2, width=WIDTH - 1.3)
        plots.hour_spread([short_name(x.site) for x in s.lines],
                          [x.worst.rate if x.worst else None for x in s.lines],
                          [x.best.rate if x.best else None for x in s.lines],
                          s.rules.target_rate, ax=ax)
        table(page, *spread_table(s), widths=[2.0, 1.9, 1.9, 1.27], align="lrrr", size=7.5)
    return build


def _synthesis_annex(s: Synthesis) -> Callable[[Page], None]:
    def build(page: Page) -> None:
        page.heading("Annexe : méthode et couverture des données")
        for text in tables.parameters(s.rules, s.period):
            page.paragraph(text, 8.5)
        page.paragraph(below_definition(s), 8.5)
        table(page, *tables.variants_table(s.city, s.rules), widths=[1.75, 3.1, 0.6, 0.85, 0.77],
              align="llrrr", size=7.5)
        table(page, *coverage_rows(s), widths=[1.75, 1.45, 1.0, 1.1, 0.9, 0.87],
              align="llrrrr", size=7.5)
        imports = " ; ".join(f"{kind} : {n} lot(s), {num(rejected)} ligne(s) rejetée(s)"
                             for kind, (n, rejected) in s.imports.items()) or "aucun import"
        page.paragraph(f"Imports dans la base (toutes périodes) : {imports}.", 8.5)
    return build


def synthesis_pdf(s: Synthesis, generated: dt.datetime) -> bytes:
    """The synthesis as PDF bytes; the same synthesis and `generated` give the same bytes."""
    pages = [_synthesis_first(s, generated)]
    if s.has_data:
        pages += [_ranking_page(s), _multiples_page(s), _spread_page(s)]
    pages.append(_synthesis_annex(s))
    footer = f"{synthesis_title(s)} · {_synthesis_when(s).lower()}"
    with plots.styled():
        return render_pdf(pages, footer, f"{synthesis_title(s)} · {_synthesis_when(s)}")
