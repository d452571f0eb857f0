"""One site's statement: its slice of the period's figures, in the order the pages show them.

Every number is read from the core's cells (`reports.data.Figures`); counts in records use the
field names of `qualiphone stats --format json` (docs/stats-json.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from config import Site
from monitor.metrics.arrays import MESSAGE
from monitor.metrics.records import staffing_records
from monitor.metrics.summary import CellStats
from reports.afterhours import AfterHoursCheck
from reports.coverage import SiteCoverage
from reports.data import DayMark, Figures, Period, Rules

TOP = 5  # busiest hours, worst days
MIN_DAY_CALLS = 10  # a day with fewer calls is not ranked among the worst days


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    offered: int
    rate: float
    low: float
    high: float
    n: int
    open_hours: float
    marks: tuple[DayMark, ...]
    offered_all: int  # any hour
    message: int  # answered by the after-hours or closure message


@dataclass(frozen=True)
class Slot:
    weekday: int  # 0 = Monday
    hour: int
    offered: int
    rate: float
    n: int


@dataclass(frozen=True)
class AfterHours:
    offered: int  # calls outside opening hours (nights, week-ends, holidays, closures)
    message: int  # answered by the after-hours or closure message
    message_marked_days: int  # … of which on holidays and closure days
    answered: int  # answered by a person outside opening hours
    unanswered: int  # neither the message nor a person


@dataclass(frozen=True, eq=False)
class Statement:
    site: Site
    period: Period
    rules: Rules
    head: dict[str, Any]  # a `stats` record: the period, opening hours
    head_all: dict[str, Any]  # the same, all hours
    city: dict[str, Any]  # all sites together
    trend: list[dict[str, Any]]  # 12 monthly records, oldest first
    city_trend: list[dict[str, Any]]
    heat_rate: np.ndarray  # (7, 24) pickup rate per weekday × hour, NaN without calls
    heat_n: np.ndarray  # (7, 24) pickup-rate denominators
    heat_offered: np.ndarray  # (7, 24) calls received
    days: list[DayRow]
    busiest: list[Slot]
    worst_days: list[DayRow]
    understaffed: list[dict[str, Any]]  # staffing records of the hours below the target rate
    marks: list[DayMark]
    after_hours: AfterHours
    coverage: SiteCoverage
    closed: AfterHoursCheck | None = None  # the message check and probes (monthly statements)

    @property
    def has_data(self) -> bool:
        return bool(self.head_all["offered"])

    @property
    def previous(self) -> dict[str, Any] | None:
        """The month before the period (monthly statements only)."""
        return None if self.period.yearly else self.trend[-2]


def _block(values: np.ndarray, i: int, n: int) -> np.ndarray:
    return values[i * n:(i + 1) * n]


def statement(f: Figures, site_id: str, closed: AfterHoursCheck | None = None) -> Statement:
    """The statement of one site, from figures gathered for every site (and its after-hours
    section, see reports.afterhours)."""
    i = f.index(site_id)
    n_months = len(f.period.months)
    wh = f.weekday_hour
    rate = _block(wh.pickup_rate.value, i, 168).reshape(7, 24)
    days = _days(f, i)
    return Statement(
        site=f.sites[i], period=f.period, rules=f.rules,
        head=f.headline_records[i], head_all=f.headline_all_records[i], city=f.city_record,
        trend=f.trend_records[i * n_months:(i + 1) * n_months],
        city_trend=f.city_trend_records,
        heat_rate=rate, heat_n=_block(wh.pickup_rate.n, i, 168).reshape(7, 24),
        heat_offered=_block(wh.offered, i, 168).reshape(7, 24),
        days=days, busiest=_busiest(wh, i), worst_days=_worst(days),
        understaffed=_understaffed(f, i),
        marks=[m for m in f.marks if m.site == site_id],
        after_hours=_after_hours(f, i, days), coverage=f.coverage.sites[site_id], closed=closed,
    )


def _days(f: Figures, i: int) -> list[DayRow]:
    n = len(f.period.days)
    d, a = f.day, f.day_all
    p = d.pickup_rate
    cols = [_block(x, i, n) for x in (d.offered, p.value, p.low, p.high, p.n, a.offered,
                                      a.outcomes[:, MESSAGE])]
    marks = [m for m in f.marks if m.site == f.sites[i].id]
    return [DayRow(day, int(cols[0][k]), float(cols[1][k]), float(cols[2][k]),
                   float(cols[3][k]), int(cols[4][k]), float(f.open_hours[i, k]),
                   tuple(m for m in marks if m.day == day), int(cols[5][k]), int(cols[6][k]))
            for k, day in enumerate(f.period.days)]


def _busiest(wh: CellStats, i: int) -> list[Slot]:
    offered = _block(wh.offered, i, 168)
    rate, n = _block(wh.pickup_rate.value, i, 168), _block(wh.pickup_rate.n, i, 168)
    order = sorted((k for k in range(168) if offered[k] > 0), key=lambda k: (-offered[k], k))
    return [Slot(k // 24, k % 24, int(offered[k]), float(rate[k]), int(n[k]))
            for k in order[:TOP]]


def _worst(days: list[DayRow]) -> list[DayRow]:
    ranked = [d for d in days if d.n >= MIN_DAY_CALLS and not np.isnan(d.rate)]
    return sorted(ranked, key=lambda d: (d.rate, d.day))[:TOP]


def _understaffed(f: Figures, i: int) -> list[dict[str, Any]]:
    """Hours of the day whose pickup rate is below the target rate, with the core's hint."""
    rows = staffing_records(f.staffing)[i * 24:(i + 1) * 24]
    return [r for r in rows if r["calls"] and r["pickup_rate"] is not None
            and r["pickup_rate"] < f.rules.target_rate]


def _after_hours(f: Figures, i: int, days: list[DayRow]) -> AfterHours:
    inside, every = f.headline_records[i], f.headline_all_records[i]
    offered = every["offered"] - inside["offered"]
    message = every["message"] - inside["message"]
    answered = every["answered"] - inside["answered"]
    marked = sum(d.message for d in days if d.marks)
    return AfterHours(offered, message, min(marked, message), answered,
                      offered - message - answered)
