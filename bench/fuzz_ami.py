"""Fuzz the live listener with 100,000 mutated AMI frames; print crashes, calls lost and gaps.

    python bench/fuzz_ami.py [--frames 100000] [--seed 1] [--offline] [--pg URL]

The streams: simulated days of the 17 sites (2026-10-05 on, the events a listener with
read = call,agent,system receives) and the real recordings of ../shared/data/real/ami (read in
place). In each round 30 % of the calls are picked and some of their frames mutated
(tests/ingest/ami/fuzz_frames.py: hostile values, NUL bytes, nan/1e20 Timestamps, cut, doubled,
renamed, split or dropped frames, invalid UTF-8, 300 KB values …), until --frames frames have
been mutated. Each round is sent by a loopback PBX to a real `Listener` (the client, its
bounded inbox, the Timestamp check, the tracker, finalize and the write path), on SQLite, then
on PostgreSQL when --pg or QUALIPHONE_TEST_PG gives a server (a schema of its own, dropped at
the end); --offline folds the same bytes without a socket (faster, no gaps possible).

Printed per store: frames sent and mutated, malformed frames skipped, implausible Timestamps
replaced, crashes (an exception out of the listener), handler and finalize errors (caught and
logged, but each is a bug), calls expected (what the unmutated stream stores), touched and
untouched, **calls lost** (untouched, expected, not stored: must be 0), rejects with their
commonest reasons, and capture gaps recorded. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import logging
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from config import load_config
from ingest.ami.listener import Listener
from ingest.ami.models import capture_gaps
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from monitor.store.models import rejected_records
from tests.ingest.ami import fuzz_frames as fz
from tests.ingest.ami.ami_support import FakePbx, capture_context

DAY = dt.date(2026, 10, 5)
REAL = Path(os.environ.get("QUALIPHONE_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "data" / "real"
TOUCHED_CALLS = 0.3


@dataclass
class Totals:
    rounds: int = 0
    sent: int = 0
    mutated: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    malformed: int = 0
    timestamps: int = 0
    crashes: int = 0
    handler_errors: int = 0
    finalize_errors: int = 0
    expected: int = 0
    touched: int = 0
    lost: int = 0
    lost_examples: list[str] = field(default_factory=list)
    rejects: collections.Counter[str] = field(default_factory=collections.Counter)
    gaps: int = 0
    seconds: float = 0.0


@dataclass
class Round:
    name: str
    ctx: CaptureContext
    stream: list[fz.Frame]
    expected: set[str]


def rounds(tmp: Path) -> Iterator[Round]:
    """Simulated days of the 17 sites, with a real recording between two days."""
    from simulator.ami_pbx import DayStream

    config = load_config()
    sim_ctx = CaptureContext.create(config)
    real_ctx = capture_context(tmp / "config") if REAL.is_dir() else None
    real = fz.real_streams(REAL) if real_ctx is not None else {}
    days = DayStream(config, DAY)
    while True:
        day = next(days)
        stream = fz.calls_stream(day.calls)
        yield Round(f"simulated {day.date}", sim_ctx, stream, fz.expected_calls(sim_ctx, stream))
        for name, stream in real.items():
            assert real_ctx is not None
            yield Round(name, real_ctx, stream, fz.expected_calls(real_ctx, stream))


def mutations(stream: list[fz.Frame], rng: random.Random) -> list[fz.Mutation]:
    """30 % of the calls, each with 1 to all of its frames mutated; 2 % of frames of no call."""
    by_call: dict[str | None, list[int]] = collections.defaultdict(list)
    for i, frame in enumerate(stream):
        by_call[frame.call].append(i)
    picked: list[int] = []
    for call, indexes in by_call.items():
        if call is None:
            picked += [i for i in indexes if rng.random() < 0.02]
        elif rng.random() < TOUCHED_CALLS:
            picked += rng.sample(indexes, rng.randint(1, len(indexes)))
    return [fz.Mutation(i, rng.choice(fz.KINDS), rng.randrange(1 << 20)) for i in picked]


async def over_socket(ctx: CaptureContext, store: Store, data: list[bytes]) -> Listener:
    """A loopback PBX sends the bytes on login; the listener runs until it has been idle 1 s."""
    blob = b"".join(data)
    pbx = await FakePbx(on_login=lambda s: s.send(blob)).start()
    listener = Listener(ctx, store, host="127.0.0.1", port=pbx.port, username="fuzz",
                        secret=pbx.secret, ping_interval=30.0)
    task = asyncio.create_task(listener.run())
    last, quiet = -1, time.monotonic()
    while not task.done():
        await asyncio.sleep(0.1)
        seen = listener.client.stats.frames
        if seen != last:
            last, quiet = seen, time.monotonic()
        elif time.monotonic() - quiet > 1.0 and listener.client.connected.is_set():
            listener.stop("end of the round")
    await task
    await pbx.close()
    return listener


def fuzz_store(store: Store, label: str, args: argparse.Namespace, tmp: Path) -> Totals:
    rng, t = random.Random(args.seed), Totals()
    started = time.monotonic()
    for rnd in rounds(tmp):
        if t.mutated >= args.frames:
            break
        muts = mutations(rnd.stream, rng)[: args.frames - t.mutated]
        data, touched = fz.apply(rnd.stream, muts)
        fz.wipe(store)
        try:
            if args.offline:
                result = fz.fold(rnd.ctx, store, data)
                listener, malformed = result.listener, result.malformed
            else:
                listener = asyncio.run(over_socket(rnd.ctx, store, data))
                malformed = listener.client.stats.bad_frames
        except Exception as exc:  # what the listener must never let out
            t.crashes += 1
            print(f"  CRASH in {rnd.name}: {exc!r}")
            continue
        lost = fz.calls_lost(store, rnd.expected, touched)
        t.rounds += 1
        t.sent += len(data)
        t.mutated += len(muts)
        t.kinds.update(m.kind for m in muts)
        t.malformed += malformed
        t.timestamps += listener.stats.bad_timestamps
        t.handler_errors += listener.stats.handler_errors
        t.finalize_errors += listener.stats.finalize_errors
        t.expected += len(rnd.expected)
        t.touched += len(rnd.expected & touched)
        t.lost += len(lost)
        t.lost_examples += sorted(lost)[: 5 - len(t.lost_examples)]
        with store.engine.connect() as conn:
            t.gaps += conn.execute(sa.select(sa.func.count()).select_from(capture_gaps)).scalar_one()
            for (reason,) in conn.execute(sa.select(rejected_records.c.reason)):
                t.rejects[reason.split(":")[0].split(";")[0][:60]] += 1
        print(f"  {label}: {rnd.name}: {len(muts):,} frames mutated, {len(lost)} calls lost "
              f"({t.mutated:,}/{args.frames:,})", flush=True)
    t.seconds = time.monotonic() - started
    return t


def report(label: str, t: Totals) -> None:
    untouched = t.expected - t.touched
    print(f"\n{label}: {t.rounds} rounds, {t.sent:,} frames sent, {t.mutated:,} mutated "
          f"({', '.join(f'{k} {n:,}' for k, n in t.kinds.most_common())}), {t.seconds:.0f} s")
    print(f"  crashes (an exception out of the listener): {t.crashes}")
    print(f"  handler errors: {t.handler_errors}; finalize errors: {t.finalize_errors} "
          "(caught and logged; each would be a bug)")
    print(f"  malformed frames skipped: {t.malformed:,}; implausible Timestamps replaced: "
          f"{t.timestamps:,}")
    print(f"  calls expected {t.expected:,}: touched by a mutation {t.touched:,}, untouched "
          f"{untouched:,}; calls lost (untouched, not stored): {t.lost}"
          + (f" e.g. {', '.join(t.lost_examples)}" if t.lost_examples else ""))
    shown = "; ".join(f"{n:,} {reason}" for reason, n in t.rejects.most_common(6))
    print(f"  rejects {sum(t.rejects.values()):,}: {shown or 'none'}")
    print(f"  capture gaps recorded: {t.gaps}")


def pg_store(url: str) -> tuple[Store, sa.Engine, str]:
    schema = f"fuzz_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return open_store(scoped.render_as_string(hide_password=False)), admin, schema


def main() -> None:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="frames to mutate per store")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--offline", action="store_true", help="fold without a socket")
    p.add_argument("--pg", default=os.environ.get("QUALIPHONE_TEST_PG"),
                   help="PostgreSQL URL [default: $QUALIPHONE_TEST_PG; none: SQLite only]")
    args = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # every mutation is logged otherwise
    with tempfile.TemporaryDirectory() as tmp:
        stores: list[tuple[str, Store]] = [("SQLite", open_store(f"sqlite:///{tmp}/fuzz.db"))]
        pg = pg_store(args.pg) if args.pg else None
        if pg is not None:
            stores.append(("PostgreSQL", pg[0]))
        results = []
        try:
            for label, store in stores:
                results.append((label, fuzz_store(store, label, args, Path(tmp))))
                store.dispose()
        finally:
            if pg is not None:
                with pg[1].begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {pg[2]} CASCADE"))
                pg[1].dispose()
        for label, totals in results:
            report(label, totals)


if __name__ == "__main__":
    main()
