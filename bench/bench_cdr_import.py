"""Master.csv import speed, end to end into SQLite, beside a raw sqlite3 insert of the same rows.

    python bench/bench_cdr_import.py [--month 2026-10] [--repeat 3]

Simulates a month of the 17 sites (or reuses --dir), then in one process:
  1. qualiphone's import: read, parse, group rows into calls, finalize, upsert (run_batch);
  2. the peer: csv.reader over the same file and executemany of the raw 21 columns into a
     fresh sqlite3 table (no grouping, no validation): the floor for "rows into SQLite".
Prints rows/s for both and the ratio. Goal (issue 2): >= 300,000 rows/s end to end on one core.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import time
from pathlib import Path

from config import load_config
from ingest.batch import run_batch
from ingest.cdr import parse_cdr
from ingest.finalize import CaptureContext
from monitor.store import open_store
from simulator.month import CDR_FILE, write_month


def raw_sqlite_insert(path: Path, db: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE cdr (" + ", ".join(f"c{i} TEXT" for i in range(21)) + ")")
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        rows = (r + [""] * (21 - len(r)) for r in csv.reader(fh))
        conn.executemany("INSERT INTO cdr VALUES (" + ",".join("?" * 21) + ")", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def qualiphone_import(path: Path, db: Path) -> tuple[float, int]:
    import os

    os.environ.setdefault("QUALIPHONE_PSEUDONYM_KEY", "bench")
    store = open_store(f"sqlite:///{db}")
    ctx = CaptureContext.create(load_config())
    start = time.perf_counter()
    result = run_batch(store, "cdr", path, lambda lines, c: parse_cdr(lines, c), ctx)
    seconds = time.perf_counter() - start
    store.dispose()
    return seconds, result.calls_seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--dir", type=Path, default=None, help="reuse a simulated month here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qp-bench-"))
    source = args.dir or work / "month"
    if not (source / CDR_FILE).exists():
        print(f"simulating {args.month} into {source} …", flush=True)
        write_month(load_config(), args.month, source, seed=0)
    path = source / CDR_FILE
    rows = sum(1 for _ in path.open("rb"))
    print(f"{path}: {rows} rows, {path.stat().st_size / 1e6:.1f} MB")
    best_q = best_raw = float("inf")
    calls = 0
    for i in range(args.repeat):
        seconds, calls = qualiphone_import(path, work / f"q{i}.db")
        best_q = min(best_q, seconds)
        best_raw = min(best_raw, raw_sqlite_insert(path, work / f"raw{i}.db"))
    print(f"qualiphone import : {best_q:6.2f} s  {rows / best_q:10,.0f} rows/s  ({calls} calls)")
    print(f"raw sqlite3 insert: {best_raw:6.2f} s  {rows / best_raw:10,.0f} rows/s")
    print(f"ratio qualiphone/raw time: {best_q / best_raw:.1f}x   goal: >= 300,000 rows/s end to end")


if __name__ == "__main__":
    main()
