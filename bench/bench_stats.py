"""Benchmark of `qualiphone stats` over 1 month, 1 year and 3 years of the 17 sites (a script,
not a test; see bench/README.md).

For each span, on SQLite (stores built once in the temporary directory) and on PostgreSQL
(a schema of its own holding the same rows, dropped at the end) when --pg URL or
QUALIPHONE_TEST_PG is given:

* `python -m qualiphone stats` as a fresh process (interpreter start and imports included):
  wall time and peak RSS, best and median of --repeat runs, once the month copies exist; and
  the first run after they were dropped (it reads the rows and saves the copies);
* the load alone (`load_call_arrays`, in process): from the copies, and from the rows;
* DuckDB on the same columns: a fresh process opening a DuckDB file that holds them and
  computing the same per-site figures, with the ratio, and both results compared;
* the cost per million calls of each span, to show that it is linear.

    python bench/bench_stats.py                       # SQLite, 3 repeats
    python bench/bench_stats.py --repeat 5 --pg postgresql+psycopg://postgres@/qualiphone_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent

import stats_stores  # noqa: E402

from monitor.metrics.arrays import ABANDONED, ANSWERED, MACHINE, SHORT_ABANDON, UNKNOWN_DEVICE  # noqa: E402

GOALS = {"year": 1.0, "3years": 2.0}  # seconds, fresh process
RSS_GOAL_MB = 400  # for 3 years


# Runs the command from a small interpreter: a child forked from this (large) process would
# count this process's pages in its peak RSS until it execs.
LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
sys.stderr.write(f"\\nLAUNCHER {wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\\n")
"""


def fresh(args: list[str]) -> tuple[float, float, str]:
    """Wall time and peak RSS (MB) of a fresh process running `args`, and its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    head, _, tail = done.stderr.rpartition("LAUNCHER ")
    wall, rss, code = tail.split()
    if int(code):
        raise RuntimeError(f"{args[1:4]} failed: {head[-800:]}")
    return float(wall), int(rss) / 1024, done.stdout


def repeated(repeat: int, run: Callable[[], tuple[float, float, str]]) -> dict[str, Any]:
    walls, rss, out = [], [], ""
    for _ in range(repeat):
        wall, peak, out = run()
        walls.append(wall)
        rss.append(peak)
    return {"best": min(walls), "median": statistics.median(walls), "rss": max(rss),
            "out": out}


def stats_command(url: str, span: stats_stores.Span) -> list[str]:
    return [sys.executable, "-m", "qualiphone", "--db", url, "stats", "--from",
            span.start.isoformat(), "--to", span.end.isoformat(), "--format", "json"]


def drop_copies(url: str) -> None:
    import sqlalchemy as sa

    from monitor.store.models import call_columns

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.delete(call_columns))
    engine.dispose()


def load_alone(url: str, span: stats_stores.Span, repeat: int, copies: bool) -> float:
    from config import load_config
    from monitor.query import load_call_arrays
    from monitor.store import open_store

    store = open_store(url)
    sites = tuple(load_config(None).site_ids)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        load_call_arrays(store.engine, start=span.start, end=span.end, sites=sites,
                         in_hours_only=True, all_sites=True, copies=copies)
        best = min(best, time.perf_counter() - started)
    store.dispose()
    return best


def _quantiles(column: str, where: str) -> str:
    return (f"quantile_cont({column}, [0.5, 0.8, 0.9, 0.95]) FILTER (WHERE {where})")


DUCKDB_SQL = f"""
SELECT site, count(*) AS offered,
  count(*) FILTER (WHERE outcome = {ANSWERED}) AS answered,
  count(*) FILTER (WHERE outcome = {ANSWERED} AND tta < 25) AS within,
  count(*) FILTER (WHERE outcome = {SHORT_ABANDON}) AS short,
  count(*) FILTER (WHERE outcome IN ({UNKNOWN_DEVICE}, {MACHINE})) AS unclassified,
  {_quantiles('tta', f'outcome = {ANSWERED}')} AS tta_q,
  max(tta) FILTER (WHERE outcome = {ANSWERED}) AS tta_max,
  avg(tta) FILTER (WHERE outcome = {ANSWERED}) AS tta_mean,
  {", ".join(f"count(*) FILTER (WHERE outcome = {ANSWERED} AND tta >= {5 * r} AND tta < {5 * r + 5})"
             f" AS ring{r + 1}" for r in range(5))},
  median(hangup) FILTER (WHERE outcome = {ABANDONED}) AS wait_median,
  avg(handle) FILTER (WHERE outcome = {ANSWERED}) AS handle_mean
