"""Fixtures shared by the ingest tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.ingest.columnar_support")

from config import load_config  # noqa: E402
from tests.ingest.columnar_support import simulated_days  # noqa: E402


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's Master.csv, queue_log and CEL of four days around each 2026 DST change,
    every site."""
    days = [dt.date(2026, 3, 27) + dt.timedelta(days=i) for i in range(4)] + \
        [dt.date(2026, 10, 23) + dt.timedelta(days=i) for i in range(4)]
    return simulated_days(load_config(), days, tmp_path_factory.mktemp("sim"))
