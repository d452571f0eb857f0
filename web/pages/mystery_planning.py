"""Planning a mystery campaign from the console (what `qualiphone mystery plan` does): the
campaign files of the configuration, a plan drawn and shown with its balance before it is
stored, then the plan's files (call sheets, calendars, CSV) as one ZIP."""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

from config import ConfigError
from monitor.french import WEEKDAYS
from mystery.balance import balance
from mystery.campaign import MAX_SEED, campaign_names, configured_campaign, load_campaign
from mystery.campaign_model import Campaign
from mystery.planner import Plan, PlanningError, plan_campaign
from mystery.repository import PlanExists, UnknownCampaign, campaign_ids, stored_plan
from web.console import Ctx, download, redirect, route
from web.roles import Cap


def _name(ctx: Ctx) -> str:
    """The campaign file named in the path: one the configuration lists, nothing else (a path
    never reaches find_campaign from here)."""
    name = ctx.request.path_params["name"]
    if name not in campaign_names(ctx.config):
        raise HTTPException(404)
    return str(name)


def _seed(text: str, default: int) -> int:
    try:
        seed = int(text) if text.strip() else default
    except ValueError:
        raise HTTPException(400, "graine : un nombre entier") from None
    if not 0 <= seed <= MAX_SEED:
        raise HTTPException(400, f"graine : un nombre entier de 0 à {MAX_SEED}")
    return seed


def digest(campaign: Campaign) -> str:
    """A short fingerprint of the campaign file as read (what the preview was drawn from)."""
    return hashlib.sha256(campaign.source.encode()).hexdigest()[:16]


@route("/mystere/planifier", Cap.CAMPAIGNS)
def campaign_files(ctx: Ctx) -> Response:
    planned = set(campaign_ids(ctx.store))
    files: list[dict[str, Any]] = []
    for name in campaign_names(ctx.config):
        try:
            campaign = load_campaign(configured_campaign(name, ctx.config), ctx.config)
        except ConfigError as exc:
            files.append({"name": name, "error": str(exc), "campaign": None, "planned": False})
            continue
        files.append({"name": name, "error": "", "campaign": campaign,
                      "planned": campaign.id in planned})
    return ctx.render("mystery_planning.html", files=files)


def _preview(ctx: Ctx, name: str, seed_text: str, error: str = "",
             status: int = 200) -> Response:
    page: dict[str, Any] = {"name": name, "campaign": None, "plan": None, "problem": "",
                            "error": error, "rows": None, "seed": 0, "planned": False,
                            "digest": ""}
    try:
        page["campaign"] = campaign = load_campaign(configured_campaign(name, ctx.config), ctx.config)
        page["seed"] = seed = _seed(seed_text, campaign.year)
        page["plan"] = plan = plan_campaign(campaign, ctx.config, seed)
    except (ConfigError, PlanningError) as exc:
        return ctx.render("mystery_preview.html", **page | {"problem": str(exc)}, status=422)
    page.update(rows=_balance_rows(plan, ctx), planned=campaign.id in campaign_ids(ctx.store),
                digest=digest(campaign))
    return ctx.render("mystery_preview.html", **page, status=status)


def _balance_rows(plan: Plan, ctx: Ctx) -> dict[str, Any]:
    """The plan's balance in French: per site, weekday (with its target), band, caller, week."""
    b = balance(plan, ctx.config)
    c = plan.campaign
    names = {s.id: s.name for s in ctx.config.sites}
    weeks: dict[str, int] = {}
    for call in sorted(plan.calls, key=lambda x: x.epoch):
        key = call.start.strftime("%G-S%V")
        weeks[key] = weeks.get(key, 0) + 1
    return {
        "sites": [(names.get(s, s), b.per_site[s]) for s in c.sites],
        "weekdays": [(WEEKDAYS[d], b.per_weekday[d], t) for d, t in b.weekday_target.items()],
        "bands": [(band.label, b.per_band[band.id], b.band_target.get(band.id, 0.0))
                  for band in c.bands],
        "callers": [(k.name, b.per_caller[k.id]) for k in c.callers],
        "weeks": list(weeks.items()),
        "gap_hours": None if b.min_site_gap_minutes is None else b.min_site_gap_minutes / 60,
        "deviation": b.max_deviation,
        "double": sum(x.double for x in plan.calls),
        "moved": len(plan.moved),
    }


@route("/mystere/planifier/{name}", Cap.CAMPAIGNS, methods=("GET", "POST"))
def plan_preview(ctx: Ctx) -> Response:
    """GET: a plan drawn with the seed asked (default: the campaign's year), not stored.
    POST: the same plan (same file, checked by its fingerprint, same seed) stored; refused
    when the campaign has one."""
    from mystery.repository import save_plan

    name = _name(ctx)
    if ctx.request.method == "GET":
        return _preview(ctx, name, ctx.query("graine"))
    try:  # the file may have changed since the preview: it is shown again, with the problem
        campaign = load_campaign(configured_campaign(name, ctx.config), ctx.config)
        seed = _seed(ctx.field("graine"), campaign.year)
        plan = plan_campaign(campaign, ctx.config, seed)
    except (ConfigError, PlanningError):
        return _preview(ctx, name, ctx.field("graine"))
    if ctx.field("empreinte") != digest(campaign):  # the file changed since the preview
        return _preview(ctx, name, str(seed), "Le fichier de campagne a changé depuis l'aperçu : "
                        "voici le plan tiré du fichier actuel ; rien n'a été enregistré.",
                        status=409)
    try:
        save_plan(ctx.store, plan, ctx.config)
    except PlanExists:
        return _preview(ctx, name, str(seed), "Cette campagne a déjà un plan enregistré : il "
                        "n'est pas remplacé depuis la console.", status=409)
    ctx.audit("campaign_planned", f"campaign:{campaign.id}", graine=seed, appels=len(plan.calls))
    return redirect(f"/mystere/campagne/{campaign.id}")


@route("/mystere/campagne/{cid}/fichiers.zip", Cap.CAMPAIGNS, download=True)
def plan_files(ctx: Ctx) -> Response:
    """The stored plan's files, written now: call sheets, calendars, plan and results CSV."""
    from mystery.exports import write_plan_files

    cid = ctx.request.path_params["cid"]
    try:
        plan = stored_plan(ctx.store, ctx.config, cid)
    except UnknownCampaign:
        raise HTTPException(404) from None
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_plan_files(plan, ctx.config, Path(tmp), time.time())
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.name)
    return download(buffer.getvalue(), f"plan-{cid}.zip", "application/zip")
