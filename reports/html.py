"""The statement as one self-contained HTML page: styles inline, charts as inline SVG (text kept
as text), no script, no font, image or style fetched from anywhere."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports import afterhours, plots, tables
from reports.afterhours import AfterHoursCheck
from reports.pdf import document_title, synthesis_figures, synthesis_title
from reports.statement import Statement
from reports.synthesis import (
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
from reports.text import commitment, generated_text, month_name, num, summary

CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:60rem;
margin:0 auto;padding:1.5rem;line-height:1.45;font-size:15px}
header{border-top:8px solid #1f4e79;padding-top:.8rem}
.kicker,.muted{color:#5f6368;font-size:.85rem}
h1{color:#1f4e79;margin:.3rem 0;font-size:1.8rem}
h2{color:#1f4e79;margin-top:2rem;font-size:1.3rem}
.subject{display:flex;justify-content:space-between;font-size:1.3rem;font-weight:bold}
.commitment{background:#eef2f7;padding:.5rem .8rem;font-weight:bold;color:#1f4e79}
.figures{display:grid;grid-template-columns:repeat(4,1fr);gap:.6rem;margin:1rem 0}
.figure{background:#eef2f7;padding:.6rem}
.figure .value{font-size:1.7rem;font-weight:bold}
.good{color:#2e7d32}.bad{color:#c62828}
table{border-collapse:collapse;margin:.6rem 0;width:100%;font-size:.9rem}
th{background:#eef2f7;text-align:left}
th,td{padding:.25rem .5rem;border-bottom:1px solid #c8ccd0;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
.chart{margin:1rem 0}.chart svg{width:100%;height:auto}
figcaption{font-weight:bold;font-size:.95rem}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
footer{margin-top:2rem;border-top:1px solid #c8ccd0;padding-top:.5rem}
@media print{body{max-width:none}}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def svg(draw: Callable[[Axes], object], size: tuple[float, float],
        margins: tuple[float, float, float, float] = (0.75, 0.15, 0.35, 0.55)) -> str:
    """A chart as inline SVG: no XML prolog, no DOCTYPE, no metadata, no namespace URL.
    `margins` (left, right, top, bottom) are in inches, room for the labels (drawn once,
    unlike a constrained layout that draws the figure twice)."""
    left, right, top, bottom = margins
    with plots.styled():
        fig = Figure(figsize=size)
        fig.subplots_adjust(left=left / size[0], right=1 - right / size[0], top=1 - top / size[1],
                            bottom=bottom / size[1])
        draw(fig.add_subplot())
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)


def chart(draw: Callable[[Axes], object], size: tuple[float, float], caption: str = "",
          margins: tuple[float, float, float, float] = (0.75, 0.15, 0.35, 0.55)) -> str:
    head = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure class=chart>{head}{svg(draw, size, margins)}</figure>"


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    align = align or "l" + "r" * (len(header) - 1)

    def cls(i: int, cell: str = "") -> str:
        indent = " style='padding-left:1.6rem'" if cell.startswith("   ") else ""
        return (" class=n" if align[i] == "r" else "") + indent

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i, c)}>{esc(c.strip())}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def document(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=fr><head><meta charset=utf-8>"
            f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def header_html(kicker: str, title: str, subject: str, when: str, line: str,
                generated: dt.datetime) -> str:
    return (f"<header><div class=kicker>{esc(kicker)} · {esc(generated_text(generated))}</div>"
            f"<h1>{esc(title)}</h1><div class=subject><span>{esc(subject)}</span>"
            f"<span>{esc(when)}</span></div><p class=commitment>{esc(line)}</p></header>")


def _figures(s: Statement) -> str:
    return _boxes(tables.key_figures(s))


def _boxes(items: Sequence[tuple[str, str, str, bool | None]]) -> str:
    boxes = []
    for label, value, note, ok in items:
        cls = "" if ok is None else (" good" if ok else " bad")
        boxes.append(f"<div class=figure><div class=muted>{esc(label)}</div>"
                     f"<div class='value{cls}'>{esc(value)}</div><div class=muted>{esc(note)}</div>"
                     "</div>")
    return f"<div class=figures>{''.join(boxes)}</div>"


def _trend(s: Statement, ax: Axes) -> None:
    rates = [t["pickup_rate"] for t in s.trend]
    plots.trend([t["period"] for t in s.trend], [r["value"] for r in rates],
                [r["low"] for r in rates], [r["high"] for r in rates], s.rules.target_rate,
                city=[t["pickup_rate"]["value"] for t in s.city_trend], ax=ax)


def _time_section(s: Statement) -> str:
    r = s.rules
    rings = chart(lambda ax: plots.rings(list(s.head["rings"].values()), r.ring_period, r.rings,
                                         ax=ax), (4.2, 3), "Par nombre de sonneries")
    secs = chart(lambda ax: plots.seconds(s.head["answer_seconds"], r.threshold, ax=ax), (4.2, 3),
                 "Par seconde d'attente")
    return ("<h2>Délai de décroché</h2>" + table_html(*tables.wait_table(s))
            + f"<div class=pair>{rings}{secs}</div><h2>Appels non décrochés</h2>"
            + table_html(*tables.unanswered_table(s)) + table_html(*tables.after_hours_table(s)))


def _slip_section(s: Statement) -> str:
    t = s.rules.target_rate
    rows = max(1, int((s.heat_offered.sum(axis=1) > 0).sum()))
    size = (8, 0.35 * rows + 0.8)
    rate = chart(lambda ax: plots.heatmap(s.heat_rate, s.heat_offered, kind="rate", target=t,
                                          ax=ax), size, "Taux de décroché en moins de 25 s (%)")
    volume = chart(lambda ax: plots.heatmap(s.heat_offered, s.heat_offered, kind="volume", ax=ax),
                   size, "Appels reçus")
    head, staff = tables.staffing_table(s)
    staffing = table_html(head, staff) if staff else "<p>Aucune heure de la journée sous le " \
        "taux cible.</p>"
    return ("<h2>Où le décroché fléchit</h2><p class=muted>Par jour de la semaine et heure, aux "
            "heures d'ouverture.</p>" + rate + volume
            + f"<div class=pair>{table_html(*tables.busiest_table(s))}"
            f"{table_html(*tables.worst_days_table(s))}</div>"
            "<h3>Heures sous le taux cible et effectifs conseillés</h3>" + staffing)


def _calendar_section(s: Statement) -> str:
    rate = chart(lambda ax: plots.daily_rate(s.days, s.rules.target_rate, ax=ax), (8, 2.2),
                 "Taux de décroché par jour")
    volume = chart(lambda ax: plots.daily_volume(s.days, ax=ax), (8, 2.2), "Appels reçus par jour")
    head, rows = tables.marks_table(s)
    marks = table_html(head, rows, "lllrr") if rows else ""
    return (f"<h2>Jour par jour</h2><p class=muted>{esc(tables.marks_note(s))}</p>" + rate + volume
            + marks)


def _note(text: str) -> str:
    return f"<p class=muted>{esc(text)}</p>"


def _closed_section(c: AfterHoursCheck) -> str:
    """Hors horaires d'ouverture et fermetures: the message check, the probes, the alerts."""
    parts = [f"<h2>{esc(afterhours.TITLE)}</h2>", _note(afterhours.CLOSED_NOTE),
             _boxes(afterhours.key_figures(c)), f"<p>{esc(afterhours.passive_sentence(c))}</p>",
             "<h3>Appels test (sondes)</h3>", _note(afterhours.PROBES_NOTE),
             f"<p>{esc(afterhours.probes_sentence(c))}</p>"]
    if c.probes:
        parts.append(table_html(*afterhours.probes_table(c), align="lllrrlr"))
    if c.alerts:
        parts += ["<h3>Alertes</h3>", _note(afterhours.ALERTS_NOTE),
                  table_html(*afterhours.alerts_table(c), align="ll")]
    parts += ["<h3>Appels non pris par le message</h3>", _note(afterhours.FAILURES_NOTE)]
    parts.append(table_html(*afterhours.failures_table(c), align="lrl") if c.failure_days
                 else f"<p>{esc(afterhours.failures_sentence(c))}</p>")
    return "".join(parts)


