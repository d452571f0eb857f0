"""The live view's data: the wallboard's own snapshot (monitor.wallboard.board), per scope.

A `Wallboard` is built per set of visible sites (all sites, or one director's or supervisor's
sites), so a site-scoped account never receives another site's row, and its city line adds up
only its own sites, from the same core as `stats`. Its feeds are what rings now:

* `RemoteFeed`: a `qualiphone listen --wallboard` running beside the console, read from its
  `/state.json` once a second (the listener writes its finished calls to the store within a
  second; the figures come from the store);
* none: the store's figures only (nothing shown as ringing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from config import Config
from monitor.wallboard.auth import TOKEN_ENV
from monitor.wallboard.board import Wallboard

log = logging.getLogger(__name__)
REFRESH = 1.0  # seconds between figure refreshes of a board that is being watched


@dataclass
class SiteNow:
    ringing: int = 0
    longest_ring: float = 0.0
    waiting: int = 0


@dataclass
class RemoteLive:
    """What the remote listener's last snapshot said is happening now."""

    rows: dict[str, SiteNow] = field(default_factory=dict)
    connected: dict[str, bool] = field(default_factory=dict)

    def by_site(self, now: float, sites: list[str] | None = None) -> dict[str, Any]:
        return {k: v for k, v in self.rows.items() if sites is None or k in sites}


class RemoteFeed:
    """A wallboard Feed (monitor.wallboard.board.Feed) read from a listener's wallboard over HTTP."""

    def __init__(self, url: str, index: int, poller: _Poller) -> None:
        self.url, self._index, self._poller = url, index, poller

    @classmethod
    def for_url(cls, url: str) -> list[RemoteFeed]:
        poller = _Poller(url.rstrip("/"))
        poller.fetch()  # names the PBXs (a listener not up yet: one feed, named once it is)
        return [cls(url, i, poller) for i in range(max(1, len(poller.pbxs)))]

    @property
    def pbx(self) -> str:
        names = self._poller.pbxs
        return names[self._index] if self._index < len(names) else "?"

    @property
    def live(self) -> RemoteLive:
        return self._poller.live

    @property
    def agents(self) -> dict[str, tuple[int, int]]:
        return self._poller.agents

    def unwritten(self) -> list[Any]:
        return []

    def pbx_now(self) -> float:
        return self._poller.now + (time.time() - self._poller.fetched)

    def task(self) -> asyncio.Task[None] | None:
        return self._poller.task()


class _Poller:
    """Fetches `/state.json` (with the wallboard token, when set) once a second."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.live = RemoteLive()
        self.agents: dict[str, tuple[int, int]] = {}
        self.pbxs: list[str] = []
        self.now, self.fetched = time.time(), time.time()
        self._task: asyncio.Task[None] | None = None

    def fetch(self) -> None:
        request = urllib.request.Request(f"{self.url}/state.json")
        token = os.environ.get(TOKEN_ENV, "").strip()
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=2.0) as response:
                self._apply(json.loads(response.read()))
        except (OSError, ValueError) as exc:
            self.live.connected = dict.fromkeys(self.pbxs or ["?"], False)
            log.debug("live: %s unreachable: %s", self.url, exc)

    def _apply(self, state: dict[str, Any]) -> None:
        self.now, self.fetched = float(state["now"]), time.time()
        self.pbxs = [p["name"] for p in state.get("pbx", [])]
        self.live.connected = {p["name"]: bool(p["connected"]) for p in state.get("pbx", [])}
        self.live.rows = {r["id"]: SiteNow(int(r["ringing"]), float(r["longest_ring"]),
                                           int(r["waiting"])) for r in state.get("sites", [])}
        self.agents = {r["id"]: (int(r["agents_logged"]), int(r["agents_free"]))
                       for r in state.get("sites", []) if r.get("agents_logged") is not None}

    def task(self) -> asyncio.Task[None] | None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            return self._task
        return None

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self.fetch)
            await asyncio.sleep(REFRESH)


class LiveBoards:
    """One wallboard per scope (tuple of sites), refreshed while someone watches it."""

    def __init__(self, config: Config, engine: sa.Engine, feeds: Sequence[Any]) -> None:
        self.config, self.engine, self.feeds = config, engine, list(feeds)
        self._boards: dict[tuple[str, ...], Wallboard] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    def start(self) -> list[asyncio.Task[None]]:
        """Background tasks of the feeds (remote pollers)."""
        tasks = [getattr(f, "task", lambda: None)() for f in self.feeds]
        return [t for t in tasks if t is not None]

    def board(self, sites: Sequence[str]) -> Wallboard:
        key = tuple(sites)
        if key not in self._boards:
            board = Wallboard(self.config, self.engine, self.feeds)
            board.sites = [s for s in board.sites if s.id in key] or \
                [s for s in self.config.sites if s.id in key]
            board.site_ids = [s.id for s in board.sites]
            self._boards[key] = board
        return self._boards[key]

    async def snapshot(self, sites: Sequence[str]) -> dict[str, Any]:
        """The wallboard's snapshot of these sites, its figures at most REFRESH seconds old."""
        board = self.board(sites)
        lock = self._locks.setdefault(tuple(sites), asyncio.Lock())
        async with lock:
            if board.figures_at is None or time.time() - board.figures_at >= REFRESH:
                with contextlib.suppress(Exception):
                    await board.refresh()
        return board.snapshot()
