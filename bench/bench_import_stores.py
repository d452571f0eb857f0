"""The same Master.csv imports into SQLite and into PostgreSQL: seconds, rows/s and the ratio.

    python bench/bench_import_stores.py [--months 2026-09,2026-10] [--one-file] [--pg URL]

Simulates the months (or reuses --dir, one sub-directory per month), then imports each month's
Master.csv as its own batch (or, with --one-file, all months concatenated into one file, as in
issue 13's 477k-line import) into a fresh SQLite file and into a fresh schema of the PostgreSQL
database at --pg (default: $QUALIPHONE_TEST_PG). Goal (issue 13): PostgreSQL within 1.5x SQLite.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, not
# an installed qualiphone

from config import load_config
from ingest.batch import run_batch
from ingest.cdr import parse_cdr
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from simulator.month import CDR_FILE, write_month

SCHEMA = "bench_import_stores"


def pg_store(url: str) -> Store:
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    return open_store(scoped.render_as_string(hide_password=False))


def import_all(store: Store, paths: list[Path]) -> tuple[float, int]:
    ctx = CaptureContext.create(load_config())
    parser = functools.partial(parse_cdr, layout="auto", usegmtime=False)
    start, calls = time.perf_counter(), 0
    for path in paths:
        result = run_batch(store, "cdr", path, parser, ctx)
        calls += result.counts.imported
    return time.perf_counter() - start, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="2026-09,2026-10")
    parser.add_argument("--dir", type=Path, default=None, help="simulated months (kept)")
    parser.add_argument("--one-file", action="store_true", help="concatenate the months")
    parser.add_argument("--pg", default=os.environ.get("QUALIPHONE_TEST_PG"))
    args = parser.parse_args()
    if not args.pg:
        parser.error("give --pg URL or set QUALIPHONE_TEST_PG")
    os.environ.setdefault("QUALIPHONE_PSEUDONYM_KEY", "bench")
    work = Path(tempfile.mkdtemp(prefix="qp-bench-stores-"))
    base = args.dir or work
    paths = []
    for month in args.months.split(","):
        if not (base / month / CDR_FILE).exists():
            print(f"simulating {month} into {base / month} …", flush=True)
            write_month(load_config(), month, base / month, seed=0)
        paths.append(base / month / CDR_FILE)
    if args.one_file:
        joined = work / "Master.csv"
        with joined.open("wb") as out:
            for path in paths:
                with path.open("rb") as fh:
                    shutil.copyfileobj(fh, out)
        paths = [joined]
    rows = sum(1 for path in paths for _ in path.open("rb"))
    print(f"{len(paths)} file(s), {rows:,} rows")
    sqlite = open_store(f"sqlite:///{work / 'bench.db'}")
    lite_s, lite_calls = import_all(sqlite, paths)
    sqlite.dispose()
    pg = pg_store(args.pg)
    pg_s, pg_calls = import_all(pg, paths)
    pg.dispose()
    print(f"SQLite    : {lite_s:7.1f} s  {rows / lite_s:9,.0f} rows/s  ({lite_calls:,} calls)")
    print(f"PostgreSQL: {pg_s:7.1f} s  {rows / pg_s:9,.0f} rows/s  ({pg_calls:,} calls)")
    print(f"ratio PostgreSQL/SQLite: {pg_s / lite_s:.2f}   goal: <= 1.5")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
