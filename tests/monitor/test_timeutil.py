"""The DST rule for local times (README "Time and DST")."""

from __future__ import annotations

import datetime as dt

from monitor.timeutil import is_ambiguous, local_parts, local_to_epoch, zone

PARIS = zone("Europe/Paris")


def _utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_ordinary_time() -> None:
    assert local_to_epoch(dt.datetime(2026, 10, 5, 9, 0), PARIS) == _utc(2026, 10, 5, 7, 0)
    assert local_to_epoch(dt.datetime(2026, 12, 5, 9, 0), PARIS) == _utc(2026, 12, 5, 8, 0)


def test_ambiguous_time_defaults_to_first_occurrence() -> None:
    naive = dt.datetime(2026, 10, 25, 2, 30)
    assert is_ambiguous(naive, PARIS)
    assert local_to_epoch(naive, PARIS) == _utc(2026, 10, 25, 0, 30)


def test_ambiguous_time_follows_hints() -> None:
    naive = dt.datetime(2026, 10, 25, 2, 30)
    second = _utc(2026, 10, 25, 1, 30)
    assert local_to_epoch(naive, PARIS, near=second + 1) == second
    # an end time written 02:30 after a start at 02:50 (first occurrence) is the second one
    start = _utc(2026, 10, 25, 0, 50)
    assert local_to_epoch(naive, PARIS, prefer_after=start) == second


def test_missing_time_reads_with_the_offset_before_the_change() -> None:
    naive = dt.datetime(2026, 3, 29, 2, 30)
    assert not is_ambiguous(naive, PARIS)
    assert local_to_epoch(naive, PARIS) == _utc(2026, 3, 29, 1, 30)


def test_local_parts_on_the_25_hour_day() -> None:
    hours = [local_parts(_utc(2026, 10, 24, 22, 0) + 3600 * i, PARIS)[1] for i in range(25)]
    assert hours == [0, 1, 2, 2, *range(3, 24)]
    days = {local_parts(_utc(2026, 10, 24, 22, 0) + 3600 * i, PARIS)[0] for i in range(25)}
    assert days == {"2026-10-25"}


def test_local_parts_on_the_23_hour_day() -> None:
    hours = [local_parts(_utc(2026, 3, 28, 23, 0) + 3600 * i, PARIS)[1] for i in range(23)]
    assert hours == [0, 1, *range(3, 24)]
