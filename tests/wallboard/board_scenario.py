"""A realistic morning on the wallboard: every site's simulated calls of 2026-10-05 up to
10:40 (Paris) in the store, a few calls ringing now, agents logged in, and one site whose
directory misses a device (calls answered by it are "à classer")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from config import Config
from ingest.ami.live import LiveCall, LiveState
from monitor.calendar import SiteCalendar
from monitor.call import Call, Outcome, Source
from monitor.timeutil import local_parts
from simulator.ids import assign_ids
from simulator.model import simulate_day
from simulator.timeline import SimCall

PARIS = ZoneInfo("Europe/Paris")
DAY = dt.date(2026, 10, 5)
NOW = dt.datetime(2026, 10, 5, 10, 40, tzinfo=PARIS).timestamp()
INCOMPLETE_SITE = "eps-17"  # its directory lacks the phone PJSIP/201
UNKNOWN_DEVICE = "PJSIP/201"


def as_call(config: Config, calendar: SiteCalendar, sim: SimCall) -> Call:
    """The canonical call the capture makes of a simulated one (its ground truth)."""
    site = config.site(sim.site)
    date, hour, weekday = local_parts(sim.arrival, PARIS)
    return Call(pbx=site.pbx, call_key=sim.key, site=sim.site, arrival=sim.arrival,
                outcome=sim.outcome, source=Source.CEL, answer=sim.answer, end=sim.end,
                answered_by=sim.answered_by or None, is_test=sim.is_test,
                in_hours=calendar.is_open(site, dt.datetime.fromtimestamp(sim.arrival, PARIS)),
                resolution=1e-6, local_date=date, local_hour=hour, local_weekday=weekday)


def morning_calls(config: Config, seed: int = 7) -> list[Call]:
    """The day's calls finished by NOW; a third of INCOMPLETE_SITE's answers by an unknown
    phone (outcome unknown_device), as the capture classifies them with that directory."""
    calendar = SiteCalendar(config)
    done = [as_call(config, calendar, c) for c in assign_ids(simulate_day(config, DAY, seed))
            if c.end <= NOW]
    out, n = [], 0
    for call in done:
        if call.site == INCOMPLETE_SITE and call.outcome is Outcome.ANSWERED and call.in_hours:
            n += 1
            if n % 3 == 0:
                call = dataclasses.replace(call, outcome=Outcome.UNKNOWN_DEVICE,
                                           answered_by=UNKNOWN_DEVICE)
        out.append(call)
    return out


@dataclass
class StaticFeed:
    """A listener's offer at one moment: calls in progress, agents, a fixed PBX clock."""

    t: float = NOW
    pbx: str = "paris-eps"
    live: LiveState = field(default_factory=LiveState)
    agents: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.live.connected[self.pbx] = True

    def ring(self, site: str, seconds: float, *, unclassified: bool = False) -> None:
        key = f"live-{site}-{len(self.live.calls)}"
        self.live.add(LiveCall(self.pbx, key, site, self.t - seconds, queue=f"q-{site}",
                               in_queue_since=None if unclassified else self.t - seconds + 0.5,
                               answer=None, unclassified=unclassified))

    def unwritten(self) -> list[Call]:
        return []

    def pbx_now(self) -> float:
        return self.t


def morning_feed(config: Config) -> StaticFeed:
    """Calls ringing now at three sites (one past 25 s, one past 15 s), one call at
    INCOMPLETE_SITE connected to the unknown phone, and agents at every site."""
    feed = StaticFeed()
    feed.ring("eps-13", 31.0)
    feed.ring("eps-13", 8.0)
    feed.ring("eps-18", 17.0)
    feed.ring("eps-05", 3.0)
    feed.ring(INCOMPLETE_SITE, 40.0, unclassified=True)
    for i, site in enumerate(config.site_ids):
        logged = 2 + i % 3
        feed.agents[site] = (logged, (i * 7) % (logged + 1))
    return feed
