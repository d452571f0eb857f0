"""A campaign's results as tables: per call, site, criterion and commitment, pickup, agreement.

The store is read in `analyse()`; everything after is pandas over the scored calls. Scores are
those of the complete primary results (see mystery.scoring for the rules).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

from config import Config
from monitor.store import Store
from monitor.timeutil import zone
from mystery.actions import actions_frame
from mystery.agreement import CriterionAgreement, agreement_by_criterion
from mystery.campaign import Campaign
from mystery.captured import monitor_pickup_share
from mystery.repository import Result, campaign_results, planned_calls, stored_campaign
from mystery.scoring import Outcome, mean, score_call

STATUS_LABELS = {None: "non saisi", "in_progress": "en cours", "complete": "saisi"}


@dataclass
class CampaignAnalysis:
    campaign: Campaign
    calls: pd.DataFrame
    sites: pd.DataFrame
    criteria: pd.DataFrame
    commitments: pd.DataFrame
    site_criteria: pd.DataFrame  # achieved % per site (rows) and criterion (columns)
    pickup: pd.DataFrame
    agreement: list[CriterionAgreement]
    actions: pd.DataFrame
    previous: CampaignAnalysis | None = None

    @property
    def scored(self) -> pd.DataFrame:
        return self.calls[self.calls["score10"].notna()]


def analyse(store: Store, config: Config, campaign_id: str, compare: str | None = None,
            threshold: float | None = None) -> CampaignAnalysis:
    """Read the campaign (and the one to compare with) and build every table of the report."""
    campaign, _ = stored_campaign(store, campaign_id, config)
    results = campaign_results(store, campaign_id)
    primary = {r.call_id: r for r in results if r.role == "primary"}
    second = {r.call_id: r for r in results if r.role == "second" and r.status == "complete"}
    calls = _calls(campaign, config, planned_calls(store, campaign_id), primary)
    previous = analyse(store, config, compare) if compare else None
    limit = threshold if threshold is not None else config.targets.threshold_seconds
    analysis = CampaignAnalysis(
        campaign=campaign, calls=calls,
        sites=_sites(campaign, config, calls, _monitor_shares(store, config, calls, limit)),
        criteria=_criteria(campaign, calls), commitments=_commitments(campaign, calls),
        site_criteria=_site_criteria(campaign, calls), pickup=_pickup(campaign, calls),
        agreement=_agreement(campaign, calls, second),
        actions=actions_frame(store, campaign_id), previous=previous,
    )
    if previous is not None:
        _add_changes(analysis, previous)
    return analysis


def _calls(campaign: Campaign, config: Config, planned: list, primary: dict[str, Result]) -> pd.DataFrame:
    """One row per planned call: its slot, its primary result and scores."""
    pickup = campaign.pickup_criterion
    rows = []
    for p in planned:
        r = primary.get(p.call_id)
        score = None
        if r is not None and r.status == "complete":
            score = score_call(campaign, p.scenario, r.outcome, r.attempts, r.answers)
        observed = r.answers.get(pickup.id) if r is not None and pickup is not None else None
        tz = zone(config.pbxs[config.site(p.site).pbx].timezone)
        when = dt.datetime.fromtimestamp(r.called_at if r and r.called_at else p.start_utc, tz)
        row = {
            "call_id": p.call_id, "site": p.site, "site_name": config.site(p.site).name,
            "local_start": p.local_start, "called_local": when.strftime("%Y-%m-%d %H:%M"),
            "week_monday": (when.date() - dt.timedelta(days=when.weekday())).isoformat(),
            "band": p.band, "caller": p.caller, "scenario": p.scenario,
            "double_scored": bool(p.double_scored),
            "status": STATUS_LABELS[r.status if r else None],
            "outcome": str(r.outcome) if r else None, "attempts": r.attempts if r else None,
            "score10": score.score10 if score else None,
            "conform": score.conform if score else None,
            "critical_failed": ", ".join(score.critical_failed) if score else "",
            "observed_s": observed.value if observed is not None else None,
            "pbx_s": r.pbx_ring_seconds if r else None, "comment": r.comment if r else "",
        }
        row.update({f"c:{c.id}": (score.criteria[c.id] if score else None) for c in campaign.criteria})
        rows.append(row)
    order = {site: i for i, site in enumerate(campaign.sites)}
    frame = pd.DataFrame(rows).sort_values(["site", "call_id"], key=lambda c: c.map(order)
                                           if c.name == "site" else c).reset_index(drop=True)
    for column in ("score10", "observed_s", "pbx_s", *(f"c:{c.id}" for c in campaign.criteria)):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _share(values: pd.Series) -> float:
    kept = values.dropna()
    return float(kept.mean()) if len(kept) else math.nan


def _sites(campaign: Campaign, config: Config, calls: pd.DataFrame,
           monitor: dict[str, tuple[int, int]]) -> pd.DataFrame:
    pickup = campaign.pickup_criterion
    rows = []
    for site_id in campaign.sites:
        mine = calls[calls["site"] == site_id]
        made = mine[mine["score10"].notna()]
        score = _share(made["score10"])
        within, offered = monitor.get(site_id, (0, 0))
        rows.append({
            "site": site_id, "site_name": config.site(site_id).name, "planned": len(mine),
            "scored": len(made), "answered": int((made["outcome"] == Outcome.ANSWERED).sum()),
            "not_answered": int((made["outcome"] != Outcome.ANSWERED).sum()),
            "score10": score, "score100": score * 10, "meets": score >= campaign.required_score - 1e-9,
            "conform_share": _share(made["conform"].astype(float)),
            "mystery_within": _share(made[f"c:{pickup.id}"]) if pickup else math.nan,
            "monitor_within": within / offered if offered else math.nan,
            "monitor_offered": offered,
        })
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["score10"].rank(ascending=False, method="min")
    return frame.sort_values(["rank", "site"], na_position="last").reset_index(drop=True)


def _criteria(campaign: Campaign, calls: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c in campaign.criteria:
        values = calls[f"c:{c.id}"].dropna()
        rows.append({
            "criterion": c.id, "label": c.label, "commitment": c.commitment, "type": str(c.type),
            "weight": c.weight, "critical": c.critical, "scored": len(values),
            "failed": int((values < 0.5).sum()),
            "achieved": float(values.mean()) * 100 if len(values) else math.nan,
        })
    return pd.DataFrame(rows)


def commitment_scores(campaign: Campaign, calls: pd.DataFrame) -> pd.DataFrame:
    """Per call (rows) and commitment (columns): weighted mean of its scored criteria, 0–100."""
    out = {}
    for commitment in campaign.commitments:
        crits = [c for c in campaign.criteria if c.commitment == commitment.id]
        weighted = sum(calls[f"c:{c.id}"].fillna(0) * c.weight for c in crits)
        weights = sum(calls[f"c:{c.id}"].notna() * c.weight for c in crits)
        out[commitment.id] = (100 * weighted / weights).where(weights > 0)
    return pd.DataFrame(out, index=calls.index)


def _commitments(campaign: Campaign, calls: pd.DataFrame) -> pd.DataFrame:
    per_call = commitment_scores(campaign, calls)
    return pd.DataFrame([
        {"commitment": c.id, "label": c.label, "calls": int(per_call[c.id].notna().sum()),
         "score": _share(per_call[c.id])}
        for c in campaign.commitments])


def _site_criteria(campaign: Campaign, calls: pd.DataFrame) -> pd.DataFrame:
    columns = [f"c:{c.id}" for c in campaign.criteria]
    table = calls.groupby("site")[columns].mean() * 100
    table.columns = [c.id for c in campaign.criteria]
    return table.reindex(list(campaign.sites))


def _pickup(campaign: Campaign, calls: pd.DataFrame) -> pd.DataFrame:
    """Caller's stopwatch beside the PBX's time to answer, and where they disagree."""
    target = campaign.pickup_criterion.target_seconds if campaign.pickup_criterion else 25.0
    frame = calls[["call_id", "site", "called_local", "outcome", "observed_s", "pbx_s"]].copy()
    frame = frame[frame["observed_s"].notna() | frame["pbx_s"].notna()]
    frame["difference"] = frame["observed_s"] - frame["pbx_s"]
    both = frame["observed_s"].notna() & frame["pbx_s"].notna()
    sides = (frame["observed_s"] < target) != (frame["pbx_s"] < target)
    far = frame["difference"].abs() > campaign.pickup_tolerance_seconds
    frame["disagree"] = both & (sides | far)
    return frame.reset_index(drop=True)


def _agreement(campaign: Campaign, calls: pd.DataFrame,
               second: dict[str, Result]) -> list[CriterionAgreement]:
    pairs = []
    for row in calls.to_dict("records"):
        other = second.get(row["call_id"])
        if other is None or pd.isna(row["score10"]):
            continue
        first = {c.id: _none(row[f"c:{c.id}"]) for c in campaign.criteria}
        theirs = score_call(campaign, row["scenario"], other.outcome, other.attempts, other.answers)
        pairs.append((first, theirs.criteria))
    return agreement_by_criterion(campaign, pairs)


def _none(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def _monitor_shares(store: Store, config: Config, calls: pd.DataFrame,
                    threshold: float) -> dict[str, tuple[int, int]]:
    """The monitor's (within, offered) per site over the weeks of that site's mystery calls."""
    result = {}
    made = calls[calls["score10"].notna()]
    for site_id, group in made.groupby("site"):
        within = offered = 0
        for monday in sorted(set(group["week_monday"])):
            first = dt.date.fromisoformat(monday)
            w, o = monitor_pickup_share(store, [str(site_id)], first, first + dt.timedelta(days=6),
                                        threshold)
            within, offered = within + w, offered + o
        result[str(site_id)] = (within, offered)
    return result


def _add_changes(analysis: CampaignAnalysis, previous: CampaignAnalysis) -> None:
    """Previous campaign's figures and the change, beside sites, criteria and commitments."""
    for attr, key, value in (("sites", "site", "score10"), ("criteria", "criterion", "achieved"),
                             ("commitments", "commitment", "score")):
        frame, old = getattr(analysis, attr), getattr(previous, attr)
        frame["previous"] = frame[key].map(dict(zip(old[key], old[value], strict=True)))
        frame["change"] = frame[value] - frame["previous"]


