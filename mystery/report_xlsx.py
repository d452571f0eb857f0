"""The campaign report as an XLSX workbook (French sheet and column names), and its writer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from monitor.export_safety import safe_xlsx_row
from mystery.analysis import CampaignAnalysis, commitment_scores, overall, previous_open_actions
from mystery.scoring import OUTCOME_LABELS, Outcome

HEADER_FILL = PatternFill("solid", fgColor="DFE7F2")


def write_sheets(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """One sheet per table: bold header, frozen first row, fitted widths, wrapped long text."""
    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        sheet = book.create_sheet(name[:31])
        sheet.append(safe_xlsx_row(str(c) for c in frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(safe_xlsx_row(None if _missing(v) else v for v in row))
        for cell in sheet[1]:
            cell.font, cell.fill = Font(bold=True), HEADER_FILL
        sheet.freeze_panes = "A2"
        for i, column in enumerate(frame.columns, start=1):
            longest = max([len(str(column)), *(len(str(v)) for v in frame[column].head(200))])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(8, longest + 2))
            if longest > 60:
                for cell in sheet[get_column_letter(i)][1:]:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
    book.save(path)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _summary(a: CampaignAnalysis) -> pd.DataFrame:
    o = overall(a)
    c = a.campaign
    rows = [
        ("Campagne", c.name), ("Période", f"{c.start} au {c.end}"), ("Sites", len(c.sites)),
        ("Appels prévus", o["planned"]), ("Appels notés", o["scored"]),
        ("Décrochés par une personne", o["answered"]), ("Note moyenne /10", o["score10"]),
        ("Niveau requis /10", c.required_score), ("Appels conformes (part)", o["conform_share"]),
        ("Sites au niveau requis", o["sites_meeting"]),
        ("Décrochés < 25 s, appels mystères (part)", o["mystery_within"]),
        ("Décrochés < 25 s, supervision mêmes sites et semaines (part)", o["monitor_within"]),
    ]
    if a.previous is not None:
        rows.append(("Note moyenne de la campagne précédente /10", overall(a.previous)["score10"]))
    return pd.DataFrame(rows, columns=["Indicateur", "Valeur"])


def _sites(a: CampaignAnalysis) -> pd.DataFrame:
    names = {"rank": "Rang", "site": "Site (id)", "site_name": "Site", "planned": "Appels prévus",
             "scored": "Appels notés", "answered": "Décrochés", "not_answered": "Sans réponse",
             "score10": "Note /10", "score100": "Note /100", "meets": "Niveau requis atteint",
             "conform_share": "Appels conformes (part)", "mystery_within": "< 25 s mystère (part)",
             "monitor_within": "< 25 s supervision (part)", "monitor_offered": "Appels supervision",
             "previous": "Note précédente /10", "change": "Évolution /10"}
    frame = a.sites[[k for k in names if k in a.sites]].rename(columns=names)
    frame["Niveau requis atteint"] = frame["Niveau requis atteint"].map({True: "oui", False: "non"})
    return frame


def _criteria(a: CampaignAnalysis) -> pd.DataFrame:
    names = {"criterion": "Critère (id)", "label": "Critère", "commitment": "Engagement",
             "type": "Type", "weight": "Poids", "critical": "Critique", "scored": "Appels notés",
             "failed": "Non atteint", "achieved": "Atteint (%)", "previous": "Précédente (%)",
             "change": "Évolution (points)"}
    frame = a.criteria[[k for k in names if k in a.criteria]].rename(columns=names)
    frame["Critique"] = frame["Critique"].map({True: "oui", False: "non"})
    return frame


def _calls(a: CampaignAnalysis) -> pd.DataFrame:
    frame = a.calls.copy()
    frame["outcome"] = frame["outcome"].map(
        lambda o: OUTCOME_LABELS[Outcome(o)] if isinstance(o, str) else None)
    frame["conform"] = frame["conform"].map({True: "oui", False: "non"})
    per_commitment = commitment_scores(a.campaign, a.calls)
    names = {"call_id": "Appel", "site_name": "Site", "local_start": "Créneau prévu",
             "called_local": "Appelé le", "band": "Plage", "caller": "Appelant", "scenario": "Scénario",
             "status": "Saisie", "outcome": "Issue", "attempts": "Tentatives", "score10": "Note /10",
             "conform": "Conforme", "critical_failed": "Critère critique manqué",
             "observed_s": "Décroché chronométré (s)", "pbx_s": "Décroché PBX (s)",
             "comment": "Commentaire"}
    out = frame[list(names)].rename(columns=names)
    for c in a.campaign.criteria:
        out[c.label] = frame[f"c:{c.id}"] * 100
    for commitment in a.campaign.commitments:
        out[f"Engagement : {commitment.id} (%)"] = per_commitment[commitment.id]
    return out


def _pickup(a: CampaignAnalysis) -> pd.DataFrame:
    return a.pickup.rename(columns={
        "call_id": "Appel", "site": "Site", "called_local": "Appelé le", "outcome": "Issue",
        "observed_s": "Chronomètre appelant (s)", "pbx_s": "PBX (s)", "difference": "Écart (s)",
        "disagree": "Désaccord"}).replace({"Désaccord": {True: "oui", False: "non"}})


def _agreement(a: CampaignAnalysis) -> pd.DataFrame:
    labels = {c.id: c.label for c in a.campaign.criteria}
    return pd.DataFrame([{"Critère": labels[g.criterion], "Appels doublement notés": g.pairs,
                          "Accord (part)": g.agreement, "Kappa de Cohen": g.kappa,
                          "Désaccord signalé": "oui" if g.flagged else "non"} for g in a.agreement])


def write_report_xlsx(a: CampaignAnalysis, path: Path) -> None:
    matrix = a.site_criteria.copy()
    matrix.columns = [a.campaign.criterion(c).label for c in matrix.columns]
    matrix.insert(0, "Site", [n for n in a.sites.set_index("site").loc[matrix.index, "site_name"]])
    sheets = {
        "Synthèse": _summary(a), "Sites": _sites(a), "Critères": _criteria(a),
        "Engagements": a.commitments.rename(columns={"commitment": "Engagement (id)", "label": "Engagement",
                                                     "calls": "Appels", "score": "Score (%)",
                                                     "previous": "Précédent (%)", "change": "Évolution"}),
        "Critères par site": matrix, "Appels": _calls(a), "Décroché PBX-appelant": _pickup(a),
        "Double notation": _agreement(a), "Actions": a.actions,
    }
    if a.previous is not None:
        sheets["Actions campagne préc."] = previous_open_actions(a)
    write_sheets(sheets, path)
