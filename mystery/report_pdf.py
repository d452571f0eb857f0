"""The campaign report as a PDF (A4 landscape, French): figures, rankings, tables, actions."""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from mystery import report_plots as plots
from mystery.analysis import CampaignAnalysis, overall, previous_open_actions
from mystery.exports import french_date
from mystery.report_plots import fr
from mystery.scoring import OUTCOME_LABELS, Outcome

LANDSCAPE = (11.69, 8.27)
ROW = 0.024  # one text line of a table, in page fractions


def _page(title: str, subtitle: str = "") -> Figure:
    fig = Figure(figsize=LANDSCAPE)
    fig.text(0.05, 0.95, title, fontsize=15, weight="bold", va="top")
    if subtitle:
        fig.text(0.05, 0.915, subtitle, fontsize=9, color="#555555", va="top")
    return fig


def table_pages(pdf: PdfPages, title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
                widths: Sequence[float], subtitle: str = "", top: float = 0.88) -> None:
    """Draw rows under a header, wrapping long cells, on as many pages as needed."""
    fig, y = _page(title, subtitle), top
    starts = [0.05 + sum(widths[:i]) for i in range(len(widths))]
    y = _row(fig, y, header, widths, starts, bold=True)
    for row in rows:
        if y - ROW * max(len(_wrap(c, w)) for c, w in zip(row, widths, strict=True)) < 0.05:
            pdf.savefig(fig)
            fig, y = _page(f"{title} (suite)", subtitle), top
            y = _row(fig, y, header, widths, starts, bold=True)
        y = _row(fig, y, row, widths, starts)
    pdf.savefig(fig)


def _wrap(cell: object, width: float) -> list[str]:
    return textwrap.wrap(str(cell), max(4, int(width * 175))) or [""]


def _row(fig: Figure, y: float, cells: Sequence[str], widths: Sequence[float], starts: list[float],
         bold: bool = False) -> float:
    lines = [_wrap(c, w) for c, w in zip(cells, widths, strict=True)]
    height = ROW * 0.75 * max(len(x) for x in lines) + ROW * 0.35
    for x, cell in zip(starts, lines, strict=True):
        fig.text(x, y, "\n".join(cell), fontsize=8, va="top", weight="bold" if bold else "normal",
                 linespacing=1.25)
    fig.add_artist(_line(y - height + ROW * 0.12, "#999999" if bold else "#dddddd"))
    return y - height


def _line(y: float, color: str):  # type: ignore[no-untyped-def]
    from matplotlib.lines import Line2D

    return Line2D([0.05, 0.95], [y, y], lw=0.6, color=color)


def _pct(value: float | int | None) -> str:
    return fr(None if value is None else float(value) * 100, 0, " %")


def _summary_page(pdf: PdfPages, a: CampaignAnalysis) -> None:
    c, o = a.campaign, overall(a)
    fig = _page(c.name, f"Du {french_date(c.start)} au {french_date(c.end)} · {len(c.sites)} sites · "
                        f"rapport établi le {french_date(dt.date.today())}")
    lines = [
        f"Appels prévus : {o['planned']}   ·   appels notés : {o['scored']}   ·   "
        f"décrochés par une personne : {o['answered']}",
        f"Note moyenne : {fr(o['score10'])}/10 ({fr((o['score10'] or math.nan) * 10, 0)}/100) — "
        f"niveau requis {fr(c.required_score, 0)}/10",
        f"Appels conformes : {_pct(o['conform_share'])}   ·   sites au niveau requis : "
        f"{o['sites_meeting']} sur {o['sites']}",
        f"Décrochés en moins de 25 s — appels mystères : {_pct(o['mystery_within'])} ; ensemble des "
        f"appels des mêmes sites et semaines (supervision) : {_pct(o['monitor_within'])}",
    ]
    if a.previous is not None:
        prev = overall(a.previous)
        lines.append(f"Campagne précédente ({a.previous.campaign.name}) : {fr(prev['score10'])}/10")
    for i, line in enumerate(lines):
        fig.text(0.05, 0.86 - i * 0.035, line, fontsize=10.5, va="top")
    ax = fig.add_axes((0.2, 0.08, 0.72, 0.56))
    plots.site_scores(a.sites, c.required_score, ax=ax)
    pdf.savefig(fig)


