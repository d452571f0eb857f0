"""`qualiphone mystery call` against the AMI simulator: ring time, outcome, retries, matching."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import simulator.ami_server as ami_server
from config import Config
from monitor.call import Call, CallBuilder, Source
from monitor.call import Outcome as PbxOutcome
from monitor.store import Store, open_store
from mystery.call import CallRequest, channel_id_for, find_leg
from mystery.campaign import Campaign
from mystery.models import mystery_planned_calls, mystery_results
from mystery.planner import plan_campaign
from mystery.repository import save_plan
from qualiphone.cli import cli
from simulator.ami_clock import SimClock
from simulator.ami_originate import OriginateRequest, place_call
from simulator.ami_pbx import Day, DayStream
from simulator.timeline import SimCall
from tests.simulator.ami_sim_support import SECRET

PARIS = ZoneInfo("Europe/Paris")
SITE = "eps-05"
SPEED = 400.0  # PBX seconds per wall second: minutes of talk in well under a second


@dataclass
class Sim:
    port: int
    placed: dict[str, SimCall | None] = field(default_factory=dict)  # by ChannelId: the truth


_DAYS: dict[dt.date, Day] = {}  # the model's day of SITE, computed once (a few seconds)


def model_day(config: Config, start: float) -> Day:
    date = dt.datetime.fromtimestamp(start, PARIS).date()
    if date not in _DAYS:
        _DAYS[date] = DayStream(config, date, seed=7, sites=(SITE,)).day(date)
    return _DAYS[date]


@contextlib.contextmanager
def simulator(config: Config, start: float, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sim]:
    """The AMI simulator of SITE's day from `start` (PBX time), on loopback in its own thread."""
    today = model_day(config, start)
    sim = Sim(0)

    def placing(cfg: Config, request: OriginateRequest, *args: Any, **kwargs: Any) -> SimCall | None:
        sim.placed[request.channel_id] = call = place_call(cfg, request, *args, **kwargs)
        return call

    monkeypatch.setattr(ami_server, "place_call", placing)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = ami_server.AmiServer(SimClock(start, SPEED), SECRET, config=config, calls=today.calls,
                                  agents=today.agents, auth_delay=0.2, seed=7)
    sim.port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def planned_db(tmp_path: Path, small: Campaign, config: Config) -> tuple[str, Store, sa.Row]:
    """A store with the small campaign planned; the first planned call of SITE."""
    url = f"sqlite:///{tmp_path / 'call.db'}"
    store = open_store(url)
    save_plan(store, plan_campaign(small, config, 7), config)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(mystery_planned_calls)
                           .where(mystery_planned_calls.c.site == SITE)
                           .order_by(mystery_planned_calls.c.start_utc)).first()
    assert row is not None
    return url, store, row


def call(url: str, sim: Sim, call_id: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", SECRET)
    return CliRunner().invoke(cli, ["--db", url, "mystery", "call", call_id.lower(), "--ami",
                                    f"127.0.0.1:{sim.port}", "--ami-user", "mystere",
                                    "--no-form", "--max-wait", "8"])


def result_row(store: Store, call_id: str) -> sa.Row:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(mystery_results)
                           .where(mystery_results.c.call_id == call_id)).one()
    return row


def at_local(row: sa.Row, hour: int) -> float:
    day = dt.datetime.fromtimestamp(row.start_utc, PARIS).date()
    return dt.datetime.combine(day, dt.time(hour), PARIS).timestamp()


