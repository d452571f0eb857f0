"""Matching a mystery call to its captured call record; the monitor's share within 25 s."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from config import Config
from monitor.pseudonym import normalize_number, pseudonymizer_for
from monitor.store import Store
from monitor.store.models import calls
from mystery.captured import CampaignLines, match_campaign, match_captured_call, monitor_pickup_share
from mystery.planner import Plan
from mystery.repository import campaign_results
from mystery.results_import import import_results


def captured(key: str, site: str, arrival: float, tta: float | None, *, outcome: str = "answered",
             is_test: bool = False, in_hours: bool = True, day: str = "2026-10-13",
             caller_hash: str | None = None) -> dict[str, Any]:
    return dict(pbx="paris-eps", call_key=key, site=site, arrival=arrival,
                answer=None if tta is None else arrival + tta, time_to_answer=tta, outcome=outcome,
                in_hours=in_hours, is_test=is_test, caller_withheld=False, incomplete=False, sources=2,
                time_source=2, resolution=1.0, local_date=day, local_hour=10, local_weekday=1,
                caller_hash=caller_hash)


class Ref:
    def __init__(self, site: str, called_at: float) -> None:
        self.site, self.called_at = site, called_at


LINE = "0140000001"  # one of the campaign's caller lines


def hashed(config: Config, number: str) -> str | None:
    pseudo = pseudonymizer_for(config.capture)
    assert pseudo is not None
    return pseudo.caller_hash(normalize_number(number))


def test_only_the_campaigns_own_calls_are_attached(store: Store, config: Config) -> None:
    """A citizen's call at the same site in the same minute is never attached; a call from one
    of the campaign's lines (compared through the capture's pseudonym) or a test call is."""
    t = 1_792_000_000.0
    own = CampaignLines.of([LINE], config)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [
            captured("citizen", "eps-05", t + 2, 30.0, caller_hash=hashed(config, "0612345678")),
            captured("line", "eps-05", t + 400, 11.0, caller_hash=hashed(config, "+33140000001")),
            captured("test", "eps-06", t + 900, 7.0, is_test=True),
            captured("other-site", "eps-07", t, 3.0, caller_hash=hashed(config, LINE)),
        ])
    found = match_captured_call(store, Ref("eps-05", t), own)
    assert found.row is not None and found.row.call_key == "line"  # 400 s away, still its own
    assert match_captured_call(store, Ref("eps-06", t + 880), own).row.call_key == "test"
    # no line, no test: the citizen's call in the same second is not attached, and it says why
    missed = match_captured_call(store, Ref("eps-05", t), CampaignLines())
    assert missed.row is None and "2 other calls then are not from its lines" in missed.reason
    assert match_captured_call(store, Ref("eps-05", t + 4000), own).row is None


def test_two_equally_close_own_calls_are_ambiguous(store: Store, config: Config) -> None:
    t = 1_792_000_000.0
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [
            captured("x", "eps-05", t - 100, 11.0, is_test=True),
            captured("y", "eps-05", t + 110, 12.0, is_test=True)])
    found = match_captured_call(store, Ref("eps-05", t), CampaignLines())
    assert found.row is None and found.ambiguous and "match it by hand" in found.reason


def test_match_campaign_fills_the_pbx_time(tmp_path: Path, store: Store, config: Config,
                                           planned: Plan) -> None:
    a, b = planned.calls[0], planned.calls[1]
    path = tmp_path / "r.csv"
    path.write_text("call_id;outcome;attempts\n"
                    f"{a.call_id};no_answer;1\n{b.call_id};busy;1\n", encoding="utf-8")
    import_results(store, config, path)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(calls), [
            captured("m1", a.site, a.epoch + 40, None, outcome="abandoned",
                     caller_hash=hashed(config, LINE)),
            captured("citizen", b.site, b.epoch + 5, 9.0, caller_hash=hashed(config, "0612345678"))])
    first = match_campaign(store, config, planned.campaign.id, lines=[LINE])
    assert (first.looked, first.matched) == (2, 1)
    assert [call for call, _ in first.unmatched] == [b.call_id]  # the citizen is not attached
    again = match_campaign(store, config, planned.campaign.id, lines=[LINE])
    assert (again.looked, again.matched) == (1, 0)  # only the one still unmatched
    with store.engine.begin() as conn:
        conn.execute(sa.update(calls).where(calls.c.call_key == "m1").values(time_to_answer=21.5))
    third = match_campaign(store, config, planned.campaign.id, rematch=True, lines=[LINE])
    assert (third.looked, third.matched) == (2, 1)
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
