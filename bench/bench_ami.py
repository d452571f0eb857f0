"""The live listener against the simulated PBX over loopback: throughput and wallboard delay.

    python bench/bench_ami.py [--speed 300] [--from 09:00] [--minutes 60] [--seed 0]

The simulator (`simulator.ami_server`) runs in a child process, the listener
(`ingest.ami.listener.Listener`, SQLite store in a temporary directory) in this one, so each
has a core. Two runs:

1. Throughput: the whole of 2026-10-05 for the 17 sites, sent as fast as the listener takes it
   (the simulator waits for the socket instead of applying writetimeout). Events per second
   folded into the call tracker (LiveState), first to last event. Goal: >= 20,000 events/s.
2. Delay: a busy stretch of the same day at --speed (PBX seconds per second); for every event,
   the wall time at which the tracker had folded it into the wallboard's state minus the wall
   time its Timestamp stood for (the simulated clock's mapping). Goal: p99 < 500 ms.

Prints the figures; nothing is asserted (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from config import load_config
from ingest.ami.listener import Listener
from ingest.finalize import CaptureContext
from monitor.store import open_store
from simulator.ami_clock import SimClock, anchor
from simulator.ami_pbx import DayStream
from simulator.ami_server import AmiServer

DAY = dt.date(2026, 10, 5)  # a Monday
SECRET = "bench-secret"


def pbx_process(conn: Connection, start: str, minutes: float, speed: float, hold: bool) -> None:
    """The simulator: the calls that arrive in [start, start + minutes), until told to stop."""
    async def main() -> None:
        config = load_config()
        tz = config.pbxs["paris-eps"].tz
        day = DayStream(config, DAY).day(DAY)
        begin = anchor(DAY, dt.time.fromisoformat(start), tz)
        calls = [c for c in day.calls if begin <= c.arrival < begin + minutes * 60]
        clock = SimClock(begin, speed)
        server = AmiServer(clock, SECRET, config=config, calls=calls, agents=day.agents,
                           write_timeout=600.0, hold_until_login=hold)
        port = await server.start()
        conn.send((port, time.time(), clock.now(), len(calls)))
        while not conn.poll():
            await asyncio.sleep(0.1)
        conn.send(server.sent)
        await server.close()

    asyncio.run(main())


async def listen(port: int, idle: float, limit: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Listen until no event came for `idle` s: (wall time folded, Timestamp) per event."""
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        listener = Listener(CaptureContext.create(config), store, host="127.0.0.1", port=port,
                            username="bench", secret=SECRET, ping_interval=5.0)
        folded: list[float] = []
        stamps: list[float] = []
        feed = listener.tracker.feed

        def timed_feed(msg: object) -> None:
            feed(msg)  # type: ignore[arg-type]
            folded.append(time.time())
            stamps.append(msg.time or np.nan)  # type: ignore[attr-defined]

        listener.tracker.feed = timed_feed  # type: ignore[method-assign]
        task = asyncio.create_task(listener.run(limit))
        last_count, quiet_since = -1, time.monotonic()
        while not task.done():
            await asyncio.sleep(0.05)
            if len(folded) != last_count:
                last_count, quiet_since = len(folded), time.monotonic()
            elif folded and time.monotonic() - quiet_since > idle:
                listener.client.stop()
        await task
        store.dispose()
    return np.array(folded), np.array(stamps), listener.inbox.peak


def run(start: str, minutes: float, speed: float, hold: bool, idle: float) -> tuple:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=pbx_process, args=(child, start, minutes, speed, hold), daemon=True)
    proc.start()
    port, wall0, pbx0, n_calls = parent.recv()
    folded, stamps, backlog = asyncio.run(listen(port, idle, limit=minutes * 60 / speed + 120))
    parent.send("stop")
    sent = parent.recv()
    proc.join(10)
    return folded, stamps, backlog, wall0, pbx0, n_calls, sent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--speed", type=float, default=300.0, help="speed of the delay run")
    p.add_argument("--from", dest="start", default="09:00", help="start of the delay run")
    p.add_argument("--minutes", type=float, default=60.0, help="length of the delay run (PBX)")
    args = p.parse_args()

    folded, _, backlog, _, _, n_calls, sent = run("00:00", 24 * 60, 1e9, hold=True, idle=1.0)
    span = folded[-1] - folded[0]
    print(f"1. Throughput: {len(folded):,} events ({n_calls:,} calls of {DAY}, 17 sites; "
          f"{sent:,} frames made, the dialplan class not sent) folded in {span:.2f} s: "
          f"{len(folded) / span:,.0f} events/s (goal >= 20,000); listener queue at most "
          f"{backlog:,} frames behind (its bound: the inbox's max_frames).")

    folded, stamps, backlog, wall0, pbx0, n_calls, _ = run(
        args.start, args.minutes, args.speed, hold=False, idle=3.0)
    timed = ~np.isnan(stamps)
    due = wall0 + (stamps[timed] - pbx0) / args.speed  # the wall time each Timestamp stood for
    delay = (folded[timed] - due) * 1000
    p50, p99 = np.percentile(delay, [50, 99])
    print(f"2. Delay at speed {args.speed:g} ({args.start}, {args.minutes:g} min, {n_calls:,} "
          f"calls, {timed.sum():,} events in {folded[-1] - folded[0]:.1f} s): Timestamp -> "
          f"wallboard state p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {delay.max():.1f} ms "
          f"(goal p99 < 500 ms).")


if __name__ == "__main__":
    main()
