"""The month's after-hours report for several sites (`qualiphone afterhours report`): calls that
arrived while a site was closed and whether its message took them, the test calls (probes)
with their verdicts, the failures on real calls and the alerts. One document
(`reports.document`), typeset to PDF by Typst and written as HTML like the statements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes

from afterhours.report import AfterHoursSection, month_fr
from reports.afterhours import ALERTS_NOTE, CLOSED_NOTE, FAILURES_NOTE, PROBES_NOTE
from reports.document import Block, Box, Boxes, Document, Heading, Para, Table, Title, chart
from reports.text import KICKER, generated_text, num, pct, plural

TITLE = "Messages hors horaires d'ouverture"
COMMITMENT = ("Engagement QualiPARIS : hors des heures d'ouverture et pendant les fermetures, "
              "un message donne les horaires et les coordonnées du site")
SUMMARY_HEADER = ["Site", "Appels site fermé", "Pris par le message", "Part", "Jusqu'au bout",
                  "Échecs", "Sondes", "Conformes", "Alerte"]


def _share_chart(ax: Axes, names: list[str], shares: list[float | None]) -> None:
    """Horizontal bars: the share of each site's after-hours calls its message took."""
    values = [100 * (s or 0.0) for s in shares]
    colours = ["#c62828" if s is not None and s < 0.95 else "#1f4e79" for s in shares]
    ax.barh(names[::-1], values[::-1], color=colours[::-1], height=0.65)
    for y, (value, share) in enumerate(zip(values[::-1], shares[::-1], strict=True)):
        label = "—" if share is None else f"{value:.0f} %"
        ax.text(min(value, 88) + 1, y, label, va="center", fontsize=7,
                color="white" if value > 88 else "black")
    ax.set_xlim(0, 100)
    ax.set_xlabel("Part des appels arrivés site fermé pris par le message (%)")
    ax.tick_params(labelsize=7)


def _summary(section: AfterHoursSection) -> tuple[list[list[str]], list[str], list[float | None]]:
    rows, names, shares = [], [], []
    for s, r in zip(section.passive.sites, section.summary_rows(), strict=True):
        rows.append([r["Site"], r["Appels hors horaires"], r["Pris par le message"],
                     r["Part prise par le message"], r["Écoutés jusqu'au bout"], r["Échecs"],
                     r["Sondes"], r["Sondes conformes"], r["Alerte"]])
        names.append(r["Site"].replace("EPS ", ""))
        shares.append(s.answered_share)
    return rows, names, shares


def _figures(section: AfterHoursSection) -> Boxes:
    sites = section.passive.sites
    calls = sum(s.calls for s in sites)
    message = sum(s.by_message for s in sites)
    person = sum(s.by_person for s in sites)
    failures = sum(s.failures for s in sites)
    conform = sum(p.verdict == "expected" for p in section.probes)
    share = message / (calls - person) if calls - person > 0 else None
    flagged = sum(s.flagged for s in sites)
    return Boxes((
        Box("Appels arrivés site fermé", num(calls), "soirs, week-ends, jours fériés et "
            "fermetures planifiées"),
        Box("Pris par le message", num(message), f"soit {pct(share)} des appels"
            + (f" ; {plural(person, 'décroché')} par une personne" if person else ""),
            None if share is None else not flagged),
        Box("Non pris par le message", num(failures), "ni le message ni une personne",
            False if failures else None),
        Box("Appels test (sondes)", f"{num(conform)} / {num(len(section.probes))}",
            "avec le message attendu", None if not section.probes
            else conform == len(section.probes)),
    ))


def afterhours_document(section: AfterHoursSection,
                        generated: dt.datetime | None = None) -> Document:
    """Every page of the month's after-hours report."""
    month = month_fr(section.month)
    when = generated or dt.datetime.now().astimezone()
    tz = next(iter(section.config.pbxs.values())).timezone
    rows, names, shares = _summary(section)
    count = len(section.passive.sites)
    blocks: list[Block] = [
        Title(KICKER, TITLE, plural(count, "site"), "Espaces Parisiens des Solidarités",
              month[:1].upper() + month[1:], COMMITMENT, generated_text(when, tz)),
        _figures(section),
        Heading("Par site", CLOSED_NOTE)]
    if rows:
        blocks += [chart(lambda ax: _share_chart(ax, names, shares), (7.0, 0.26 * count + 0.9),
                         margins=(1.1, 0.2, 0.15, 0.5)),
                   Table.of(SUMMARY_HEADER, rows, "lrrrrrrrl",
                            (1.5, 0.9, 0.9, 0.6, 0.8, 0.6, 0.6, 0.7, 0.55), "small",
                            alert_column=8)]
    else:
        blocks.append(Para("Aucun site choisi."))
    blocks += [Heading("Appels test (sondes)", PROBES_NOTE)]
    blocks.append(Table.of(["Date", "Heure", "Site", "Verdict", "Décroché en", "Durée du message",
                            "Message reconnu", "Similarité"], section.probe_rows(), "lllllrlr",
                           (0.8, 0.5, 1.2, 1.9, 0.7, 0.75, 1.2, 0.6), "small")
                  if section.probes else Para("Aucun appel test hors horaires ce mois-ci."))
    failures = section.failure_rows()
    blocks += [Heading("Appels non pris par le message", FAILURES_NOTE)]
    blocks.append(Table.of(["Site", "Jour", "Appels", "Heures d'arrivée, par issue"], failures,
                           "llrl", (1.3, 0.8, 0.5, 4.4), "small")
                  if failures else Para("Aucun : tous les appels arrivés site fermé ont été pris "
                                        "par le message ou une personne."))
    blocks += [Heading("Alertes", ALERTS_NOTE)]
    blocks.append(Table.of(["Levée le", "Site", "Sondes", "Motif"], section.alert_rows(),
                           "llrl", (1.1, 1.2, 0.5, 4.2), "small")
                  if section.alerts else Para("Aucune alerte ce mois-ci."))
    return Document(f"{TITLE} · {month}", f"{TITLE} · {month}", blocks)


def write_report(section: AfterHoursSection, out: Path, formats: Sequence[str],
                 generated: dt.datetime | None = None) -> list[Path]:
    """Write afterhours-YYYY-MM.html and/or .pdf in `out` (one document, charts drawn once);
    returns the paths."""
    from reports.html import render_html
    from reports.pdf import render_pdf

    out.mkdir(parents=True, exist_ok=True)
    doc = afterhours_document(section, generated)
    written = []
    if "html" in formats:
        path = out / f"afterhours-{section.month}.html"
        path.write_text(render_html(doc), encoding="utf-8")
        written.append(path)
    if "pdf" in formats:
        path = out / f"afterhours-{section.month}.pdf"
        path.write_bytes(render_pdf(doc))
        written.append(path)
    return written
