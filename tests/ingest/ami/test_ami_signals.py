"""Stopping `qualiphone listen` (issue 13 item 15): SIGTERM and SIGINT lose no call and record
the gap from the stop; a listener that never connects records a gap over its whole run. Each
test runs the real command in a subprocess and signals it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ingest.ami.models import capture_gaps
from monitor.store import open_store
from monitor.store.models import calls, rejected_records
from qualiphone.cli import cli
from tests.ingest.ami.ami_support import FakePbx, ev, pbxs_in_thread, write_config

REPO = Path(__file__).resolve().parents[3]
T0 = 1790000000.0


def _ringing(n: int) -> bytes:
    """n calls that arrived and wait in queue std-05: none has ended."""
    out = []
    for i in range(n):
        uid = f"17900{i:05d}.{i}"
        caller = {"Channel": f"PJSIP/trunk-{i:08d}", "Uniqueid": uid, "Linkedid": uid,
                  "Context": "in-eps-05", "Exten": "0199000105", "CallerIDNum": "0612345678"}
        out += [ev("Newchannel", T0 + i, **caller), ev("QueueCallerJoin", T0 + i + 1, **caller,
                                                       Queue="std-05")]
    return b"".join(m.render() for m in out)


def _listen(db: Path, config: Path, port: int, secret: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "QUALIPHONE_AMI_SECRET": secret, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "qualiphone", "--db", f"sqlite:///{db}", "--config", str(config),
         "listen", "--ami", f"127.0.0.1:{port}", "--ami-user", "qualimon", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(db: Path, table: sa.Table) -> list[sa.Row]:  # type: ignore[type-arg]
    store = open_store(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(sa.select(table).order_by(table.c.id)))
    finally:
        store.dispose()


def _wait_for(predicate: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_keeps_the_calls_ringing_and_records_the_gap_from_the_stop(
        sig: signal.Signals, tmp_path: Path) -> None:
    """Before: 20 of 20 ringing calls dropped, no gap for the downtime. They are kept as
    rejects saying they were still ringing (how they ended is unknown: never abandons)."""
    config, db = write_config(tmp_path / "config"), tmp_path / "store.db"
    pbx = FakePbx(on_login=lambda s: s.send(_ringing(20)))
    with pbxs_in_thread(pbx):
        proc = _listen(db, config, pbx.port, pbx.secret)
        try:
            _wait_for(lambda: any(a.name == "CoreShowChannels" for a in pbx.actions))
            time.sleep(1.0)  # the frames sent with the login are folded by now
            before_stop = time.time()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        assert proc.returncode == 0, err
        assert "0 calls written, 20 not stored" in out and "gap from the stop stays open" in out
        assert f"{sig.name}: stopping" in err
        assert _rows(db, calls) == []  # no abandon guessed
        rejects = _rows(db, rejected_records)
        assert len(rejects) == 20 and all(
            r.reason.startswith("still ringing or waiting when the listener stopped") and
            "not as an abandon" in r.reason for r in rejects)
        (gap,) = _rows(db, capture_gaps)
        assert gap.reason.startswith(f"listener stopped ({sig.name})")
        assert gap.start_time == gap.end_time and before_stop - 5 < gap.start_time < time.time()

        restart = time.time()
        result = CliRunner().invoke(cli, [
            "--db", f"sqlite:///{db}", "--config", str(config), "listen", "--ami",
            f"127.0.0.1:{pbx.port}", "--ami-user", "qualimon", "--for", "0.5"],
            env={"QUALIPHONE_AMI_SECRET": pbx.secret})
        assert result.exit_code == 0, result.output
    closed, reopened = _rows(db, capture_gaps)
    assert closed.id == gap.id and closed.start_time == gap.start_time
    assert restart - 1 < closed.end_time < restart + 5 and closed.reason.endswith("; restarted")
    assert reopened.start_time == reopened.end_time > closed.end_time
    assert _rows(db, calls) == []  # still ringing at the second stop: rejects again
    assert len(_rows(db, rejected_records)) == 40


@pytest.mark.parametrize("server", ["closed port", "ssh"])
def test_a_listener_that_never_connects_records_a_gap_over_its_run(server: str, tmp_path: Path) -> None:
    config, db = write_config(tmp_path / "config"), tmp_path / "store.db"

    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1\r\n")
        await reader.read(100)
        writer.close()

    async def serve() -> tuple[asyncio.Server, int]:
        srv = await asyncio.start_server(ssh, "127.0.0.1", 0)
        return srv, srv.sockets[0].getsockname()[1]

    loop = asyncio.new_event_loop()
    srv, port = loop.run_until_complete(serve())
    if server == "closed port":
        srv.close()
        loop.run_until_complete(srv.wait_closed())
    else:
        import threading
        threading.Thread(target=loop.run_forever, daemon=True).start()
    started = time.time()
    proc = _listen(db, config, port, "s3cret", "--for", "2")
    out, err = proc.communicate(timeout=60)
    if server == "ssh":
        loop.call_soon_threadsafe(loop.stop)
    assert proc.returncode == 0, err
    assert "0 calls written" in out and "1 capture gap recorded" in out
    run_gap, stop_gap = _rows(db, capture_gaps)
    why = "connection refused" if server == "closed port" else "is not an Asterisk manager interface"
    assert run_gap.reason.startswith(f"never connected to 127.0.0.1:{port} during the run: ")
    assert why in run_gap.reason
    assert started < run_gap.start_time < run_gap.end_time <= stop_gap.start_time
    assert run_gap.end_time - run_gap.start_time >= 1.5  # the whole --for 2
    assert stop_gap.reason.startswith("listener stopped (end of the run)")
