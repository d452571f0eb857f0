"""Cells: periods, labels, DST days (23 and 25 hourly cells), calls outside the range."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.metrics.arrays import CallArrays
from monitor.metrics.cells import BY, keys_from_store, make_cells, period_labels
from monitor.metrics.staffing import clock_hours_by_hour

PARIS = ZoneInfo("Europe/Paris")
SPRING, AUTUMN = dt.date(2026, 3, 29), dt.date(2026, 10, 25)
UTC = dt.UTC


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def calls_at(*arrivals: float, sites: tuple[int, ...] | None = None) -> CallArrays:
    n = len(arrivals)
    return CallArrays.from_columns(("a", "b"), site=sites or [0] * n, outcome=[0] * n,
                                   arrival=list(arrivals), tta=[5.0] * n)


@pytest.mark.parametrize(("day", "hours"), [(SPRING, 23), (AUTUMN, 25), (dt.date(2026, 10, 5), 24)])
def test_day_hour_cells_are_real_hours(day: dt.date, hours: int) -> None:
    cells = make_cells(calls_at(), "day-hour", start=day, end=day, sites=["a", "b"])
    assert cells.n == 2 * hours and cells.n_periods == hours
    assert len(set(cells.period)) == hours


def test_spring_forward_has_no_02_hour() -> None:
    labels = period_labels("day-hour", SPRING, SPRING, PARIS)
    assert labels[:3] == ["2026-03-29T00:00+01:00", "2026-03-29T01:00+01:00",
                          "2026-03-29T03:00+02:00"]


def test_fall_back_02_hour_twice_apart_by_day_hour_merged_by_hour() -> None:
    first = utc(2026, 10, 25, 0, 30)  # 02:30 summer time
    second = utc(2026, 10, 25, 1, 30)  # 02:30 winter time, an hour later
    calls = calls_at(first, second)
    by_real_hour = make_cells(calls, "day-hour", start=AUTUMN, end=AUTUMN, sites=["a"])
    assert [by_real_hour.period[i] for i in by_real_hour.index] == [
        "2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00"]
    by_hour = make_cells(calls, "hour", start=AUTUMN, end=AUTUMN, sites=["a"])
    assert by_hour.index.tolist() == [2, 2] and by_hour.period[2] == "02"


def test_clock_hours_of_the_dst_days() -> None:
    assert clock_hours_by_hour(SPRING, SPRING)[2] == 0
    assert clock_hours_by_hour(AUTUMN, AUTUMN)[2] == 2
    assert clock_hours_by_hour(SPRING, SPRING).sum() == 23
    assert clock_hours_by_hour(AUTUMN, AUTUMN).sum() == 25


def test_local_day_boundaries_and_outside_calls() -> None:
    day = dt.date(2026, 10, 5)
    calls = calls_at(utc(2026, 10, 4, 21, 59, 59),  # 23:59:59 on the 4th in Paris
                     utc(2026, 10, 4, 22, 0, 0),  # 00:00 on the 5th
                     utc(2026, 10, 5, 21, 59, 59),  # 23:59:59 on the 5th
                     utc(2026, 10, 5, 22, 0, 0))  # the 6th
    cells = make_cells(calls, "hour", start=day, end=day)
    assert cells.index.tolist() == [-1, 0, 23, -1]


@pytest.mark.parametrize("by", BY)
def test_every_grouping_labels_and_keys(by: str) -> None:
    start, end = dt.date(2026, 10, 24), dt.date(2026, 11, 2)
    arrival = utc(2026, 10, 27, 8, 15)  # Tuesday 09:15 in Paris
    cells = make_cells(calls_at(arrival, arrival, sites=(0, 1)), by, start=start, end=end)
    expected = {"site": "2026-10-24/2026-11-02", "hour": "09", "day": "2026-10-27",
                "weekday": "tue", "weekday-hour": "tue 09", "month": "2026-10",
                "day-hour": "2026-10-27T09:00+01:00"}[by]
    assert cells.period[cells.index[0]] == expected
    assert cells.site[cells.index[1]] == "b"
    assert cells.n == 2 * cells.n_periods


def test_store_keys_match_the_cells() -> None:
    start, end = dt.date(2026, 9, 28), dt.date(2026, 11, 3)
    day, _ = keys_from_store("day", ["2026-10-27"], start, end)
    month, labels = keys_from_store("month", ["2026-10", "2026-11"], start, end)
    assert day.tolist() == [29]
    assert [labels[k] for k in month] == ["2026-10", "2026-11"]
    hour, labels = keys_from_store("day-hour", [int(utc(2026, 10, 25, 1, 0) // 3600)],
                                   dt.date(2026, 10, 25), dt.date(2026, 10, 25))
    assert labels[hour[0]] == "2026-10-25T02:00+01:00"


def test_merge_sites_and_sites_without_calls() -> None:
    calls = calls_at(utc(2026, 10, 5, 8), utc(2026, 10, 5, 9), sites=(0, 1))
    day = dt.date(2026, 10, 5)
    merged = make_cells(calls, "site", start=day, end=day, merge_sites=True)
    assert merged.site == ("all",) and merged.index.tolist() == [0, 0]
    some = make_cells(calls, "site", start=day, end=day, sites=["b", "zz"])
    assert some.site == ("b", "zz") and some.index.tolist() == [-1, 0]


def test_mask_leaves_calls_out() -> None:
    calls = calls_at(utc(2026, 10, 5, 8), utc(2026, 10, 5, 9))
    day = dt.date(2026, 10, 5)
    cells = make_cells(calls, "site", start=day, end=day, mask=np.array([True, False]))
    assert cells.index.tolist() == [0, -1]
