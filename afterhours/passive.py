"""The passive check: were the calls that arrived while a site was closed answered by its message?

A call is "after hours" when the site is closed at its arrival by the current configuration:
outside the weekly hours, during a planned closure (closures.toml) or on a French public
holiday. Such a call should end with outcome `message` (the dialplan's message context
answered it). It is "heard to the end" when it lasted at least the site's `message_seconds`
(less the source's time resolution). Anything else — ringing out, busy, failed, voicemail, a
caller who gave up before any answer — is a failure, kept with its local time. A person who
answers after hours is counted apart, not as a failure; so is a call the site directory cannot
classify (answered by a machine outside the message contexts, or by a device no site lists:
"à classer", `qualiphone sites check`), which is never read as a failure of the message. Test
calls are left out.

A site is flagged when at least `min_failures` after-hours calls were not answered by the
message and fewer than `min_answered_share` of them were (afterhours.toml, [check]).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from afterhours.settings import CheckSettings
from config import Config
from monitor.calendar import SiteCalendar, holiday_name
from monitor.call import Outcome
from monitor.store import Store
from monitor.store.models import calls
from monitor.timeutil import epoch_to_local


@dataclass(frozen=True)
class Failure:
    """An after-hours call the message did not answer."""

    local_time: dt.datetime
    outcome: str
    period: str  # closed, closure, holiday


@dataclass
class SiteDay:
    site: str
    date: dt.date
    calls: int = 0  # after-hours calls
    by_message: int = 0
    heard: int = 0  # answered by the message and heard to the end
    by_person: int = 0
    unclassified: int = 0  # the directory cannot tell (machine or device it does not list)
    failures: list[Failure] = field(default_factory=list)
    closure_calls: int = 0  # of `calls`, those during a planned closure
    closure_message: int = 0  # … taken by the message


@dataclass
class SiteSummary:
    site: str
    calls: int = 0
    by_message: int = 0
    heard: int = 0
    by_person: int = 0
    unclassified: int = 0
    failures: int = 0
    flagged: bool = False
    closure_calls: int = 0  # calls during a planned closure (closures.toml)
    closure_message: int = 0  # … taken by the message
    closure_failures: int = 0  # … neither the message nor a person

    @property
    def answered_share(self) -> float | None:
        handled = self.calls - self.by_person - self.unclassified
        return self.by_message / handled if handled else None


@dataclass
class PassiveCheck:
    month: str
    days: list[SiteDay]
    sites: list[SiteSummary]

    @property
    def flagged(self) -> list[str]:
        return [s.site for s in self.sites if s.flagged]


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of YYYY-MM."""
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def closed_period(calendar: SiteCalendar, config: Config, site_id: str, local: dt.datetime) -> str | None:
    """Why the site is closed at `local` (holiday, closure, closed), or None when it is open."""
    site = config.site(site_id)
    if calendar.is_open(site, local):
        return None
    if holiday_name(local.date()) is not None:
        return "holiday"
    return "closure" if calendar.closure_at(site_id, local) is not None else "closed"


class _ClosedAt:
    """`closed_period` for many calls: each site's day (opening intervals after holidays and
    closures) is worked out once, not once per call."""

    def __init__(self, config: Config) -> None:
        self.config, self.calendar = config, SiteCalendar(config)
        self.tz = {s.id: config.pbxs[s.pbx].tz for s in config.sites}
        self._days: dict[tuple[str, dt.date], list[tuple[dt.time, dt.time]]] = {}

    def __call__(self, site_id: str, local: dt.datetime) -> str | None:
        day = local.date()
        intervals = self._days.get((site_id, day))
        if intervals is None:
            intervals = self.calendar.opening_intervals(self.config.site(site_id), day)
            self._days[(site_id, day)] = intervals
        moment = local.time().replace(tzinfo=None)
        if any(start <= moment < end for start, end in intervals):
            return None
        return closed_period(self.calendar, self.config, site_id, local)


def _rows(store: Store, first: dt.date, last: dt.date, sites: Sequence[str]) -> list[sa.Row]:
    query = (sa.select(calls.c.site, calls.c.pbx, calls.c.arrival, calls.c.end_time, calls.c.outcome,
                       calls.c.resolution)
             .where(calls.c.local_date.between(first.isoformat(), last.isoformat()),
                    calls.c.site.in_(list(sites)), sa.not_(calls.c.is_test))
             .order_by(calls.c.site, calls.c.arrival))
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def _add(day: SiteDay, row: sa.Row, local: dt.datetime, period: str, message_seconds: float) -> None:
    day.calls += 1
    if period == "closure":
        day.closure_calls += 1
        day.closure_message += row.outcome == Outcome.MESSAGE
    if row.outcome == Outcome.MESSAGE:
        day.by_message += 1
        length = (row.end_time or row.arrival) - row.arrival
        day.heard += length >= message_seconds - (row.resolution or 0.0)
    elif row.outcome == Outcome.ANSWERED:
        day.by_person += 1
    elif row.outcome in (Outcome.MACHINE, Outcome.UNKNOWN_DEVICE):
        day.unclassified += 1
    else:
        day.failures.append(Failure(local.replace(tzinfo=None, microsecond=0), row.outcome, period))


def check_month(store: Store, config: Config, month: str, sites: Sequence[str] | None = None,
                settings: CheckSettings | None = None) -> PassiveCheck:
    """Per site and day: after-hours calls, answered by the message, heard, failures."""
    settings = settings or CheckSettings()
    site_ids = list(sites or config.site_ids)
    for site_id in site_ids:
        config.site(site_id)  # UnknownSite for a typo
    first, last = month_bounds(month)
    closed = _ClosedAt(config)
    days: dict[tuple[str, dt.date], SiteDay] = {}
    for row in _rows(store, first, last, site_ids):
        local = epoch_to_local(row.arrival, closed.tz[row.site])
        period = closed(row.site, local)
        if period is None:
            continue
        day = days.setdefault((row.site, local.date()), SiteDay(row.site, local.date()))
        _add(day, row, local, period, config.site(row.site).message_seconds)
    ordered = sorted(days.values(), key=lambda d: (site_ids.index(d.site), d.date))
    return PassiveCheck(month, ordered, [_summary(s, ordered, settings) for s in site_ids])


def _summary(site: str, days: list[SiteDay], settings: CheckSettings) -> SiteSummary:
    s = SiteSummary(site)
    for d in days:
        if d.site == site:
            s.calls += d.calls
            s.by_message += d.by_message
            s.heard += d.heard
            s.by_person += d.by_person
            s.unclassified += d.unclassified
            s.failures += len(d.failures)
            s.closure_calls += d.closure_calls
            s.closure_message += d.closure_message
            s.closure_failures += sum(f.period == "closure" for f in d.failures)
    share = s.answered_share
    s.flagged = s.failures >= settings.min_failures and share is not None and \
        share < settings.min_answered_share
    return s
