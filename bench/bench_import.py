"""Import speed of CDR, queue_log and CEL files, end to end, beside their peers in the same run.

    python bench/bench_import.py                     # 400k rows of each kind, SQLite + PostgreSQL
    python bench/bench_import.py --rows 400000 --repeat 3 --pg URL --curve

For each kind, on the same file (simulated months of the 17 sites, cached in --data, cut to
--rows lines: ring groups, queues with Local members, abandons, night messages, transfers):

* raw: csv.reader (queue_log: str.split) + sqlite3 executemany of the raw fields into a fresh
  table (no grouping, no validation): the floor for "rows into SQLite";
* DuckDB read_csv and polars read_csv of the same file (all columns as text, in memory);
* reference: a whole `python -m qualiphone ingest KIND --reference FILE` process;
* columnar: a whole `python -m qualiphone ingest KIND FILE` process (the default);
* on PostgreSQL (--pg): a raw COPY of the same fields, and both importers.

Every importer process writes into a store already migrated and empty (created before the clock
starts, like the raw copy's table). Prints rows/s, the best and median of --repeat runs, the
ratio columnar/raw (the goal: <= 0.5) and each importer's peak RSS. --curve adds the columnar
CDR import of 1 month, 1 year and 3 years of calls (a year repeated with other uniqueids).
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config import load_config  # noqa: E402
from simulator.month import CDR_FILE, CEL_FILE, QUEUE_LOG_FILE, write_month  # noqa: E402

KINDS = {"cdr": CDR_FILE, "queue-log": QUEUE_LOG_FILE, "cel": CEL_FILE}
MONTHS = ["2026-09", "2026-10", "2026-11", "2026-12", "2026-01", "2026-02", "2026-03",
          "2026-04", "2026-05", "2026-06", "2026-07", "2026-08"]


def simulated(data: Path, months: list[str]) -> list[Path]:
    """Directories of simulated months (each written once, then reused)."""
    out = []
    for month in months:
        target = data / month
        if not (target / CDR_FILE).exists():
            print(f"simulating {month} into {target} …", flush=True)
            write_month(load_config(), month, target, seed=0)
        out.append(target)
    return out


def concatenated(data: Path, kind: str, rows: int) -> Path:
    """The first `rows` lines of the months' files of one kind, one after the other."""
    path = data / f"{kind}-{rows}.txt"
    if path.exists():
        return path
    left = rows
    with path.open("wb") as out:
        for month in simulated(data, MONTHS):
            with (month / KINDS[kind]).open("rb") as fh:
                for line in fh:
                    if kind == "queue-log" and b"|NONE|NONE|NONE|QUEUESTART|" in line:
                        continue
                    out.write(line)
                    left -= 1
                    if not left:
                        return path
    raise SystemExit(f"only {rows - left} {kind} rows in {len(MONTHS)} months")


