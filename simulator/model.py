"""The switchboard model: the simulated calls of one site-day, of one day, of a month.

Every site-day has its own random stream (seed, site id, date), so a site-day comes out the same
whether it is simulated alone or within a month. Times are UTC epochs; local time is used only
to decide opening hours (SiteCalendar) and to shape the arrival rate.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from config import Config
from monitor.calendar import SiteCalendar
from monitor.timeutil import epoch_to_local
from simulator.arrivals import sample_arrivals
from simulator.engine import Plan, QueueEngine, patience, run_ringgroup
from simulator.flows import build_call
from simulator.messages import message_missing
from simulator.profiles import TEST_CALLER, WELCOME_SECONDS, SiteSetup, site_setup
from simulator.staff import day_agents
from simulator.timeline import SimCall, us

P_FAILED = 0.003  # trunk congestion
P_TEST_CALL = 0.35  # a test call on an open day
P_MESSAGE_EARLY = 0.3  # the caller hangs up before the end of the closed message
P_WITHHELD = 0.08


def month_days(month: str) -> list[dt.date]:
    """The dates of a month given as YYYY-MM."""
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=i) for i in range((nxt - first).days)]


def caller_number(rng: np.random.Generator) -> str:
    """A French mobile or landline number, or "anonymous" for a withheld one."""
    u = rng.random()
    if u < P_WITHHELD:
        return "anonymous"
    prefix = ("06", "07")[int(rng.integers(2))] if u < 0.65 else \
        ("01", "01", "01", "09", "03", "04")[int(rng.integers(6))]
    return f"{prefix}{int(rng.integers(0, 10**8)):08d}"


def _test_plans(setup: SiteSetup, day: dt.date, calendar: SiteCalendar, tz: ZoneInfo,
                rng: np.random.Generator) -> list[Plan]:
    opening = calendar.opening_intervals(setup.site, day)
    if not opening or rng.random() >= P_TEST_CALL:
        return []
    a, b = opening[int(rng.integers(len(opening)))]
    start = dt.datetime.combine(day, a, tz).timestamp()
    end = dt.datetime.combine(day, b, tz).timestamp()
    t = us(rng.uniform(start, end))
    return [Plan(t, t + patience(rng, True), TEST_CALLER, is_test=True)]


def route(plan: Plan, setup: SiteSetup, is_open: bool, rng: np.random.Generator,
           no_message: bool = False) -> None:
    """Closed → message; otherwise the switchboard (rarely a congested trunk).

    A site whose message is missing (config/simulation.toml) gives closed-time callers a
    congestion tone; they hang up after a few seconds.
    """
    if not is_open and no_message:
        plan.route, plan.exit = "failed", "failed"
        plan.end = us(plan.arrival + 0.03 + rng.uniform(2.0, 8.0))
    elif not is_open:
        plan.route, plan.up = "message", us(plan.arrival + rng.uniform(0.15, 0.35))
        length = max(setup.site.message_seconds, 3.0)
        if rng.random() < P_MESSAGE_EARLY:
            plan.exit, plan.end = "message_early", us(plan.up + rng.uniform(1.5, length - 1))
        else:
            plan.exit, plan.end = "message", us(plan.up + length)
    elif rng.random() < P_FAILED:
        plan.route, plan.exit = "failed", "failed"
        plan.end = us(plan.arrival + 0.03 + rng.uniform(0.5, 3.0))
    elif setup.profile.shape == "ringgroup":
        plan.route = "ringgroup"
    elif setup.profile.welcome:
        plan.up = us(plan.arrival + rng.uniform(0.15, 0.3))
        entry = us(plan.up + WELCOME_SECONDS + rng.uniform(0.02, 0.08))
        if plan.patience_end < entry:  # hangs up during the announcement
            plan.exit, plan.end = "hangup", us(max(plan.patience_end, plan.up + 0.05))
        else:
            plan.queue_entry = entry
    else:
        plan.queue_entry = us(plan.arrival + rng.uniform(0.03, 0.25))


def simulate_site_day(config: Config, site_id: str, day: dt.date, seed: int = 0, *,
                      volume: float = 1.0, calendar: SiteCalendar | None = None) -> list[SimCall]:
    """All calls to one site over one local day, in arrival order (ids not yet assigned)."""
    site = config.site(site_id)
    setup = site_setup(site)
    tz = config.pbxs[site.pbx].tz
    calendar = calendar or SiteCalendar(config)
    rng = np.random.default_rng([seed, setup.seed_key, day.toordinal()])
    plans = [Plan(float(t), float(t) + patience(rng, False), caller_number(rng))
             for t in sample_arrivals(rng, setup.profile, day, tz, volume)]
    plans += _test_plans(setup, day, calendar, tz, rng)
    plans.sort(key=lambda p: p.arrival)
    missing = message_missing(config, site_id)
    for plan in plans:
        route(plan, setup, calendar.is_open(site, epoch_to_local(plan.arrival, tz)), rng, missing)
    agents = day_agents(setup, day, calendar.opening_intervals(site, day), tz, rng)
    if setup.profile.shape == "ringgroup":
        run_ringgroup(agents, setup.profile, rng, [p for p in plans if p.route == "ringgroup"])
    else:
        queued = [p for p in plans if p.route == "queue" and p.queue_entry is not None]
        QueueEngine(agents, setup.profile, rng).run(queued)
    short = config.targets.short_abandon_seconds
    return [build_call(setup, plan, rng, short) for plan in plans]


def simulate_day(config: Config, day: dt.date, seed: int = 0, sites: list[str] | None = None,
                 calendar: SiteCalendar | None = None) -> list[SimCall]:
    """All calls of the given sites (default: every configured site) over one local day."""
    calendar = calendar or SiteCalendar(config)
    calls = [call for site_id in (sites or config.site_ids)
             for call in simulate_site_day(config, site_id, day, seed, calendar=calendar)]
    calls.sort(key=lambda c: c.arrival)
    return calls
