"""The agents of a site for one day: when they are logged in, on a break, or away from the desk."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from simulator.profiles import SiteSetup

Span = tuple[float, float]
_MIN = 60.0


@dataclass(eq=False, slots=True)
class Agent:
    """One switchboard agent and the phone on their desk."""

    ext: str
    device: str  # PJSIP/eps05-201: also the queue member name
    present: list[Span] = field(default_factory=list)  # logged in and not paused (UTC)
    away: list[Span] = field(default_factory=list)  # logged in but away from the desk
    pickup_median: float = 6.0
    free_at: float = 0.0  # busy with a call (and wrap-up) until then
    ringing_until: float = 0.0  # reserved by a ringing attempt until then

    def is_present(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.present)

    def is_away(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.away)

    def in_use(self, t: float) -> bool:
        return self.free_at > t or self.ringing_until > t

    def available(self, t: float) -> bool:
        """Can the queue ring this member now (logged in, unpaused, not in use)?"""
        return not self.in_use(t) and self.is_present(t)

    def pickup_delay(self, rng: np.random.Generator, t: float) -> float:
        """Seconds before the agent picks up a phone that starts ringing at t (inf: never)."""
        if not self.is_present(t) or self.is_away(t):
            return math.inf
        return float(self.pickup_median * rng.lognormal(0.0, 0.55))

    def boundaries(self) -> list[float]:
        return [t for span in self.present for t in span]


def _epoch(day: dt.date, clock: dt.time | float, tz: ZoneInfo) -> float:
    if isinstance(clock, float):  # hours after midnight
        clock = dt.time(int(clock), round(clock % 1 * 60) % 60)
    return dt.datetime.combine(day, clock, tz).timestamp()


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    for h0, h1 in holes:
        cut: list[Span] = []
        for a, b in spans:
            if h1 <= a or h0 >= b:
                cut.append((a, b))
                continue
            if a < h0:
                cut.append((a, h0))
            if h1 < b:
                cut.append((h1, b))
        spans = cut
    return spans


def _breaks(rng: np.random.Generator, day: dt.date, tz: ZoneInfo, i: int, n: int,
            lunch: bool) -> list[Span]:
    """Morning and afternoon breaks, and a staggered lunch when the site stays open."""
    holes = []
    for hour, step, length in ((10.0, 20, 15), (15.0, 15, 10)):
        start = _epoch(day, hour, tz) + (i * step + rng.uniform(0, 10)) * _MIN
        holes.append((start, start + length * _MIN))
    if lunch:
        start = _epoch(day, 11.75, tz) + (i * 135 / n + rng.uniform(-5, 5)) * _MIN
        holes.append((start, start + rng.uniform(45, 60) * _MIN))
    return holes


def _away(rng: np.random.Generator, spans: list[Span], per_hour: float) -> list[Span]:
    away = []
    for a, b in spans:
        for _ in range(rng.poisson(per_hour * (b - a) / 3600)):
            start = rng.uniform(a, b)
            away.append((start, start + rng.uniform(2, 8) * _MIN))
    return away


def day_agents(setup: SiteSetup, day: dt.date, opening: list[tuple[dt.time, dt.time]],
               tz: ZoneInfo, rng: np.random.Generator) -> list[Agent]:
    """The site's agents for a day with the given opening intervals (none: nobody logs in)."""
    profile = setup.profile
    spans = [(_epoch(day, a, tz), _epoch(day, b, tz)) for a, b in opening]
    lunch = any(a <= dt.time(12) and b >= dt.time(14) for a, b in opening)
    agents = []
    for i in range(profile.agents):
        ext = str(201 + i)
        agent = Agent(ext, setup.phone(ext), pickup_median=profile.pickup_median)
        agents.append(agent)
        if not spans or rng.random() < profile.p_absent:
            continue
        shift = []
        for a, b in spans:
            late = rng.uniform(0, 15) * _MIN if rng.random() < 0.15 else 0.0
            shift.append((a - rng.uniform(1, 5) * _MIN + late, b + rng.uniform(5, 15) * _MIN))
        agent.present = _subtract(shift, _breaks(rng, day, tz, i, profile.agents, lunch))
        agent.away = _away(rng, agent.present, profile.away_per_hour)
    return agents
