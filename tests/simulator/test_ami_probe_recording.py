"""`qualiphone afterhours probe` against the AMI simulator: the Originate is answered (or not)
as the sites' dialplans would, and the answered one leaves its MixMonitor recording.

Needs espeak-ng and sox (skipped locally without them, a failure in CI).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from afterhours.models import afterhours_probes
from config import Config
from monitor.store import open_store
from qualiphone.cli import cli
from simulator.ami_clock import SimClock
from simulator.ami_server import AmiServer
from simulator.messages import CACHE_ENV, simulation_settings, tools_available
from tests.conftest import skip_or_fail
from tests.simulator.ami_sim_support import SECRET

AT = "2026-10-05T19:45"  # a Monday evening: the sites are closed


@pytest.fixture(scope="module")
def message_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not tools_available():
        skip_or_fail("espeak-ng and sox are not installed (apt-get install -y espeak-ng sox)")
    return tmp_path_factory.mktemp("messages")


@contextmanager
def simulator(config: Config, recordings: Path) -> Iterator[int]:
    """The AMI simulator at AT (PBX time, real speed) in its own thread; yields its port."""
    tz = config.pbxs[next(iter(config.pbxs))].tz
    start = dt.datetime.fromisoformat(AT).replace(tzinfo=tz).timestamp()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> tuple[AmiServer, int]:
        server = AmiServer(SimClock(start), SECRET, config=config, recordings=recordings)
        return server, await server.start()

    server, port = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_probes_read_the_simulators_recordings(config: Config, message_cache: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    broken = simulation_settings(config)
    assert broken.broken_message_site is not None
    good = next(s for s in ("eps-05", "eps-10") if s != broken.broken_message_site)
    sites = [good, broken.broken_message_site]
    monkeypatch.setenv(CACHE_ENV, str(message_cache))
    db = ["--db", f"sqlite:///{tmp_path / 'store.db'}"]
    runner = CliRunner()
    for site in sites:
        registered = runner.invoke(cli, [*db, "afterhours", "reference", "--simulated", "--site", site])
        assert registered.exit_code == 0, registered.output
    recordings = tmp_path / "recordings"
    with simulator(config, recordings) as port:
        result = runner.invoke(cli, [
            *db, "afterhours", "probe", "--ami", f"127.0.0.1:{port}", "--ami-user", "qualiprobe",
            "--recordings", str(recordings), "--at", AT, *(a for s in sites for a in ("--site", s))],
            env={"QUALIPHONE_AMI_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.connect() as conn:
        probes = {p.site: p for p in conn.execute(sa.select(afterhours_probes))}
    store.dispose()
    assert set(probes) == set(sites)
    ok, failed = probes[good], probes[broken.broken_message_site]
    assert (ok.verdict, ok.matched, ok.response, ok.reason) == ("expected", f"{good}/closed", "Success", 4)
    assert ok.recording == str(recordings / f"{ok.id}.wav") and (recordings / f"{ok.id}.done").exists()
    assert failed.verdict != "expected"
    if broken.broken_message_kind == "missing":  # congestion, nothing recorded
        assert (failed.verdict, failed.reason) == ("no_answer", 8)
        assert not list(recordings.glob(f"{failed.id}.*"))
