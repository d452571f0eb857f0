"""A few simulated site-days (ids assigned) and the files written from them, shared by tests."""

from __future__ import annotations

import datetime as dt

import pytest

from config import Config
from monitor.calendar import SiteCalendar
from simulator.ids import assign_ids
from simulator.model import simulate_site_day
from simulator.month import Rendered, render
from simulator.timeline import SimCall

SEED = 7
# Monday: welcome + queue, ringall queue, ring group, two understaffed sites (one closed at lunch);
# a Friday with an afternoon closure (eps-11); a closed day (eps-17); a Saturday.
SITE_DAYS = (
    (dt.date(2026, 10, 5), ("eps-centre", "eps-05", "eps-07", "eps-13", "eps-18")),
    (dt.date(2026, 10, 16), ("eps-11",)),
    (dt.date(2026, 10, 30), ("eps-17",)),
    (dt.date(2026, 10, 10), ("eps-05",)),
)


@pytest.fixture(scope="session")
def sim_calls(config: Config) -> list[SimCall]:
    calendar = SiteCalendar(config)
    calls = [call for day, sites in SITE_DAYS for site in sites
             for call in simulate_site_day(config, site, day, SEED, calendar=calendar)]
    return assign_ids(calls)


@pytest.fixture(scope="session")
def sim_files(config: Config, sim_calls: list[SimCall]) -> Rendered:
    return render(sim_calls, config.pbxs["paris-eps"].tz)