def _coverage_section(s: Statement) -> str:
    return ("<h2>Couverture des données</h2>"
            + table_html(*tables.coverage_table(s.coverage, s.rules.tz), align="ll"))


def _annex(s: Statement) -> str:
    paragraphs = "".join(f"<p>{esc(p)}</p>" for p in tables.parameters(s.rules, s.period, s.site.id))
    return ("<h2>Annexe : méthode et variantes du taux</h2>" + paragraphs
            + table_html(*tables.variants_table(s.head, s.rules), align="llrrr")
            + "<h3>Les 12 mois en chiffres</h3>" + table_html(*tables.trend_table(s)))


def statement_html(s: Statement, generated: dt.datetime) -> str:
    """The statement as a self-contained HTML document."""
    when = f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)
    subject = s.site.name + (f" · {s.site.area}" if s.site.area else "")
    parts = [header_html("Ville de Paris · Espaces Parisiens des Solidarités", document_title(s),
                         subject, when, commitment(s.rules.threshold, s.rules.ring_period),
                         generated)]
    if s.has_data:
        parts.append(_figures(s))
    parts.append("<h2>En bref</h2>" + "".join(f"<p>{esc(p)}</p>" for p in summary(s)))
    parts.append("<h2>Les 12 mois</h2>" + chart(lambda ax: _trend(s, ax), (8, 3.2)))
    if s.head["offered"]:
        parts += [_time_section(s), _slip_section(s)]
    if s.has_data:
        parts.append(_calendar_section(s))
    if s.closed and s.closed.shown:
        parts.append(_closed_section(s.closed))
    parts += [_coverage_section(s), _annex(s),
              f"<footer class=muted>{esc(s.site.name)} · {esc(document_title(s))} · "
              f"{esc(when.lower())} · qualiphone</footer>"]
    return document(f"{document_title(s)} · {s.site.name} · {when}", "".join(parts))