def repeated_year(data: Path, years: int) -> Path:
    """A year of Master.csv `years` times, each copy with its own uniqueids (systemname-)."""
    path = data / f"cdr-{years}y.txt"
    if path.exists():
        return path
    with path.open("wb") as out:
        for copy in range(years):
            for month in simulated(data, MONTHS):
                text = (month / CDR_FILE).read_bytes()
                if copy:
                    prefix = f'"y{copy}-'.encode()
                    text = text.replace(b'","17', b'",' + prefix + b"17")
                out.write(text)
    return path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_sqlite(path: Path, kind: str, db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    width = 21 if kind == "cdr" else 20 if kind == "cel" else 10
    conn.execute("CREATE TABLE t (" + ", ".join(f"c{i} TEXT" for i in range(width)) + ")")
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        fields = (line.rstrip("\n").split("|") for line in fh) if kind == "queue-log" \
            else csv.reader(fh)
        rows = (r[:width] + [""] * (width - len(r)) for r in fields)
        conn.executemany("INSERT INTO t VALUES (" + ",".join("?" * width) + ")", rows)
    conn.commit()
    conn.close()


def raw_copy(path: Path, kind: str, url: str) -> None:
    """psycopg COPY of the raw fields into a fresh PostgreSQL table (the PostgreSQL floor)."""
    import psycopg

    width = 21 if kind == "cdr" else 20 if kind == "cel" else 10
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw")
        cur.execute("CREATE TABLE bench_raw (" + ", ".join(f"c{i} TEXT" for i in range(width)) + ")")
        with path.open(newline="", encoding="utf-8", errors="replace") as fh, \
                cur.copy("COPY bench_raw FROM STDIN") as copy:
            fields = (line.rstrip("\n").split("|") for line in fh) if kind == "queue-log" \
                else csv.reader(fh)
            for r in fields:
                copy.write_row(r[:width] + [""] * (width - len(r)))
        cur.execute("DROP TABLE bench_raw")


def duckdb_read(path: Path, kind: str) -> None:
    import duckdb

    sep = "|" if kind == "queue-log" else ","
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar=true, "
                f"header=false, delim='{sep}', null_padding=true)")
    con.close()


def polars_read(path: Path, kind: str) -> None:
    import polars as pl

    if kind == "queue-log":
        pl.read_csv(path, has_header=False, separator="|", quote_char=None, infer_schema=False,
                    truncate_ragged_lines=True)
    else:
        pl.read_csv(path, has_header=False, infer_schema=False)


