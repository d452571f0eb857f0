"""The live view: today's wallboard (the listener's page, same figures and colours) inside the
console, for the account's sites only, with a link to each site's history."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from monitor.wallboard.page import CSP as BOARD_CSP
from monitor.wallboard.page import page as board_page
from web.accounts import session_user
from web.console import Ctx, route
from web.roles import Cap

RECHECK_TICKS = 15  # an event stream checks every 15 s that its session still holds
# The board's own policy (its inline style and script by hash), framed by the console only.
FRAMED_CSP = "; ".join([p.strip() for p in BOARD_CSP.split(";")
                        if p.strip() and not p.strip().startswith("frame-ancestors")]
                       + ["frame-ancestors 'self'"])


def _sites(ctx: Ctx) -> list[str]:
    return ctx.user.visible(ctx.config.site_ids)


@route("/live", Cap.LIVE)
def live(ctx: Ctx) -> Response:
    today = dt.date.today()
    start = today - dt.timedelta(days=13)
    sites = [s for s in ctx.config.sites if ctx.user.sees(s.id)]
    return ctx.render("live.html", sites=sites, start=start.isoformat(), end=today.isoformat(),
                      connected=bool(ctx.console.boards.feeds))


@route("/live/tableau/", Cap.LIVE)
def board(ctx: Ctx) -> Response:
    return Response(board_page(ctx.config.targets.threshold_seconds), media_type="text/html",
                    headers={"Content-Security-Policy": FRAMED_CSP})


@route("/live/tableau/state.json", Cap.LIVE, download=True)
async def state(ctx: Ctx) -> Response:
    return JSONResponse(await ctx.console.boards.snapshot(_sites(ctx)))


@route("/live/tableau/events", Cap.LIVE, download=True)
async def events(ctx: Ctx) -> Response:
    sites, boards, store, sid = _sites(ctx), ctx.console.boards, ctx.store, ctx.sid

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        tick = 0
        while True:
            snapshot = await boards.snapshot(sites)
            yield f"data: {json.dumps(snapshot, ensure_ascii=False)}\n\n"
            await asyncio.sleep(1.0)
            tick += 1
            if tick % RECHECK_TICKS == 0 and await run_in_threadpool(session_user, store, sid) is None:
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})
