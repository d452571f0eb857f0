"""Erlang-C and Erlang-A against known values and limits; agents needed; opening hours."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from monitor.metrics.staffing import (
    _stationary,
    agents_needed,
    erlang_a_within,
    erlang_c_wait_probability,
    erlang_c_within,
    opening_hours_by_hour,
)


def test_erlang_c_textbook() -> None:
    assert erlang_c_wait_probability(3, 2.0) == pytest.approx(4 / 9)
    # 100 calls per half hour, 180 s each: A = 10 erlangs; 11 agents wait with p = 0.6821
    assert erlang_c_wait_probability(11, 10.0) == pytest.approx(0.6821, abs=1e-4)
    rate, handle = 100 / 1800, 180.0
    assert erlang_c_within(11, rate, handle, 20) == pytest.approx(
        1 - 0.68212 * math.exp(-1 * 20 / 180), abs=1e-4)
    assert erlang_c_within(10, rate, handle, 20) == 0.0  # overloaded


def test_erlang_a_tends_to_erlang_c_without_abandons() -> None:
    rate, handle = 100 / 1800, 180.0
    for n in (11, 12, 14):
        assert erlang_a_within(n, rate, handle, 1e9, 25) == pytest.approx(
            erlang_c_within(n, rate, handle, 25), abs=1e-5)


def test_erlang_a_with_patience_equal_to_handling_time() -> None:
    """theta = mu: the number in the system is Poisson(A); nobody waits forever, so
    P(answered within a very long time) = 1 - P(abandon) = 1 - E[queue]·theta / lambda."""
    rate, handle, agents = 4 / 60, 30.0, 3
    load = rate * handle
    p = _stationary(agents, rate, 1 / handle, 1 / handle)
    poisson = np.array([math.exp(-load) * load**k / math.factorial(k) for k in range(p.size)])
    assert p == pytest.approx(poisson, abs=1e-9)
    queue = sum((k - agents) * pk for k, pk in enumerate(p) if k > agents)
    expected = 1 - queue * (1 / handle) / rate
    assert erlang_a_within(agents, rate, handle, handle, 3000) == pytest.approx(expected, abs=1e-6)


def test_patience_helps_the_pickup_rate() -> None:
    rate, handle = 100 / 1800, 180.0
    assert erlang_a_within(11, rate, handle, 60, 25) > erlang_c_within(11, rate, handle, 25)


def test_agents_needed() -> None:
    rate = np.array([100 / 1800, 0.0, np.nan, 100 / 1800])
    handle = np.array([180.0, 180.0, 180.0, np.nan])
    c = agents_needed(rate, handle, 0.8, 20)
    assert c[0] == 14 and c[1] == 0 and np.isnan(c[2]) and np.isnan(c[3])
    assert erlang_c_within(13, rate[0], 180.0, 20) < 0.8 <= erlang_c_within(14, rate[0], 180.0, 20)
    a = agents_needed(rate, handle, 0.8, 20, np.array([120.0] * 4))
    assert a[0] <= c[0]


def test_opening_hours_by_hour() -> None:
    day = [(dt.time(8, 30), dt.time(12, 30)), (dt.time(13, 30), dt.time(17, 0))]
    hours = opening_hours_by_hour([day, day, []])
    assert hours[8] == 1.0 and hours[9] == 2.0 and hours[12] == 1.0 and hours[13] == 1.0
    assert hours[17] == 0 and hours.sum() == 2 * 7.5
