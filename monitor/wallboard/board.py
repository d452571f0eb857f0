"""One wallboard snapshot: what rings now (the listener's live state) and today's figures.

A `Feed` is what one PBX's listener offers (ingest.ami.listener.Listener is one; this module
imports nothing from ingest): its LiveState, the calls finished but not yet stored, the agents
QueueStatus reported per site and the PBX's clock. `Wallboard.refresh()` recomputes the figures
from the store (in a worker thread, once a second by default); `snapshot()` assembles the JSON
the page, the SSE stream and `qualiphone top` show, in the event loop that owns the live state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from config import Config, Site
from monitor.call import Call
from monitor.wallboard.figures import Figures, figures, load_today

log = logging.getLogger(__name__)
WARN_SECONDS = 15.0  # the longest ring turns orange from here, red from the threshold on


class SiteNowLike(Protocol):
    ringing: int
    longest_ring: float
    waiting: int


class LiveLike(Protocol):
    connected: dict[str, bool]

    def by_site(self, now: float, sites: list[str] | None = None) -> dict[str, Any]: ...


class Feed(Protocol):
    pbx: str
    live: LiveLike
    agents: dict[str, tuple[int, int]]

    def unwritten(self) -> list[Call]: ...

    def pbx_now(self) -> float: ...


def ring_level(seconds: float, ringing: int, threshold: float, warn: float = WARN_SECONDS) -> str:
    """"none" (nothing rings), "ok", "warn" (orange, from 15 s) or "late" (red, from 25 s)."""
    if not ringing:
        return "none"
    return "late" if seconds >= threshold else "warn" if seconds >= warn else "ok"


def _rate(record: dict[str, Any] | None) -> tuple[float | None, int]:
    if record is None:
        return None, 0
    rate = record["pickup_rate"]
    return rate["value"], rate["n"]


class Wallboard:
    """The state behind the page: sites shown, feeds, the last figures computed."""

    def __init__(self, config: Config, engine: sa.Engine, feeds: Sequence[Feed], *,
                 interval: float = 1.0, now: Callable[[], float] | None = None) -> None:
        pbxs = {f.pbx for f in feeds}
        self.config, self.engine, self.feeds = config, engine, list(feeds)
        self.sites: list[Site] = [s for s in config.sites if s.pbx in pbxs] or list(config.sites)
        self.site_ids = [s.id for s in self.sites]
        self.tz = config.pbxs[self.sites[0].pbx].tz if self.sites else ZoneInfo("UTC")
        self.threshold = config.targets.threshold_seconds
        self.interval = interval
        self._now = now
        self.figures: Figures | None = None
        self.figures_at: float | None = None  # wall time of the last successful refresh
        self.errors = 0

    def now(self) -> float:
        """PBX time now (the clocks of the feeds; ours without feeds)."""
        if self._now is not None:
            return self._now()
        return max((f.pbx_now() for f in self.feeds), default=time.time())

    async def refresh(self) -> None:
        """Today's figures from the store and the calls finished since (worker thread)."""
        now = self.now()
        day = dt.datetime.fromtimestamp(now, self.tz).date()
        unwritten = [c for f in self.feeds for c in f.unwritten()]
        targets = self.config.targets
        try:
            arrays = await asyncio.to_thread(load_today, self.engine, day, self.site_ids,
                                             unwritten, targets.clock_start)
            self.figures = figures(arrays, day, now, self.site_ids, self.tz,
                                   self.threshold, targets.ring_period_seconds)
            self.figures_at = time.time()
        except Exception:
            self.errors += 1
            log.exception("wallboard: could not read today's figures from the store")

    async def run(self) -> None:
        """Refresh the figures every `interval` seconds until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    # ---- the snapshot -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        live: dict[str, Any] = {}
        agents: dict[str, tuple[int, int]] = {}
        fed = {f.pbx for f in self.feeds}
        for feed in self.feeds:
            # Feeds may share one LiveState: a site's calls are read (and timed) only through
            # the feed of its own PBX, on that PBX's clock.
            mine = [s.id for s in self.sites if s.pbx == feed.pbx or s.pbx not in fed]
            for site, row in feed.live.by_site(feed.pbx_now(), mine).items():
                if site in mine and (site not in live or row.ringing):
                    live[site] = row
            agents.update(feed.agents)
        f = self.figures
        rows = [self._row(s.id, s.name, live.get(s.id), agents.get(s.id),
                          f.sites.get(s.id) if f else None, f.hour_sites.get(s.id) if f else None)
                for s in self.sites]
        return {
            "now": now, "generated": time.time(),
            "clock": dt.datetime.fromtimestamp(now, self.tz).strftime("%H:%M:%S"),
            "date": (f.day if f else dt.datetime.fromtimestamp(now, self.tz).date()).isoformat(),
            "threshold": self.threshold, "warn": WARN_SECONDS,
            "pbx": [{"name": feed.pbx, "connected": bool(feed.live.connected.get(feed.pbx))}
                    for feed in self.feeds],
            "figures_age": None if self.figures_at is None else time.time() - self.figures_at,
            "city": self._city(rows, f),
            "sites": rows,
        }

    def _row(self, site: str, name: str, now: Any, agents: tuple[int, int] | None,
             today: dict[str, Any] | None, hour: dict[str, Any] | None) -> dict[str, Any]:
        ringing = int(now.ringing) if now is not None else 0
        longest = float(now.longest_ring) if now is not None else 0.0
        rate, n = _rate(today)
        hour_rate, hour_n = _rate(hour)
        return {
            "id": site, "name": name, "ringing": ringing, "longest_ring": round(longest, 1),
            "level": ring_level(longest, ringing, self.threshold),
            "waiting": int(now.waiting) if now is not None else 0,
            "offered": today["offered"] if today else 0,
            "answered": today["answered"] if today else 0,
            "answered_within": today["answered_within"] if today else 0,
            "abandoned": today["abandoned"] if today else 0,
            "short_abandons": today["short_abandons"] if today else 0,
            "pickup_rate": rate, "pickup_n": n, "hour_pickup_rate": hour_rate, "hour_n": hour_n,
            "agents_logged": agents[0] if agents else None,
            "agents_free": agents[1] if agents else None,
        }

    def _city(self, rows: list[dict[str, Any]], f: Figures | None) -> dict[str, Any]:
        longest = max((r["longest_ring"] for r in rows if r["ringing"]), default=0.0)
        ringing = sum(r["ringing"] for r in rows)
        known = [r for r in rows if r["agents_logged"] is not None]
        city = self._row("all", "Paris", None, None, f.city if f else None,
                         f.hour_city if f else None)
        city.update({
            "name": f"Paris — {len(rows)} EPS", "ringing": ringing, "longest_ring": longest,
            "level": ring_level(longest, ringing, self.threshold),
            "waiting": sum(r["waiting"] for r in rows),
            "agents_logged": sum(r["agents_logged"] for r in known) if known else None,
            "agents_free": sum(r["agents_free"] for r in known) if known else None,
        })
        return city
