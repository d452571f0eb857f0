"""Matching a mystery call to its captured call record; the monitor's share within 25 s."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from config import Config
from monitor.store import Store
from monitor.store.models import calls
from mystery.captured import match_campaign, match_captured_call, monitor_pickup_share
from mystery.planner import Plan
from mystery.repository import campaign_results
from mystery.results_import import import_results


def captured(key: str, site: str, arrival: float, tta: float | None, *, outcome: str = "answered",
             is_test: bool = False, in_hours: bool = True, day: str = "2026-10-13") -> dict[str, Any]:
    return dict(pbx="paris-eps", call_key=key, site=site, arrival=arrival,
                answer=None if tta is None else arrival + tta, time_to_answer=tta, outcome=outcome,
                in_hours=in_hours, is_test=is_test, caller_withheld=False, incomplete=False, sources=2,
                time_source=2, resolution=1.0, local_date=day, local_hour=10, local_weekday=1)


class Ref:
    def __init__(self, site: str, called_at: float) -> None:
        self.site, self.called_at = site, called_at


def test_match_prefers_test_calls_then_the_closest(store: Store) -> None:
    t = 1_792_000_000.0
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [
            captured("near", "eps-05", t + 5, 30.0),
            captured("test", "eps-05", t + 90, 11.0, is_test=True),
            captured("other-site", "eps-06", t, 3.0),
            captured("late", "eps-05", t + 130, 4.0),
        ])
    assert match_captured_call(store, Ref("eps-05", t)).call_key == "test"
    assert match_captured_call(store, Ref("eps-05", t - 100)).call_key == "near"
    assert match_captured_call(store, Ref("eps-05", t + 260)) is None
    assert match_captured_call(store, Ref("eps-07", t)) is None


def test_match_campaign_fills_the_pbx_time(tmp_path: Path, store: Store, config: Config,
                                           planned: Plan) -> None:
    a, b = planned.calls[0], planned.calls[1]
    path = tmp_path / "r.csv"
    path.write_text("call_id;outcome;attempts\n"
                    f"{a.call_id};no_answer;1\n{b.call_id};busy;1\n", encoding="utf-8")
    import_results(store, config, path)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [captured("m1", a.site, a.epoch + 40, None, outcome="abandoned")])
    assert match_campaign(store, planned.campaign.id) == (2, 1)
    assert match_campaign(store, planned.campaign.id) == (1, 0)  # only the one still unmatched
    with store.engine.begin() as conn:
        conn.execute(sa.update(calls).where(calls.c.call_key == "m1").values(time_to_answer=21.5))
    assert match_campaign(store, planned.campaign.id, rematch=True) == (2, 1)
    results = {r.call_id: r for r in campaign_results(store, planned.campaign.id)}
    assert results[a.call_id].pbx_ring_seconds == 21.5 and results[b.call_id].pbx_ring_seconds is None


def test_monitor_share(store: Store) -> None:
    t = 1_792_000_000.0
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [
            captured("a1", "eps-05", t, 10.0), captured("a2", "eps-05", t, 24.9),
            captured("a3", "eps-05", t, 25.0), captured("ab", "eps-05", t, None, outcome="abandoned"),
            captured("sa", "eps-05", t, None, outcome="short_abandon"),
            captured("te", "eps-05", t, 3.0, is_test=True), captured("oh", "eps-05", t, 3.0, in_hours=False),
            captured("s6", "eps-06", t, 3.0), captured("d2", "eps-05", t, 3.0, day="2026-10-20"),
        ])
    first = dt.date(2026, 10, 12)
    # answered within 25 s: a1, a2; offered 5 (a1 a2 a3 ab sa) less 1 short abandon
    assert monitor_pickup_share(store, ["eps-05"], first, first + dt.timedelta(days=6)) == (2, 4)
    assert monitor_pickup_share(store, ["eps-05", "eps-06"], first, dt.date(2026, 10, 20)) == (4, 6)
    assert monitor_pickup_share(store, ["eps-07"], first, first) == (0, 0)
