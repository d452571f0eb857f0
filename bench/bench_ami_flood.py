"""The listener under a flood of AMI events: memory, shed intervals and gaps, stop time.

    python bench/bench_ami_flood.py [--seconds 60] [--factor 3] [--measure 15]

A flooder (a child process, so each side has a core) plays the AMI side: banner, Login,
FullyBooted, Ping, an empty CoreShowChannels, and the events of the simulated 2026-10-05 (17
sites, the dialplan class left out) looped as fast as asked, each lap shifted by one day so that
every call is new. The listener (`ingest.ami.listener.Listener`, defaults, SQLite store in a
temporary directory) runs in this process.

1. Throughput: the flooder sends as fast as the listener reads (it waits for the socket, no
   write timeout), for --measure seconds: events folded per second (R).
2. Flood: --factor × R events per second for --seconds, the flooder behaving as Asterisk does
   with a client that does not read (`writetimeout` 100 ms: the session is dropped, and what it
   would have received meanwhile is lost). Printed: the listener's peak RSS (VmHWM), events
   received, folded and shed, disconnections, capture gaps recorded and how much time they
   cover, calls written, and how long `run(duration)` took to return after its duration.
3. The same flood against a flooder that never drops the session (a proxy that buffers, or a
   PBX with a long writetimeout): backpressure alone slows it down; nothing is lost.

Goal (issue 13): peak RSS under 300 MB through a 60 s flood at 3× R, the shed interval recorded
as a gap, and `--for N` returning within a couple of seconds. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import multiprocessing as mp
import re
import sys
import tempfile
import time
from bisect import bisect_right
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = dt.date(2026, 10, 5)
SECRET = "flood-secret"
EPOCH = re.compile(rb"(1[789]\d{8})")  # the epoch part of Timestamps and Uniqueids
HIGH_WATER = 64 * 1024  # unsent bytes before the flooder waits on the socket


@dataclass
class Day:
    pieces: list[bytes]  # the day's stream split around its epochs (shifted per lap)
    ends: list[int]  # where each frame ends in the stream
    spans: dict[str, tuple[int, int]]  # call key -> (index of its first frame, of its last)


def day_stream() -> Day:
    from config import load_config
    from ingest.ami.protocol import render
    from simulator.ami_frames import render_calls
    from simulator.ami_pbx import DayStream

    config = load_config()
    frames = [f for f in render_calls(DayStream(config, DAY).day(DAY).calls) if f.cls != "dialplan"]
    frames.sort(key=lambda f: f.time)
    spans: dict[str, tuple[int, int]] = {}
    for i, f in enumerate(frames):
        key = f.get("Linkedid")
        if key:
            spans[key] = (spans.get(key, (i, i))[0], i)
    data = b"".join(render(f.headers) for f in frames)
    return Day(EPOCH.split(data), [m.end() for m in re.finditer(rb"\r\n\r\n", data)], spans)


def shifted(key: str, lap: int) -> str:
    epoch, _, counter = key.partition(".")
    return f"{int(epoch) + 86_400 * lap}.{counter}"


class Flooder:
    """The AMI side: one emitter at `rate` frames/s (0: as fast as the socket takes them)."""

    def __init__(self, day: Day, asterisk_like: bool) -> None:
        self.day, self.pieces, self.ends, self.asterisk_like = day, day.pieces, day.ends, asterisk_like
        self.rate = 0.0
        self.sessions: set[asyncio.StreamWriter] = set()
        self.logged_in = asyncio.Event()
        self.emitted = self.dropped_sessions = 0
        self.lap, self.lap_data, self.pos = 0, self._lap(0), 0
        self.log: list[tuple[float, int]] = []  # (wall time, frames emitted so far, all laps)
        self.unheard: list[tuple[float, float]] = []  # intervals with no session logged in

    def _lap(self, lap: int) -> bytes:
        shift = 86_400 * lap
        return b"".join(p if i % 2 == 0 else str(int(p) + shift).encode()
                        for i, p in enumerate(self.pieces))

    def take(self, n: int) -> tuple[bytes, int]:
        """The next n frames (fewer at the end of a lap)."""
        start = self.ends[self.pos - 1] if self.pos else 0
        stop = min(self.pos + n, len(self.ends))
        chunk, count = self.lap_data[start:self.ends[stop - 1]], stop - self.pos
        self.pos = stop
        if self.pos == len(self.ends):
            self.lap += 1
            self.lap_data, self.pos = self._lap(self.lap), 0
        return chunk, count

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from ingest.ami.protocol import FrameParser, render

        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = FrameParser()
        try:
            while data := await reader.read(65536):
                for msg in parser.feed(data):
                    aid = ("ActionID", msg.action_id or "")
                    if msg.name == "Login":
                        writer.write(render([("Response", "Success"), aid]) + render(
                            [("Event", "FullyBooted"), ("Status", "Fully Booted")]))
                        self.sessions.add(writer)
                        self.logged_in.set()
                    elif msg.name == "Ping":
                        writer.write(render([("Response", "Success"), aid, ("Ping", "Pong")]))
                    elif msg.name == "CoreShowChannels":
                        writer.write(render([("Response", "Success"), aid, ("EventList", "start")])
                                     + render([("Event", "CoreShowChannelsComplete"), aid,
                                               ("EventList", "Complete"), ("ListItems", "0")]))
        except ConnectionError:
            pass
        finally:
            self.sessions.discard(writer)
            writer.transport.abort()

    async def emit(self) -> None:
        """Frames at `rate` per second to every logged-in session, from the first login on."""
        await self.logged_in.wait()
        t0, sent = time.monotonic(), 0
        while True:
            if self.rate <= 0:
                await self._send(*self.take(500))
                continue
            due = int((time.monotonic() - t0) * self.rate) - sent
            if due <= 0:
                await asyncio.sleep(0.002)
                continue
            while due > 0:
                chunk, n = self.take(min(due, 2000))
                due, sent = due - n, sent + n
                await self._send(chunk, n)

    async def _send(self, chunk: bytes, n: int) -> None:
        now = time.time()
        if not self.sessions:  # what the PBX emits while nobody is logged in is lost
            if self.unheard and self.unheard[-1][1] >= now - 0.05:
                self.unheard[-1] = (self.unheard[-1][0], now)
            else:
                self.unheard.append((now, now))
        self.emitted += n
        self.log.append((now, self.emitted))
        for w in list(self.sessions):
            w.write(chunk)
            if w.transport.get_write_buffer_size() <= HIGH_WATER:
                continue
            try:
                if self.asterisk_like:
                    await asyncio.wait_for(w.drain(), 0.1)  # Asterisk's writetimeout
                else:
                    await w.drain()
            except (TimeoutError, ConnectionError):
                self.dropped_sessions += 1
                self.sessions.discard(w)
                w.transport.abort()
        if not self.sessions:
            await asyncio.sleep(0)


    def calls_emitted(self) -> list[tuple[str, float, float]]:
        """(call key, wall time of its first frame, of its last) of every call fully emitted."""
        times = [t for t, _ in self.log]
        counts = [c for _, c in self.log]
        per_lap = len(self.ends)

        def when(index: int) -> float:  # the wall time frame number `index` went out
            return times[bisect_right(counts, index)]

        out = []
        for lap in range(self.emitted // per_lap + 1):
            for key, (first, last) in self.day.spans.items():
                if lap * per_lap + last < self.emitted:
                    out.append((shifted(key, lap), when(lap * per_lap + first),
                                when(lap * per_lap + last)))
        return out


def flooder_process(conn: Connection, asterisk_like: bool) -> None:
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # writes to sessions it dropped

    async def main() -> None:
        flooder = Flooder(day_stream(), asterisk_like)
        server = await asyncio.start_server(flooder.serve, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        flooder.rate = conn.recv()
        emitter = asyncio.create_task(flooder.emit())
        while not conn.poll():
            await asyncio.sleep(0.05)
        conn.recv()
        emitter.cancel()
        conn.send((flooder.emitted, flooder.dropped_sessions, flooder.unheard,
                   flooder.calls_emitted()))
        server.close()

    asyncio.run(main())


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


async def listen(port: int, seconds: float, store_dir: Path) -> dict[str, object]:
    import sqlalchemy as sa

    from config import load_config
    from ingest.ami.client import Backoff
    from ingest.ami.listener import Listener
    from ingest.finalize import CaptureContext
    from monitor.store import open_store
    from monitor.store.models import calls

    config = load_config()
    store = open_store(f"sqlite:///{store_dir / 'flood.db'}")
    listener = Listener(CaptureContext.create(config), store, host="127.0.0.1", port=port,
                        username="bench", secret=SECRET, backoff=Backoff(base=0.2, cap=1.0),
                        gap_at_stop=True)
    peak_queue = 0.0

    async def sample() -> None:
        nonlocal peak_queue
        while True:
            peak_queue = max(peak_queue, len(listener.inbox))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    t0 = time.monotonic()
    stats = await listener.run(seconds)
    returned = time.monotonic() - t0 - seconds
    sampler.cancel()
    with store.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(calls.c.call_key, calls.c.incomplete)).all())
    store.dispose()
    gaps = [(g.start, g.end) for g in stats.gaps]
    if stats.stop_gap is not None:
        gaps.append((stats.stop_gap.start, float("inf")))
    return {"frames": stats.frames, "received": listener.client.stats.frames,
            "shed": stats.frames_shed, "gaps": gaps,
            "connections": listener.client.stats.connections, "calls": stats.calls_written,
            "returned": returned, "peak_inbox": listener.inbox.peak, "errors": stats.handler_errors,
            "stored": stored}


def audit(stored: dict[str, bool], gaps: list[tuple[float, float]],
          emitted: list[tuple[str, float, float]]) -> dict[str, int]:
    """Each call the flooder emitted whole: stored complete, or else covered by a gap."""
    out = {"emitted": len(emitted), "complete": 0, "incomplete": 0, "missing": 0, "silent": 0}
    for key, first, last in emitted:
        if key in stored and not stored[key]:
            out["complete"] += 1
            continue
        out["incomplete" if key in stored else "missing"] += 1
        if not any(start <= last and first <= end for start, end in gaps):
            out["silent"] += 1  # lost or cut, and no gap says so
    return out


def run(rate: float, seconds: float, asterisk_like: bool) -> tuple[dict[str, object], tuple, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=flooder_process, args=(child, asterisk_like), daemon=True)
    proc.start()
    port = parent.recv()
    parent.send(rate)
    reset_peak()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(listen(port, seconds, Path(tmp)))
    peak = rss_mb()[1]
    parent.send("stop")
    flood = parent.recv()
    proc.join(10)
    return figures, flood, peak


def report(n: int, what: str, seconds: float, f: dict, flood: tuple, peak: float) -> None:
    emitted, dropped, unheard, calls_out = flood
    gaps = f["gaps"]
    bounded = [(a, b) for a, b in gaps if b != float("inf")]
    a = audit(f["stored"], gaps + unheard, calls_out)
    print(f"{n}. {what}: {emitted:,} events emitted ({emitted / seconds:,.0f}/s), "
          f"{f['received']:,} received, {f['frames']:,} folded, {f['shed']:,} shed by the "
          f"listener; {dropped} sessions dropped by the flooder, {f['connections']} logins; "
          f"{len(bounded)} capture gaps recorded covering {sum(b - a for a, b in bounded):.1f} s "
          f"(+ the one open from the stop); calls emitted whole {a['emitted']:,}: stored complete "
          f"{a['complete']:,}, incomplete {a['incomplete']:,}, not stored {a['missing']:,}; "
          f"cut or lost with no gap over them: {a['silent']:,}; inbox at most "
          f"{f['peak_inbox']:,} frames; peak RSS {peak:.0f} MB (goal < 300 MB); run({seconds:g}) "
          f"returned {f['returned']:.2f} s after its duration; {f['errors']} handler errors.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="length of each flood")
    p.add_argument("--factor", type=float, default=3.0, help="flood rate as a multiple of R")
    p.add_argument("--measure", type=float, default=15.0, help="length of the throughput run")
    args = p.parse_args()

    import ingest.ami.listener  # noqa: F401  (imports counted in the baseline)

    logging.getLogger("ingest.ami").setLevel(logging.ERROR)  # one warning per drop otherwise

    print(f"Baseline RSS after imports: {rss_mb()[0]:.0f} MB")
    f, flood, peak = run(0, args.measure, asterisk_like=False)
    rate = int(f["frames"]) / args.measure  # type: ignore[call-overload]
    print(f"1. Throughput: {f['frames']:,} events folded in {args.measure:g} s: R = "
          f"{rate:,.0f} events/s ({f['calls']:,} calls written; peak RSS {peak:.0f} MB)")
    target = args.factor * rate
    for n, asterisk_like in ((2, True), (3, False)):
        who = ("dropping a session it cannot write to within 100 ms, as Asterisk does"
               if asterisk_like else "never dropping the session")
        f, flood, peak = run(target, args.seconds, asterisk_like)
        report(n, f"Flood at {args.factor:g} x R = {target:,.0f} events/s for {args.seconds:g} s, "
               f"the flooder {who}", args.seconds, f, flood, peak)


if __name__ == "__main__":
    main()
