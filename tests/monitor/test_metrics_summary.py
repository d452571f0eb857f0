"""Cell figures against hand counts: the 25 s rule, rates, quantiles, empty cells, abandons."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.call import Outcome
from monitor.metrics.arrays import OUTCOME_CODE, CallArrays
from monitor.metrics.cells import make_cells
from monitor.metrics.records import columns, records
from monitor.metrics.summary import CellStats, cell_stats

PARIS = ZoneInfo("Europe/Paris")
MONDAY = dt.date(2026, 10, 5)


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).timestamp()


def calls_of(rows: list[tuple], site_ids: tuple[str, ...] = ("a", "b")) -> CallArrays:
    """rows: (site, outcome, arrival, tta, hangup[, handle])."""
    cols: dict[str, list] = {k: [] for k in ("site", "outcome", "arrival", "tta", "hangup",
                                             "handle")}
    for site, outcome, arrival, tta, hangup, *handle in rows:
        cols["site"].append(site_ids.index(site))
        cols["outcome"].append(OUTCOME_CODE[outcome])
        cols["arrival"].append(arrival)
        cols["tta"].append(np.nan if tta is None else tta)
        cols["hangup"].append(np.nan if hangup is None else hangup)
        cols["handle"].append(handle[0] if handle else np.nan)
    return CallArrays.from_columns(site_ids, **cols)


def stats_of(calls: CallArrays, by: str = "site", start: dt.date = MONDAY,
             end: dt.date = MONDAY, **kw: object) -> CellStats:
    return cell_stats(calls, make_cells(calls, by, start=start, end=end, **kw))


A = Outcome.ANSWERED
DAY_ROWS = [
    ("a", A, at(MONDAY, 10, 0), 24.9, None, 100.0),
    ("a", A, at(MONDAY, 10, 1), 25.0, None, 200.0),
    ("a", A, at(MONDAY, 10, 2), 25.1, None),
    ("a", A, at(MONDAY, 10, 3), 3.0, None, 60.0),
    ("a", Outcome.ABANDONED, at(MONDAY, 11, 0), None, 12.0),
    ("a", Outcome.ABANDONED, at(MONDAY, 11, 1), None, 40.0),
    ("a", Outcome.SHORT_ABANDON, at(MONDAY, 11, 2), None, 2.0),
    ("a", Outcome.BUSY, at(MONDAY, 12, 0), None, 0.5),
    ("a", Outcome.MESSAGE, at(MONDAY, 18, 0), None, 30.0),
    ("a", Outcome.VOICEMAIL, at(MONDAY, 12, 5), None, 30.0),
]


def test_hand_counted_day() -> None:
    s = stats_of(calls_of(DAY_ROWS), sites=["a"])
    assert s.offered.tolist() == [10]
    assert s.count(A).tolist() == [4]
    assert s.answered_within.tolist() == [2]  # 24.9 and 3.0; 25.0 and 25.1 are not within
    assert s.count(Outcome.SHORT_ABANDON).tolist() == [1]
    assert s.needing_person.tolist() == [8]
    assert s.pickup_rate.value[0] == pytest.approx(2 / 9)
    assert s.pickup_rate.n.tolist() == [9]
    assert s.asterisk_sl.value[0] == pytest.approx(2 / 4)
    assert s.asterisk_sl2.value[0] == pytest.approx(4 / 7)  # + abandon at 12 s + short at 2 s
    assert s.agent_pickup_rate.value[0] == pytest.approx(4 / 8)
    assert s.tta_mean[0] == pytest.approx(19.5)
    assert s.tta_quantiles[0].tolist() == pytest.approx([24.95, 25.04, 25.07, 25.085])
    assert s.tta_max[0] == 25.1
    assert s.rings[0].tolist() == [1, 0, 0, 0, 1, 2]
    assert s.answer_seconds[0, 3] == 1 and s.answer_seconds[0, 24] == 1
    assert s.answer_seconds[0, 25] == 2
    assert s.abandoned_before_target.tolist() == [1]
    assert s.abandon_wait_mean[0] == 26.0 and s.abandon_wait_median[0] == 26.0
    assert s.handle_mean[0] == pytest.approx(120.0)


@pytest.mark.parametrize(("tta", "within", "ring"), [
    (0.0, 1, 0), (4.999999, 1, 0), (5.0, 1, 1), (19.9, 1, 3), (20.0, 1, 4), (24.9, 1, 4),
    (24.999999, 1, 4), (25.0, 0, 5), (25.000001, 0, 5), (25.1, 0, 5), (600.0, 0, 5),
])
def test_the_25_second_rule(tta: float, within: int, ring: int) -> None:
    s = stats_of(calls_of([("a", A, at(MONDAY, 9), tta, None)]), sites=["a"])
    assert s.answered_within.tolist() == [within]
    assert s.rings[0].tolist() == [int(r == ring) for r in range(6)]
    assert s.pickup_rate.value[0] == within


def test_whole_second_sources_24_is_within_25_is_not() -> None:
    s = stats_of(calls_of([("a", A, at(MONDAY, 9), 24.0, None),
                           ("a", A, at(MONDAY, 9, 5), 25.0, None)]), sites=["a"])
    assert s.answered_within.tolist() == [1]


def test_one_call() -> None:
    s = stats_of(calls_of([("a", A, at(MONDAY, 9), 10.0, None)]), sites=["a"])
    assert s.tta_quantiles[0].tolist() == [10.0] * 4
    assert s.tta_max[0] == 10.0 and s.tta_mean[0] == 10.0
    assert s.pickup_rate.value[0] == 1.0
    assert s.pickup_rate.low[0] == pytest.approx(0.2065, abs=1e-4)
    assert s.pickup_rate.high[0] == 1.0


def test_only_abandons() -> None:
    rows = [("a", Outcome.ABANDONED, at(MONDAY, 9, m), None, w)
            for m, w in ((0, 8.0), (1, 30.0), (2, 50.0))]
    s = stats_of(calls_of(rows), sites=["a"])
    assert s.pickup_rate.value.tolist() == [0.0]
    assert s.pickup_rate.high[0] == pytest.approx(0.5615, abs=1e-4)  # 0 of 3
    assert math.isnan(s.asterisk_sl.value[0]) and s.asterisk_sl.n.tolist() == [0]
    assert s.asterisk_sl2.value[0] == pytest.approx(1 / 3)
    assert s.agent_pickup_rate.value.tolist() == [0.0]
    assert np.isnan(s.tta_quantiles).all() and np.isnan(s.tta_mean).all()
    assert np.isnan(s.tta_max).all() and np.isnan(s.handle_mean).all()
    assert s.rings.tolist() == [[0] * 6]
    assert s.abandon_wait_median.tolist() == [30.0]
    assert s.abandoned_before_target.tolist() == [1]


def test_empty_cells_and_a_site_without_calls_are_nan_not_errors() -> None:
    calls = calls_of(DAY_ROWS)
    s = stats_of(calls, "day", MONDAY, MONDAY + dt.timedelta(days=1), sites=["a", "b", "zz"])
    assert s.site == ("a", "a", "b", "b", "zz", "zz")
    assert s.offered.tolist() == [10, 0, 0, 0, 0, 0]
    for rate in (s.pickup_rate, s.asterisk_sl, s.asterisk_sl2, s.agent_pickup_rate):
        assert np.isnan(rate.value[1:]).all() and np.isnan(rate.low[1:]).all()
        assert rate.n[1:].tolist() == [0] * 5
    assert np.isnan(s.tta_quantiles[1:]).all() and np.isnan(s.abandon_wait_mean[1:]).all()
    empty = cell_stats(CallArrays.empty(("a",)), make_cells(
        CallArrays.empty(("a",)), "hour", start=MONDAY, end=MONDAY))
    assert empty.n == 24 and empty.offered.sum() == 0
    assert np.isnan(empty.pickup_rate.value).all()


def test_tests_excluded_unless_asked_and_in_hours_restriction() -> None:
    calls = calls_of(DAY_ROWS)
    flags = CallArrays.from_columns(
        calls.site_ids, site=calls.site, outcome=calls.outcome, arrival=calls.arrival,
        tta=calls.tta, hangup=calls.hangup, in_hours=[True] * 8 + [False, True],
        is_test=[True] + [False] * 9)
    from monitor.metrics.cells import select

    kept = stats_of(flags, sites=["a"], mask=select(flags, in_hours_only=True))
    assert kept.offered.tolist() == [8]  # no test call, no after-hours message
    assert kept.count(Outcome.MESSAGE).tolist() == [0]
    everything = stats_of(flags, sites=["a"], mask=select(flags, include_tests=True))
    assert everything.offered.tolist() == [10]


def test_records_and_columns_use_the_documented_names() -> None:
    s = stats_of(calls_of(DAY_ROWS), "day", MONDAY, MONDAY + dt.timedelta(days=1), sites=["a"])
    rec = records(s)
    assert rec[0]["pickup_rate"] == {"value": round(2 / 9, 6), "low": rec[0]["pickup_rate"]["low"],
                                     "high": rec[0]["pickup_rate"]["high"], "n": 9}
    assert rec[0]["time_to_answer"]["p90"] == 25.07
    assert rec[0]["rings"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1, "6+": 2}
    assert len(rec[0]["answer_seconds"]) == 61
    assert rec[1]["pickup_rate"]["value"] is None and rec[1]["offered"] == 0
    cols = columns(s)
    assert list(cols)[:4] == ["site", "period", "offered", "answered"]
    assert cols["rings_6plus"] == [2, 0] and cols["tta_median"] == [24.95, None]
