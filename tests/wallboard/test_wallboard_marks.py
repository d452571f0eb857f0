"""What the board says beside each figure: below the goal, too few calls, directory incomplete,
today's date; and that its figures stay the core's (those of `stats`)."""

from __future__ import annotations

import datetime as dt

from config import Config
from monitor.call import Outcome
from monitor.metrics.records import records
from monitor.query import StatsRequest, store_stats
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.wallboard.board import MIN_N, Wallboard, french_date, rate_marks, short_name
from tests.ingest.ami.ami_support import run
from tests.wallboard.board_scenario import (
    DAY,
    INCOMPLETE_SITE,
    NOW,
    StaticFeed,
    morning_calls,
    morning_feed,
)


def test_rate_marks() -> None:
    assert rate_marks(0.79, 50, 0.8) == (True, False)
    assert rate_marks(0.80, 50, 0.8) == (False, False)  # the goal itself is reached
    assert rate_marks(0.0, 1, 0.8) == (True, True)  # below, but on one call: muted
    assert rate_marks(1.0, MIN_N - 1, 0.8) == (False, True)
    assert rate_marks(None, 0, 0.8) == (False, True)


def test_french_date_and_short_names() -> None:
    assert french_date(dt.date(2026, 10, 5)) == "lundi 5 octobre 2026"
    assert french_date(dt.date(2027, 8, 1)) == "dimanche 1 août 2027"
    assert short_name("EPS Paris 13e") == "Paris 13e" and short_name("Autre") == "Autre"


def test_the_board_shows_the_core_s_figures_and_marks(config: Config, sqlite_store: Store) -> None:
    calls = morning_calls(config)
    with sqlite_store.engine.begin() as conn:
        write_calls(conn, calls)
    board = Wallboard(config, sqlite_store.engine, [morning_feed(config)], now=lambda: NOW)
    run(board.refresh())
    snap = board.snapshot()
    request = StatsRequest(start=DAY, end=DAY, sites=tuple(config.site_ids))
    expected = {r["site"]: r for r in records(store_stats(sqlite_store.engine, request)["site"])}
    goal = config.targets.pickup_rate_goal
    assert snap["date_text"] == "lundi 5 octobre 2026" and snap["goal"] == goal
    for row in snap["sites"]:
        want = expected[row["id"]]
        for key in ("offered", "answered", "answered_within", "abandoned", "unclassified",
                    "unknown_device", "machine"):
            assert row[key] == want[key], (row["id"], key)
        assert (row["pickup_rate"], row["pickup_n"]) == (want["pickup_rate"]["value"],
                                                         want["pickup_rate"]["n"])
        value = want["pickup_rate"]["value"]
        assert row["pickup_below"] == (value is not None and value < goal)
        assert row["pickup_few"] == (want["pickup_rate"]["n"] < MIN_N)
    marked = {r["id"] for r in snap["sites"] if r["directory_incomplete"]}
    assert marked == {INCOMPLETE_SITE} and snap["city"]["directory_incomplete"]
    # the unknown phone's answers are apart: not abandons, not in the rate's n
    unknown = [c for c in calls if c.outcome is Outcome.UNKNOWN_DEVICE and c.in_hours
               and not c.is_test]
    row = next(r for r in snap["sites"] if r["id"] == INCOMPLETE_SITE)
    assert row["unclassified"] == len(unknown) > 0
    assert row["pickup_n"] == row["offered"] - row["short_abandons"] - row["unclassified"]
    assert snap["city"]["unclassified"] == sum(r["unclassified"] for r in snap["sites"])


def test_a_call_connected_to_an_unknown_phone_rings_no_more(config: Config,
                                                            sqlite_store: Store) -> None:
    feed = StaticFeed()
    feed.ring("eps-05", 40.0, unclassified=True)
    feed.ring("eps-05", 12.0)
    board = Wallboard(config, sqlite_store.engine, [feed, feed], now=lambda: NOW)  # shared state
    snap = board.snapshot()
    row = next(r for r in snap["sites"] if r["id"] == "eps-05")
    assert (row["ringing"], row["longest_ring"], row["level"]) == (1, 12.0, "ok")
    assert row["unclassified_now"] == 1 and row["directory_incomplete"]
    assert row["unclassified"] == 0 and row["abandoned"] == 0  # nothing stored yet
    assert snap["city"]["unclassified_now"] == 1
