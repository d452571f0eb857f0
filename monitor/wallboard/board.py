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
from monitor.french import long_date
from monitor.wallboard.figures import Figures, figures, load_today

log = logging.getLogger(__name__)
WARN_SECONDS = 15.0  # the longest ring turns orange from here, red from the threshold on
MIN_N = 10  # a rate on fewer calls is shown muted: too few calls to judge a site by


class SiteNowLike(Protocol):
    ringing: int
    longest_ring: float
    waiting: int


class LiveCallLike(Protocol):
    pbx: str
    call_key: str
    site: str | None
    unclassified: bool


class LiveLike(Protocol):
    connected: dict[str, bool]
    calls: dict[tuple[str, str], Any]  # (pbx, call key) -> a LiveCallLike

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


def french_date(day: dt.date) -> str:
    """"lundi 5 octobre 2026"."""
    return long_date(day)


def short_name(name: str) -> str:
    """A site's name without the "EPS " every name starts with (the page's title says it)."""
    return name[4:] if name.startswith("EPS ") and len(name) > 4 else name


def rate_marks(value: float | None, n: int, goal: float, min_n: int = MIN_N) -> tuple[bool, bool]:
    """(below the goal, too few calls to judge): how a rate is marked on the board and in top."""
    return value is not None and value < goal, n < min_n


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
        self.goal = config.targets.pickup_rate_goal
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
        live, agents = self._live()
        pending = self._unclassified_now()
        f = self.figures
        rows = [self._row(s.id, s.name, live.get(s.id), agents.get(s.id),
                          f.sites.get(s.id) if f else None, f.hour_sites.get(s.id) if f else None,
                          pending.get(s.id, 0))
                for s in self.sites]
        day = f.day if f else dt.datetime.fromtimestamp(now, self.tz).date()
        return {
            "now": now, "generated": time.time(),
            "clock": dt.datetime.fromtimestamp(now, self.tz).strftime("%H:%M:%S"),
            "date": day.isoformat(), "date_text": french_date(day),
            "threshold": self.threshold, "warn": WARN_SECONDS,
            "goal": self.goal, "min_n": MIN_N,
            "pbx": [{"name": feed.pbx, "connected": bool(feed.live.connected.get(feed.pbx))}
                    for feed in self.feeds],
            "figures_age": None if self.figures_at is None else time.time() - self.figures_at,
            "city": self._city(rows, f),
            "sites": rows,
        }

    def _live(self) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
        """Per site: what rings now (SiteNow) and the agents (logged in, free)."""
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
        return live, agents

    def _unclassified_now(self) -> dict[str, int]:
        """Per site: calls in progress connected to a device the directory does not know (they
        ring no more, and are no abandon)."""
        seen: set[tuple[str, str]] = set()
        out: dict[str, int] = {}
        shown = set(self.site_ids)
        for feed in self.feeds:
            for key, call in feed.live.calls.items():
                if call.unclassified and call.site in shown and key not in seen:
                    seen.add(key)
                    out[call.site] = out.get(call.site, 0) + 1
        return out

    def _row(self, site: str, name: str, now: Any, agents: tuple[int, int] | None,
             today: dict[str, Any] | None, hour: dict[str, Any] | None,
             unclassified_now: int = 0) -> dict[str, Any]:
        ringing = int(now.ringing) if now is not None else 0
        longest = float(now.longest_ring) if now is not None else 0.0
        rate, n = _rate(today)
        hour_rate, hour_n = _rate(hour)
        below, few = rate_marks(rate, n, self.goal)
        hour_below, hour_few = rate_marks(hour_rate, hour_n, self.goal)

        def count(key: str) -> int:
            return int(today[key]) if today else 0

        return {
            "id": site, "name": name, "short_name": short_name(name),
            "ringing": ringing, "longest_ring": round(longest, 1),
            "level": ring_level(longest, ringing, self.threshold),
            "waiting": int(now.waiting) if now is not None else 0,
            "offered": count("offered"), "answered": count("answered"),
            "answered_within": count("answered_within"), "abandoned": count("abandoned"),
            "short_abandons": count("short_abandons"),
            "unknown_device": count("unknown_device"), "machine": count("machine"),
            "unclassified": count("unclassified"), "unclassified_now": unclassified_now,
            "directory_incomplete": bool(count("unclassified") or unclassified_now),
            "pickup_rate": rate, "pickup_n": n, "pickup_below": below, "pickup_few": few,
            "hour_pickup_rate": hour_rate, "hour_n": hour_n, "hour_below": hour_below,
            "hour_few": hour_few,
            "agents_logged": agents[0] if agents else None,
            "agents_free": agents[1] if agents else None,
        }

    def _city(self, rows: list[dict[str, Any]], f: Figures | None) -> dict[str, Any]:
        longest = max((r["longest_ring"] for r in rows if r["ringing"]), default=0.0)
        ringing = sum(r["ringing"] for r in rows)
        known = [r for r in rows if r["agents_logged"] is not None]
        pending = sum(r["unclassified_now"] for r in rows)
        city = self._row("all", "Paris", None, None, f.city if f else None,
                         f.hour_city if f else None, pending)
        city.update({
            "name": f"Paris — {len(rows)} EPS", "short_name": f"Les {len(rows)} EPS",
            "ringing": ringing, "longest_ring": longest,
            "level": ring_level(longest, ringing, self.threshold),
            "waiting": sum(r["waiting"] for r in rows),
            "agents_logged": sum(r["agents_logged"] for r in known) if known else None,
            "agents_free": sum(r["agents_free"] for r in known) if known else None,
        })
        return city
