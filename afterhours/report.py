"""The monthly after-hours report (French): passive figures, probes and verdicts, failures, alerts.

`after_hours_section(store, config, month)` is what the monthly traffic statement embeds: it
returns the data with `summary_rows()` (one dict per site, French headers), `html_fragment()`
(a <section>) and `pdf_pages(pdf)` (pages appended to an open PdfPages); `for_site(site)` is
one site's share of it (reports.afterhours reads every site once and slices it per statement).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from afterhours.alerts import describe
from afterhours.passive import PassiveCheck, SiteDay, check_month, month_bounds
from afterhours.repository import AlertRecord, ProbeRecord, alerts_between, probes_between
from afterhours.settings import load_settings
from config import Config
from monitor.french import month_name
from monitor.store import Store

if TYPE_CHECKING:  # matplotlib is imported when a page is drawn (`report monthly` reads the data)
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

PERIOD_FR = {"closed": "hors horaires", "closure": "fermeture planifiée", "holiday": "jour férié"}
OUTCOME_FR = {"abandoned": "raccroché avant réponse", "short_abandon": "raccroché avant réponse",
              "busy": "occupé", "failed": "échec / encombrement", "congestion": "encombrement",
              "voicemail": "messagerie vocale", "answered": "décroché"}
KIND_FR = {"closed": "hors horaires", "closure": "fermeture", "daytime": "accueil de jour"}
PORTRAIT = (8.27, 11.69)


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

    def html_fragment(self) -> str:
        """A <section> for the monthly statement's HTML."""
        parts = [f"<section class='afterhours'><h2>Messages hors horaires — {month_fr(self.month)}</h2>",
                 "<p>Appels arrivés hors des heures d'ouverture, pendant une fermeture planifiée ou un "
                 "jour férié : ils doivent être pris par le message du site (engagement 1). Les sondes "
                 "sont des appels de test, exclus des statistiques.</p>",
                 _html_table(list(self.summary_rows()[0]) if self.passive.sites else [],
                             [list(r.values()) for r in self.summary_rows()]),
                 "<h3>Sondes</h3>",
                 _html_table(["Date", "Heure", "Site", "Verdict", "Délai de décroché", "Durée du message",
                              "Correspondance", "Similarité"], self.probe_rows()),
                 "<h3>Échecs constatés sur les appels réels</h3>",
                 _html_table(["Site", "Date", "Échecs", "Heures"], self.failure_rows()),
                 "<h3>Alertes</h3>",
                 "".join(f"<pre>{html.escape(a.message)}</pre>" for a in self.alerts) or "<p>Aucune.</p>",
                 "</section>"]
        return "\n".join(parts)

    def pdf_pages(self, pdf: PdfPages) -> None:
        """Append the section's pages to an open PDF."""
        rows = self.summary_rows()
        fig = _page(f"Messages hors horaires — {month_fr(self.month)}",
                    "Appels arrivés site fermé (soir, week-end, fermeture planifiée, jour férié) et sondes.")
        share_plot([s.site for s in self.passive.sites],
                   [s.answered_share for s in self.passive.sites], ax=fig.add_axes((0.3, 0.55, 0.6, 0.33)))
        _table(fig, ["Site", "Appels", "Message", "Jusqu'au bout", "Échecs", "Sondes", "Conformes", "Alerte"],
               [[r["Site"], r["Appels hors horaires"], r["Pris par le message"], r["Écoutés jusqu'au bout"],
                 r["Échecs"], r["Sondes"], r["Sondes conformes"], r["Alerte"]] for r in rows], top=0.5)
        pdf.savefig(fig)
        header = ["Date", "Heure", "Site", "Verdict", "Décroché", "Durée", "Référence", "Simil."]
        _table_pages(pdf, "Sondes", header, self.probe_rows(),
                     widths=(0.1, 0.06, 0.13, 0.24, 0.08, 0.07, 0.15, 0.05))
        _table_pages(pdf, "Échecs sur les appels réels", ["Site", "Date", "Échecs", "Heures"],
                     self.failure_rows(), widths=(0.16, 0.12, 0.07, 0.53))
        if self.alerts:
            _table_pages(pdf, "Alertes", ["Date", "Site", "Sondes", "Motif"], self.alert_rows(),
                         widths=(0.16, 0.16, 0.08, 0.48))


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


