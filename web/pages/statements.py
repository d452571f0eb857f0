"""Statements and syntheses: listed per month, downloaded, generated on demand (quality, admin).

Generation calls the reports package's entry point (`reports.build.build_reports`, as
`qualiphone report monthly` does) and writes into the console's reports directory.
"""

from __future__ import annotations

import datetime as dt
import itertools

from starlette.exceptions import HTTPException
from starlette.responses import Response

from web.console import Ctx, redirect, route
from web.roles import Cap
from web.statements import KIND_FR, MEDIA, TRACKING, documents, find, valid_month


@route("/releves", Cap.STATEMENTS)
def statements(ctx: Ctx, status: int = 200, error: str = "", done: str = "") -> Response:
    docs = documents(ctx.console.reports_dir, ctx.config, ctx.user)
    groups = [(period, list(items)) for period, items in itertools.groupby(docs, lambda d: d.period)]
    names = {s.id: s.name for s in ctx.config.sites}
    sites = [s for s in ctx.config.sites if ctx.user.sees(s.id)]
    return ctx.render("statements.html", status, groups=groups, names=names, kinds=KIND_FR,
                      sites=sites, error=error, done=done or ctx.query("fait"),
                      month=(dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m"))


@route("/releves/fichier/{name}", Cap.STATEMENTS, download=True)
def statement_file(ctx: Ctx) -> Response:
    name = ctx.request.path_params["name"]
    doc = find(ctx.console.reports_dir, ctx.config, ctx.user, name)
    if doc is None:
        raise HTTPException(404)
    ctx.audit("statement_downloaded", f"file:{name}")
    disposition = "inline" if doc.fmt in ("pdf", "html") else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{doc.name}"'}
    if doc.fmt == "html":  # the statement's own styles; it runs no script
        headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                              "img-src data:; font-src data:")
    return Response(doc.path.read_bytes(), media_type=MEDIA[doc.fmt], headers=headers)


@route("/releves/generer", Cap.GENERATE, methods=("POST",))
def generate(ctx: Ctx) -> Response:
    from reports.build import FORMATS, build_reports
    from reports.data import Period

    month, site = ctx.field("month").strip(), ctx.field("site")
    if not valid_month(month):
        return statements(ctx, 400, error=f"« {month} » n'est pas un mois AAAA-MM.")
    if site and site not in ctx.config.site_ids:
        raise HTTPException(404)
    out = ctx.console.reports_dir
    tracking = out / TRACKING
    output = build_reports(
        ctx.store.engine, ctx.config, Period.month(month), sites=(site,) if site else (),
        formats=FORMATS, with_synthesis=not site, target_rate=ctx.config.targets.pickup_rate_goal,
        tracking=tracking.read_bytes() if tracking.exists() else None, workers=1,
        generated=dt.datetime.now().replace(microsecond=0))
    out.mkdir(parents=True, exist_ok=True)
    for name, data in output.files.items():
        (out / name).write_bytes(data)
    ctx.audit("statements_generated", f"month:{month}", site=site or "all", files=len(output.files))
    return redirect(f"/releves?fait={month}")
