"""The monthly (or yearly) statement of one EPS as a document: page 1 with the commitments'
verdicts, the key figures, the summary and the 12 months; then the time to answer, where the
pickup slips, day by day, the after-hours section and the method. Rendered to PDF and HTML by
reports.pdf and reports.html, charts drawn once."""

from __future__ import annotations

import datetime as dt

from matplotlib.axes import Axes

from reports import afterhours, commitments, plots, tables
from reports.afterhours import AfterHoursCheck
from reports.document import (
    Block,
    Box,
    Boxes,
    Columns,
    Document,
    Heading,
    PageBreak,
    Para,
    Table,
    Title,
    Verdicts,
    chart,
)
from reports.statement import Statement
from reports.text import (
    KICKER,
    commitment,
    generated_text,
    month_name,
    num,
    period_name,
    summary,
    unclassified_sentence,
)


def document_title(s: Statement) -> str:
    if s.period.yearly:
        return f"Bilan annuel {s.period.key} du trafic du standard"
    return "Relevé mensuel du trafic du standard"


def when(s: Statement) -> str:
    return f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)


def boxes(items: list[tuple[str, str, str, bool | None]]) -> Boxes:
    return Boxes(tuple(Box(*item) for item in items))


def _history(s: Statement) -> int:
    """Index of the first month of the trend with data (the site's or the city's)."""
    have = [bool(t["offered"]) or bool(c["offered"]) for t, c in zip(s.trend, s.city_trend,
                                                                        strict=True)]
    return have.index(True) if any(have) else len(have)


def _trend(s: Statement, first: int, ax: Axes) -> None:
    trend, city = s.trend[first:], s.city_trend[first:]
    rates = [t["pickup_rate"] for t in trend]
    plots.trend([t["period"] for t in trend], [r["value"] for r in rates],
                [r["low"] for r in rates], [r["high"] for r in rates], s.rules.target_rate,
                city=[t["pickup_rate"]["value"] for t in city], ax=ax)


def _trend_blocks(s: Statement) -> list[Block]:
    title = "Les 12 derniers mois" if not s.period.yearly else "Les 12 mois de l'année"
    first = _history(s)
    months = len(s.trend) - first
    if months < 2:
        return [Heading(title), Para(
            "Un seul mois de données pour l'instant : la courbe des mois apparaîtra avec les "
            "mois suivants." if months else "Aucune donnée sur les 12 mois.", "small")]
    note = ("Taux de décroché par mois, trait : intervalle de confiance à 95 % ; en pointillé "
            "rouge le taux cible ; en gris, l'ensemble des 17 EPS.")
    if first:
        note += f" Données depuis {month_name(s.trend[first]['period'])}."
    return [Heading(title, note),
            chart(lambda ax: _trend(s, first, ax), (8, 2.75), margins=(0.75, 0.15, 0.4, 0.35))]


def _key_figures(s: Statement) -> Boxes:
    items = tables.key_figures(s)
    if s.head.get("unclassified"):
        label, value, note, ok = items[-1]
        note += f" · répertoire incomplet : hors {commitments.unclassified_words(s.head['unclassified'])}"
        items[-1] = (label, value, note, ok)
    return boxes(items)


def _first_page(s: Statement, generated: dt.datetime) -> list[Block]:
    out: list[Block] = [Title(KICKER, document_title(s), s.site.name, s.site.area, when(s),
                              commitment(s.rules.threshold, s.rules.ring_period),
                              generated_text(generated, s.rules.tz))]
    verdicts = commitments.verdicts(s.head, s.rules, s.closed, s.marks)
    if s.has_data:
        out.append(_key_figures(s))
    out += [Heading("Engagements du mois" if not s.period.yearly else "Engagements de l'année",
                    "État de chaque engagement sur la période : tenu, non tenu, ou pas de "
                    "données pour en juger."), Verdicts(tuple(verdicts))]
    if s.head.get("unclassified"):
        out.append(Para(unclassified_sentence(s.head), alert=True))
    lead = commitments.not_met_sentence(verdicts, ("en " if not s.period.yearly else "sur ")
                                        + period_name(s.period.key))
    out += [Heading("En bref"), Para(lead, "lead", alert=any(v.state == "not_met" for v in verdicts))]
    out += [Para(text, "lead") for text in summary(s)]
    out += _trend_blocks(s)
    if not s.has_data:
        out += _coverage(s)
    return [*out, PageBreak()]


def _wait_page(s: Statement) -> list[Block]:
    r = s.rules
    rings = chart(lambda ax: plots.rings(list(s.head["rings"].values()), r.ring_period, r.rings,
                                         ax=ax), (4.2, 2.9), "Par nombre de sonneries")
    secs = chart(lambda ax: plots.seconds(s.head["answer_seconds"], r.threshold, ax=ax),
                 (4.2, 2.9), "Par seconde d'attente")
    return [Heading("Délai de décroché", "Appels décrochés par une personne aux heures "
                    "d'ouverture, par nombre de sonneries et par seconde d'attente."),
            Table.of(*tables.wait_table(s), widths=(5.9, 1.2)),
            Columns(((rings,), (secs,))),
            Heading("Appels non décrochés"),
            Table.of(*tables.unanswered_table(s), widths=(5.9, 1.2)),
            Table.of(*tables.after_hours_table(s), widths=(5.9, 1.2)), PageBreak()]


