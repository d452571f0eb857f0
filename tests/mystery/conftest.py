"""Small campaigns derived from the shipped one, and a store with one of them planned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config import SHIPPED_DIR, Config
from monitor.store import Store
from mystery.campaign import Campaign, load_campaign
from mystery.planner import Plan, plan_campaign
from mystery.repository import save_plan

SHIPPED_CAMPAIGN = SHIPPED_DIR / "campaigns" / "eps-2026.toml"


def campaign_text(**changes: str) -> str:
    """The shipped campaign's TOML with some top-level lines replaced (key = new value)."""
    lines = SHIPPED_CAMPAIGN.read_text(encoding="utf-8").splitlines()
    for key, value in changes.items():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
        lines[index] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


SMALL = {
    "id": '"test-2026"', "code": '"T26"', "sites": '["eps-05", "eps-13", "eps-18"]',
    "start": "2026-10-12", "end": "2026-10-23", "calls_per_site": "4",
}
PREVIOUS = {**SMALL, "id": '"test-2025"', "code": '"T25"', "year": "2025", "start": "2025-10-13",
            "end": "2025-10-24"}


@pytest.fixture
def small_changes() -> dict[str, str]:
    return dict(SMALL)


@pytest.fixture
def previous_changes() -> dict[str, str]:
    return dict(PREVIOUS)


@pytest.fixture
def write_campaign(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str = "small", **changes: str) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(campaign_text(**changes), encoding="utf-8")
        return path
    return write


@pytest.fixture
def small(write_campaign: Callable[..., Path], config: Config) -> Campaign:
    return load_campaign(write_campaign("small", **SMALL), config)


@pytest.fixture
def planned(small: Campaign, config: Config, store: Store) -> Plan:
    """The small campaign planned (seed 7) and stored."""
    plan = plan_campaign(small, config, 7)
    save_plan(store, plan, config)
    return plan
