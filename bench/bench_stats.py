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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"\\nLAUNCHER {wall} {usage.ru_maxrss} {cpu} {os.waitstatus_to_exitcode(status)}\\n")
"""


def fresh(args: list[str]) -> tuple[float, float, float, str]:
    """Wall time, peak RSS (MB) and CPU time (user + system, all threads) of a fresh process
    running `args`, and its output. On a shared machine the CPU time is the steadier
    figure: the wall time also counts waiting for a core."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    head, _, tail = done.stderr.rpartition("LAUNCHER ")
    wall, rss, cpu, code = tail.split()
    if int(code):
        raise RuntimeError(f"{args[1:4]} failed: {head[-800:]}")
    return float(wall), int(rss) / 1024, float(cpu), done.stdout


def repeated(repeat: int, run: Callable[[], tuple[float, float, float, str]]) -> dict[str, Any]:
    walls, rss, cpus, out = [], [], [], ""
    for _ in range(repeat):
        wall, peak, cpu, out = run()
        walls.append(wall)
        rss.append(peak)
        cpus.append(cpu)
    return {"best": min(walls), "median": statistics.median(walls), "rss": max(rss),
            "cpu": min(cpus), "out": out}


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
con.execute("SET enable_progress_bar = false")
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
    for code, offered, within, p90 in json.loads(duck.strip().splitlines()[-1]):
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
    cold_wall, cold_rss, _, _ = fresh(command)
    warm = repeated(repeat, lambda: fresh(command))
    copies = load_alone(url, span, repeat, copies=True)
    rows = load_alone(url, span, 1, copies=False)
    duckdb_file(url, span, duck_path)
    duck = repeated(repeat, lambda: fresh([sys.executable, "-c", DUCKDB_CHILD, str(duck_path),
                                           DUCKDB_SQL]))
    calls = sum(c["offered"] for c in json.loads(warm["out"])["cells"])
    result = {"store": label, "span": span.name, "calls": calls, "cold": cold_wall,
              "cold_rss": cold_rss, "best": warm["best"], "median": warm["median"],
              "rss": warm["rss"], "cpu": warm["cpu"], "duck_cpu": duck["cpu"],
              "load_copies": copies, "load_rows": rows,
              "duck_best": duck["best"], "duck_median": duck["median"],
              "agree": agree(warm["out"], duck["out"], sites)}
    print(f"{label:10} {span.name:7} {calls:>9,} calls  stats fresh {warm['best']:5.2f} s "
          f"(median {warm['median']:5.2f}, CPU {warm['cpu']:5.2f}) RSS {warm['rss']:4.0f} MB "
          f"| first run {cold_wall:5.2f} s | load: copies {copies:5.2f} s, rows {rows:5.2f} s "
          f"| DuckDB fresh {duck['best']:5.2f} s (median {duck['median']:5.2f}, CPU "
          f"{duck['cpu']:5.2f}), ratio {warm['best'] / duck['best']:4.2f}, same figures: "
          f"{result['agree']}", flush=True)
    return result


def write_cost(month_db: Path, repeat: int) -> None:
    """What the triggers that mark changed months cost a writer: the month's rows inserted
    with sqlite3 executemany into a fresh store, with the triggers and without them."""
    import sqlite3

    from monitor.store import open_store

    with sqlite3.connect(month_db) as con:
        rows = con.execute(f"SELECT {', '.join(stats_stores.COLUMNS)} FROM calls").fetchall()
    sql = (f"INSERT INTO calls ({', '.join(stats_stores.COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(stats_stores.COLUMNS))})")
    rates: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for triggers in (True, False):
                path = Path(tmp) / f"w{i}{triggers}.db"
                open_store(f"sqlite:///{path}").dispose()
                with sqlite3.connect(path) as con:
                    if not triggers:
                        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE "
                                                   "type = 'trigger' AND tbl_name = 'calls'"):
                            con.execute(f"DROP TRIGGER {name}")
                    started = time.perf_counter()
                    con.executemany(sql, rows)
                    con.commit()
                    rates[triggers].append(len(rows) / (time.perf_counter() - started))
    with_, without = max(rates[True]), max(rates[False])
    print(f"\nwriting {len(rows):,} calls into SQLite (executemany, best of {repeat}): "
          f"{without:,.0f} calls/s without the month triggers, {with_:,.0f} with them "
          f"({(without / with_ - 1) * 100:.0f} % more time)")


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
              + f": best {r['best']:.2f} s, median {r['median']:.2f} s, CPU {r['cpu']:.2f} s, "
              f"RSS {r['rss']:.0f} MB"
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
    parser.add_argument("--write-cost", action="store_true",
                        help="also measure what the month triggers cost an insert")
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
    if args.write_cost:
        write_cost(args.dir / "qualiphone-bench-stats-month.db", args.repeat)


if __name__ == "__main__":
    main()
