"""A mystery caller's calls (script, number) and the scoring form of one call.

A caller sees and scores only the calls planned for their campaign caller id; the quality team
and the admin may score any call, and score a double-scored call a second time (role "second").
After a complete saving the page shows the PBX-measured time to answer (the captured call,
matched as `qualiphone mystery match` does) beside the caller's own stopwatch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.responses import Response

from monitor.timeutil import local_to_epoch, zone
from mystery.captured import match_campaign
from mystery.exports import format_number, french_date
from mystery.form import answer_text
from mystery.models import mystery_campaigns, mystery_planned_calls
from mystery.repository import Result, find_result, planned_call, stored_campaign, write_result
from mystery.scoring import OUTCOME_LABELS, Outcome, score_call
from web.console import Ctx, redirect, route
from web.roles import Cap, Role
from web.scoring_form import FormInput, read_form, result_input

ROLES_FR = {"primary": "première notation", "second": "seconde notation (double notation)"}


@route("/mystere/mes-appels", Cap.SCORE)
def my_calls(ctx: Ctx) -> Response:
    if ctx.user.role is not Role.CALLER:
        return redirect("/mystere")
    query = (sa.select(mystery_planned_calls, mystery_campaigns.c.name.label("campaign_name"))
             .join(mystery_campaigns)
             .where(mystery_planned_calls.c.caller == ctx.user.caller)
             .order_by(mystery_planned_calls.c.start_utc))
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(query).all()
        results = {r.call_id: find_result(conn, r.call_id, "primary") for r in rows}
    campaigns: dict[str, Any] = {}
    calls = []
    for row in rows:
        if row.campaign_id not in campaigns:
            campaigns[row.campaign_id] = stored_campaign(ctx.store, row.campaign_id, ctx.config)[0]
        scenario = campaigns[row.campaign_id].scenario(row.scenario)
        start = dt.datetime.strptime(row.local_start, "%Y-%m-%d %H:%M")
        calls.append({"row": row, "scenario": scenario, "day": french_date(start.date()),
                      "time": start.strftime("%H:%M"), "number": format_number(row.number),
                      "site": ctx.config.site(row.site).name, "result": results[row.call_id]})
    return ctx.render("mystery_my_calls.html", calls=calls)


def _load(ctx: Ctx, call_id: str, role: str) -> tuple[Any, Any, Result | None]:
    """The planned call, its campaign and the stored result, if this account may score it."""
    if role not in ROLES_FR:
        raise HTTPException(404)
    with ctx.store.engine.connect() as conn:
        planned = planned_call(conn, call_id)
        existing = find_result(conn, call_id, role) if planned else None
    if planned is None:
        raise HTTPException(404)
    if ctx.user.role is Role.CALLER and (planned.caller != ctx.user.caller or role != "primary"):
        raise HTTPException(404)
    campaign, _ = stored_campaign(ctx.store, planned.campaign_id, ctx.config)
    return planned, campaign, existing


def _values(planned: Any, campaign: Any, existing: Result | None, tz: Any) -> dict[str, str]:
    """The form's fields from the stored result (or the planned slot)."""
    if existing is None:
        return {"outcome": Outcome.ANSWERED.value, "attempts": "1",
                "called_at": planned.local_start, "comment": ""}
    when = dt.datetime.fromtimestamp(existing.called_at, tz).strftime("%Y-%m-%d %H:%M") \
        if existing.called_at else planned.local_start
    values = {"outcome": existing.outcome.value, "attempts": str(existing.attempts),
              "called_at": when, "comment": existing.comment}
    for c in campaign.criteria_for(planned.scenario):
        answer = existing.answers.get(c.id)
        values[f"c:{c.id}"] = answer_text(c, answer) if answer is not None else ""
    return values


def _page(ctx: Ctx, planned: Any, campaign: Any, existing: Result | None, role: str,
          form: FormInput | None = None, status: int = 200) -> Response:
    tz = zone(ctx.config.pbxs[ctx.config.site(planned.site).pbx].timezone)
    score = None
    if existing is not None and existing.status == "complete":
        score = score_call(campaign, planned.scenario, existing.outcome, existing.attempts,
                           existing.answers)
    pickup = campaign.pickup_criterion
    observed = existing.answers.get(pickup.id) if existing and pickup else None
    start = dt.datetime.strptime(planned.local_start, "%Y-%m-%d %H:%M")
    return ctx.render(
        "mystery_form.html", status, planned=planned, campaign=campaign, role=role,
        roles=ROLES_FR, scenario=campaign.scenario(planned.scenario),
        criteria=campaign.criteria_for(planned.scenario), outcomes=OUTCOME_LABELS,
        values=form.values if form else _values(planned, campaign, existing, tz),
        errors=form.errors if form else {}, existing=existing, score=score,
        observed=observed.value if observed is not None else None,
        site=ctx.config.site(planned.site), number=format_number(planned.number),
        day=french_date(start.date()), saved=ctx.query("enregistre"))


@route("/mystere/appel/{call_id}", Cap.SCORE, methods=("GET", "POST"))
def score(ctx: Ctx) -> Response:
    call_id = ctx.request.path_params["call_id"]
    role = ctx.query("role", "primary")
    planned, campaign, existing = _load(ctx, call_id, role)
    if ctx.form is None:
        return _page(ctx, planned, campaign, existing, role)
    final = ctx.field("save") == "valider"
    tz = zone(ctx.config.pbxs[ctx.config.site(planned.site).pbx].timezone)
    form = read_form(ctx.field, campaign, planned.scenario, lambda t: local_to_epoch(t, tz), final)
    if not form.ok:
        return _page(ctx, planned, campaign, existing, role, form, 400)
    item = result_input(form, call_id, role, ctx.user.name, final)
    with ctx.store.engine.begin() as conn:
        write_result(conn, item)
    if final:
        match_campaign(ctx.store, ctx.config, planned.campaign_id)  # the PBX's time to answer, if captured
    ctx.audit("score_saved", f"call:{call_id}", role=role, status=item.status,
              outcome=item.outcome.value, answers=len(item.answers))
    return redirect(f"/mystere/appel/{call_id}?role={role}&enregistre={'1' if final else 'brouillon'}")