def share_plot(sites: list[str], shares: list[float | None], ax: Axes | None = None) -> Axes:
    """Horizontal bars: share of after-hours calls the message answered, per site."""
    from matplotlib.figure import Figure

    ax = ax if ax is not None else Figure(figsize=(6, 5)).add_subplot()
    values = [100 * (s or 0.0) for s in shares]
    colours = ["#c0392b" if s is not None and s < 0.95 else "#2e86c1" for s in shares]
    ax.barh(sites[::-1], values[::-1], color=colours[::-1])
    for y, (value, share) in enumerate(zip(values[::-1], shares[::-1], strict=True)):
        label = "—" if share is None else fr(value, 0, " %")
        ax.text(min(value, 88) + 1, y, label, va="center", fontsize=6,
                color="white" if value > 88 else "black")
    ax.set_xlim(0, 100)
    ax.set_xlabel("Part des appels hors horaires pris par le message (%)")
    ax.tick_params(labelsize=7)
    return ax


def _page(title: str, subtitle: str = "") -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=PORTRAIT)
    fig.text(0.06, 0.96, title, fontsize=14, weight="bold", va="top")
    if subtitle:
        fig.text(0.06, 0.935, subtitle, fontsize=8, color="#555555", va="top")
    return fig


def _table(fig: Figure, header: list[str], rows: list[list[str]], top: float = 0.9,
           widths: Sequence[float] | None = None) -> int:
    """Draw as many rows as fit below `top`; returns how many were drawn."""
    widths = widths or [0.88 / len(header)] * len(header)
    xs = [0.06 + sum(widths[:i]) for i in range(len(header))]
    y, step = top, 0.018
    for x, cell in zip(xs, header, strict=True):
        fig.text(x, y, cell, fontsize=7, weight="bold", va="top")
    drawn = 0
    for row in rows:
        y -= step
        if y < 0.05:
            break
        for x, cell, w in zip(xs, row, widths, strict=True):
            fig.text(x, y, _clip(cell, w), fontsize=6.5, va="top",
                     color="#c0392b" if cell == "OUI" else "black")
        drawn += 1
    return drawn


def _clip(text: str, width: float) -> str:
    limit = max(4, int(width * 150))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_pages(pdf: PdfPages, title: str, header: list[str], rows: list[list[str]],
                 widths: Sequence[float] | None = None) -> None:
    start, page = 0, 0
    while start < len(rows) or page == 0:
        fig = _page(title + (" (suite)" if page else ""))
        if not rows:
            fig.text(0.06, 0.9, "Aucun.", fontsize=9, va="top")
        start += _table(fig, header, rows[start:], widths=widths) if rows else 0
        pdf.savefig(fig)
        page += 1


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>Aucun.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='{'alerte' if c == 'OUI' else ''}'>{html.escape(c)}</td>"
                                    for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px;"
        "margin-bottom:1.5em}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}"
        "td.alerte{color:#c0392b;font-weight:bold}pre{background:#fdf2f2;padding:.5em}")


def write_report(section: AfterHoursSection, out: Path, formats: Sequence[str]) -> list[Path]:
    """Write afterhours-YYYY-MM.pdf and/or .html in `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "html" in formats:
        path = out / f"afterhours-{section.month}.html"
        path.write_text(f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Messages "
                        f"hors horaires {section.month}</title><style>{_CSS}</style></head><body>"
                        f"{section.html_fragment()}</body></html>\n", encoding="utf-8")
        written.append(path)
    if "pdf" in formats:
        from matplotlib.backends.backend_pdf import PdfPages

        path = out / f"afterhours-{section.month}.pdf"
        with PdfPages(path) as pdf:
            section.pdf_pages(pdf)
        written.append(path)
    return written
