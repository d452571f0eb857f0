"""After-hours messages: per site the month's probes with a player for the recorded answer and
the site's reference message, the sites the passive check flags, and the alert history."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from pathlib import Path

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response

from afterhours.alerts import VERDICT_FR
from afterhours.models import afterhours_probes
from afterhours.passive import check_month
from afterhours.references import KINDS, references_dir
from afterhours.repository import alerts_between, probes_between
from afterhours.settings import load_settings
from monitor.store.models import calls
from web.console import Ctx, route
from web.roles import Cap

KIND_FR = {"closed": "message hors horaires", "closure": "message de fermeture",
           "daytime": "accueil de jour"}


def _month(ctx: Ctx, sites: list[str]) -> str:
    text = ctx.query("mois")
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return text
    with ctx.store.engine.connect() as conn:
        latest = max(filter(None, [
            conn.execute(sa.select(sa.func.max(calls.c.local_date)).where(calls.c.site.in_(sites))).scalar(),
            conn.execute(sa.select(sa.func.max(afterhours_probes.c.local_date))
                         .where(afterhours_probes.c.site.in_(sites))).scalar()]), default=None)
    return (latest or dt.date.today().isoformat())[:7]


@route("/hors-horaires", Cap.AFTERHOURS)
def afterhours(ctx: Ctx) -> Response:
    sites = ctx.user.visible(ctx.config.site_ids)
    month = _month(ctx, sites)
    year, mon = (int(p) for p in month.split("-"))
    first, last = dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])
    check = check_month(ctx.store, ctx.config, month, sites, load_settings(ctx.config).check)
    probes = probes_between(ctx.store, first, last, sites)
    by_site = {s: [p for p in reversed(probes) if p.site == s][:10] for s in sites}
    refs = {s: [k for k in KINDS if (references_dir() / s / f"{k}.wav").exists()] for s in sites}
    alerts = list(reversed(alerts_between(ctx.store, 0, time.time(), sites)))[:50]
    return ctx.render("afterhours.html", month=month, check=check, by_site=by_site, refs=refs,
                      alerts=alerts, names={s.id: s.name for s in ctx.config.sites},
                      verdicts=VERDICT_FR, kinds=KIND_FR)


def _wav(path: Path) -> Response:
    if not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, media_type="audio/wav")


@route("/hors-horaires/enregistrement/{probe_id}", Cap.AFTERHOURS, download=True)
def recording(ctx: Ctx) -> Response:
    with ctx.store.engine.connect() as conn:
        row = conn.execute(sa.select(afterhours_probes.c.site, afterhours_probes.c.recording)
                           .where(afterhours_probes.c.id == ctx.request.path_params["probe_id"])).first()
    if row is None or not row.recording or not ctx.user.sees(row.site):
        raise HTTPException(404)
    return _wav(Path(row.recording))


@route("/hors-horaires/reference/{site}/{kind}", Cap.AFTERHOURS, download=True)
def reference(ctx: Ctx) -> Response:
    site, kind = ctx.request.path_params["site"], ctx.request.path_params["kind"]
    ctx.require_site(site)
    if kind not in KINDS:
        raise HTTPException(404)
    return _wav(references_dir() / site / f"{kind}.wav")
