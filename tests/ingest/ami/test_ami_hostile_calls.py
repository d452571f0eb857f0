"""Hostile live calls: what the store refuses (issue 13 item 2) and implausible Timestamps
(item 12). Each must cost only itself: every other call is written, nothing is lost."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ingest.ami.listener import Listener
from ingest.ami.protocol import Message
from ingest.ami.stamps import StampCheck
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from qualiphone.cli import cli
from tests.ingest.ami.ami_support import FakePbx, capture_context, ev, pbxs_in_thread, run, write_config

T0 = 1790000000.0


def _caller(uid: str, exten: str = "0199000105", **extra: str) -> dict[str, str]:
    return {"Channel": f"PJSIP/trunk-ovh-{uid[-6:]}", "Uniqueid": uid, "Linkedid": uid,
            "Context": "in-eps-05", "Exten": exten, "CallerIDNum": "0612345678", **extra}


def _call(uid: str, t: float, exten: str = "0199000105", *, stamps: tuple[str, str] | None = None,
          **extra: str) -> list[Message]:
    """A call ringing 9 s then abandoned; `stamps` overrides the two Timestamp texts."""
    fields = list(_caller(uid, exten, **extra).items())
    first, last = (f"{t:.6f}", f"{t + 9:.6f}") if stamps is None else stamps
    return [Message.build(("Event", "Newchannel"), *fields, ("Timestamp", first)),
            Message.build(("Event", "Hangup"), *fields, ("Cause", "16"), ("Timestamp", last))]


def _good(n: int, first: int) -> list[list[Message]]:
    return [_call(f"1790000{first + i:03d}.{first + i}", T0 + 20 * (first + i)) for i in range(n)]


def _listen(ctx: CaptureContext, store: Store, frames: list[Message], **kw: object) -> Listener:
    async def scenario() -> Listener:
        pbx = await FakePbx(on_login=lambda s: s.send(*frames)).start()
        listener = Listener(ctx, store, host="127.0.0.1", port=pbx.port, username="qualimon",
                            secret=pbx.secret, ping_interval=30.0, flush_interval=0.05,
                            batch_size=5, **kw)  # type: ignore[arg-type]
        await listener.run(duration=1.5)
        await pbx.close()
        return listener

    result = run(scenario(), timeout=20)
    assert isinstance(result, Listener)
    return result


def _stored(store: Store) -> dict[str, sa.Row]:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return {r.call_key: r for r in conn.execute(sa.select(calls))}


def _rejects(store: Store) -> list[sa.Row]:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(rejected_records)))


@pytest.fixture
def ctx(tmp_path: Path) -> CaptureContext:
    return capture_context(tmp_path / "config")


# ---- item 2: a record the store refuses -----------------------------------------------------

def test_a_call_the_store_refuses_costs_only_itself(ctx: CaptureContext, store: Store) -> None:
    """On PostgreSQL a NUL byte, a Uniqueid over 128 characters and a dialed number over 32 are
    refused; each becomes a reject with the store's reason, and every other call is written
    (before the fix, every later write failed and was retried forever: 0 calls stored)."""
    long_uid = "1790000500." + "7" * 140  # Asterisk allows 149 characters
    bad = [
        _call("1790000400.400", T0 + 400, CallerIDName="NUL\x00BYTE"),  # a name is not stored
        _call(long_uid, T0 + 500),
        _call("1790000600.600", T0 + 600, "0199000105" + "9" * 80),  # 90 digits: over the 80 stored
        _call("1790000700.700", T0 + 700, "01990\x0000105"),  # a NUL in the dialed number
    ]
    frames = [m for call in [*_good(8, 0), *bad, *_good(8, 50)] for m in call]
    listener = _listen(ctx, store, frames)
    stored = _stored(store)
    good_keys = {f"1790000{i:03d}.{i}" for i in [*range(8), *range(50, 58)]}
    assert good_keys <= set(stored), "a refused call cost the others"
    rejects = _rejects(store)
    for key in ("1790000500.", "1790000600.600", "1790000700.700"):
        assert any(k.startswith(key) for k in stored) or any(key in r.raw for r in rejects), \
            f"call {key} lost"
    assert listener.stats.unsaved == 0 and listener.stats.handler_errors == 0
    assert listener.stats.calls_written + listener.stats.calls_rejected == 20
    if store.engine.dialect.name == "postgresql":
        assert set(stored) == good_keys | {"1790000400.400"}
        assert len(rejects) == 3 and all(r.reason for r in rejects)
        nul = next(r for r in rejects if "1790000700.700" in r.raw)
        assert "\\x00" in nul.raw and "\x00" not in nul.raw  # kept, made storable


def test_a_store_that_cannot_be_reached_keeps_the_calls_and_retries(
        ctx: CaptureContext, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable store is not a bad record: nothing becomes a reject, the calls wait."""
    import ingest.ami.sink as sink

    real, failures = sink.write_calls, [3]

    def flaky(conn: sa.Connection, batch: list[object]) -> object:
        if failures[0] > 0:
            failures[0] -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("could not connect to server"))
        return real(conn, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(sink, "write_calls", flaky)
    monkeypatch.setattr("ingest.ami.listener.RETRY_CAP", 0.1)
    listener = _listen(ctx, sqlite_store, [m for c in _good(6, 0) for m in c])
    assert len(_stored(sqlite_store)) == 6 and _rejects(sqlite_store) == []
    assert listener.stats.calls_written == 6 and listener.stats.calls_rejected == 0


def test_a_long_store_outage_keeps_memory_bounded_and_records_what_it_dropped(
        ctx: CaptureContext, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond `max_pending` finished calls waiting for the store, the oldest are dropped and
    the period they cover is recorded as a capture gap once the store answers."""
    import time

    import ingest.ami.sink as sink
    from ingest.ami.models import capture_gaps

    real, until = sink.write_calls, time.monotonic() + 0.8

    def down(conn: sa.Connection, batch: list[object]) -> object:
        if time.monotonic() < until:
            raise sa.exc.OperationalError("INSERT", {}, Exception("could not connect to server"))
        return real(conn, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(sink, "write_calls", down)
    monkeypatch.setattr("ingest.ami.listener.RETRY_CAP", 0.1)
    listener = _listen(ctx, sqlite_store, [m for c in _good(10, 0) for m in c], max_pending=3)
    stored = _stored(sqlite_store)
    assert set(stored) == {f"1790000{i:03d}.{i}" for i in (7, 8, 9)}  # the newest are kept
    assert listener.stats.calls_shed == 7 and listener.stats.calls_written == 3
    with sqlite_store.engine.connect() as conn:
        gaps = [g for g in conn.execute(sa.select(capture_gaps)) if "store unreachable" in g.reason]
    assert len(gaps) == 1
    assert (gaps[0].start_time, gaps[0].end_time) == (T0, T0 + 20 * 6 + 9)  # the dropped calls
    assert "7 finished calls" in gaps[0].reason and "CDR or CEL" in gaps[0].reason


# ---- item 12: implausible Timestamps --------------------------------------------------------

def test_non_finite_and_far_future_timestamps_fall_back_on_the_receive_time(
        ctx: CaptureContext, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """`nan`, `inf` and `1e20` crashed the listener (exit 1), losing the finished calls."""
    hostile = [
        *_call("1790000400.400", 0, stamps=("nan", "1e20")),
        *_call("1790000401.401", 0, stamps=("inf", "-inf")),
        *_call("1790000402.402", 0, stamps=(f"{T0 + 5:.6f}", "1e20")),
    ]
    frames = [m for c in _good(3, 0) for m in c] + hostile + [m for c in _good(3, 10) for m in c]
    with caplog.at_level(logging.WARNING):
        listener = _listen(ctx, store, frames)
    stored = _stored(store)
    assert len(stored) == 9 and listener.stats.handler_errors == 0
    assert listener.stats.bad_timestamps == 5
    assert "Timestamp \"nan\" is not a finite number" in caplog.text
    nan_call = stored["1790000400.400"]
    # the receive time on the PBX's clock as the other events show it (a replay of T0's day)
    assert T0 < nan_call.arrival < T0 + 3600 and nan_call.resolution == 1.0
    assert nan_call.end_time >= nan_call.arrival
    assert stored["1790000402.402"].arrival == pytest.approx(T0 + 5)  # its good stamp is kept


def test_an_exception_nobody_foresaw_never_stops_the_consumer(
        ctx: CaptureContext, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that finalize cannot handle is kept as a reject; the calls after it are written."""
    finalize = ctx.finalize

    def fragile(b: object) -> object:
        if getattr(b, "call_key", "") == "1790000001.1":
            raise OverflowError("date value out of range")
        return finalize(b)  # type: ignore[arg-type]

    monkeypatch.setattr(ctx, "finalize", fragile)
    listener = _listen(ctx, sqlite_store, [m for c in _good(4, 0) for m in c])
    assert set(_stored(sqlite_store)) == {"1790000000.0", "1790000002.2", "1790000003.3"}
    (reject,) = _rejects(sqlite_store)
    assert reject.reason == "could not be finalized: OverflowError: date value out of range"
    assert "call_key=1790000001.1" in reject.raw and listener.stats.calls_rejected == 1


def test_cli_listen_survives_a_timestamp_of_1e20(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    frames = b"".join(m.render() for m in [*_good(1, 0)[0], *_call("1790000400.400", 0,
                                                                     stamps=("1e20", "nan"))])
    pbx = FakePbx(on_login=lambda s: s.send(frames))
    with pbxs_in_thread(pbx):
        result = CliRunner().invoke(cli, [
            "--db", f"sqlite:///{tmp_path / 'store.db'}", "--config", str(config), "listen",
            "--ami", f"127.0.0.1:{pbx.port}", "--ami-user", "qualimon", "--for", "1"],
            env={"QUALIPHONE_AMI_SECRET": pbx.secret})
    assert result.exit_code == 0, result.output
    assert "2 calls written" in result.output and "2 implausible Timestamps" in result.output


def test_stamp_check_follows_a_pbx_on_another_clock_and_refuses_jumps() -> None:
    """A simulator replaying another day is plausible; a jump away from it is not, and a real
    step of the PBX's clock is followed after a few events."""
    check = StampCheck(max_skew=3600)
    now = 1_800_000_000.0

    def frame(stamp: str, received: float) -> Message:
        msg = ev("Newstate", Timestamp=stamp)
        msg.received = received
        return msg

    day_before = now - 86_400 * 40
    for i in range(5):
        assert check.check(frame(f"{day_before + i:.6f}", now + i)) is None
    jump = frame(f"{day_before + 5 + 7200:.6f}", now + 5)
    assert check.check(jump) is not None and jump.retimed
    assert jump.time == pytest.approx(day_before + 5, abs=1)  # receive time on the PBX's clock
    assert check.check(frame("1e20", now + 6)) is not None
    assert check.check(frame("-5", now + 6)) is not None
    stepped = [check.check(frame(f"{now + 10 + i:.6f}", now + 10 + i)) for i in range(12)]
    assert stepped[0] is not None and stepped[-1] is None  # the new clock is followed
    assert check.replaced == 3 + sum(s is not None for s in stepped)
