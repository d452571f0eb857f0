"""Wallboard tests: a simulated site-day (understaffed: long rings happen), a loop thread."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from config import Config
from simulator.ids import assign_ids
from simulator.model import simulate_site_day
from simulator.timeline import SimCall
from tests.wallboard.wallboard_support import LoopThread


@pytest.fixture(scope="session")
def sim_calls(config: Config) -> list[SimCall]:
    return assign_ids(simulate_site_day(config, "eps-13", dt.date(2026, 10, 5), 7))


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    """An event loop in a thread (a server there, a blocking client in the test)."""
    lt = LoopThread()
    yield lt
    lt.stop()
