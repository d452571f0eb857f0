"""The live rules inside `qualiphone listen`: every `live.interval_seconds` the evaluator reads the
listeners' shared `LiveState` (calls ringing now, AMI connections) in the event loop that owns
it, and every `live.rates_every_seconds` the hour's and day's rates (the wallboard's figures,
read from the store in a worker thread); the dispatcher (store writes, SMTP, HTTP) runs in a
worker thread too, so the socket keeps being read. An error in a pass is logged and the next
pass runs: alerting never stops the capture.

A feed is what one listener offers (ingest.ami.listener.Listener is one; nothing is imported
from ingest): its PBX name, the shared live state, the calls finished but not yet stored, and
the PBX's clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from alerts.delivery import build_channels
from alerts.engine import Dispatcher
from alerts.model import Evaluation
from alerts.rules_live import listener_down_evaluation, long_ring_evaluation, rate_evaluation
from alerts.settings import AlertsOff, AlertsSettings, Rule, load_alerts
from config import Config
from monitor.calendar import SiteCalendar
from monitor.call import Call
from monitor.store import Store
from monitor.wallboard.figures import Figures, figures, load_today

log = logging.getLogger(__name__)


class LiveLike(Protocol):
    connected: dict[str, bool]

    def ringing(self, site: str | None = None) -> list[Any]: ...


class Feed(Protocol):
    pbx: str
    live: LiveLike

    def unwritten(self) -> list[Call]: ...

    def pbx_now(self) -> float: ...


class LiveAlerts:
    """Evaluates the enabled live rules for the sites of the feeds' PBXs."""

    def __init__(self, config: Config, store: Store, settings: AlertsSettings,
                 dispatcher: Dispatcher, feeds: Sequence[Feed],
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self.store, self.settings = config, store, settings
        self.dispatcher, self.feeds, self.clock = dispatcher, list(feeds), clock
        pbxs = {f.pbx for f in self.feeds}
        self.sites = [s for s in config.sites if s.pbx in pbxs]
        self.calendar = SiteCalendar(config)
        self.down_since: dict[str, float] = {}  # pbx -> wall time it was first seen down
        self.figures: Figures | None = None
        self._rates_at: float | None = None
        self.passes = 0

    @classmethod
    def for_feeds(cls, config: Config, store: Store, feeds: Sequence[Feed]) -> LiveAlerts | None:
        """The evaluator, or None when alerts.toml is absent or enables no live rule. A wrong
        alerts.toml or a missing secret raises (ConfigError, AlertSecretError) before capture."""
        try:
            settings = load_alerts(config)
        except AlertsOff:
            return None
        if not settings.live_rules:
            return None
        return cls(config, store, settings, Dispatcher(store, settings, build_channels(settings)), feeds)

    async def run(self) -> None:
        """Evaluate every interval until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("alerts: a live evaluation failed (the next one runs as planned)")
            await asyncio.sleep(self.settings.live.interval_seconds)

    async def tick(self) -> None:
        """One pass: read the live state here, the rates and the dispatcher in a thread."""
        self.passes += 1
        evaluations = self._state_evaluations()
        now = self.clock()
        due = self._rates_at is None or now - self._rates_at >= self.settings.live.rates_every_seconds
        if due and (self.settings.enabled(Rule.RATE_HOUR) or self.settings.enabled(Rule.RATE_DAY)):
            self._rates_at = now
            evaluations += await asyncio.to_thread(self._rate_evaluations, self._unwritten())
        if evaluations:
            await asyncio.to_thread(self.dispatcher.process, evaluations)

    # ---- read in the event loop ----------------------------------------------------------------

    def _connected(self) -> dict[str, bool]:
        return {f.pbx: bool(f.live.connected.get(f.pbx)) for f in self.feeds}

    def _state_evaluations(self) -> list[Evaluation]:
        found = []
        connected = self._connected()
        now = self.clock()
        for pbx, up in connected.items():
            if up:
                self.down_since.pop(pbx, None)
            else:
                self.down_since.setdefault(pbx, now)
        if self.settings.enabled(Rule.LISTENER_DOWN):
            found.append(listener_down_evaluation(
                self.settings.rule(Rule.LISTENER_DOWN),
                {pbx: self.down_since.get(pbx) for pbx in connected}, now))
        if self.settings.enabled(Rule.LONG_RING):
            found.append(long_ring_evaluation(self.settings.rule(Rule.LONG_RING), self.config,
                                              self._rings(connected)))
        return found

    def _rings(self, connected: dict[str, bool]) -> dict[str, list[float]]:
        """Per site of a connected PBX, the ring times of its calls ringing now (on its PBX's
        clock); sites of a disconnected PBX are not judged (their live calls are stale)."""
        rings: dict[str, list[float]] = {}
        for feed in self.feeds:
            if not connected[feed.pbx]:
                continue
            now = feed.pbx_now()
            mine = {s.id for s in self.sites if s.pbx == feed.pbx}
            for site in mine:
                rings.setdefault(site, [])
            for call in feed.live.ringing():
                if call.site in mine:
                    rings[call.site].append(call.ring_seconds(now))
        return rings

    def _unwritten(self) -> list[Call]:
        return [c for f in self.feeds for c in f.unwritten()]

    # ---- in a worker thread ----------------------------------------------------------------------

    def _rate_evaluations(self, unwritten: list[Call]) -> list[Evaluation]:
        """The hour's and day's rates of the sites open now (the wallboard's figures)."""
        if not self.sites:
            return []
        now = max((f.pbx_now() for f in self.feeds), default=self.clock())
        tz = self.config.pbxs[self.sites[0].pbx].tz
        local = dt.datetime.fromtimestamp(now, tz)
        ids = [s.id for s in self.sites]
        t = self.config.targets
        arrays = load_today(self.store.engine, local.date(), ids, unwritten, t.clock_start)
        self.figures = figures(arrays, local.date(), now, ids, tz, t.threshold_seconds,
                               t.ring_period_seconds)
        open_now = [s.id for s in self.sites if self.calendar.is_open(s, local.replace(tzinfo=None))]
        found = []
        for rule, records in ((Rule.RATE_HOUR, self.figures.hour_sites), (Rule.RATE_DAY, self.figures.sites)):
            if self.settings.enabled(rule):
                found.append(rate_evaluation(rule, self.settings.rule(rule), self.config, records, open_now))
        return found

