"""Benchmark of the monthly statements (a script, not a test: timings are never asserted).

Goal (issue 5): the 17 monthly statements and the synthesis of a simulated month, in PDF, HTML
and XLSX, in under 20 s. Measures, on a store holding a simulated month (and, with
--trend-months, the months before it for the 12-month trend):

1. `qualiphone report monthly --month M` as a fresh process: what a user waits for;
2. in process: gathering the figures (one read of the store), one statement and the synthesis
   in each format, then the whole run with 1 worker and with one per CPU.

    python bench/bench_reports.py                        # simulates 2026-10 into a temp dir
    python bench/bench_reports.py --store /tmp/r/y.db    # an existing store, kept as it is
    python bench/bench_reports.py --trend-months 11      # simulate the 11 months before too
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config import load_config
from monitor.store import open_store
from reports.build import build_reports, default_workers
from reports.data import Period, gather
from reports.html import statement_html, synthesis_html
from reports.pdf import statement_pdf, synthesis_pdf
from reports.statement import statement
from reports.synthesis import synthesis

GENERATED = dt.datetime(2026, 11, 2, 8, 0)


def qualiphone(url: str, *args: str) -> float:
    """Run `python -m qualiphone --db URL ARGS` and return its wall time."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qualiphone", "--db", url, *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def months_before(month: str, n: int) -> list[str]:
    year, mon = (int(p) for p in month.split("-"))
    first = year * 12 + mon - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first - n, first + 1)]


def simulated_store(path: Path, month: str, trend_months: int) -> str:
    """A SQLite store with the simulated month(s), built once (CDR and queue_log imported)."""
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    for key in months_before(month, trend_months):
        print(f"simulating and importing {key} …", flush=True)
        with tempfile.TemporaryDirectory() as files:
            out = Path(files)
            qualiphone(url, "simulate", "month", "--month", key, "--out", str(out))
            qualiphone(url, "ingest", "cdr", str(out / "Master.csv"))
            qualiphone(url, "ingest", "queue-log", str(out / "queue_log"))
    return url


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_process(url: str, month: str, repeat: int) -> list[tuple[str, float]]:
    config, store = load_config(), open_store(url)
    period = Period.month(month)
    figures = gather(store.engine, config, period)
    one, syn = statement(figures, "eps-11"), synthesis(figures)
    rows = [
        ("gather the figures (one read of the store)",
         best(lambda: gather(store.engine, config, period), repeat)),
        ("one statement, PDF", best(lambda: statement_pdf(one, GENERATED), repeat)),
        ("one statement, HTML", best(lambda: statement_html(one, GENERATED), repeat)),
        ("synthesis, PDF", best(lambda: synthesis_pdf(syn, GENERATED), repeat)),
        ("synthesis, HTML", best(lambda: synthesis_html(syn, GENERATED), repeat)),
    ]
    def everything(workers: int) -> Callable[[], Any]:
        return lambda: build_reports(store.engine, config, period, generated=GENERATED,
                                     workers=workers)

    for workers in dict.fromkeys([1, default_workers()]):
        rows.append((f"17 statements + synthesis, pdf/html/xlsx, {workers} worker(s)",
                     best(everything(workers), repeat)))
    store.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--store", type=Path, default=None,
                        help="SQLite file: used as it is when it exists, else simulated into")
    parser.add_argument("--trend-months", type=int, default=0,
                        help="also simulate this many months before --month (default 0)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.store or Path(tempfile.gettempdir()) / f"qualiphone-bench-reports-{args.month}.db"
    url = simulated_store(path, args.month, args.trend_months)
    print(f"store: {path} · {os.cpu_count()} CPUs · month {args.month}")
    with tempfile.TemporaryDirectory() as out:
        fresh = [qualiphone(url, "report", "monthly", "--month", args.month, "--out", out)
                 for _ in range(args.repeat)]
        files = len(os.listdir(out))
    print(f"{'fresh process: qualiphone report monthly (' + str(files) + ' files)':<62} "
          f"{min(fresh):6.2f} s (best of {args.repeat}; goal < 20 s)")
    for label, seconds in in_process(url, args.month, args.repeat):
        print(f"{label:<62} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
