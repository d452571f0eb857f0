"""The figures of a period for every site, gathered once through the answer-time core.

One load of the calls (`monitor.query.load_call_arrays`: every site, all hours, no test
calls, from the first month of the trend to the end of the period), then the core's cells and
figures for each grouping a statement shows. The in-hours figures are the calls of that load
whose `in_hours` flag is set, which is the store-side filter of `qualiphone stats` (its
default): both give the same numbers (tests/reports compares them). Statements then slice these
arrays per site; no statement queries the store again.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sqlalchemy as sa

from config import Config, Site
from monitor.calendar import SiteCalendar, holiday_name
from monitor.metrics.arrays import CallArrays
from monitor.metrics.cells import make_cells
from monitor.metrics.records import records
from monitor.metrics.staffing import Staffing, opening_hours_by_hour, staffing
from monitor.metrics.summary import CellStats, cell_stats
from monitor.query import load_call_arrays
from reports.coverage import Coverage, load_coverage

DEFAULT_TARGET_RATE = 0.80  # the pickup rate a month must reach (same default as stats --staffing)
TREND_MONTHS = 12


@dataclass(frozen=True)
class Period:
    """A month (monthly statement) or a calendar year (annual review)."""

    key: str  # "2026-10" or "2026"
    start: dt.date
    end: dt.date
    trend_start: dt.date  # first day of the first month of the 12-month trend

    @classmethod
    def month(cls, key: str) -> Period:
        year, month = (int(p) for p in key.split("-"))
        start = dt.date(year, month, 1)
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        back = year * 12 + month - 1 - (TREND_MONTHS - 1)
        return cls(f"{year:04d}-{month:02d}", start, end, dt.date(back // 12, back % 12 + 1, 1))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(f"{year:04d}", dt.date(year, 1, 1), dt.date(year, 12, 31), dt.date(year, 1, 1))

    @property
    def yearly(self) -> bool:
        return len(self.key) == 4

    @property
    def months(self) -> list[str]:
        """The trend's months, "YYYY-MM", oldest first (12 of them)."""
        first = self.trend_start.year * 12 + self.trend_start.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, first + TREND_MONTHS)]

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def own_months(self) -> list[str]:
        """The months of the period itself (one, or the twelve of the year)."""
        return [m for m in self.months if m.startswith(self.key)]


@dataclass(frozen=True)
class Rules:
    """How the figures are counted: config/settings.toml [targets] and the target rate."""

    threshold: float
    ring_period: float
    short_abandon: float
    clock_start: str
    target_rate: float
    tz: str

    @classmethod
    def of(cls, config: Config, target_rate: float = DEFAULT_TARGET_RATE) -> Rules:
        t = config.targets
        zones = {config.pbxs[s.pbx].timezone for s in config.sites}
        return cls(t.threshold_seconds, t.ring_period_seconds, t.short_abandon_seconds,
                   t.clock_start, target_rate, zones.pop() if len(zones) == 1 else "Europe/Paris")

    @property
    def rings(self) -> int:
        return round(self.threshold / self.ring_period)


@dataclass(frozen=True)
class DayMark:
    """A holiday or a planned closure of a site on a day of the period."""

    site: str
    day: dt.date
    kind: str  # "férié" or "fermeture"
    label: str  # the holiday's name or the closure's reason and part of day
    whole_day: bool


@dataclass(frozen=True, eq=False)
class Figures:
    """Every figure of every site for a period. Cells are site-major (see Cells)."""

    period: Period
    rules: Rules
    sites: tuple[Site, ...]
    headline: CellStats  # by site, the period, opening hours
    headline_all: CellStats  # by site, the period, all hours
    city: CellStats  # all sites merged, the period, opening hours
    trend: CellStats  # by month over the trend's 12 months, opening hours
    trend_all: CellStats
    city_trend: CellStats
    weekday_hour: CellStats  # the period, opening hours
    hour: CellStats
    city_hour: CellStats
    day: CellStats
    day_all: CellStats
    open_hours: np.ndarray  # (sites, days) hours of opening after holidays and closures
    staffing: Staffing
    marks: tuple[DayMark, ...]
    coverage: Coverage

    @property
    def site_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.sites)

    def index(self, site_id: str) -> int:
        return self.site_ids.index(site_id)

    @cached_property
    def headline_records(self) -> list[dict[str, Any]]:
        return records(self.headline)

    @cached_property
    def headline_all_records(self) -> list[dict[str, Any]]:
        return records(self.headline_all)

    @cached_property
    def trend_records(self) -> list[dict[str, Any]]:
        return records(self.trend)

    @cached_property
    def trend_all_records(self) -> list[dict[str, Any]]:
        return records(self.trend_all)

    @cached_property
    def city_record(self) -> dict[str, Any]:
        return records(self.city)[0]

    @cached_property
    def city_trend_records(self) -> list[dict[str, Any]]:
        return records(self.city_trend)

    @property
    def has_data(self) -> bool:
        return bool(self.headline_all.offered.sum() > 0)

    def missing_sites(self) -> list[Site]:
        """Sites without a single captured call in the period (any hour)."""
        offered = self.headline_all.offered
        return [s for i, s in enumerate(self.sites) if offered[i] == 0]


