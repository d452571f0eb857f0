"""The campaign report as a document (`reports.document`): headline figures, the sites'
ranking, criteria and commitments, criteria by site, the pickup time measured twice, the notes
of every call, the agreement of double scoring and the actions. Typeset to PDF by Typst and
written as HTML by the same code as the monthly statements; charts drawn once."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from matplotlib.axes import Axes

from mystery import report_plots as plots
from mystery.analysis import CampaignAnalysis, overall, previous_open_actions
from mystery.exports import french_date
from mystery.report_plots import fr
from mystery.scoring import OUTCOME_LABELS, Outcome
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
    chart,
)
from reports.text import KICKER, generated_text

TITLE = "Rapport de campagne d'appels mystères"
ACTION_HEADER = ("N°", "Site", "Critère", "Constat", "Action proposée", "Responsable",
                 "Échéance", "Statut")
ACTION_WIDTHS = (0.35, 0.75, 1.05, 2.0, 2.0, 1.1, 0.95, 0.75)


def _pct(value: float | int | None) -> str:
    return fr(None if value is None else float(value) * 100, 0, " %")


def _known(value: float | int | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _head(a: CampaignAnalysis, generated: dt.datetime) -> list[Block]:
    c, o = a.campaign, overall(a)
    target = c.pickup_criterion.target_seconds if c.pickup_criterion else 25.0
    required = c.required_score
    raw = o["score10"]
    score = float(raw) if raw is not None and _known(raw) else None
    hundred = fr(None if score is None else score * 10, 0)
    out: list[Block] = [
        Title(KICKER, TITLE, c.name,
              f"Du {french_date(c.start)} au {french_date(c.end)} · {len(c.sites)} sites", "",
              f"Niveau requis : {fr(required, 0)}/10 par site · décroché en moins de "
              f"{fr(target, 0)} s", generated_text(generated)),
        Boxes((
            Box("Appels notés", f"{o['scored']} / {o['planned']}",
                f"dont {o['answered']} décrochés par une personne"),
            Box("Note moyenne", f"{fr(score)}/10",
                f"{hundred}/100 · niveau requis {fr(required, 0)}/10",
                None if score is None else score >= required),
            Box("Appels conformes", _pct(o["conform_share"]),
                "note au niveau requis, aucun critère critique manqué"),
            Box("Sites au niveau requis", f"{o['sites_meeting']} sur {o['sites']}", "",
                None if not o["sites"] else o["sites_meeting"] == o["sites"]),
        )),
        Heading("En bref"),
        Para(f"Appels prévus : {o['planned']} · appels notés : {o['scored']} · décrochés par "
             f"une personne : {o['answered']}.", "lead"),
        Para(f"Note moyenne : {fr(score)}/10 ({hundred}/100) — niveau requis "
             f"{fr(required, 0)}/10 ; {o['sites_meeting']} site(s) sur {o['sites']} au niveau "
             "requis.", "lead"),
        Para(f"Décrochés en moins de {fr(target, 0)} s — appels mystères : "
             f"{_pct(o['mystery_within'])} ; ensemble des appels des mêmes sites et semaines "
             f"(supervision) : {_pct(o['monitor_within'])}.", "lead"),
    ]
    if a.previous is not None:
        prev = overall(a.previous)
        out.append(Para(f"Campagne précédente ({a.previous.campaign.name}) : "
                         f"{fr(prev['score10'])}/10.", "lead"))
    rows = max(len(a.sites), 1)
    out.append(chart(lambda ax: plots.site_scores(a.sites, required, ax=ax),
                     (7.0, 0.28 * rows + 1.1), margins=(1.45, 0.2, 0.35, 0.5)))
    return [*out, PageBreak()]


def _ranking(a: CampaignAnalysis) -> list[Block]:
    header = ["Rang", "Site", "Notés", "Sans rép.", "Note /10", "Note /100", "Niveau requis",
              "Conformes", "< 25 s mystère", "< 25 s supervision"]
    widths = [0.45, 1.15, 0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.8, 0.95]
    compare = "previous" in a.sites
    if compare:
        header += ["Précédente", "Évolution"]
        widths += [0.85, 0.8]
    rows = []
    for s in a.sites.to_dict("records"):
        row = [fr(s["rank"], 0), s["site_name"], str(s["scored"]), str(s["not_answered"]),
               fr(s["score10"]), fr(s["score100"], 0), "atteint" if s["meets"] else "non atteint",
               _pct(s["conform_share"]), _pct(s["mystery_within"]), _pct(s["monitor_within"])]
        if compare:
            row += [fr(s["previous"]), fr(s["change"], 1)]
        rows.append(row)
    return [Heading("Classement des sites", f"Niveau requis : {fr(a.campaign.required_score, 0)}"
                    "/10 · note = moyenne des appels notés"),
            Table.of(header, rows, "rlrrrrlrrr" + "rr" * compare, widths, "small")]


def _criteria(a: CampaignAnalysis) -> list[Block]:
    n = max(len(a.criteria), 1)
    out: list[Block] = [
        Heading("Résultats par critère et par engagement",
                "★ critère critique · part des appels notés où le critère est atteint"),
        chart(lambda ax: plots.criteria_bars(a.criteria, a.campaign.required_score * 10, ax=ax),
              (7.0, 0.3 * n + 1.1), margins=(2.9, 0.2, 0.35, 0.5))]
    compare = "previous" in a.commitments
    header = ["Engagement", "Score"] + (["Évolution"] if compare else [])
    rows = [[row["label"], fr(row["score"], 0, " %")]
            + ([fr(row["change"], 0, " pts")] if compare else [])
            for row in a.commitments.to_dict("records")]
    out.append(Table.of(header, rows, "lr" + "r" * compare, (5.0, 1.0) + (1.0,) * compare))
    return out


def _by_site(a: CampaignAnalysis) -> list[Block]:
    if a.site_criteria.empty:
        return []
    names = dict(zip(a.sites["site"], a.sites["site_name"], strict=True))
    labels = {c.id: c.label for c in a.campaign.criteria}
    rows = len(a.site_criteria.index)
    return [Heading("Critères par site"),
            chart(lambda ax: plots.site_criteria_heatmap(a.site_criteria, names, labels, ax=ax),
                  (7.0, 0.3 * rows + 2.2), margins=(1.3, 0.2, 0.35, 1.75)), PageBreak()]


def _untitled(ax: Axes) -> None:
    """A chart whose title the document gives (its caption), above the legend."""
    ax.set_title("")


def _pickup(a: CampaignAnalysis) -> list[Block]:
    c = a.campaign
    target = c.pickup_criterion.target_seconds if c.pickup_criterion else 25.0
    far = a.pickup[a.pickup["disagree"]]
    both = int((a.pickup["pbx_s"].notna() & a.pickup["observed_s"].notna()).sum())
    out: list[Block] = [
        Heading("Délai de décroché : mesure du PBX et chronomètre de l'appelant",
                f"Écart signalé au-delà de {fr(c.pickup_tolerance_seconds, 0)} s, ou quand les "
                f"deux mesures ne sont pas du même côté des {fr(target, 0)} s."),
        chart(lambda ax: _untitled(plots.within_bars(a.sites, ax=ax)), (7.0, 2.8),
              "Décrochés en moins de 25 s, mêmes sites et semaines",
              margins=(0.6, 0.15, 0.4, 0.35))]
    scatter = chart(lambda ax: _untitled(plots.pickup_scatter(a.pickup, target or 25.0, ax=ax)),
                    (3.3, 3.3), "PBX et appelant, appels rapprochés", margins=(0.6, 0.15, 0.15, 0.5))
    words: list[Block] = [Para(f"{len(far)} désaccord(s) sur {both} appels chronométrés et "
                               "mesurés par le PBX.", alert=bool(len(far)))]
    if len(far):
        words.append(Table.of(["Appel", "Appelé le", "Appelant", "PBX"], [
            [r["call_id"], r["called_local"], fr(r["observed_s"], 0, " s"), fr(r["pbx_s"], 0, " s")]
            for r in far.to_dict("records")], "llrr", (1.3, 1.3, 0.8, 0.6), "small"))
    return [*out, Columns(((scatter,), tuple(words))), PageBreak()]


def _call_rows(a: CampaignAnalysis) -> list[list[str]]:
    labels = {c.id: c.label for c in a.campaign.criteria}
    rows = []
    for r in a.calls.to_dict("records"):
        outcome = OUTCOME_LABELS[Outcome(r["outcome"])] if isinstance(r["outcome"], str) \
            else r["status"]
        attempts = f" ({r['attempts']:.0f} essais)" if r["attempts"] and r["attempts"] > 1 else ""
        conform = "" if r["conform"] is None or pd.isna(r["conform"]) else \
            ("oui" if r["conform"] else "non")
        rows.append([r["call_id"], r["site_name"], r["called_local"], r["scenario"],
                     outcome + attempts, fr(r["score10"]), conform,
                     ", ".join(labels.get(c, c) for c in str(r["critical_failed"]).split(", ") if c),
                     fr(r["observed_s"], 0), fr(r["pbx_s"], 0)])
    return rows


def _calls(a: CampaignAnalysis) -> list[Block]:
    return [Heading("Notes par appel", "Critique manqué : le critère critique non atteint, qui "
                    "rend l'appel non conforme ; chrono : le délai chronométré par l'appelant."),
            Table.of(["Appel", "Site", "Appelé le", "Scénario", "Issue", "Note /10", "Conforme",
                      "Critique manqué", "Chrono (s)", "PBX (s)"], _call_rows(a),
                     "lllllrllrr", (1.1, 0.9, 1.0, 1.0, 1.25, 0.65, 0.8, 1.1, 0.6, 0.55),
                     "small", alert_column=7)]


def _agreement(a: CampaignAnalysis) -> list[Block]:
    labels = {c.id: c.label for c in a.campaign.criteria}
    rows = [[labels[g.criterion], str(g.pairs), _pct(g.agreement), fr(g.kappa, 2),
             "DÉSACCORD" if g.flagged else ""] for g in a.agreement]
    return [Heading("Double notation : accord entre évaluateurs",
                    f"Signalé quand l'accord est sous {_pct(a.campaign.min_agreement)} ou le "
                    f"kappa sous {fr(a.campaign.min_kappa, 2)} ; « — » : critère sans double "
                    "notation."),
            Table.of(["Critère", "Appels", "Accord", "Kappa de Cohen", ""], rows, "lrrrl",
                     (3.4, 0.6, 0.7, 1.0, 1.4), alert_column=4)]


def _action_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(r["N°"]), r["Site"], r["Critère"], r["Constat"], r["Action proposée"],
             r["Responsable"], r["Échéance"], r["Statut"]] for r in frame.to_dict("records")]


def _actions(a: CampaignAnalysis) -> list[Block]:
    open_actions = a.actions[a.actions["Statut"].isin(["à faire", "en cours"])]
    out: list[Block] = [
        Heading("Actions en cours", f"{len(open_actions)} action(s) ouvertes sur "
                f"{len(a.actions)}."),
        Table.of(ACTION_HEADER, _action_rows(open_actions), "l" * 8, ACTION_WIDTHS, "small")
        if len(open_actions) else Para("Aucune action ouverte.")]
    if a.previous is not None:
        prev = previous_open_actions(a)
        rows = [[*row, fr(v, 0, " %")] for row, v in
                zip(_action_rows(prev), prev.get("Atteint cette campagne (%)", []), strict=True)]
        out += [Heading(f"Actions encore ouvertes de la campagne {a.previous.campaign.id}",
                        "Dernière colonne : part des appels de cette campagne où le critère est "
                        "atteint sur le site."),
                Table.of([*ACTION_HEADER, "Atteint cette campagne"], rows, "l" * 8 + "r",
                         (*ACTION_WIDTHS, 0.8), "small")
                if rows else Para("Aucune action ouverte de la campagne précédente.")]
    return out


def campaign_document(a: CampaignAnalysis, generated: dt.datetime | None = None) -> Document:
    """Every page of the campaign report, charts drawn (once)."""
    when = generated or dt.datetime.now().astimezone()
    blocks = (_head(a, when) + _ranking(a) + _criteria(a) + _by_site(a) + _pickup(a)
              + _calls(a) + _agreement(a) + _actions(a))
    name = a.campaign.name
    return Document(f"{TITLE} · {name}", f"{name} · {TITLE.lower()}", blocks)
