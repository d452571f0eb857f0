"""Every plan respects hours, holidays, closures, gaps and callers; the same seed, the same plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from config import Closure, Config, load_config
from config.loader import WEEKDAYS
from monitor.calendar import SiteCalendar, holiday_name
from mystery.balance import balance
from mystery.campaign import Caller, Campaign, find_campaign, load_campaign
from mystery.planner import Plan, PlanningError, apportion, day_candidates, plan_campaign, site_code

CONFIG = load_config()
BASE = load_campaign(find_campaign("eps-2026", CONFIG), CONFIG)
SITES = ("eps-centre", "eps-05", "eps-11", "eps-13", "eps-17", "eps-18", "eps-20")


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


@st.composite
def callers(draw: st.DrawFn, index: int) -> Caller:
    days = draw(st.lists(st.sampled_from(range(5)), min_size=1, max_size=5, unique=True))
    start = draw(st.sampled_from([dt.time(8, 30), dt.time(9, 0), dt.time(11, 0), dt.time(13, 30)]))
    end = draw(st.sampled_from([dt.time(12, 30), dt.time(16, 0), dt.time(17, 0)]))
    assume(start < end)
    return Caller(
        id=f"c{index}", name=f"Appelant {index}", phone="",
        availability={d: ((start, end),) if d in days else () for d in range(7)},
        unavailable=tuple(draw(st.lists(st.dates(dt.date(2026, 10, 5), dt.date(2026, 10, 30)), max_size=3))),
        max_calls=draw(st.none() | st.integers(3, 12)), max_per_day=draw(st.none() | st.integers(1, 4)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Campaign, Config, int]:
    sites = tuple(draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=4, unique=True)))
    start = draw(st.dates(dt.date(2026, 10, 5), dt.date(2026, 11, 5)))
    n_callers = draw(st.integers(1, 3))
    campaign = dataclasses.replace(
        BASE, sites=sites, start=start, end=start + dt.timedelta(days=draw(st.integers(4, 25))),
        calls_per_site=draw(st.integers(1, 5)), min_gap_minutes=draw(st.sampled_from([0, 60, 120, 240])),
        slot_minutes=draw(st.sampled_from([10, 20, 45])),
        closing_margin_minutes=draw(st.sampled_from([0, 5, 15])),
        callers=tuple(draw(callers(i)) for i in range(n_callers)),
    )
    closures = tuple(
        Closure(draw(st.sampled_from(("all", *sites))), draw(st.dates(start, campaign.end)),
                draw(st.sampled_from(("day", "am", "pm"))), "test")
        for _ in range(draw(st.integers(0, 4))))
    config = dataclasses.replace(CONFIG, closures=CONFIG.closures + closures)
    return campaign, config, draw(st.integers(0, 2**31))


def check_plan(plan: Plan, config: Config) -> None:
    """Every constraint, checked without the planner's own helpers."""
    campaign, calendar = plan.campaign, SiteCalendar(config)
    assert Counter(c.site for c in plan.calls) == {s: campaign.calls_per_site for s in campaign.sites}
    assert len({c.call_id for c in plan.calls}) == len(plan.calls)
    for call in plan.calls:
        site = config.site(call.site)
        assert campaign.start <= call.start.date() <= campaign.end
        assert holiday_name(call.start.date()) is None
        last = call.start + dt.timedelta(minutes=max(campaign.closing_margin_minutes - 1, 0))
        assert calendar.is_open(site, call.start) and calendar.is_open(site, last), call
        assert call.band in day_candidates(campaign, site, calendar, call.start.date())
        caller = next(c for c in campaign.callers if c.id == call.caller)
        begin, end = _minutes(call.start.time()), _minutes(call.start.time()) + campaign.slot_minutes
        assert any(_minutes(a) <= begin and end <= _minutes(b)
                   for a, b in caller.availability[call.weekday]), call
        assert call.start.date() not in caller.unavailable
    for key in ("site", "caller"):
        groups: dict[str, list[dt.datetime]] = {}
        for call in plan.calls:
            groups.setdefault(getattr(call, key), []).append(call.start)
        gap = campaign.min_gap_minutes if key == "site" else campaign.slot_minutes
        for starts in groups.values():
            starts.sort()
            assert all((b - a) >= dt.timedelta(minutes=gap) for a, b in itertools.pairwise(starts))
    for caller in campaign.callers:
        mine = [c for c in plan.calls if c.caller == caller.id]
        assert caller.max_calls is None or len(mine) <= caller.max_calls
        per_day = Counter(c.start.date() for c in mine)
        assert caller.max_per_day is None or max(per_day.values(), default=0) <= caller.max_per_day


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_plan_respects_the_constraints(case: tuple[Campaign, Config, int]) -> None:
    campaign, config, seed = case
    try:
        plan = plan_campaign(campaign, config, seed)
    except PlanningError as exc:
        assert exc.site in campaign.sites and "cannot place every call" in str(exc)
        event("infeasible")
        return
    event("planned")
    check_plan(plan, config)
    assert plan_campaign(campaign, config, seed).calls == plan.calls


