"""French wording: numbers, rates, intervals, the "below target" run."""

from __future__ import annotations

import math

from reports.synthesis import below_runs
from reports.text import interval, month_name, num, pct, plain, points, rate_digits, sec


def test_french_numbers() -> None:
    assert num(3412) == "3\u202f412" and plain(num(1234567)) == "1 234 567"
    assert pct(0.844) == "84\u00a0%" and plain(pct(0.8444, 1)) == "84,4 %"
    assert plain(sec(12.5)) == "12,5 s" and plain(sec(None)) == "—"
    assert num(math.nan) == "—" and num(-3) == "−3"
    assert plain(points(0.03)) == "+3,0 points" and plain(points(-0.015)) == "−1,5 point"
    assert plain(interval(0.82, 0.86)) == "82–86 %" and plain(interval(0.806, 0.814)) == "80,6–81,4 %"
    assert month_name("2026-10") == "octobre 2026" and month_name("2026-08", True) == "Août 2026"


def test_rounding_never_hides_which_side_of_the_target() -> None:
    assert rate_digits(0.796, 0.8) == 1  # "80 %" would read as on target
    assert rate_digits(0.84, 0.8) == 0 and rate_digits(0.8, 0.8) == 0


def _trend(*rates: float | None) -> list[dict]:
    return [{"period": f"2026-{m + 1:02d}", "pickup_rate": {"value": r}}
            for m, r in enumerate(rates)]


def test_below_target_runs() -> None:
    assert below_runs(_trend(0.9, 0.7, 0.75, 0.79), 0.8) == (3, (3, "2026-02", "2026-04"))
    assert below_runs(_trend(0.7, None, 0.7, 0.7), 0.8)[0] == 2  # no data breaks the run
    assert below_runs(_trend(0.7, 0.7, 0.7, 0.8), 0.8) == (0, (3, "2026-01", "2026-03"))
    assert below_runs(_trend(None, None), 0.8) == (0, (0, "", ""))
