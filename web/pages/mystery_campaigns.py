"""Mystery campaigns for the quality team: the plan by site, week and caller; the campaign
report with the agreement (kappa) of double-scored calls; its PDF and XLSX."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response

from mystery.repository import (
    UnknownCampaign,
    campaign_ids,
    campaign_results,
    planned_calls,
    stored_campaign,
)
from web.console import Ctx, download, route
from web.roles import Cap

STATUS_FR = {None: "non saisi", "in_progress": "brouillon", "complete": "saisi"}


def _campaign(ctx: Ctx, cid: str):  # type: ignore[no-untyped-def]
    try:
        return stored_campaign(ctx.store, cid, ctx.config)[0]
    except UnknownCampaign:
        raise HTTPException(404) from None


@route("/mystere", Cap.CAMPAIGNS)
def campaigns(ctx: Ctx) -> Response:
    found = []
    for cid in campaign_ids(ctx.store):
        campaign = _campaign(ctx, cid)
        results = campaign_results(ctx.store, cid)
        found.append({"campaign": campaign, "planned": len(planned_calls(ctx.store, cid)),
                      "scored": sum(r.role == "primary" and r.status == "complete" for r in results)})
    return ctx.render("mystery_campaigns.html", campaigns=found)


def _week(local_start: str) -> str:
    day = dt.date.fromisoformat(local_start[:10])
    return (day - dt.timedelta(days=day.weekday())).isoformat()


@route("/mystere/campagne/{cid}", Cap.CAMPAIGNS)
def plan(ctx: Ctx) -> Response:
    cid = ctx.request.path_params["cid"]
    campaign = _campaign(ctx, cid)
    results = {(r.call_id, r.role): r for r in campaign_results(ctx.store, cid)}
    chosen = {k: ctx.query(k) for k in ("site", "semaine", "appelant")}
    rows = []
    for p in planned_calls(ctx.store, cid):
        week = _week(p.local_start)
        if ((chosen["site"] and p.site != chosen["site"]) or (chosen["semaine"] and week != chosen["semaine"])
                or (chosen["appelant"] and p.caller != chosen["appelant"])):
            continue
        first, second = results.get((p.call_id, "primary")), results.get((p.call_id, "second"))
        rows.append({"p": p, "week": week, "scenario": campaign.scenario(p.scenario).title,
                     "first": STATUS_FR[first.status if first else None],
                     "second": STATUS_FR[second.status if second else None] if p.double_scored else ""})
    weeks = sorted({_week(p.local_start) for p in planned_calls(ctx.store, cid)})
    names = {s.id: s.name for s in ctx.config.sites}
    return ctx.render("mystery_plan.html", campaign=campaign, rows=rows, chosen=chosen, weeks=weeks,
                      names=names, callers=campaign.callers)


@route("/mystere/campagne/{cid}/rapport", Cap.CAMPAIGNS)
def report(ctx: Ctx) -> Response:
    from mystery.analysis import analyse, overall
    from mystery.captured import match_campaign

    cid = ctx.request.path_params["cid"]
    _campaign(ctx, cid)
    match_campaign(ctx.store, ctx.config, cid)
    a = analyse(ctx.store, ctx.config, cid)
    labels = {c.id: c.label for c in a.campaign.criteria}
    return ctx.render("mystery_report.html", a=a, o=overall(a), labels=labels,
                      sites=a.sites.to_dict("records"), criteria=a.criteria.to_dict("records"),
                      pickup=a.pickup.to_dict("records"))


@route("/mystere/campagne/{cid}/rapport.{fmt:str}", Cap.CAMPAIGNS, download=True)
def report_file(ctx: Ctx) -> Response:
    from mystery.analysis import analyse
    from mystery.captured import match_campaign
    from mystery.report_pdf import write_report_pdf
    from mystery.report_xlsx import write_report_xlsx

    cid, fmt = ctx.request.path_params["cid"], ctx.request.path_params["fmt"]
    if fmt not in ("pdf", "xlsx"):
        raise HTTPException(404)
    _campaign(ctx, cid)
    match_campaign(ctx.store, ctx.config, cid)
    a = analyse(ctx.store, ctx.config, cid)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"rapport-{cid}.{fmt}"
        (write_report_pdf if fmt == "pdf" else write_report_xlsx)(a, path)
        data = path.read_bytes()
    media = "application/pdf" if fmt == "pdf" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(data, path.name, media)