def test_default_campaign_plan(config: Config) -> None:
    plan = plan_campaign(BASE, config, 2026)
    check_plan(plan, config)
    assert len(plan.calls) == 17 * 8 and not plan.moved
    assert plan_campaign(BASE, config, 2026).calls == plan.calls
    assert plan_campaign(BASE, config, 2027).calls != plan.calls
    b = balance(plan, config)
    assert b.max_deviation < 1.0  # weekdays and bands within one call of their weighted target
    assert b.band_target["matinee"] > b.band_target["midi"]  # busy hours over-sampled
    assert max(b.per_caller.values()) - min(b.per_caller.values()) <= 6
    assert {c.call_id for c in plan.calls if c.site == "eps-centre"} == {
        f"EPS26-CENTRE-{i:03d}" for i in range(1, 9)}
    assert sum(c.double for c in plan.calls) == round(0.15 * 136)
    for site in BASE.sites:  # 8 calls, 5 scenarios of equal weight: 1 or 2 of each
        assert set(Counter(c.scenario for c in plan.calls if c.site == site).values()) <= {1, 2}


def test_closures_and_holidays_are_skipped(config: Config) -> None:
    plan = plan_campaign(BASE, config, 1)
    days = {(c.site, c.start.date(), c.start.time() >= dt.time(12, 30)) for c in plan.calls}
    assert not any(d == dt.date(2026, 11, 11) for _, d, _ in days)  # Armistice
    assert not any(s == "eps-17" and d == dt.date(2026, 10, 30) for s, d, _ in days)
    assert ("eps-11", dt.date(2026, 10, 16), True) not in days
    thursday_13 = [c for c in plan.calls if c.site == "eps-13" and c.weekday == 3]
    assert all(c.start.time() < dt.time(12, 30) for c in thursday_13)


def test_closing_band_is_the_half_hour_before_each_closing(config: Config) -> None:
    calendar = SiteCalendar(config)
    day = dt.date(2026, 10, 15)  # a Thursday
    eps13 = day_candidates(BASE, config.site("eps-13"), calendar, day)
    assert eps13["fermeture"][0] == 12 * 60 and eps13["fermeture"][-1] == 12 * 60 + 25
    assert "apres-midi" not in eps13 and "midi" not in eps13
    eps18 = day_candidates(BASE, config.site("eps-18"), calendar, day)
    assert 12 * 60 in eps18["fermeture"] and 16 * 60 + 30 in eps18["fermeture"]
    assert min(eps18["midi"]) == 13 * 60 + 30


@given(st.dictionaries(st.integers(0, 6), st.floats(0.1, 5), min_size=1), st.integers(1, 40),
       st.integers(0, 1000))
def test_apportion_gives_floor_or_ceiling(weights: dict[int, float], n: int, seed: int) -> None:
    counts = apportion(weights, n, {}, random.Random(seed))
    total = sum(weights.values())
    assert sum(counts.values()) == n
    for k, w in weights.items():
        assert int(n * w / total) <= counts[k] <= int(n * w / total) + 1


def test_no_caller_available_is_a_planning_error(config: Config) -> None:
    nobody = dataclasses.replace(BASE.callers[0], availability={d: () for d in range(7)})
    with pytest.raises(PlanningError, match=r'cannot place every call of site "eps-centre": no free caller'):
        plan_campaign(dataclasses.replace(BASE, callers=(nobody,)), config, 1)


def test_site_code() -> None:
    assert site_code("eps-05") == "05" and site_code("eps-centre") == "CENTRE"
    assert WEEKDAYS[0] == "mon"
