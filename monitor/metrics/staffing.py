"""Staffing hint: how many people must be on the phone for the target pickup rate.

Two queueing models, both fed with what was observed in a cell (site × hour of the day):
arrival rate λ (calls needing a person per second of opening time), mean handling time h
(answer -> end of answered calls) and, for Erlang-A, the callers' mean patience 1/θ.

* Erlang-C (M/M/n, nobody hangs up): P(answered within T) = 1 - C(n, A)·exp(-(n - A)·T/h)
  with A = λ·h erlangs and C the Erlang-C waiting probability. Pessimistic when callers
  abandon, since each abandon frees the queue.
* Erlang-A (M/M/n+M, Palm): callers hang up after an exponential patience of mean 1/θ.
  P(answered by a person within T) is computed exactly from the birth–death chain: the
  stationary state an arrival sees (PASTA), then the time until its service, run by
  uniformization. θ is estimated as abandons / total time spent waiting (answered and
  abandoned calls), the maximum-likelihood estimate for exponential patience.

`agents_needed` gives the smallest n reaching the target; NaN where a cell has no calls or
no handling time, never an exception.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from monitor.call import Outcome
from monitor.metrics.summary import CellStats

MAX_AGENTS = 200


def erlang_c_wait_probability(agents: int, load: float) -> float:
    """C(n, A): probability that a call waits in an M/M/n queue (1.0 when n <= A)."""
    if agents <= load:
        return 1.0
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)  # Erlang-B recursion
    return agents * b / (agents - load * (1.0 - b))


def erlang_c_within(agents: int, rate: float, handle: float, threshold: float) -> float:
    """Erlang-C probability that a call is answered in less than `threshold` seconds."""
    load = rate * handle
    if agents <= load:
        return 0.0
    c = erlang_c_wait_probability(agents, load)
    return 1.0 - c * math.exp(-(agents - load) * threshold / handle)


def _stationary(agents: int, rate: float, mu: float, theta: float) -> np.ndarray:
    """Stationary distribution of the number of calls in an M/M/n+M system."""
    ratios = [1.0]
    k = 0
    while True:
        k += 1
        out = min(k, agents) * mu + max(k - agents, 0) * theta
        ratios.append(ratios[-1] * rate / out)
        if k > agents and (ratios[-1] < 1e-12 * max(ratios) or k > agents + 5000):
            break
    p = np.array(ratios)
    return p / p.sum()


def _served_within(agents: int, mu: float, theta: float, ahead: int, t: float) -> np.ndarray:
    """For a caller finding all servers busy and 0 … `ahead` callers waiting before it: the
    probability that a person answers it within t, before it hangs up. The queue ahead of it
    shrinks at rate n·mu + i·theta (i callers ahead), it hangs up at rate theta. Solved by
    uniformization, in time slices short enough for the Poisson weights not to underflow."""
    down = agents * mu + np.arange(ahead + 1) * theta
    top = float(down[-1] + theta)
    slices = max(1, math.ceil(top * t / 200.0))
    steps = top * t / slices
    stay, move = 1.0 - (down + theta) / top, down / top
    served = np.zeros(ahead + 1)  # P(answered within the time covered so far | i ahead)
    for _ in range(slices):
        u, weight = served, math.exp(-steps)
        result = weight * u
        for m in range(int(steps + 10 * math.sqrt(steps) + 20)):
            u = stay * u + move * np.concatenate(([1.0], u[:-1]))
            weight *= steps / (m + 1)
            result = result + weight * u
        served = result
    return served


def erlang_a_within(agents: int, rate: float, handle: float, patience: float,
                    threshold: float) -> float:
    """Erlang-A probability that a call is answered by a person in less than `threshold`."""
    mu = 1.0 / handle
    theta = 1.0 / patience if patience > 0 and math.isfinite(patience) else 0.0
    if theta == 0.0:
        return erlang_c_within(agents, rate, handle, threshold)
    p = _stationary(agents, rate, mu, theta)
    immediate = p[:agents].sum()
    ahead = p[agents:]
    served = _served_within(agents, mu, theta, ahead.size - 1, threshold)
    return float(immediate + (ahead * served).sum())


def agents_needed(rate: np.ndarray, handle: np.ndarray, target: float, threshold: float,
                  patience: np.ndarray | None = None) -> np.ndarray:
    """Per cell the smallest number of agents whose predicted share of calls answered within
    `threshold` reaches `target`: Erlang-A when `patience` (mean, seconds) is given, else
    Erlang-C. 0 for a cell without calls; NaN without a handling time."""
    out = np.full(np.shape(rate), np.nan)
    for i, (lam, h) in enumerate(zip(np.ravel(rate), np.ravel(handle), strict=True)):
        if lam == 0:
            out.flat[i] = 0
            continue
        if not (np.isfinite(lam) and np.isfinite(h) and h > 0):
            continue
        pat = np.inf if patience is None else float(np.ravel(patience)[i])
        for n in range(max(1, math.floor(lam * h)), MAX_AGENTS + 1):
            level = (erlang_c_within(n, lam, h, threshold) if patience is None
                     else erlang_a_within(n, lam, h, pat, threshold))
            if level >= target:
                out.flat[i] = n
                break
    return out


def opening_hours_by_hour(days: list[list[tuple[dt.time, dt.time]]]) -> np.ndarray:
    """Hours open during each hour of the day (24 values), summed over days given as their
    opening intervals (e.g. from monitor.calendar.SiteCalendar.opening_intervals)."""
    out = np.zeros(24)
    for intervals in days:
        for start, end in intervals:
            a = start.hour + start.minute / 60 + start.second / 3600
            b = end.hour + end.minute / 60 + end.second / 3600
            hours = np.arange(24)
            out += np.clip(np.minimum(b, hours + 1) - np.maximum(a, hours), 0, 1)
    return out


def clock_hours_by_hour(start: dt.date, end: dt.date, tz: str = "Europe/Paris") -> np.ndarray:
    """Real hours during each local hour of the day between two local dates (inclusive): the
    spring-forward day has no 02 hour, the fall-back day has two."""
    from zoneinfo import ZoneInfo

    from monitor.metrics.cells import local_parts

    zone = ZoneInfo(tz)
    first = dt.datetime(start.year, start.month, start.day, tzinfo=zone).timestamp()
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).timestamp()
    moments = np.arange(first, stop, 3600.0) + 1800.0
    _, hour, _, _ = local_parts(moments, start, end, zone)
    return np.bincount(hour, minlength=24).astype(float)


@dataclass(frozen=True, eq=False)
class Staffing:
    """Per site × hour-of-day cell (the cells of a `by="hour"` CellStats)."""

    site: tuple[str, ...]
    hour: tuple[str, ...]
    open_hours: np.ndarray
    calls: np.ndarray  # calls needing a person
    rate_per_hour: np.ndarray
    handle_mean: np.ndarray
    patience_mean: np.ndarray  # inf when nobody hung up
    load: np.ndarray  # erlangs
    agents_erlang_c: np.ndarray
    agents_erlang_a: np.ndarray
    achieved: np.ndarray  # the pickup rate the site reached
    achieved_n: np.ndarray
    target: float


def staffing(stats: CellStats, open_hours: np.ndarray, *, target: float) -> Staffing:
    """The hint for every cell of `stats` (grouped by hour of the day); open_hours has one
    value per cell (hours of opening time the cell covers)."""
    answered = stats.count(Outcome.ANSWERED)
    abandoned = stats.count(Outcome.ABANDONED)
    calls = stats.needing_person
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(open_hours > 0, calls / (open_hours * 3600.0), np.nan)
        waited = (np.nan_to_num(stats.tta_mean) * answered
                  + np.nan_to_num(stats.abandon_wait_mean) * abandoned)
        patience = np.where(abandoned > 0, waited / np.maximum(abandoned, 1), np.inf)
    handle = stats.handle_mean
    return Staffing(
        site=stats.site, hour=stats.period, open_hours=open_hours, calls=calls,
        rate_per_hour=rate * 3600.0, handle_mean=handle, patience_mean=patience,
        load=rate * handle,
        agents_erlang_c=agents_needed(rate, handle, target, stats.threshold),
        agents_erlang_a=agents_needed(rate, handle, target, stats.threshold, patience),
        achieved=stats.pickup_rate.value, achieved_n=stats.pickup_rate.n, target=target,
    )