def test_ring_time_is_the_simulators(planned_db: tuple[str, Store, sa.Row], config: Config,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, store, planned = planned_db
    with simulator(config, planned.start_utc, monkeypatch) as sim:
        result = call(url, sim, planned.call_id, monkeypatch)
    assert result.exit_code == 0, result.output
    channel_id = channel_id_for(planned.call_id, 1)
    truth = sim.placed[channel_id]
    assert truth is not None and truth.answer is not None  # an agent answered in opening hours
    row = result_row(store, planned.call_id)
    assert (row.source, row.outcome, row.attempts, row.status) == ("ami", "answered", 1, "in_progress")
    assert row.pbx_ring_seconds == pytest.approx(truth.answer - truth.arrival, abs=1e-6)
    assert (row.pbx_channel_id, row.pbx_linkedid) == (channel_id, channel_id)
    assert row.called_at == pytest.approx(truth.arrival, abs=1e-6)
    assert f"ChannelId {channel_id}" in result.output
    assert "answered by a person after" in result.output  # the log speaks English only
    assert "décroché" not in result.output
    again = call(url, sim, planned.call_id, monkeypatch)  # answered: not placed twice
    assert again.exit_code == 1 and "already answered" in again.output


def test_after_hours_is_recorded_unanswered_then_retried(
        planned_db: tuple[str, Store, sa.Row], config: Config,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, store, planned = planned_db
    with simulator(config, at_local(planned, 20), monkeypatch) as sim:
        result = call(url, sim, planned.call_id, monkeypatch)
    assert result.exit_code == 0, result.output
    row = result_row(store, planned.call_id)
    assert (row.source, row.outcome, row.attempts) == ("ami", "message", 1)
    assert row.pbx_ring_seconds is None and row.pbx_channel_id == channel_id_for(planned.call_id, 1)
    with simulator(config, planned.start_utc, monkeypatch) as sim:
        retry = call(url, sim, planned.call_id, monkeypatch)
    assert retry.exit_code == 0, retry.output
    row = result_row(store, planned.call_id)
    truth = sim.placed[channel_id_for(planned.call_id, 2)]
    assert truth is not None and truth.answer is not None
    assert (row.outcome, row.attempts) == ("answered", 2)
    assert row.pbx_ring_seconds == pytest.approx(truth.answer - truth.arrival, abs=1e-6)


def test_secret_and_unknown_call_errors(planned_db: tuple[str, Store, sa.Row],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url, _, _ = planned_db
    monkeypatch.delenv("QUALIPHONE_AMI_SECRET", raising=False)
    args = ["--db", url, "mystery", "call", "T26-99-001", "--ami", "127.0.0.1:1", "--ami-user", "u"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "no AMI secret" in result.output
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", SECRET)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "not a planned mystery call" in result.output


def _leg(key: str, caller: str, arrival: float, is_test: bool = True,
         site: str = SITE) -> tuple[CallBuilder, Call]:
    builder = CallBuilder("paris-eps", key, Source.AMI, caller=caller, arrival=arrival)
    return builder, Call("paris-eps", key, site, arrival, PbxOutcome.ANSWERED, Source.AMI,
                         answer=arrival + 9.0, is_test=is_test)


def test_inbound_leg_found_by_caller_id_and_time() -> None:
    request = CallRequest("T26-05-001", SITE, "0199000105", "PJSIP/qualite-01", "mystery-x-1",
                          caller_id="+33 1 99 00 99 99")
    sent = 1_000_000.0
    legs = [_leg("other-caller", "0144556677", sent + 5), _leg("too-early", "0199009999", sent - 60),
            _leg("other-site", "0199009999", sent + 4, site="eps-13"),
            _leg("inbound", "0199009999", sent + 6), _leg("later", "0199009999", sent + 30)]
    found = find_leg(legs, request, sent)
    assert found is not None and found[0].call_key == "inbound"
    exact = find_leg([*legs, _leg("mystery-x-1", "", sent + 1)], request, sent)
    assert exact is not None and exact[0].call_key == "mystery-x-1"
    assert find_leg(legs[:3], request, sent) is None


def test_a_failed_attempt_is_recorded_from_the_originate_response(
        planned_db: tuple[str, Store, sa.Row], config: Config,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, store, planned = planned_db
    with store.engine.begin() as conn:  # a number no site has: the PBX answers Failure, reason 0
        conn.execute(sa.update(mystery_planned_calls)
                     .where(mystery_planned_calls.c.call_id == planned.call_id)
                     .values(number="+33199000999"))
    with simulator(config, planned.start_utc, monkeypatch) as sim:
        result = call(url, sim, planned.call_id, monkeypatch)
    assert result.exit_code == 0, result.output
    assert sim.placed[channel_id_for(planned.call_id, 1)] is None
    row = result_row(store, planned.call_id)
    assert (row.source, row.outcome, row.attempts, row.pbx_ring_seconds) == ("ami", "failed", 1, None)
    assert "no route or channel unavailable" in result.output
