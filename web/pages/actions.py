"""The action follow-up table: owner, due date, status and comments, with each change's history
(from the audit log: who changed what, when). A director sees and edits their sites' actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mystery.actions import STATUS_LABELS, ActionStatus, list_actions, propose, update_action
from mystery.models import mystery_actions
from mystery.repository import UnknownCampaign
from web.accounts import audit_entries
from web.console import Ctx, redirect, route
from web.roles import Cap

FIELDS_FR = {"owner": "responsable", "due": "échéance", "status": "statut", "comment": "commentaire"}


@route("/mystere/actions", Cap.ACTIONS)
def actions(ctx: Ctx) -> Response:
    campaign = ctx.query("campagne") or None
    rows = [r for r in list_actions(ctx.store, campaign) if ctx.user.sees(r.site)]
    names = {s.id: s.name for s in ctx.config.sites}
    return ctx.render("actions.html", rows=rows, names=names, labels=STATUS_LABELS,
                      campaign=campaign or "", action_status=ActionStatus)


def _action(ctx: Ctx, action_id: int) -> Any:
    with ctx.store.engine.connect() as conn:
        row = conn.execute(sa.select(mystery_actions).where(mystery_actions.c.id == action_id)).first()
    if row is None or not ctx.user.sees(row.site):
        raise HTTPException(404)
    return row


def _shown(field: str, value: Any) -> str:
    if field == "status" and value in {s.value for s in ActionStatus}:
        return STATUS_LABELS[ActionStatus(value)]
    return str(value) if value else "—"


def _history(ctx: Ctx, action_id: int) -> list[dict[str, Any]]:
    """The console's changes of this action, newest first, in French."""
    out = []
    for entry in audit_entries(ctx.store, target=f"action:{action_id}"):
        changes = [(FIELDS_FR[k], _shown(k, v["avant"]), _shown(k, v["après"]))
                   for k, v in entry["detail"].items() if k in FIELDS_FR]
        out.append({"at": entry["at"], "actor": entry["actor"], "changes": changes})
    return out


def _page(ctx: Ctx, row: Any, status: int = 200, error: str = "") -> Response:
    history = _history(ctx, row.id)
    return ctx.render("action.html", status, row=row, labels=STATUS_LABELS, statuses=list(ActionStatus),
                      history=history, fields=FIELDS_FR, error=error,
                      site=ctx.config.site(row.site).name)


@route("/mystere/actions/{action_id:int}", Cap.ACTIONS, methods=("GET", "POST"))
def action(ctx: Ctx) -> Response:
    row = _action(ctx, ctx.request.path_params["action_id"])
    if ctx.form is None:
        return _page(ctx, row)
    due_text, status = ctx.field("due").strip(), ctx.field("status")
    try:
        due = dt.date.fromisoformat(due_text) if due_text else None
    except ValueError:
        return _page(ctx, row, 400, f"« {due_text} » n'est pas une date AAAA-MM-JJ.")
    if status not in {s.value for s in ActionStatus}:
        return _page(ctx, row, 400, "Statut inconnu.")
    owner, comment = ctx.field("owner").strip()[:100], ctx.field("comment").strip()[:2000]
    changes = {k: [getattr(row, k), v] for k, v in
               (("owner", owner), ("due", due.isoformat() if due else row.due), ("status", status))
               if getattr(row, k) != v}
    if comment:
        changes["comment"] = ["", comment]
    if not changes:
        return redirect(f"/mystere/actions/{row.id}")
    update_action(ctx.store, row.id, owner=owner, due=due, status=ActionStatus(status),
                  comment=comment or None)
    ctx.audit("action_updated", f"action:{row.id}", site=row.site, **{
        k: {"avant": before, "après": after} for k, (before, after) in changes.items()})
    return redirect(f"/mystere/actions/{row.id}")


@route("/mystere/actions/proposer", Cap.CAMPAIGNS, methods=("POST",))
def propose_actions(ctx: Ctx) -> Response:
    from mystery.analysis import analyse

    cid = ctx.field("campaign")
    try:
        a = analyse(ctx.store, ctx.config, cid)
    except UnknownCampaign:
        raise HTTPException(404) from None
    added, kept = propose(ctx.store, a.campaign, a.calls)
    ctx.audit("actions_proposed", f"campaign:{cid}", added=added, kept=kept)
    return redirect(f"/mystere/actions?campagne={cid}")