FROM calls WHERE in_hours AND NOT is_test GROUP BY site ORDER BY site
"""

DUCKDB_CHILD = """
import sys, json, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.execute(sys.argv[2]).fetchall()
print(json.dumps([[r[0], r[1], r[3], r[5][2] if r[5] else None] for r in rows]))
"""


def duckdb_file(url: str, span: stats_stores.Span, path: Path) -> None:
    """A DuckDB file holding the columns `stats` reads (built once from the loader's arrays,
    every call of the span: DuckDB filters hours and tests itself)."""
    import duckdb
    import pandas as pd

    from config import load_config
    from monitor.query import load_call_arrays
    from monitor.store import open_store

    if path.exists():
        return
    store = open_store(url)
    sites = tuple(load_config(None).site_ids)
    a = load_call_arrays(store.engine, start=span.start, end=span.end, sites=sites,
                         include_tests=True, all_sites=True)
    store.dispose()
    frame = pd.DataFrame({"site": a.site, "outcome": a.outcome, "arrival": a.arrival,
                          "tta": a.tta, "hangup": a.hangup, "handle": a.handle,
                          "in_hours": a.in_hours, "is_test": a.is_test})
    con = duckdb.connect(str(path))
    con.register("frame", frame)
    con.execute("CREATE TABLE calls AS SELECT * FROM frame")
    con.close()


def agree(ours: str, duck: str, sites: list[str]) -> bool:
    cells = {c["site"]: c for c in json.loads(ours)["cells"]}
    for code, offered, within, p90 in json.loads(duck):
        mine = cells[sites[code]]
        if (mine["offered"], mine["answered_within"]) != (offered, within):
            return False
        if p90 is not None and abs(mine["time_to_answer"]["p90"] - p90) > 1e-6:
            return False
    return True


def bench_span(url: str, label: str, span: stats_stores.Span, repeat: int,
               duck_path: Path) -> dict[str, Any]:
    from config import load_config

    sites = list(load_config(None).site_ids)
    command = stats_command(url, span)
    drop_copies(url)
    cold_wall, cold_rss, _ = fresh(command)
    warm = repeated(repeat, lambda: fresh(command))
    copies = load_alone(url, span, repeat, copies=True)
    rows = load_alone(url, span, 1, copies=False)
    duckdb_file(url, span, duck_path)
    duck = repeated(repeat, lambda: fresh([sys.executable, "-c", DUCKDB_CHILD, str(duck_path),
                                           DUCKDB_SQL]))
    calls = sum(c["offered"] for c in json.loads(warm["out"])["cells"])
    result = {"store": label, "span": span.name, "calls": calls, "cold": cold_wall,
              "cold_rss": cold_rss, "best": warm["best"], "median": warm["median"],
              "rss": warm["rss"], "load_copies": copies, "load_rows": rows,
              "duck_best": duck["best"], "duck_median": duck["median"],
              "agree": agree(warm["out"], duck["out"], sites)}
    print(f"{label:10} {span.name:7} {calls:>9,} calls  stats fresh {warm['best']:5.2f} s "
          f"(median {warm['median']:5.2f}) RSS {warm['rss']:4.0f} MB | first run {cold_wall:5.2f} s "
          f"| load: copies {copies:5.2f} s, rows {rows:5.2f} s | DuckDB fresh "
          f"{duck['best']:5.2f} s (median {duck['median']:5.2f}), ratio "
          f"{warm['best'] / duck['best']:4.2f}, same figures: {result['agree']}", flush=True)
    return result


def summary(results: list[dict[str, Any]]) -> None:
    print("\ncost per million calls in opening hours (fresh process, best):")
    for r in results:
        print(f"  {r['store']:10} {r['span']:7} {r['best'] / r['calls'] * 1e6:5.2f} s"
              f"   load from copies {r['load_copies'] / r['calls'] * 1e6:5.3f} s")
    for r in results:
        goal = GOALS.get(r["span"])
        if goal is None:
            continue
        ok = r["best"] <= goal and (r["span"] != "3years" or r["rss"] <= RSS_GOAL_MB)
        print(f"goal {r['store']} {r['span']}: <= {goal} s"
              + (f", RSS <= {RSS_GOAL_MB} MB" if r["span"] == "3years" else "")
              + f": best {r['best']:.2f} s, median {r['median']:.2f} s, RSS {r['rss']:.0f} MB"
              + (" -> met" if ok else " -> NOT met"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per figure")
    parser.add_argument("--spans", default="month,year,3years")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the SQLite and DuckDB files are kept for reuse")
    parser.add_argument("--pg", default=os.environ.get("QUALIPHONE_TEST_PG"),
                        help="PostgreSQL URL (a schema per span is made, then dropped)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{args.repeat} fresh runs per figure; {dt.datetime.now():%Y-%m-%d %H:%M}", flush=True)
    results = []
    for name in args.spans.split(","):
        span = stats_stores.SPANS[name]
        path = args.dir / f"qualiphone-bench-stats-{name}.db"
        stats_stores.build_sqlite(path, span)
        duck = args.dir / f"qualiphone-bench-stats-{name}.duckdb"
        if not args.no_sqlite:
            results.append(bench_span(f"sqlite:///{path}", "SQLite", span, args.repeat, duck))
        if args.pg:
            schema = f"bench_stats_{name}"
            url = stats_stores.build_pg(args.pg, schema, path)
            try:
                results.append(bench_span(url, "PostgreSQL", span, args.repeat, duck))
            finally:
                stats_stores.drop_pg(args.pg, schema)
    summary(results)


if __name__ == "__main__":
    main()