def _ranking_rows(a: CampaignAnalysis) -> tuple[list[str], list[list[str]], list[float]]:
    header = ["Rang", "Site", "Notés", "Sans rép.", "Note /10", "Note /100", "Niveau requis",
              "Conformes", "< 25 s mystère", "< 25 s supervision"]
    widths = [0.05, 0.15, 0.06, 0.07, 0.07, 0.07, 0.09, 0.08, 0.1, 0.12]
    compare = "previous" in a.sites
    if compare:
        header += ["Précédente", "Évolution"]
        widths = [w * 0.88 for w in widths] + [0.07, 0.07]
    rows = []
    for s in a.sites.to_dict("records"):
        row = [fr(s["rank"], 0), s["site_name"], str(s["scored"]), str(s["not_answered"]),
               fr(s["score10"]), fr(s["score100"], 0), "atteint" if s["meets"] else "non atteint",
               _pct(s["conform_share"]), _pct(s["mystery_within"]), _pct(s["monitor_within"])]
        if compare:
            row += [fr(s["previous"]), fr(s["change"], 1)]
        rows.append(row)
    return header, rows, widths


def _criteria_page(pdf: PdfPages, a: CampaignAnalysis) -> None:
    fig = _page("Résultats par critère et par engagement",
                "★ critère critique · part des appels notés où le critère est atteint")
    plots.criteria_bars(a.criteria, a.campaign.required_score * 10, ax=fig.add_axes((0.33, 0.38, 0.6, 0.47)))
    y = 0.28
    fig.text(0.05, y, "Engagement", fontsize=9, weight="bold")
    fig.text(0.75, y, "Score", fontsize=9, weight="bold")
    if "previous" in a.commitments:
        fig.text(0.83, y, "Évolution", fontsize=9, weight="bold")
    for row in a.commitments.to_dict("records"):
        y -= 0.035
        fig.text(0.05, y, row["label"], fontsize=9)
        fig.text(0.75, y, fr(row["score"], 0, " %"), fontsize=9)
        if "previous" in row:
            fig.text(0.83, y, fr(row["change"], 0, " pts"), fontsize=9)
    pdf.savefig(fig)


def _heatmap_page(pdf: PdfPages, a: CampaignAnalysis) -> None:
    fig = _page("Critères par site")
    names = dict(zip(a.sites["site"], a.sites["site_name"], strict=True))
    labels = {c.id: c.label for c in a.campaign.criteria}
    plots.site_criteria_heatmap(a.site_criteria, names, labels, ax=fig.add_axes((0.17, 0.2, 0.78, 0.68)))
    pdf.savefig(fig)


def _pickup_pages(pdf: PdfPages, a: CampaignAnalysis) -> None:
    target = a.campaign.pickup_criterion.target_seconds if a.campaign.pickup_criterion else 25.0
    fig = _page("Délai de décroché : mesure du PBX et chronomètre de l'appelant",
                f"Écart signalé au-delà de {fr(a.campaign.pickup_tolerance_seconds, 0)} s, ou quand les deux "
                f"mesures ne sont pas du même côté des {fr(target, 0)} s")
    plots.within_bars(a.sites, ax=fig.add_axes((0.06, 0.52, 0.9, 0.32)))
    plots.pickup_scatter(a.pickup, target or 25.0, ax=fig.add_axes((0.08, 0.07, 0.3, 0.36)))
    far = a.pickup[a.pickup["disagree"]]
    both = int((a.pickup["pbx_s"].notna() & a.pickup["observed_s"].notna()).sum())
    fig.text(0.46, 0.43, f"{len(far)} désaccord(s) sur {both} appels chronométrés et mesurés par le PBX",
             fontsize=10, va="top")
    for i, r in enumerate(far.head(10).to_dict("records")):
        fig.text(0.46, 0.39 - i * 0.03, f"{r['call_id']} ({r['called_local']}) : appelant "
                 f"{fr(r['observed_s'], 0)} s, PBX {fr(r['pbx_s'], 0)} s", fontsize=9, va="top")
    if len(far) > 10:
        fig.text(0.46, 0.39 - 10 * 0.03, f"… et {len(far) - 10} autres : feuille « Décroché PBX-appelant » "
                 "du classeur XLSX", fontsize=9, va="top", style="italic")
    pdf.savefig(fig)


