"""The listener end to end: fake PBX on loopback → calls and gaps in a SQLite store; the CLI."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ingest.ami.listener import Listener
from ingest.ami.models import capture_gaps
from ingest.ami.protocol import Message
from ingest.ami.replay import capture_to_stream
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from monitor.store.models import calls, import_batches, rejected_records
from qualiphone.cli import cli
from tests.ingest.ami.ami_support import (
    FakePbx,
    FakeSession,
    capture_context,
    ev,
    pbxs_in_thread,
    run,
    write_config,
)

T0 = 1790000000.0
CALLER = {"Channel": "PJSIP/trunk-ovh-0000012a", "Uniqueid": "1790000000.311", "Linkedid": "1790000000.311",
          "Context": "in-eps-05", "Exten": "0199000105", "CallerIDNum": "0612345678"}
AGENT = {"Channel": "PJSIP/eps05-0501-0000012b", "Uniqueid": "1790000001.312", "Linkedid": "1790000000.311"}
DEST = {"DestChannel": AGENT["Channel"], "DestUniqueid": AGENT["Uniqueid"]}


@pytest.fixture
def ctx(tmp_path: Path) -> CaptureContext:
    return capture_context(tmp_path / "config")


@pytest.fixture
def db(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'store.db'}")


def _listener(ctx: CaptureContext, db: Store, pbx: FakePbx, **kw: object) -> Listener:
    return Listener(ctx, db, host="127.0.0.1", port=pbx.port, username="qualimon", secret=pbx.secret,
                    ping_interval=30.0, flush_interval=0.05, **kw)  # type: ignore[arg-type]


def _rows(db: Store, table: sa.Table) -> list[sa.Row]:  # type: ignore[type-arg]
    with db.engine.connect() as conn:
        return list(conn.execute(sa.select(table)))


@pytest.mark.realdata
def test_replayed_capture_reaches_the_store_and_is_recorded(
        real_data: Path, ctx: CaptureContext, store: Store, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL (the `store` fixture)."""
    db = store
    stream = capture_to_stream((real_data / "ami/verbara/queue-reload-asterisk-22.9.0.raw").read_bytes(),
                               banner="")
    record = tmp_path / "capture.raw"

    async def scenario() -> None:
        pbx = await FakePbx(on_login=lambda s: s.send(stream)).start()
        with record.open("ab") as fh:
            listener = _listener(ctx, db, pbx, record=fh)
            stats = await listener.run(duration=1.5)
        await pbx.close()
        assert stats.calls_written == 4 and stats.handler_errors == 0 and stats.gaps == []

    run(scenario())
    rows = _rows(db, calls)
    assert len(rows) == 4 and all(r.sources == 16 and not r.incomplete for r in rows)
    assert sorted(round(r.time_to_answer, 3) for r in rows) == [10.007, 11.012, 14.014, 17.014]
    recorded = record.read_bytes()
    assert recorded.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success")
    assert stream in recorded and b"Secret" not in recorded


def test_connection_dropped_mid_call_marks_it_incomplete_and_records_the_gap(
        ctx: CaptureContext, db: Store) -> None:
    logins: list[int] = []

    def on_login(s: FakeSession) -> None:
        logins.append(1)
        if len(logins) == 1:
            s.send(ev("Newchannel", T0, **CALLER), ev("QueueCallerJoin", T0 + 1, **CALLER, Queue="std-05"),
                   ev("Newchannel", T0 + 1.001, **AGENT), ev("DialBegin", T0 + 1.002, **CALLER, **DEST))
            asyncio.get_running_loop().call_later(0.2, s.writer.transport.abort)
        else:  # after the gap: the rest of the call (the snapshot says both legs are still up)
            s.send(ev("DialEnd", T0 + 15.2, **CALLER, **DEST, DialStatus="ANSWER"),
                   ev("Hangup", T0 + 60, **CALLER, Cause=16), ev("Hangup", T0 + 60.1, **AGENT, Cause=16))

    def snapshot(s: FakeSession, a: Message) -> None:
        aid = a.action_id or ""
        s.reply(a, ("EventList", "start"))
        if len(logins) == 2:
            for leg in (CALLER, AGENT):
                s.send(Message.build(("Event", "CoreShowChannel"), ("ActionID", aid),
                                     *leg.items(), ("Duration", "00:00:20")))
        s.send(Message.build(("Event", "CoreShowChannelsComplete"), ("ActionID", aid),
                             ("EventList", "Complete")))

    async def scenario() -> None:
        pbx = await FakePbx(on_login=on_login, handlers={"coreshowchannels": snapshot}).start()
        listener = _listener(ctx, db, pbx)
        listener.client.backoff.base = 0.05
        stats = await listener.run(duration=1.5)
        await pbx.close()
        assert len(logins) == 2 and len(stats.gaps) == 1

    run(scenario())
    (row,) = _rows(db, calls)
    assert row.incomplete and row.outcome == "answered" and row.time_to_answer == pytest.approx(15.2)
    (gap,) = _rows(db, capture_gaps)
    assert gap.pbx == "paris-eps" and gap.start_time <= gap.end_time and gap.reason


