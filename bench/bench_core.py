"""Benchmark of the answer-time core (a script, not a test; see bench/README.md).

1. Per site × hour distribution (offered, pickup rate with its Wilson interval, exact p90 of
   the time to answer, ring histogram 1…5, 6+) on N synthetic calls, with the numpy core and
   with DuckDB on the same arrays in the same process; prints both times and core/DuckDB.
2. End to end: `qualiphone stats` on a year of the 17 sites (about 2 million calls) in a
   SQLite store, as a fresh process (what a user waits for) and warm, in process.

    python bench/bench_core.py                      # 1 M and 10 M calls, then the store
    python bench/bench_core.py --calls 1e6 --no-store
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.metrics.arrays import ANSWERED, OUTCOME_CODE, OUTCOMES, SHORT_ABANDON, CallArrays
from monitor.metrics.distribution import ring_histogram, time_stats
from monitor.metrics.rates import rate, wilson_interval
from monitor.metrics.summary import outcome_counts

SITES = ("eps-centre", *(f"eps-{i:02d}" for i in range(5, 21)))
YEAR = 2026
PROBS = {"answered": 0.78, "abandoned": 0.10, "short_abandon": 0.04, "busy": 0.01,
         "failed": 0.005, "congestion": 0.005, "voicemail": 0.02, "message": 0.04}


def synthetic(n: int, seed: int = 7) -> tuple[CallArrays, np.ndarray]:
    """n calls over YEAR at the 17 sites: mostly weekdays 08:30-17:00 local time; times in
    microseconds for half of them (AMI/CEL), whole seconds for the others (CDR). Also returns
    the local hour of each call."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, 365, n)
    weekday = ((np.datetime64(f"{YEAR}-01-01") + day).astype(np.int64) + 3) % 7
    weekend = (weekday >= 5) & (rng.random(n) < 0.9)  # few calls at weekends
    day, weekday = np.where(weekend, day - 2, day), np.where(weekend, weekday - 2, weekday)
    in_hours = (weekday < 5) & (rng.random(n) < 0.93)
    second = np.where(in_hours, rng.uniform(8.5 * 3600, 17 * 3600, n), rng.uniform(0, 86400, n))
    local = (np.datetime64(f"{YEAR}-01-01", "s").astype(np.int64) + day * 86400 + second)
    offset = np.where((day > 87) & (day < 297), 7200, 3600)  # Paris DST, close enough here
    arrival = np.round(local - offset, 6)
    names = list(PROBS)
    outcome = rng.choice([OUTCOME_CODE[k] for k in names], n, p=list(PROBS.values()))
    outcome = np.where(~in_hours & (rng.random(n) < 0.9), OUTCOME_CODE["message"], outcome)
    outcome = np.where(in_hours & (outcome == OUTCOME_CODE["message"]), ANSWERED, outcome)
    fine = rng.random(n) < 0.5
    tta = rng.gamma(2.2, 6.0, n)
    tta = np.where(fine, np.round(tta, 6), np.floor(tta))
    wait = np.where(outcome == SHORT_ABANDON, rng.uniform(0, 4.99, n), rng.exponential(35, n) + 5)
    answered = outcome == ANSWERED
    calls = CallArrays.from_columns(
        SITES, site=rng.integers(0, len(SITES), n), outcome=outcome, arrival=arrival,
        tta=np.where(answered, tta, np.nan), hangup=np.where(answered, np.nan, np.round(wait, 6)),
        handle=np.where(answered, np.round(rng.exponential(180, n), 6), np.nan),
        in_hours=in_hours, is_test=rng.random(n) < 0.002,
    )
    return calls, (second // 3600).astype(np.int8)


def core_site_hour(calls: CallArrays, hour: np.ndarray) -> dict[str, np.ndarray]:
    """The distribution per site × hour with the core: arrays in, arrays out."""
    n_cells = len(calls.site_ids) * 24
    cell = calls.site.astype(np.int64) * 24 + hour
    counts = outcome_counts(cell, calls.outcome, n_cells)
    tta = time_stats(calls.tta, cell, n_cells, (0.9,), edges=(5, 10, 15, 20, 25), totals=False)
    within = tta.below(25.0)  # tta is NaN unless answered
    n = counts.sum(axis=1) - counts[:, SHORT_ABANDON]
    low, high = wilson_interval(within, n)
    return {"offered": counts.sum(axis=1), "pickup_rate": rate(within, n), "low": low,
            "high": high, "p90": tta.quantiles[:, 0], "rings": ring_histogram(tta, 5.0)}


_RINGS = ", ".join(f"count(*) FILTER (WHERE outcome = {ANSWERED} AND tta >= {5 * r} "
                   f"AND tta < {5 * r + 5}) AS r{r + 1}" for r in range(5))
DUCKDB_SQL = f"""
SELECT site, hour, count(*) AS offered,
  count(*) FILTER (WHERE outcome = {ANSWERED} AND tta < 25) AS within,
  count(*) FILTER (WHERE outcome = {SHORT_ABANDON}) AS short,
  quantile_cont(tta, 0.9) FILTER (WHERE outcome = {ANSWERED}) AS p90, {_RINGS},
  count(*) FILTER (WHERE outcome = {ANSWERED} AND tta >= 25) AS r6
FROM calls GROUP BY site, hour ORDER BY site, hour
"""


def duckdb_site_hour(con: Any) -> dict[str, np.ndarray]:
    """The same distribution with DuckDB, plus the Wilson interval on its counts."""
    out = con.execute(DUCKDB_SQL).fetchnumpy()
    n = out["offered"] - out["short"]
    low, high = wilson_interval(out["within"], n)
    return {**out, "pickup_rate": rate(out["within"], n), "low": low, "high": high}


def timed(repeat: int, func: Callable[[], Any]) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return sorted(times), result


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    times, result = timed(repeat, func)
    return times[0], result


def compare(n: int, repeat: int) -> float:
    import duckdb
    import pandas as pd

    calls, hour = synthetic(n)
    core_s, core = best_of(repeat, lambda: core_site_hour(calls, hour))
    frame = pd.DataFrame({"site": calls.site, "hour": hour, "outcome": calls.outcome,
                          "tta": calls.tta})
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE calls AS SELECT * FROM frame")  # DuckDB's own storage
    duck_s, duck = best_of(repeat, lambda: duckdb_site_hour(con))
    cells = duck["site"].astype(np.int64) * 24 + duck["hour"]
    rings = np.stack([duck[f"r{r}"] for r in range(1, 7)], axis=1)
    agree = (np.array_equal(core["offered"][cells], duck["offered"])
             and np.allclose(core["p90"][cells], duck["p90"], equal_nan=True)
             and np.array_equal(core["rings"][cells], rings)
             and np.allclose(core["pickup_rate"][cells], duck["pickup_rate"], equal_nan=True))
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"{n:>11,} calls  core {core_s:7.3f} s   DuckDB {duck_s:7.3f} s ({threads} threads)"
          f"   core/DuckDB {core_s / duck_s:5.2f}   results agree: {agree}")
    return core_s / duck_s