def gather(engine: sa.Engine, config: Config, period: Period,
           target_rate: float = DEFAULT_TARGET_RATE) -> Figures:
    """Load the calls once and compute every figure of every site for `period`."""
    rules = Rules.of(config, target_rate)
    sites = tuple(config.sites)
    ids = tuple(s.id for s in sites)
    calls = load_call_arrays(engine, start=period.trend_start, end=period.end, sites=ids,
                             clock_start=rules.clock_start, all_sites=True)
    grouped = _Grouper(calls, ids, rules)
    p = period
    cal = SiteCalendar(config)
    open_hours = np.array([[_open(cal, s, d) for d in p.days] for s in sites]).reshape(
        len(sites), len(p.days))
    hour, day = grouped("hour", p.start, p.end), grouped("day", p.start, p.end)
    hint = staffing(hour, _hours_by_hour(cal, sites, p.days), target=target_rate)
    return Figures(
        period=p, rules=rules, sites=sites,
        headline=grouped("site", p.start, p.end),
        headline_all=grouped("site", p.start, p.end, all_hours=True),
        city=grouped("site", p.start, p.end, merge=True),
        trend=grouped("month", p.trend_start, p.end),
        trend_all=grouped("month", p.trend_start, p.end, all_hours=True),
        city_trend=grouped("month", p.trend_start, p.end, merge=True),
        weekday_hour=grouped("weekday-hour", p.start, p.end), hour=hour,
        city_hour=grouped("hour", p.start, p.end, merge=True),
        day=day,
        day_all=grouped("day", p.start, p.end, all_hours=True),
        open_hours=open_hours, staffing=hint, marks=tuple(_marks(cal, sites, p.days)),
        coverage=load_coverage(engine, config, p, open_hours,
                               day.offered.reshape(len(sites), len(p.days))),
    )


class _Grouper:
    """The core's figures for one grouping of the loaded calls."""

    def __init__(self, calls: CallArrays, sites: tuple[str, ...], rules: Rules) -> None:
        self.calls, self.sites, self.rules = calls, sites, rules

    def __call__(self, by: str, start: dt.date, end: dt.date, *, all_hours: bool = False,
                 merge: bool = False) -> CellStats:
        mask = None if all_hours else self.calls.in_hours
        cells = make_cells(self.calls, by, start=start, end=end, tz=self.rules.tz,
                           sites=self.sites, merge_sites=merge, mask=mask)
        return cell_stats(self.calls, cells, threshold=self.rules.threshold,
                          ring_period=self.rules.ring_period)


def _open(cal: SiteCalendar, site: Site, day: dt.date) -> float:
    """Hours the site is open on `day` (0 on holidays, closures removed)."""
    return sum((dt.datetime.combine(day, b) - dt.datetime.combine(day, a)).total_seconds() / 3600
               for a, b in cal.opening_intervals(site, day))


def _hours_by_hour(cal: SiteCalendar, sites: tuple[Site, ...], days: list[dt.date]) -> np.ndarray:
    """Opening hours per site × hour of day, as `qualiphone stats --staffing` counts them."""
    return np.concatenate([opening_hours_by_hour([cal.opening_intervals(s, d) for d in days])
                           for s in sites])


def _marks(cal: SiteCalendar, sites: tuple[Site, ...], days: list[dt.date]) -> list[DayMark]:
    """Holidays on weekdays the site would open, and planned closures, in date order."""
    parts = {"day": "toute la journée", "am": "le matin", "pm": "l'après-midi"}
    out = []
    for site in sites:
        for day in days:
            name = holiday_name(day)
            if name and site.hours.get(day.weekday()):
                out.append(DayMark(site.id, day, "férié", name, True))
            for c in cal.closures(site.id, day):
                label = f"{c.reason or 'fermeture planifiée'} ({parts[c.part]})"
                out.append(DayMark(site.id, day, "fermeture", label, c.part == "day"))
    return sorted(out, key=lambda m: (m.day, m.site))