def test_call_that_ended_during_the_gap_is_closed_by_the_resync(ctx: CaptureContext, db: Store) -> None:
    logins: list[int] = []

    def on_login(s: FakeSession) -> None:
        logins.append(1)
        if len(logins) == 1:
            s.send(ev("Newchannel", T0, **CALLER), ev("QueueCallerJoin", T0 + 1, **CALLER, Queue="std-05"))
            asyncio.get_running_loop().call_later(0.2, s.writer.transport.abort)

    async def scenario() -> None:
        pbx = await FakePbx(on_login=on_login).start()  # its CoreShowChannels lists nothing
        listener = _listener(ctx, db, pbx)
        listener.client.backoff.base = 0.05
        await listener.run(duration=1.0)
        await pbx.close()

    run(scenario())
    # it ended during the gap with nobody seen answering: its outcome is unknown, so it is a
    # reject saying so (the batch import brings it), never an abandon
    assert _rows(db, calls) == []
    (kept,) = _rows(db, rejected_records)
    assert kept.reason.startswith("ended while the listener was not connected")
    assert CALLER["Uniqueid"] in kept.raw
    assert len(_rows(db, capture_gaps)) == 1


def test_garbage_and_handler_errors_do_not_stop_the_listener(
        ctx: CaptureContext, db: Store, caplog: pytest.LogCaptureFixture) -> None:
    frames = [ev("Newchannel", T0, **CALLER), ev("Newstate", T0 + 1, **CALLER, ChannelStateDesc="Up"),
              ev("Hangup", T0 + 40, **CALLER, Cause=16)]
    garbage = b"\x00\xffnot a frame\r\n\r\n:::\r\n\r\n"

    async def scenario() -> Listener:
        pbx = await FakePbx(on_login=lambda s: s.send(garbage, *frames)).start()
        listener = _listener(ctx, db, pbx)

        def broken(msg: Message, t: float | None) -> None:
            raise KeyError("a handler bug")

        listener.tracker.handlers["newstate"] = broken
        await listener.run(duration=0.8)
        await pbx.close()
        return listener

    with caplog.at_level(logging.WARNING):
        listener = run(scenario())
    assert isinstance(listener, Listener)
    assert listener.client.stats.bad_frames == 2 and listener.stats.handler_errors == 1
    assert listener.client.stats.connections == 1
    (row,) = _rows(db, calls)
    assert row.outcome == "abandoned" and not row.incomplete
    assert "a handler bug" in caplog.text and "malformed frame" in caplog.text


# ---- the CLI --------------------------------------------------------------------------------------

