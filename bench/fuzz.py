"""Fuzz the importers: 100,000 mutated lines per source, on SQLite and PostgreSQL.

    PYTHONPATH=. python bench/fuzz.py [--mutated 100000] [--rate 0.2] [--sources cdr,csv]
                                      [--stores sqlite,postgresql] [--pg URL] [--dir DIR]

Simulates three days of the 17 sites (or reuses --dir, a `simulate month` directory), cuts each
source's lines into samples, and imports mutated copies of them (simulator.mutate: about --rate
of the lines damaged; by default a share that leaves about half the calls untouched, 0.03
for CEL, 0.2 for the others) until --mutated lines were mutated per source and store; every real
recording of the source's kind (../shared/data/real) is also imported mutated, five times. For
each source and store it prints: the lines read, the lines mutated, the files imported, the
rejects, the files refused whole, the good calls (calls none of whose lines was touched) and
how many of them were lost, and the crashes (an exception out of the import). Exit status 1
when anything crashed or a good call was lost.

The sources come from simulator.fuzz_run.SOURCES: a source added there is fuzzed here too.
The AMI listener's frames are fuzzed by bench/fuzz_ami.py.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code

import sqlalchemy as sa

from config import load_config
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from simulator.fuzz_run import SOURCES, FuzzSource, Sample, Tally, make_sample, run_once

SAMPLE_LINES = 20_000
REAL_ROUNDS = 5
REAL = Path(os.environ.get("QUALIPHONE_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "data" / "real"


def stores(names: list[str], pg_url: str | None, work: Path) -> dict[str, Store]:
    out = {}
    for name in names:
        if name == "sqlite":
            out[name] = open_store(f"sqlite:///{work / 'fuzz.db'}")
        else:
            if not pg_url:
                sys.exit("PostgreSQL: give --pg URL or set QUALIPHONE_TEST_PG")
            admin = sa.create_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA IF EXISTS bench_fuzz CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA bench_fuzz"))
            admin.dispose()
            url = sa.make_url(pg_url).update_query_dict({"options": "-csearch_path=bench_fuzz"})
            out[name] = open_store(url.render_as_string(hide_password=False))
    return out


def samples_of(source: FuzzSource, month: Path, ctx: CaptureContext, work: Path) -> list[Sample]:
    lines = source.simulated(month, ctx.config)
    head, body = lines[:source.protect], lines[source.protect:]
    return [make_sample(source, head + body[i:i + SAMPLE_LINES], ctx, work)
            for i in range(0, len(body), SAMPLE_LINES)]


def fuzz(store: Store, ctx: CaptureContext, samples: list[Sample], real: list[Sample],
         target: int, rate: float, rng: random.Random, work: Path) -> Tally:
    total = Tally()
    n = 0
    while total.mutated < target:
        total.add(run_once(store, ctx, samples[n % len(samples)], rng, rate, work))
        n += 1
    for sample in real:
        for _ in range(REAL_ROUNDS):
            tally = run_once(store, ctx, sample, rng, max(rate, 0.3), work)
            tally.good_calls, tally.lost = 0, []  # real files: crashes only (their calls
            total.add(tally)                      # are mostly of no configured site)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutated", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=None,
                        help="share of lines mutated [default: the source's, e.g. 0.2]")
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--pg", default=os.environ.get("QUALIPHONE_TEST_PG"))
    parser.add_argument("--dir", type=Path, default=None, help="a simulated month (kept)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    os.environ.setdefault("QUALIPHONE_PSEUDONYM_KEY", "fuzz")
    work = Path(tempfile.mkdtemp(prefix="qp-fuzz-"))
    month = args.dir or work / "month"
    config = load_config()
    if not (month / "Master.csv").exists():
        from simulator.month import write_month

        print(f"simulating 3 days into {month} …", flush=True)
        write_month(config, "2026-10", month, seed=args.seed, days=3)
    ctx = CaptureContext.create(config)
    targets = stores(args.stores.split(","), args.pg, work)
    print(f"{'source':<10} {'store':<10} {'lines':>9} {'mutated':>8} {'files':>5} "
          f"{'rejects':>8} {'refused':>7} {'good calls':>10} {'lost':>5} {'crashes':>7} {'s':>6}")
    failed = False
    for name in args.sources.split(","):
        source = SOURCES[name]
        samples = samples_of(source, month, ctx, work)
        real = [make_sample(source, p.read_text(encoding="utf-8", errors="replace").splitlines(),
                            ctx, work) for pattern in source.real for p in sorted(REAL.glob(pattern))]
        for store_name, store in targets.items():
            started = time.perf_counter()
            t = fuzz(store, ctx, samples, real, args.mutated, args.rate or source.rate,
                     random.Random(f"{args.seed}-{name}-{store_name}"), work)
            print(f"{name:<10} {store_name:<10} {t.lines:>9,} {t.mutated:>8,} {t.files:>5} "
                  f"{t.rejects:>8,} {t.refused:>7} {t.good_calls:>10,} {len(t.lost):>5} "
                  f"{len(t.crashes):>7} {time.perf_counter() - started:>6.0f}", flush=True)
            for line in [*t.crashes[:5], *(f"lost: {key}" for key in t.lost[:5])]:
                print(f"    {line}")
            failed |= bool(t.crashes or t.lost)
    for store in targets.values():
        store.dispose()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
