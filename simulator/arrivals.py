"""Call arrivals: a non-homogeneous Poisson process on the local clock, sampled in UTC epochs.

The intensity follows the wall clock of Europe/Paris (a morning opening peak 9-11 h, an early
afternoon peak 13:30-15 h, a trickle in the evening and at night). A local day is the span
between two local midnights, so it lasts 25 h on the last Sunday of October and 23 h on the last
Sunday of March; within it the repeated or skipped hour simply has the night-time intensity.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from monitor.calendar import holiday_name
from simulator.profiles import SiteProfile

# (local hour, relative intensity), linearly interpolated
_WEEKDAY = np.array([
    (0.0, 0.01), (6.5, 0.01), (7.5, 0.06), (8.25, 0.3), (8.75, 1.0), (9.25, 1.55),
    (10.75, 1.6), (11.5, 1.05), (12.25, 0.75), (12.75, 0.5), (13.25, 0.75), (13.75, 1.35),
    (14.75, 1.3), (15.5, 0.85), (16.75, 0.65), (17.25, 0.15), (18.5, 0.05), (21.0, 0.02),
    (24.0, 0.01),
])
_WEEKEND = np.array([
    (0.0, 0.05), (8.5, 0.1), (9.5, 1.0), (12.0, 1.0), (14.0, 1.0), (17.0, 0.6), (19.0, 0.2),
    (24.0, 0.05),
])
# Share of an average weekday's calls, Monday first; weekends and holidays get a few calls.
DAY_FACTOR = (1.3, 1.05, 0.95, 1.0, 0.85, 0.05, 0.02)
HOLIDAY_FACTOR = 0.05


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[float, float]:
    """UTC epochs of the local midnight that starts `day` and of the next one."""
    start = dt.datetime.combine(day, dt.time(0), tz).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).timestamp()
    return start, end


def _offset(t: float, tz: ZoneInfo) -> float:
    offset = dt.datetime.fromtimestamp(t, tz).utcoffset()
    return offset.total_seconds() if offset else 0.0


def _transition(start: float, end: float, tz: ZoneInfo) -> float | None:
    """The instant the UTC offset changes within [start, end), if it does."""
    lo, hi = start, end - 1
    if _offset(lo, tz) == _offset(hi, tz):
        return None
    while hi - lo > 0.5:
        mid = (lo + hi) / 2
        if _offset(mid, tz) == _offset(start, tz):
            lo = mid
        else:
            hi = mid
    return float(np.ceil(lo))


def wall_hours(t: np.ndarray, day: dt.date, tz: ZoneInfo) -> np.ndarray:
    """Hours on the local wall clock since the local midnight of `day` (repeats when it falls back)."""
    start, end = day_bounds(day, tz)
    off0 = _offset(start, tz)
    change = _transition(start, end, tz)
    offsets = np.full(t.shape, off0)
    if change is not None:
        offsets = np.where(t >= change, _offset(end - 1, tz), off0)
    return (t + offsets - (start + off0)) / 3600.0


def _shape(day: dt.date) -> np.ndarray:
    weekend = day.weekday() >= 5 or holiday_name(day) is not None
    return _WEEKEND if weekend else _WEEKDAY


def expected_calls(profile: SiteProfile, day: dt.date) -> float:
    """Expected number of calls to the site over the local day."""
    factor = HOLIDAY_FACTOR if holiday_name(day) is not None else DAY_FACTOR[day.weekday()]
    return profile.calls_per_day * factor


def sample_arrivals(rng: np.random.Generator, profile: SiteProfile, day: dt.date,
                    tz: ZoneInfo, volume: float = 1.0) -> np.ndarray:
    """Sorted arrival epochs (UTC, µs) over the local day, by thinning a homogeneous process."""
    start, end = day_bounds(day, tz)
    knots = _shape(day)
    hours, level = knots[:, 0], knots[:, 1]
    area = float(np.sum((level[1:] + level[:-1]) / 2 * np.diff(hours)))  # over 24 h
    per_hour = expected_calls(profile, day) * volume / area  # calls/hour per unit of intensity
    peak = per_hour * float(level.max())
    n = rng.poisson(peak * (end - start) / 3600.0)
    t = np.sort(rng.uniform(start, end, n))
    rate = per_hour * np.interp(wall_hours(t, day, tz), hours, level)
    keep = rng.uniform(0.0, peak, n) < rate
    return np.round(t[keep], 6)
