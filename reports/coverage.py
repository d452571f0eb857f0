"""Data coverage of a period, stated in every statement and never hidden.

For each site:
* open days without a single call captured during opening hours ("jours sans appel capté"):
  a switchboard open 7 h without any call is far more likely a capture hole than a quiet day;
* AMI capture gaps (`capture_gaps`, written by the live listener) that overlap the site's
  opening hours, with the opening time they cover;
* calls still marked incomplete (cut by a capture gap and not completed by a batch import);
* how many calls each source saw (CDR, queue_log, CEL, AMI, CSV).
And for the store: import batches and the lines they rejected (all periods, per kind).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from config import Config, Site
from ingest.ami.models import capture_gaps
from monitor.calendar import SiteCalendar
from monitor.call import Source
from monitor.store.models import calls, import_batches

if TYPE_CHECKING:
    from reports.data import Period

SOURCE_NAMES = {Source.CDR: "CDR", Source.QUEUE_LOG: "queue_log", Source.CEL: "CEL",
                Source.AMI: "AMI", Source.CSV: "CSV"}


@dataclass(frozen=True)
class Gap:
    """An AMI capture gap and the opening time of one site it covers."""

    start: float  # UTC epoch
    end: float
    reason: str
    open_seconds: float


@dataclass(frozen=True)
class SiteCoverage:
    site: str
    open_days: int
    silent_days: tuple[dt.date, ...]
    gaps: tuple[Gap, ...]
    incomplete: dict[str, int]  # month "YYYY-MM" -> calls still incomplete
    by_source: dict[str, int]  # source name -> calls it saw in the period (no tests)
    calls: int  # captured calls in the period, any hour, no tests

    @property
    def incomplete_total(self) -> int:
        return sum(self.incomplete.values())

    @property
    def gap_open_hours(self) -> float:
        return sum(g.open_seconds for g in self.gaps) / 3600

    def silent_in(self, month: str) -> int:
        return sum(1 for d in self.silent_days if d.isoformat().startswith(month))

    def gaps_in(self, month: str, tz: str) -> int:
        """Capture gaps starting in `month` that cover some opening time."""
        zone = ZoneInfo(tz)
        return sum(1 for g in self.gaps if g.open_seconds > 0
                   and dt.datetime.fromtimestamp(g.start, zone).strftime("%Y-%m") == month)

    @property
    def complete(self) -> bool:
        """Nothing to report: no silent day, no gap in opening hours, no incomplete call."""
        return not self.silent_days and not self.gap_open_hours and not self.incomplete_total


@dataclass(frozen=True)
class Coverage:
    sites: dict[str, SiteCoverage]
    imports: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (batches, rejected)


def load_coverage(engine: sa.Engine, config: Config, period: Period, open_hours: np.ndarray,
                  day_offered: np.ndarray) -> Coverage:
    """Coverage of every site; open_hours and day_offered are (sites, days) arrays."""
    counts = _call_counts(engine, period)
    gaps = _gaps(engine, period)
    cal = SiteCalendar(config)
    tz = {s.id: ZoneInfo(config.pbxs[s.pbx].timezone) for s in config.sites}
    out = {}
    for i, site in enumerate(config.sites):
        is_open = open_hours[i] > 0
        silent = tuple(d for d, o, n in zip(period.days, is_open, day_offered[i], strict=True)
                       if o and n == 0)
        zone = tz[site.id]
        low, high = _epoch(period.start, zone), _epoch(period.end + dt.timedelta(days=1), zone)
        site_gaps = tuple(Gap(a, b, reason, _open_overlap(cal, site, zone, max(a, low),
                                                          min(b, high)))
                          for pbx, a, b, reason in gaps if pbx == site.pbx and a < high and b > low)
        incomplete, sources, total = counts.get(site.id, ({}, Counter(), 0))
        out[site.id] = SiteCoverage(site.id, int(is_open.sum()), silent, site_gaps, incomplete,
                                    dict(sources), total)
    return Coverage(out, _imports(engine))


def _call_counts(engine: sa.Engine,
                 period: Period) -> dict[str, tuple[dict[str, int], Counter[str], int]]:
    """Per site: incomplete calls per month, calls per source, calls (no tests, any hour)."""
    c = calls.c
    month = sa.func.substr(c.local_date, 1, 7)
    query = (sa.select(c.site, month, c.sources, c.incomplete, sa.func.count())
             .where(c.local_date.between(period.start.isoformat(), period.end.isoformat()),
                    sa.not_(c.is_test))
             .group_by(c.site, month, c.sources, c.incomplete))
    out: dict[str, tuple[dict[str, int], Counter[str], int]] = {}
    with engine.connect() as conn:
        for site, key, sources, incomplete, n in conn.execute(query):
            inc, seen, total = out.get(site, ({}, Counter(), 0))
            if incomplete:
                inc[key] = inc.get(key, 0) + n
            for flag, name in SOURCE_NAMES.items():
                if sources & int(flag):
                    seen[name] += n
            out[site] = (inc, seen, total + n)
    return out


def _epoch(day: dt.date, tz: ZoneInfo, time: dt.time = dt.time()) -> float:
    return dt.datetime.combine(day, time, tz).timestamp()


def _gaps(engine: sa.Engine, period: Period) -> list[tuple[str, float, float, str]]:
    g = capture_gaps.c
    first = _epoch(period.start, ZoneInfo("UTC")) - 86400
    last = _epoch(period.end, ZoneInfo("UTC")) + 2 * 86400
    query = (sa.select(g.pbx, g.start_time, g.end_time, g.reason)
             .where(g.end_time > first, g.start_time < last).order_by(g.start_time, g.id))
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def _open_overlap(cal: SiteCalendar, site: Site, tz: ZoneInfo, start: float, end: float) -> float:
    """Seconds of the site's opening hours within [start, end)."""
    day = dt.datetime.fromtimestamp(start, tz).date()
    last = dt.datetime.fromtimestamp(end, tz).date()
    total = 0.0
    while day <= last:
        for a, b in cal.opening_intervals(site, day):
            total += max(0.0, min(end, _epoch(day, tz, b)) - max(start, _epoch(day, tz, a)))
        day += dt.timedelta(days=1)
    return total


def _imports(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    b = import_batches.c
    query = sa.select(b.kind, sa.func.count(), sa.func.sum(b.rejected)).group_by(b.kind)
    with engine.connect() as conn:
        return {kind: (int(n), int(rejected or 0))
                for kind, n, rejected in conn.execute(query.order_by(b.kind))}