def empty_store(url: str) -> str:
    """A migrated, empty store (the schema made before the clock starts)."""
    from monitor.store import open_store

    store = open_store(url)
    with store.engine.begin() as conn:
        for table in ("rejected_records", "directory_misses", "import_batches", "calls"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    store.dispose()
    return url


def importer(path: Path, kind: str, url: str, reference: bool) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a whole `python -m qualiphone ingest` process."""
    env = dict(os.environ, QUALIPHONE_PSEUDONYM_KEY="bench", PYTHONPATH=str(REPO))
    args = [sys.executable, "-m", "qualiphone", "--db", url, "ingest", kind,
            *(["--reference"] if reference else []), str(path)]
    args = ["/usr/bin/time", "-f", "%M", *args]  # the child's own peak (not the bench's)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def delegated(path: Path, kind: str) -> int:
    """How many lines the columnar importer hands to the reference (in this process)."""
    os.environ.setdefault("QUALIPHONE_PSEUDONYM_KEY", "bench")
    from ingest.columnar.cdr import ColumnarCdr
    from ingest.columnar.cel import ColumnarCel
    from ingest.columnar.queue_log import ColumnarQueueLog
    from ingest.finalize import CaptureContext

    fast = {"cdr": ColumnarCdr, "queue-log": ColumnarQueueLog, "cel": ColumnarCel}[kind]()
    fast.parse_file(path, CaptureContext.create(load_config(Path(os.environ["QUALIPHONE_CONFIG"]))))
    return fast.delegated_rows


def row(name: str, times: list[float], rows: int, extra: str = "") -> float:
    best, median = min(times), statistics.median(times)
    print(f"  {name:34s} best {best:7.2f} s  median {median:7.2f} s  "
          f"{rows / best:>11,.0f} rows/s {extra}", flush=True)
    return best


def bench_kind(kind: str, path: Path, rows: int, repeat: int, work: Path, pg: str | None) -> None:
    print(f"\n{kind}: {path.name}, {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB", flush=True)
    results: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    for i in range(repeat):
        db = work / f"raw-{kind}-{i}.db"
        results.setdefault("raw csv + sqlite3 executemany", []).append(
            timed(functools.partial(raw_sqlite, path, kind, db)))
        results.setdefault("DuckDB read_csv", []).append(timed(lambda: duckdb_read(path, kind)))
        results.setdefault("polars read_csv", []).append(timed(lambda: polars_read(path, kind)))
        for label, reference in (("reference (whole process)", True),
                                 ("columnar (whole process)", False)):
            url = empty_store(f"sqlite:///{work / f'{kind}-{int(reference)}-{i}.db'}")
            seconds, peak = importer(path, kind, url, reference)
            results.setdefault(label, []).append(seconds)
            rss[label] = max(rss.get(label, 0.0), peak)
        if pg:
            results.setdefault("PostgreSQL raw COPY", []).append(timed(lambda: raw_copy(path, kind, pg)))
            for label, reference in (("PostgreSQL reference", True), ("PostgreSQL columnar", False)):
                seconds, _ = importer(path, kind, empty_store(pg), reference)
                results.setdefault(label, []).append(seconds)
    best = {name: row(name, times, rows, f"(peak RSS {rss[name]:.0f} MB)" if name in rss else "")
            for name, times in results.items()}
    print(f"  lines left to the reference by the columnar importer: {delegated(path, kind):,}")
    raw, fast = best["raw csv + sqlite3 executemany"], best["columnar (whole process)"]
    print(f"  ratio columnar/raw: {fast / raw:.2f} (goal <= 0.5); "
          f"reference/raw {best['reference (whole process)'] / raw:.2f}")
    if pg:
        ratio = best["PostgreSQL columnar"] / best["PostgreSQL raw COPY"]
        print(f"  PostgreSQL ratio columnar/raw COPY: {ratio:.2f}")


def curve(data: Path, work: Path, repeat: int) -> None:
    from ingest.columnar.memory import columnar_limit

    limit = columnar_limit(0)  # the importer processes' budget (capture.import_memory_mb = 0)
    print(f"\ncost curve, columnar CDR import into SQLite (whole process; files up to "
          f"{limit / 2**20:,.0f} MB read as columns on this machine, larger ones streamed):")
    one_month = simulated(data, MONTHS[:1])[0] / CDR_FILE
    for label, path in (("1 month", one_month), ("1 year", repeated_year(data, 1)),
                        ("3 years", repeated_year(data, 3))):
        rows = sum(1 for _ in path.open("rb"))
        times, peak = [], 0.0
        for i in range(repeat):
            url = empty_store(f"sqlite:///{work / f'curve-{label[0]}-{i}.db'}")
            seconds, rss = importer(path, "cdr", url, False)
            times.append(seconds)
            peak = max(peak, rss)
        best = min(times)
        how = "columns" if path.stat().st_size <= limit else "streamed"
        print(f"  {label:8s} {rows:>10,} rows  best {best:7.2f} s  median "
              f"{statistics.median(times):7.2f} s  {rows / best:>10,.0f} rows/s  peak RSS "
              f"{peak:.0f} MB  ({how})")


def bench_config(work: Path) -> Path:
    """The shipped config with a plausible-date window a year ahead: the simulated months run
    past today, and a call after tomorrow would be a reject (capture.plausible_days_ahead)."""
    from config import SHIPPED_DIR

    target = work / "config"
    shutil.copytree(SHIPPED_DIR, target)
    settings = target / "settings.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("plausible_days_ahead = 1\n", "plausible_days_ahead = 366\n"),
                        encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="cdr,queue-log,cel")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "qualiphone-bench",
                        help="where simulated months are kept between runs")
    parser.add_argument("--pg", default=os.environ.get("QUALIPHONE_BENCH_PG"),
                        help="a PostgreSQL URL to measure too (its tables are emptied)")
    parser.add_argument("--curve", action="store_true", help="1 month, 1 year, 3 years of CDR")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="qp-bench-import-"))
    os.environ["QUALIPHONE_CONFIG"] = str(bench_config(work))  # the importer processes inherit it
    try:
        for kind in filter(None, args.kinds.split(",")):  # --kinds "": the curve alone
            bench_kind(kind, concatenated(args.data, kind, args.rows), args.rows, args.repeat,
                       work, args.pg)
        if args.curve:
            curve(args.data, work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