def _slip_page(s: Statement) -> list[Block]:
    t = s.rules.target_rate
    rows = max(1, int((s.heat_offered.sum(axis=1) > 0).sum()))
    size = (8, 0.3 * rows + 0.75)
    margins = (0.5, 0.1, 0.1, 0.35)
    rate = chart(lambda ax: plots.heatmap(s.heat_rate, s.heat_offered, kind="rate", target=t,
                                          ax=ax), size, "Taux de décroché en moins de 25 s (%)",
                 margins)
    volume = chart(lambda ax: plots.heatmap(s.heat_offered, s.heat_offered, kind="volume", ax=ax),
                   size, "Appels reçus", margins)
    head, staff = tables.staffing_table(s)
    out: list[Block] = [
        Heading("Où le décroché fléchit", "Par jour de la semaine et heure, aux heures "
                "d'ouverture."), rate, volume,
        Columns(((Table.of(*tables.busiest_table(s), widths=(2.0, 0.7, 0.7)),),
                 (Table.of(*tables.worst_days_table(s), widths=(1.5, 0.6, 0.6, 0.8)),))),
        Heading("Heures sous le taux cible et effectifs conseillés",
                f"Heures de la journée (tous jours confondus) dont le taux est sous "
                f"{num(t * 100)} % ; nombre de personnes au téléphone à prévoir.", level=3)]
    out.append(Table.of(head, staff, widths=(1.2, 0.8, 1.0, 0.9, 0.9, 1.14, 1.14)) if staff
               else Para("Aucune heure de la journée sous le taux cible."))
    return [*out, PageBreak()]


def _calendar_page(s: Statement) -> list[Block]:
    rate = chart(lambda ax: plots.daily_rate(s.days, s.rules.target_rate, ax=ax), (8, 2.1),
                 "Taux de décroché par jour", (0.75, 0.15, 0.3, 0.35))
    volume = chart(lambda ax: plots.daily_volume(s.days, ax=ax), (8, 2.1), "Appels reçus par jour",
                   (0.75, 0.15, 0.3, 0.35))
    head, rows = tables.marks_table(s)
    out: list[Block] = [Heading("Jour par jour", tables.marks_note(s)), rate, volume]
    if rows:
        out.append(Table.of(head, rows, "lllrr", (1.9, 0.8, 2.55, 0.9, 0.92)))
    return [*out, *_coverage(s), PageBreak()]


def _coverage(s: Statement) -> list[Block]:
    return [Heading("Couverture des données", "Ce qui n'a pas été capté est dit ici : un jour "
                    "d'ouverture sans aucun appel est plus probablement un trou de capture."),
            Table.of(*tables.coverage_table(s.coverage, s.rules.tz), "ll", (2.6, 4.47))]


def _closed_page(c: AfterHoursCheck) -> list[Block]:
    out: list[Block] = [Heading(afterhours.TITLE, afterhours.CLOSED_NOTE),
                        boxes(afterhours.key_figures(c)), Para(afterhours.passive_sentence(c)),
                        Heading("Appels test (sondes)", afterhours.PROBES_NOTE, level=3),
                        Para(afterhours.probes_sentence(c))]
    if c.probes:
        out.append(Table.of(*afterhours.probes_table(c), "lllrrlr",
                            (0.85, 0.55, 2.1, 0.85, 0.9, 1.2, 0.62), "small"))
    if c.alerts:
        out += [Heading("Alertes", afterhours.ALERTS_NOTE, level=3),
                Table.of(*afterhours.alerts_table(c), "ll", (1.3, 5.77), "small")]
    out.append(Heading("Appels non pris par le message", afterhours.FAILURES_NOTE, level=3))
    out.append(Table.of(*afterhours.failures_table(c), "lrl", (0.9, 0.7, 5.47), "small")
               if c.failure_days else Para(afterhours.failures_sentence(c)))
    return [*out, PageBreak()]


def _annex(s: Statement) -> list[Block]:
    return [Heading("Annexe : méthode et variantes du taux"),
            *(Para(p, "small") for p in tables.parameters(s.rules, s.period, s.site.id)),
            Table.of(*tables.variants_table(s.head, s.rules), "llrrr",
                     (1.75, 3.1, 0.6, 0.85, 0.77), "small"),
            Heading("Les 12 mois en chiffres", level=3),
            Table.of(*tables.trend_table(s), widths=(1.5, 1.05, 1.25, 0.9, 1.25, 1.12))]


def statement_document(s: Statement, generated: dt.datetime) -> Document:
    """Every page of the statement, charts drawn (once)."""
    blocks = _first_page(s, generated)
    if s.head["offered"]:
        blocks += _wait_page(s) + _slip_page(s)
    if s.has_data:
        blocks += _calendar_page(s)
    if s.closed and s.closed.shown:
        blocks += _closed_page(s.closed)
    blocks += _annex(s)
    return Document(f"{document_title(s)} · {s.site.name} · {when(s)}",
                    f"{s.site.name} · {document_title(s)} · {when(s).lower()}", blocks)
