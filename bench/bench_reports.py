"""Benchmark of the documents (a script, not a test: timings are never asserted).

Goals (issue 12): the 17 monthly statements and the synthesis of a month (PDF, HTML, XLSX) in
at most 10 s, a mystery-call plan with its call sheets in at most 5 s. Prints, in the same run,
best and median of --repeat fresh processes of:

1. `qualiphone report monthly --month M` (17 statements + synthesis), what a user waits for;
2. `qualiphone mystery plan eps-2026` (136 calls, 4 PDFs of call sheets, CSV, calendars);
3. the peer: a bare matplotlib script drawing as many charts as the run above drew (counted in
   its HTML pages, where each chart is one inline SVG), one per page into PdfPages, in one
   process: the price of the charts alone, before any table, text or second format.

Then, in process, where a run's time goes (gathering the figures, the after-hours checks, one
statement's document, typesetting it).

    python bench/bench_reports.py                        # simulates 2026-10 into a temp dir
    python bench/bench_reports.py --store /tmp/r/y.db    # an existing store, kept as it is
    python bench/bench_reports.py --trend-months 11      # simulate the 11 months before too
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATED = dt.datetime(2026, 11, 2, 8, 0)
BASELINE = """
import io, sys, numpy as np
from matplotlib.figure import Figure
from matplotlib.backends.backend_pdf import PdfPages
n = int(sys.argv[1])
rng = np.random.default_rng(0)
with PdfPages(io.BytesIO()) as pdf:
    for k in range(n):
        fig = Figure(figsize=(8, 2.6))
        ax = fig.add_subplot()
        x = np.arange(31)
        ax.bar(x, rng.integers(20, 120, 31), color="#1f4e79")
        ax.plot(x, rng.uniform(60, 100, 31), color="#c62828", marker="o", ms=2.5)
        ax.set_title(f"Graphique {k}")
        ax.set_xlabel("jour")
        ax.set_ylabel("appels")
        pdf.savefig(fig)
"""


def run(*args: str, env: dict[str, str] | None = None) -> float:
    """Run a command from the repository's root and return its wall time."""
    start = time.perf_counter()
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return time.perf_counter() - start


def qualiphone(url: str, *args: str) -> float:
    return run(sys.executable, "-m", "qualiphone", "--db", url, *args)


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


def timings(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    times = [fn() for _ in range(repeat)]
    return min(times), statistics.median(times)


def line(label: str, best: float, median: float, note: str = "") -> None:
    print(f"{label:<58} best {best:6.2f} s   median {median:6.2f} s   {note}")


def count_charts(folder: Path) -> int:
    return sum(p.read_text(encoding="utf-8").count("<svg") for p in folder.glob("*.html"))


def in_process(url: str, month: str) -> list[tuple[str, float]]:
    """Where the time of a run goes, each step once, in this process."""
    sys.path.insert(0, str(ROOT))
    from config import load_config
    from monitor.store import open_store
    from qualiphone.typeset import typeset
    from reports.afterhours import load, site_check
    from reports.data import Period, gather
    from reports.html import render_html
    from reports.pdf import TEMPLATE, pdf_data
    from reports.statement import statement
    from reports.statement_doc import statement_document

    config, store = load_config(), open_store(url)
    period = Period.month(month)
    out: list[tuple[str, float]] = []

    def step(label: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = fn()
        out.append((label, time.perf_counter() - start))
        return value

    figures = step("gather the figures (one read of the store)",
                   lambda: gather(store.engine, config, period))
    closed = step("after-hours checks of the 17 sites",
                  lambda: load(store.engine, config, period, list(figures.site_ids)))
    s = statement(figures, "eps-09", site_check(closed, "eps-09"))
    doc = step("one statement (eps-09): its charts drawn once, as SVG",
               lambda: statement_document(s, GENERATED))
    data = pdf_data(doc)
    step("one statement: HTML page", lambda: render_html(doc))
    step("one statement: typeset by Typst (PDF)", lambda: typeset(TEMPLATE, data))
    store.dispose()
    return out


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
    print(f"store: {path} · {os.cpu_count()} CPUs · month {args.month} · load average "
          f"{os.getloadavg()[0]:.1f} · best and median of {args.repeat} fresh processes")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rapports"
        best, median = timings(lambda: qualiphone(url, "report", "monthly", "--month", args.month,
                                                  "--out", str(out)), args.repeat)
        files, charts = len(list(out.iterdir())), count_charts(out)
        line(f"report monthly: 17 statements + synthesis ({files} files)", best, median,
             "goal ≤ 10 s")
        plan_db = Path(tmp) / "plan.db"

        def plan() -> float:
            plan_db.unlink(missing_ok=True)
            return qualiphone(f"sqlite:///{plan_db}", "mystery", "plan", "eps-2026", "--out",
                              str(Path(tmp) / "campagne"))

        best_plan, median_plan = timings(plan, args.repeat)
        line("mystery plan eps-2026 (136 calls, 4 PDFs of call sheets)", best_plan, median_plan,
             "goal ≤ 5 s")
        base, base_median = timings(lambda: run(sys.executable, "-c", BASELINE, str(charts)),
                                    args.repeat)
        line(f"peer: bare matplotlib PdfPages, the same {charts} charts", base, base_median,
             f"report/peer {best / base:.2f}")
    print("in process, one run of each step:")
    for label, seconds in in_process(url, args.month):
        print(f"  {label:<56} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
