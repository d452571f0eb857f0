"""The stats explorer: a period, a site or all, a grouping; charts; CSV, XLSX and JSON downloads.

A site-scoped account chooses among its own sites ("all" is all of its sites); asking for
another site by URL is a 404, as for a site that does not exist.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.responses import Response

from monitor.store.models import calls
from web.charts import heatmap, rate_chart, ring_histogram
from web.console import Ctx, download, route
from web.downloads import columns_table, csv_bytes, xlsx_bytes
from web.figures import GROUPINGS, Exploration, ExploreError, explore
from web.roles import Cap

PERIOD_FR = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "jeu", "fri": "ven", "sat": "sam",
             "sun": "dim"}


def _latest_month(ctx: Ctx, sites: list[str]) -> tuple[dt.date, dt.date]:
    """The month of the latest stored call of these sites (this month when there is none)."""
    with ctx.store.engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(calls.c.local_date))
                              .where(calls.c.site.in_(sites))).scalar()
    day = dt.date.fromisoformat(latest) if latest else dt.date.today()
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _date(text: str, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ExploreError(f"« {text} » n'est pas une date AAAA-MM-JJ.") from None


def _params(ctx: Ctx) -> dict[str, Any]:
    visible = ctx.user.visible(ctx.config.site_ids)
    site = ctx.query("site")
    if site:
        ctx.require_site(site)
    sites = [site] if site else visible
    first, last = _latest_month(ctx, visible)
    return {"site": site, "sites": sites, "by": ctx.query("by", "site"),
            "start": _date(ctx.query("from"), first), "end": _date(ctx.query("to"), last),
            "in_hours": ctx.query("heures", "ouverture") != "toutes"}


def _explore(ctx: Ctx, p: dict[str, Any]) -> Exploration:
    return explore(ctx.store.engine, ctx.config, p["start"], p["end"], p["sites"], p["by"],
                   p["in_hours"])


def period_label(by: str, label: str) -> str:
    if by == "weekday-hour":
        day, _, hour = label.partition(" ")
        return f"{PERIOD_FR.get(day, day)} {hour} h"
    if by == "hour":
        return f"{label} h"
    return label.replace("/", " → ")


@route("/stats", Cap.FIGURES)
def stats_page(ctx: Ctx) -> Response:
    error, result, charts = "", None, {}
    try:
        p = _params(ctx)
        result = _explore(ctx, p)
    except ExploreError as exc:
        error = str(exc)
        p = {"site": ctx.query("site"), "sites": [], "by": "site", "start": dt.date.today(),
             "end": dt.date.today(), "in_hours": True}
    goal = ctx.config.targets.pickup_rate_goal
    names = {s.id: s.name for s in ctx.config.sites}
    if result is not None:
        labels = ([names[r["site"]] for r in result.rates] if p["by"] == "site"
                  else [period_label(p["by"], r["period"]) for r in result.rates])
        charts = {
            "rate": rate_chart(result.rates, labels, goal, "Taux de décroché et intervalle"),
            "rings": ring_histogram(result.total, "Décrochés par sonnerie"),
            "heat": heatmap(result.heatmap, goal, "Taux de décroché par jour et heure"),
        }
    query = ctx.request.url.query
    return ctx.render("stats.html", 400 if error else 200, error=error, p=p, result=result,
                      threshold=f"{ctx.config.targets.threshold_seconds:g}",
                      records=result.records if result else [], charts=charts, goal=goal,
                      groupings=GROUPINGS, names=names, query=query, period_label=period_label,
                      sites=[s for s in ctx.config.sites if ctx.user.sees(s.id)])


def _download(ctx: Ctx) -> Exploration:
    try:
        return _explore(ctx, _params(ctx))
    except ExploreError as exc:
        raise HTTPException(400, str(exc)) from None


def _name(result: Exploration, ext: str) -> str:
    r = result.request
    scope = r.sites[0] if len(r.sites) == 1 else "sites"
    return f"indicateurs-{scope}-{r.by}-{r.start}-{r.end}.{ext}"


@route("/stats.csv", Cap.FIGURES, download=True)
def stats_csv(ctx: Ctx) -> Response:
    result = _download(ctx)
    return download(csv_bytes(*columns_table(result.columns)), _name(result, "csv"),
                    "text/csv; charset=utf-8")


@route("/stats.xlsx", Cap.FIGURES, download=True)
def stats_xlsx(ctx: Ctx) -> Response:
    result = _download(ctx)
    return download(xlsx_bytes("Indicateurs", *columns_table(result.columns)), _name(result, "xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@route("/stats.json", Cap.FIGURES, download=True)
def stats_json(ctx: Ctx) -> Response:
    """The same document as `qualiphone stats --format json` (docs/stats-json.md)."""
    result = _download(ctx)
    r = result.request
    doc = {"from": r.start.isoformat(), "to": r.end.isoformat(), "by": r.by, "sites": list(r.sites),
           "in_hours_only": r.in_hours_only, "include_tests": r.include_tests,
           "merge_sites": r.merge_sites, "threshold_seconds": r.threshold,
           "ring_period_seconds": r.ring_period, "clock_start": r.clock_start,
           "quantiles": "exact" if result.table.exact else "binned_0.1s", "cells": result.records}
    return download(json.dumps(doc, ensure_ascii=False, indent=2).encode(), _name(result, "json"),
                    "application/json")