def _synthesis_figures(s: Synthesis) -> str:
    boxes = []
    for label, value, note, ok in synthesis_figures(s):
        cls = "" if ok is None else (" good" if ok else " bad")
        boxes.append(f"<div class=figure><div class=muted>{esc(label)}</div>"
                     f"<div class='value{cls}'>{esc(value)}</div><div class=muted>{esc(note)}</div>"
                     "</div>")
    return f"<div class=figures>{''.join(boxes)}</div>"


def _multiples(s: Synthesis) -> str:
    panels = [("Paris, 17 EPS", [t["pickup_rate"]["value"] for t in s.city_trend])]
    panels += [(short_name(x.site), [t["pickup_rate"]["value"] for t in x.trend])
               for x in s.in_site_order]
    values = [v * 100 for _, r in panels for v in r if v is not None] or [100.0]
    floor = min(40.0, plots.floor_of(values) + 10)

    def panel(name: str, rates: list[Any]) -> str:
        return chart(lambda ax: plots.mini_trend(s.period.months, rates, s.rules.target_rate,
                                                 name, floor, ax=ax),
                     (2.6, 1.5), margins=(0.4, 0.1, 0.25, 0.3))

    cells = "".join(panel(name, rates) for name, rates in panels)
    return f"<div style='display:grid;grid-template-columns:repeat(3,1fr);gap:.4rem'>{cells}</div>"


def synthesis_html(s: Synthesis, generated: dt.datetime) -> str:
    """The synthesis as a self-contained HTML document."""
    when = f"Année {s.period.key}" if s.period.yearly else month_name(s.period.key, capital=True)
    parts = [header_html("Ville de Paris · Espaces Parisiens des Solidarités · équipe centrale",
                         synthesis_title(s), f"Les {len(s.lines)} Espaces Parisiens des Solidarités",
                         when, commitment(s.rules.threshold, s.rules.ring_period), generated)]
    if s.has_data:
        parts.append(_synthesis_figures(s))
    parts.append("<h2>En bref</h2>" + "".join(f"<p>{esc(p)}</p>" for p in synthesis_summary(s)))
    if s.has_data:
        lines = s.lines
        ranking = chart(lambda ax: plots.ranking(
            [short_name(x.site) for x in lines], [x.rate for x in lines],
            [x.head["pickup_rate"]["low"] for x in lines],
            [x.head["pickup_rate"]["high"] for x in lines], s.rules.target_rate, ax=ax), (8, 5.5))
        head, below = below_table(s)
        spread = chart(lambda ax: plots.hour_spread(
            [short_name(x.site) for x in lines], [x.worst.rate if x.worst else None for x in lines],
            [x.best.rate if x.best else None for x in lines], s.rules.target_rate, ax=ax), (8, 5.5))
        parts += ["<h2>Classement des EPS</h2>", ranking,
                  table_html(*ranking_table(s), align="llrrrrrr"),
                  f"<h2>Sous le taux cible {RUN} mois d'affilée</h2>",
                  f"<p class=muted>{esc(below_definition(s))}</p>",
                  table_html(head, below) if below else f"<p>{esc(below_sentence(s))}</p>",
                  "<h2>Douze mois par EPS</h2>", _multiples(s),
                  "<h2>Écart entre meilleure et moins bonne heure</h2>", spread,
                  table_html(*spread_table(s), align="lrrr")]
    imports = " ; ".join(f"{kind} : {n} lot(s), {num(rejected)} ligne(s) rejetée(s)"
                         for kind, (n, rejected) in s.imports.items()) or "aucun import"
    parts += ["<h2>Annexe : méthode et couverture des données</h2>",
              "".join(f"<p>{esc(p)}</p>" for p in tables.parameters(s.rules, s.period)),
              table_html(*tables.variants_table(s.city, s.rules), align="llrrr"),
              table_html(*coverage_rows(s), align="llrrrr"),
              f"<p>Imports dans la base (toutes périodes) : {esc(imports)}.</p>",
              f"<footer class=muted>{esc(synthesis_title(s))} · {esc(when.lower())} · qualiphone"
              "</footer>"]
    return document(f"{synthesis_title(s)} · {when}", "".join(parts))