def _call_rows(a: CampaignAnalysis) -> list[list[str]]:
    rows = []
    for r in a.calls.to_dict("records"):
        outcome = OUTCOME_LABELS[Outcome(r["outcome"])] if isinstance(r["outcome"], str) else r["status"]
        attempts = f" ({r['attempts']:.0f} essais)" if r["attempts"] and r["attempts"] > 1 else ""
        conform = "" if r["conform"] is None or pd.isna(r["conform"]) else \
            ("oui" if r["conform"] else "non")
        rows.append([r["call_id"], r["site_name"], r["called_local"], r["scenario"], outcome + attempts,
                     fr(r["score10"]), conform, r["critical_failed"], fr(r["observed_s"], 0),
                     fr(r["pbx_s"], 0)])
    return rows


def _agreement_rows(a: CampaignAnalysis) -> list[list[str]]:
    labels = {c.id: c.label for c in a.campaign.criteria}
    return [[labels[g.criterion], str(g.pairs), _pct(g.agreement), fr(g.kappa, 2),
             "DÉSACCORD" if g.flagged else ("" if g.pairs else "pas de double notation")]
            for g in a.agreement]


def _action_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(r["N°"]), r["Site"], r["Critère"], r["Constat"], r["Action proposée"], r["Responsable"],
             r["Échéance"], r["Statut"]] for r in frame.to_dict("records")]


ACTION_HEADER = ["N°", "Site", "Critère", "Constat", "Action proposée", "Responsable", "Échéance", "Statut"]
ACTION_WIDTHS = [0.03, 0.07, 0.11, 0.25, 0.26, 0.08, 0.07, 0.06]


def write_report_pdf(a: CampaignAnalysis, path: Path) -> None:
    """Write every page of the report to `path`."""
    with PdfPages(path, metadata={"Title": a.campaign.name, "Creator": "qualiphone"}) as pdf:
        _summary_page(pdf, a)
        header, rows, widths = _ranking_rows(a)
        table_pages(pdf, "Classement des sites", header, rows, widths,
                    f"Niveau requis : {fr(a.campaign.required_score, 0)}/10 · "
                    "note = moyenne des appels notés")
        _criteria_page(pdf, a)
        _heatmap_page(pdf, a)
        _pickup_pages(pdf, a)
        table_pages(pdf, "Notes par appel",
                    ["Appel", "Site", "Appelé le", "Scénario", "Issue", "Note /10", "Conforme",
                     "Critique manqué", "Chrono (s)", "PBX (s)"],
                    _call_rows(a), [0.11, 0.09, 0.1, 0.1, 0.16, 0.06, 0.06, 0.12, 0.06, 0.05])
        table_pages(pdf, "Double notation : accord entre évaluateurs",
                    ["Critère", "Appels", "Accord", "Kappa de Cohen", ""], _agreement_rows(a),
                    [0.42, 0.08, 0.1, 0.12, 0.18],
                    f"Signalé quand l'accord est sous {_pct(a.campaign.min_agreement)} ou le kappa sous "
                    f"{fr(a.campaign.min_kappa, 2)}")
        open_actions = a.actions[a.actions["Statut"].isin(["à faire", "en cours"])]
        table_pages(pdf, "Actions en cours", ACTION_HEADER, _action_rows(open_actions), ACTION_WIDTHS,
                    f"{len(open_actions)} action(s) ouvertes sur {len(a.actions)}")
        if a.previous is not None:
            prev = previous_open_actions(a)
            rows = [[*row, fr(v, 0, " %")] for row, v in
                    zip(_action_rows(prev), prev["Atteint cette campagne (%)"], strict=True)]
            table_pages(pdf, f"Actions encore ouvertes de la campagne {a.previous.campaign.id}",
                        [*ACTION_HEADER, "Atteint cette campagne"], rows,
                        [w * 0.93 for w in ACTION_WIDTHS] + [0.06],
                        "Dernière colonne : part des appels de cette campagne où le critère est atteint "
                        "sur le site")