def _store_rows(calls: CallArrays) -> Any:
    """Rows of the calls table for the synthetic calls (local buckets from the arrival)."""
    from zoneinfo import ZoneInfo

    from monitor.metrics.cells import local_parts

    day, hour, _, _ = local_parts(calls.arrival, dt.date(YEAR - 1, 12, 31),
                                  dt.date(YEAR + 1, 1, 1), ZoneInfo("Europe/Paris"))
    dates = np.datetime_as_string(day.astype("datetime64[D]"))
    weekday = (day + 3) % 7
    answer = calls.arrival + calls.tta
    end = np.where(np.isnan(answer), calls.arrival + calls.hangup, answer + calls.handle)
    for i in range(len(calls)):
        a = None if np.isnan(answer[i]) else float(answer[i])
        yield ("paris-eps", f"bench-{i}", SITES[calls.site[i]], f"bench-{i}", "0199000100",
               f"{i:064x}", None, False, float(calls.arrival[i]), float(calls.arrival[i]), None,
               a, float(end[i]), None if a is None else a - float(calls.arrival[i]),
               OUTCOMES[calls.outcome[i]].value, "PJSIP/epscentre-1" if a else None,
               bool(calls.in_hours[i]), bool(calls.is_test[i]), False, 2, 2, 1.0,
               str(dates[i]), int(hour[i]), int(weekday[i]))


def build_store(path: Path, n: int) -> None:
    """A SQLite store holding n synthetic calls of YEAR (reused when already built)."""
    from monitor.store import open_store

    if path.exists():
        with sqlite3.connect(path) as con:
            if con.execute("SELECT count(*) FROM calls").fetchone()[0] == n:
                return
        path.unlink()
    open_store(f"sqlite:///{path}").dispose()
    columns = ("pbx, call_key, site, linkedid, dialed, caller_hash, caller_raw, caller_withheld,"
               " arrival, first_ring, queue_entry, answer, end_time, time_to_answer, outcome,"
               " answered_by, in_hours, is_test, incomplete, sources, time_source, resolution,"
               " local_date, local_hour, local_weekday")
    start = time.perf_counter()
    with sqlite3.connect(path) as con:
        con.executemany(f"INSERT INTO calls ({columns}) VALUES ({', '.join('?' * 25)})",
                        _store_rows(synthetic(n, seed=11)[0]))
    print(f"built {path} with {n:,} calls in {time.perf_counter() - start:.0f} s")


def end_to_end(path: Path, repeat: int) -> float:
    """`qualiphone stats` on the year: fresh process (wall clock) and warm (in process)."""
    from click.testing import CliRunner

    from qualiphone.cli import cli

    url = f"sqlite:///{path}"
    with sqlite3.connect(path) as con:
        total, in_hours = con.execute("SELECT count(*), sum(in_hours) FROM calls").fetchone()
    print(f"store {path}: {total:,} calls of {YEAR}, {in_hours:,} in opening hours")
    base = ["--db", url, "stats", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31"]
    times, _ = timed(repeat, lambda: subprocess.run(
        [sys.executable, "-m", "qualiphone", *base], check=True, capture_output=True))
    fresh = times[0]
    print(f"stats, a year of 17 sites, fresh process (by site):  {fresh:6.2f} s"
          f" (median {times[len(times) // 2]:.2f} s)")
    runner = CliRunner()
    for extra in ([], ["--by", "hour"], ["--all-hours"], ["--by", "site", "--binned"]):
        warm, result = best_of(repeat, lambda e=extra: runner.invoke(cli, [*base, *e]))
        assert result.exit_code == 0, result.output
        print(f"stats {' '.join(extra) or '(by site)':<24} warm, in process:  {warm:6.2f} s")
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1e6,1e7", help="sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--year-calls", type=float, default=2e6, help="calls in the store")
    parser.add_argument("--store", type=Path, default=Path(tempfile.gettempdir())
                        / "qualiphone-bench-year.db", help="SQLite file (kept for reuse)")
    parser.add_argument("--no-store", action="store_true", help="skip the end-to-end part")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs; best of {args.repeat} runs")
    for size in args.calls.split(","):
        compare(int(float(size)), args.repeat)
    if not args.no_store:
        build_store(args.store, int(args.year_calls))
        end_to_end(args.store, args.repeat)


if __name__ == "__main__":
    main()
