"""The listener against the simulated PBX when things go wrong: dropped connections, refused
logins, a silent connection, garbage bytes. A simulated morning runs at high speed (a few
seconds of wall time); afterwards the same day's CDR from the batch writers fills the gaps."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import Config
from ingest.ami.client import Backoff
from ingest.ami.listener import Gap, Listener, ListenerStats
from ingest.batch import run_batch
from ingest.cdr import parse_cdr
from ingest.finalize import CaptureContext
from monitor.calendar import SiteCalendar
from monitor.call import Source
from monitor.store import Store, open_store
from monitor.store.models import calls as calls_table
from simulator.ami_clock import SimClock
from simulator.ami_server import AmiServer, Faults
from simulator.ids import assign_ids
from simulator.model import simulate_site_day
from simulator.month import render
from simulator.timeline import SimCall
from tests.ingest.ami.ami_support import run
from tests.simulator.ami_sim_support import SECRET

DAY = dt.date(2026, 10, 5)  # a Monday
SITES = ("eps-05", "eps-07", "eps-centre")
SPEED = 1500.0
FAST = {"backoff": Backoff(base=0.02, cap=0.1, auth_floor=0.15), "ping_interval": 0.3,
        "ping_timeout": 0.5, "connect_timeout": 1.0}


@pytest.fixture(scope="module")
def day_calls(config: Config) -> list[SimCall]:
    calendar = SiteCalendar(config)
    return assign_ids([c for site in SITES
                       for c in simulate_site_day(config, site, DAY, 11, calendar=calendar)])


def window(config: Config, calls: list[SimCall], start: str, minutes: int) -> tuple[float, list[SimCall]]:
    t0 = dt.datetime.combine(DAY, dt.time.fromisoformat(start), config.pbxs["paris-eps"].tz)
    begin = t0.timestamp()
    return begin, [c for c in calls if begin <= c.arrival < begin + minutes * 60]


@dataclass
class Outcome:
    stats: ListenerStats
    listener: Listener
    server: AmiServer
    to_pbx: tuple[float, float]  # (wall time, PBX time) of the clock's start: maps gaps


async def _run(config: Config, store: Store, begin: float, calls: list[SimCall], faults: Faults,
               during: object = None) -> Outcome:
    clock = SimClock(begin - 1.0, SPEED)
    mapping = (time.time(), clock.now())
    server = AmiServer(clock, SECRET, config=config, calls=calls, faults=faults, auth_delay=0.05)
    port = await server.start()
    listener = Listener(CaptureContext.create(config), store, host="127.0.0.1", port=port,
                        username="qualimon", secret=SECRET, flush_interval=0.1, **FAST)
    helper = asyncio.ensure_future(during(server)) if during else None  # type: ignore[operator]
    last = max(c.end for c in calls)
    stats = await listener.run((last - begin) / SPEED + 1.5)
    if helper is not None:
        helper.cancel()
    await server.close()
    return Outcome(stats, listener, server, mapping)


def _stored(store: Store) -> dict[str, sa.Row]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(calls_table)).all()
    assert len(rows) == len({r.call_key for r in rows})
    return {r.call_key: r for r in rows}


def _pbx_gaps(out: Outcome) -> list[tuple[float, float]]:
    wall0, pbx0 = out.to_pbx
    return [(pbx0 + (g.start - wall0) * SPEED - 1.0, pbx0 + (g.end - wall0) * SPEED + 1.0)
            for g in out.stats.gaps]


def test_drops_and_refused_logins_lose_no_call_once_the_cdr_is_imported(
        config: Config, day_calls: list[SimCall], tmp_path: Path) -> None:
    begin, calls = window(config, day_calls, "09:00", 40)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    faults = Faults(drop_every=0.5, refuse_logins=0.3, seed=3)
    out = run(_run(config, store, begin, calls, faults), timeout=20)
    assert isinstance(out, Outcome)
    assert len(out.stats.gaps) >= 2 and out.listener.client.stats.logins_refused >= 1
    seen_live = _stored(store)
    assert seen_live and set(seen_live) <= {c.key for c in calls}
    assert any(r.incomplete for r in seen_live.values())  # calls cut by a gap

    cdr = tmp_path / "Master.csv"  # the day's CDR, from the batch writers, same model and seed
    cdr.write_text(render(day_calls, config.pbxs["paris-eps"].tz).cdr)
    run_batch(store, "cdr", cdr, parse_cdr, CaptureContext.create(config))

    stored = _stored(store)
    assert set(stored) == {c.key for c in day_calls}  # every call of the day, exactly once
    gaps = _pbx_gaps(out)
    overlapped = 0
    for call in calls:
        row = stored[call.key]
        assert not row.incomplete, call.key
        assert (row.answer is None) == (call.answer is None), call.key
        if any(a <= call.end and call.arrival <= b for a, b in gaps):
            overlapped += 1
            continue  # overlapped a gap: complete now, at the CDR's resolution
        assert row.sources & Source.AMI and row.answer == call.answer, call.key  # AMI's µs kept
    assert 1 <= overlapped < len(calls), (overlapped, len(calls))
    assert isinstance(out.stats.gaps[0], Gap)


def test_a_silent_connection_is_detected_and_replaced(config: Config, day_calls: list[SimCall],
                                                      tmp_path: Path) -> None:
    begin, calls = window(config, day_calls, "10:00", 10)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    out = run(_run(config, store, begin, calls, Faults(answer_pings=False)), timeout=20)
    assert isinstance(out, Outcome)
    client = out.listener.client.stats
    assert client.missed_pongs >= 1 and client.connections >= 2
    assert out.stats.gaps  # the dead connection's time is recorded as a gap


def test_garbage_frames_do_not_stop_the_listener(config: Config, day_calls: list[SimCall],
                                                 tmp_path: Path) -> None:
    begin, calls = window(config, day_calls, "11:00", 20)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")

    async def spray(server: AmiServer) -> None:
        while True:
            await asyncio.sleep(0.15)
            server.send_garbage()

    out = run(_run(config, store, begin, calls, Faults(), during=spray), timeout=20)
    assert isinstance(out, Outcome)
    assert out.listener.client.stats.bad_frames >= 3 and not out.stats.gaps
    stored = _stored(store)
    assert set(stored) == {c.key for c in calls}
    for call in calls:
        assert stored[call.key].answer == call.answer and not stored[call.key].incomplete
