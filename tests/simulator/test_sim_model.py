"""The switchboard model: determinism, ground-truth consistency, staffing, DST days."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np

from config import Config
from ingest.site_map import SiteMap
from monitor.calendar import SiteCalendar
from monitor.call import Outcome
from monitor.timeutil import epoch_to_local
from simulator.arrivals import day_bounds, wall_hours
from simulator.ids import assign_ids
from simulator.model import month_days, simulate_day, simulate_site_day
from simulator.timeline import Kind, Role, SimCall
from simulator.truth import truth_row

MONDAY = dt.date(2026, 10, 5)


def _fingerprint(calls: list[SimCall]) -> list[tuple]:
    return [(truth_row(c), [(e.time, e.kind, e.chan.name) for e in c.events]) for c in calls]


def test_same_seed_same_calls_other_seed_other_calls(config: Config) -> None:
    first = assign_ids(simulate_site_day(config, "eps-centre", MONDAY, seed=11))
    again = assign_ids(simulate_site_day(config, "eps-centre", MONDAY, seed=11))
    other = assign_ids(simulate_site_day(config, "eps-centre", MONDAY, seed=12))
    assert _fingerprint(first) == _fingerprint(again)
    assert _fingerprint(first) != _fingerprint(other)


def test_a_site_day_is_the_same_alone_or_within_a_day(config: Config) -> None:
    alone = simulate_site_day(config, "eps-07", MONDAY, seed=3)
    within = [c for c in simulate_day(config, MONDAY, 3, sites=["eps-05", "eps-07"])
              if c.site == "eps-07"]
    assert [(c.arrival, c.end, c.outcome) for c in alone] == \
        [(c.arrival, c.end, c.outcome) for c in within]


def test_truth_is_consistent(config: Config, sim_calls: list[SimCall]) -> None:
    calendar, sites = SiteCalendar(config), SiteMap.build(config, "paris-eps")
    tz = config.pbxs["paris-eps"].tz
    for call in sim_calls:
        is_open = calendar.is_open(config.site(call.site), epoch_to_local(call.arrival, tz))
        assert call.end >= call.arrival
        assert (call.outcome is Outcome.ANSWERED) == (call.answer is not None)
        if call.answer is not None:
            assert call.arrival <= call.answer <= call.end
            assert is_open, "a person answered a call that arrived while the site was closed"
            assert sites.staff_site(call.answered_by) == call.site
        assert (call.outcome is Outcome.MESSAGE) == (not is_open)
        if call.outcome is Outcome.MESSAGE:
            assert call.end - call.arrival <= config.site(call.site).message_seconds + 1
        if call.outcome is Outcome.SHORT_ABANDON:
            assert call.end - call.arrival < config.targets.short_abandon_seconds


def test_every_outcome_and_shape_occurs(sim_calls: list[SimCall]) -> None:
    outcomes = Counter(c.outcome for c in sim_calls)
    expected = {Outcome.ANSWERED, Outcome.ABANDONED, Outcome.SHORT_ABANDON, Outcome.BUSY,
                Outcome.MESSAGE, Outcome.VOICEMAIL}  # FAILED: 0.3 % of calls, not always there
    assert expected <= set(outcomes), outcomes
    kinds = Counter(e.kind for c in sim_calls for e in c.events)
    for kind in (Kind.BLIND_TRANSFER, Kind.QUEUE_EXIT_EMPTY, Kind.AGENT_RING_CANCELED,
                 Kind.AGENT_RING_NO_ANSWER, Kind.QUEUE_ABANDON):
        assert kinds[kind], kind
    assert any(c.is_test for c in sim_calls)


def test_timelines_are_ordered_and_ids_consistent(sim_calls: list[SimCall]) -> None:
    names, uniqueids = set(), set()
    for call in sim_calls:
        times = [e.time for e in call.events]
        assert times == sorted(times) and times[0] == call.arrival
        assert call.caller.created == call.arrival and call.caller.role is Role.CALLER
        caller_events = [e for e in call.events if e.chan is call.caller]
        assert caller_events[-1].kind is Kind.HANGUP and caller_events[-1].time == call.end
        for chan in call.channels:
            assert chan.linkedid == call.key
            assert chan.uniqueid.split(".")[0] == str(int(chan.created))
            assert chan.name not in names and chan.uniqueid not in uniqueids
            names.add(chan.name)
            uniqueids.add(chan.uniqueid)
            assert chan.name.startswith(chan.tech + "-")
        hangups = Counter(e.chan for e in call.events if e.kind is Kind.HANGUP)
        assert all(hangups[ch] == 1 for ch in call.channels)


def test_understaffed_sites_answer_less_often_within_25_s(config: Config) -> None:
    calendar = SiteCalendar(config)
    days = [d for d in month_days("2026-10")[4:18] if d.weekday() < 5]
    rate = {}
    for site in ("eps-13", "eps-18", "eps-10", "eps-15"):
        calls = [c for d in days for c in simulate_site_day(config, site, d, 5, calendar=calendar)
                 if c.outcome is not Outcome.MESSAGE and not c.is_test]
        fast = [c.answer is not None and c.answer - c.arrival < 25 for c in calls]
        rate[site] = float(np.mean(fast))
    assert max(rate["eps-13"], rate["eps-18"]) + 0.15 < min(rate["eps-10"], rate["eps-15"])


def test_local_day_bounds_and_wall_clock_on_dst_days(config: Config) -> None:
    tz = config.pbxs["paris-eps"].tz
    for day, hours, at_change in ((dt.date(2026, 10, 25), 25, 2.0), (dt.date(2026, 3, 29), 23, 3.0)):
        start, end = day_bounds(day, tz)
        assert end - start == hours * 3600
        change = dt.datetime(day.year, day.month, day.day, 1, tzinfo=dt.UTC).timestamp()
        wall = wall_hours(np.array([start, change - 1, change, end - 1]), day, tz)
        assert wall[0] == 0 and wall[2] == at_change and abs(wall[3] - 24) < 0.001
        assert wall[1] == (3.0 if hours == 25 else 2.0) - 1 / 3600


def test_25_hour_day_has_calls_in_both_02_h(config: Config) -> None:
    day, tz = dt.date(2026, 10, 25), config.pbxs["paris-eps"].tz
    calls = simulate_site_day(config, "eps-05", day, seed=2, volume=1000)
    start, end = day_bounds(day, tz)
    local = [epoch_to_local(c.arrival, tz) for c in calls]
    assert all(start <= c.arrival < end for c in calls)
    assert {t.date() for t in local} == {day}
    assert {t.fold for t in local if t.hour == 2} == {0, 1}
    assert {c.outcome for c in calls} == {Outcome.MESSAGE}  # a Sunday: closed all day


def test_23_hour_day(config: Config) -> None:
    day, tz = dt.date(2026, 3, 29), config.pbxs["paris-eps"].tz
    calls = simulate_site_day(config, "eps-05", day, seed=2, volume=1000)
    start, end = day_bounds(day, tz)
    hours = Counter(epoch_to_local(c.arrival, tz).hour for c in calls)
    assert all(start <= c.arrival < end for c in calls)
    assert 2 not in hours and hours[1] and hours[3]
    assert {c.outcome for c in calls} == {Outcome.MESSAGE}