def test_cli_listen_for_seconds_with_secret_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path / "config")
    frames = b"".join(f.render() for f in (ev("Newchannel", T0, **CALLER), ev("Hangup", T0 + 9, **CALLER)))
    pbx = FakePbx(on_login=lambda s: s.send(frames))
    secret = tmp_path / "ami.secret"
    secret.write_text(pbx.secret + "\n")
    secret.chmod(0o600)
    db = tmp_path / "store.db"
    with pbxs_in_thread(pbx), caplog.at_level(logging.DEBUG):
        args = ["--db", f"sqlite:///{db}", "--config", str(config), "-v", "listen", "--ami",
                f"127.0.0.1:{pbx.port}", "--ami-user", "qualimon", "--ami-secret-file", str(secret),
                "--record", str(tmp_path / "rec.raw"), "--for", "1"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "1 calls written, 0 not stored, 0 capture gaps recorded" in result.output
    assert pbx.secret not in result.output + caplog.text
    assert b"Newchannel" in (tmp_path / "rec.raw").read_bytes()
    assert any(a.get("Secret") == pbx.secret for a in pbx.actions)  # it did log in with it
    assert all(pbx.secret.encode() not in f.read_bytes() for f in tmp_path.glob("store.db*"))


def test_cli_refuses_a_secret_file_others_can_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_AMI_SECRET", raising=False)
    secret = tmp_path / "ami.secret"
    secret.write_text("topsecret\n")
    secret.chmod(0o644)
    base = ["listen", "--ami", "127.0.0.1:5038", "--ami-user", "qualimon"]
    result = CliRunner().invoke(cli, [*base, "--ami-secret-file", str(secret)])
    assert result.exit_code == 1
    assert (f'secret file "{secret}" is readable by group or others (mode 644); run: chmod 600'
            in result.output)
    assert "topsecret" not in result.output
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 1 and "no AMI secret: set QUALIPHONE_AMI_SECRET" in result.output
    result = CliRunner().invoke(cli, [*base[:2], "127.0.0.1:port", *base[3:]])
    assert result.exit_code == 2 and "is not HOST:PORT" in result.output
    assert "--ami-secret " not in CliRunner().invoke(cli, ["listen", "--help"]).output


def test_fullybooted_uptime_reveals_a_pbx_restart(
        ctx: CaptureContext, db: Store, caplog: pytest.LogCaptureFixture) -> None:
    listener = Listener(ctx, db, host="127.0.0.1", port=1, username="u", secret="s")
    first = ev("FullyBooted", Status="Fully Booted", Uptime=5000)
    first.received = T0
    again = ev("FullyBooted", Status="Fully Booted", Uptime=5030)
    again.received = T0 + 30  # same boot
    restarted = ev("FullyBooted", Status="Fully Booted", Uptime=12)
    restarted.received = T0 + 100
    with caplog.at_level(logging.WARNING):
        for msg in (first, again):
            listener._handle(msg)
        assert "restarted" not in caplog.text
        listener._handle(restarted)
    assert "the PBX restarted (up 12 s)" in caplog.text


def test_a_call_finalize_refuses_is_kept_with_its_reason(ctx: CaptureContext, db: Store) -> None:
    """Nothing is lost: a live call that cannot be stored goes to rejected_records, as in imports."""
    stray = {**CALLER, "Uniqueid": "1790000000.400", "Linkedid": "1790000000.400",
             "Context": "from-trunk", "Exten": "0188888888"}
    frames = [ev("Newchannel", T0, **stray), ev("Hangup", T0 + 12, **stray, Cause=16)]

    async def scenario() -> Listener:
        pbx = await FakePbx(on_login=lambda s: s.send(*frames)).start()
        listener = _listener(ctx, db, pbx)
        await listener.run(duration=0.8)
        await pbx.close()
        return listener

    listener = run(scenario())
    assert listener.stats.calls_rejected == 1 and _rows(db, calls) == []
    (reject,) = _rows(db, rejected_records)
    assert reject.reason.startswith("unknown site") and "call_key=1790000000.400" in reject.raw
    (session,) = _rows(db, import_batches)
    assert (session.kind, session.rejected, session.id) == ("ami", 1, reject.batch_id)


def test_a_swept_call_is_a_reject_unless_its_outcome_is_known(ctx: CaptureContext,
                                                              db: Store) -> None:
    """A call that lost its last events and is swept (or ended during a gap): unanswered with
    no hangup of the caller seen, its outcome is unknown (a reject); answered, or with its
    caller's hangup seen, it is stored incomplete."""
    from monitor.call import CallBuilder, Source

    listener = Listener(ctx, db, host="127.0.0.1", port=1, username="qualimon", secret="x")

    def builder(key: str, **values: object) -> CallBuilder:
        b = CallBuilder(pbx=ctx.pbx.name, call_key=key, source=Source.AMI, arrival=T0,
                        dialed="0199000105", context="in-eps-05", incomplete=True)
        for name, value in values.items():
            setattr(b, name, value)
        return b

    listener._collect([builder("unseen"), builder("answered", answer=T0 + 4.0,
                                                  answered_by="PJSIP/eps05-0501"),
                       builder("hung up", end=T0 + 30.0)])
    assert [c.call_key for c in listener.pending.calls] == ["answered", "hung up"]
    assert [c.outcome.value for c in listener.pending.calls] == ["answered", "abandoned"]
    ((reason, raw),) = listener.pending.rejects
    assert reason.startswith("ended while the listener was not connected") and "unseen" in raw