def overall(analysis: CampaignAnalysis) -> dict[str, float | int | None]:
    """Headline figures of the campaign."""
    scored = analysis.scored
    sites = analysis.sites
    pickup = analysis.campaign.pickup_criterion
    return {
        "planned": len(analysis.calls), "scored": len(scored),
        "answered": int((scored["outcome"] == Outcome.ANSWERED).sum()),
        "score10": mean([float(v) for v in scored["score10"]]),
        "conform_share": _share(scored["conform"].astype(float)),
        "sites_meeting": int(sites["meets"].sum()), "sites": len(sites),
        "mystery_within": _share(scored[f"c:{pickup.id}"]) if pickup else math.nan,
        "monitor_within": (sites["monitor_within"] * sites["monitor_offered"]).sum()
        / sites["monitor_offered"].sum() if sites["monitor_offered"].sum() else math.nan,
    }


OPEN_LABELS = ("à faire", "en cours")


def previous_open_actions(analysis: CampaignAnalysis) -> pd.DataFrame:
    """The previous campaign's open actions, with this campaign's result for the same
    site and criterion (percentage of calls meeting it)."""
    if analysis.previous is None:
        return pd.DataFrame()
    frame = analysis.previous.actions
    frame = frame[frame["Statut"].isin(OPEN_LABELS)].copy()
    table = analysis.site_criteria
    frame["Atteint cette campagne (%)"] = [
        table.loc[site, crit] if site in table.index and crit in table.columns else math.nan
        for site, crit in zip(frame["Site"], frame["Critère"], strict=True)]
    return frame.reset_index(drop=True)
