"""Probes against a scripted fake PBX on 127.0.0.1 that answers Originate like the simulator.

The fake PBX (tests/ingest/ami/ami_support.FakePbx) runs in its own thread and event loop; on
an Originate it acknowledges, asks simulator.messages what the called site answers at the probe
time, writes the recording with write_probe_recording and sends the OriginateResponse (after an
unrelated one carrying another client's ActionID).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from afterhours.models import afterhours_alerts, afterhours_probes
from afterhours.references import register_simulated
from config import Config, load_config
from ingest.ami.protocol import Message
from monitor.store import open_store
from qualiphone.cli import cli
from simulator.messages import probe_site, simulated_probe, write_probe_recording
from tests.afterhours.conftest import shipped_config_dir
from tests.ingest.ami.ami_support import FakePbx, FakeSession, ev

EVENING = "2026-10-05T20:30"  # a Monday evening: every site is closed
CLOSURE = "2026-10-16T15:00"  # eps-11 is closed for the afternoon (closures.toml)
SITES = ["eps-05", "eps-09", "eps-10"]


class SimulatedPbx(FakePbx):
    """A FakePbx whose Originate handler plays the simulated sites."""

    def setup(self, config: Config, recordings: Path, cache: Path, when: str, drop: str = "") -> None:
        """drop: "" answer normally; "silently" drop the connection after the acknowledgement;
        "recorded" drop it after the site answered and the recording was written."""
        import datetime as dt

        self.config, self.recordings, self.cache, self.drop = config, recordings, cache, drop
        self.when = dt.datetime.fromisoformat(when)
        self.handlers["originate"] = self._originate
        self.handlers["filter"] = lambda s, action: s.reply(action)

    def _originate(self, s: FakeSession, action: Message) -> object:
        s.reply(action, ("Message", "Originate successfully queued"))
        if self.drop == "recorded":
            write_probe_recording(self.config, "eps-05", action["ChannelId"], self.recordings, kind="closed",
                                  cache_dir=self.cache)
        if self.drop:
            s.writer.transport.abort()
            return None
        variables = dict(v.split("=", 1) for v in action.getall("Variable"))
        site = probe_site(self.config, action["Channel"], variables)
        assert site is not None
        outcome = simulated_probe(self.config, site, self.when)
        return self._respond(s, action, outcome)

    async def _respond(self, s: FakeSession, action: Message, outcome: object) -> None:
        await asyncio.sleep(0.05)
        channel_id = action["ChannelId"]
        if outcome.answered:  # type: ignore[attr-defined]
            write_probe_recording(self.config, probe_site(self.config, action["Channel"], {}) or "",
                                  channel_id, self.recordings, kind=outcome.kind,  # type: ignore[attr-defined]
                                  cache_dir=self.cache)
        s.send(ev("OriginateResponse", time.time(), ActionID="someone-else-1", Response="Failure",
                  Reason=5, Uniqueid="other"))
        s.send(ev("OriginateResponse", time.time(), ActionID=action.action_id,
                  Response="Success" if outcome.answered else "Failure",  # type: ignore[attr-defined]
                  Channel="Local/x@probe-out-00000001;1", Context="probe-listen", Exten="s",
                  Reason=outcome.reason, Uniqueid=channel_id, CallerIDNum="0199009999"))  # type: ignore[attr-defined]


@contextmanager
def running(pbx: FakePbx) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(pbx.start(), loop).result(5)
    try:
        yield pbx.port
    finally:
        asyncio.run_coroutine_threadsafe(pbx.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


FAST = """[probe]
ring_timeout_seconds = 3
listen_seconds = 2
settle_seconds = 0.2
recording_grace_seconds = 1
concurrency = 2

[alert]
command = "sh -c 'cat > {alert}'"
"""


@pytest.fixture
def setup(tmp_path: Path, message_cache: Path) -> tuple[Path, Path, Config]:
    directory = shipped_config_dir(tmp_path / "config", broken="eps-09",
                                   afterhours=FAST.format(alert=tmp_path / "alert.txt"))
    config = load_config(directory)
    register_simulated(config, [*SITES, "eps-11"], cache_dir=message_cache)
    return directory, tmp_path / "recordings", config


def _probe(tmp_path: Path, directory: Path, recordings: Path, port: int, *extra: str) -> object:
    args = ["--db", f"sqlite:///{tmp_path / 'store.db'}", "--config", str(directory), "afterhours", "probe",
            "--ami", f"127.0.0.1:{port}", "--ami-user", "qualiprobe", "--recordings", str(recordings), *extra]
    return CliRunner().invoke(cli, args, env={"QUALIPHONE_AMI_SECRET": FakePbx.secret})


def _rows(tmp_path: Path, table: sa.Table) -> list[sa.Row]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.connect() as conn:
        rows = list(conn.execute(sa.select(table)))
    store.dispose()
    return rows


def test_probes_recognise_each_message_and_alert_on_the_broken_site(
        setup: tuple[Path, Path, Config], message_cache: Path, tmp_path: Path) -> None:
    directory, recordings, config = setup
    pbx = SimulatedPbx()
    pbx.setup(config, recordings, message_cache, EVENING)
    sites = [a for s in SITES for a in ("--site", s)]
    with running(pbx) as port:
        first = _probe(tmp_path, directory, recordings, port, *sites, "--at", EVENING)
        second = _probe(tmp_path, directory, recordings, port, *sites, "--at", EVENING)
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "3 sites probed, 0 skipped."
    assert [line.split()[:3] for line in lines[2:5]] == [
        ["eps-05", "20:30:00", "expected"], ["eps-09", "20:30:00", "no_answer"],
        ["eps-10", "20:30:00", "expected"]]
    similarity, worst = (float(v) for v in lines[2].split("eps-05/closed (")[1].rstrip(")").split(", "))
    assert similarity > 0.95 and worst > 0.9 and lines[3].endswith("congestion")
    assert second.exit_code == 3
    assert "ALERT eps-09: 2 failed probes in a row (alert command: sent)" in second.output
    alert = (tmp_path / "alert.txt").read_text()
    assert alert.startswith("ALERTE qualiphone : EPS Paris 9e (eps-09) — 2 sondes hors horaires")
    assert "2026-10-05 20:30 : pas de réponse (encombrement)" in alert

    probes = _rows(tmp_path, afterhours_probes)
    assert len(probes) == 6 and all(p.is_test for p in probes)
    ok = [p for p in probes if p.verdict == "expected"]
    assert len(ok) == 4 and all(0.0 < p.time_to_answer < 2.0 and 26.0 < p.message_seconds < 29.0 for p in ok)
    assert {p.reason for p in probes if p.site == "eps-09"} == {8}
    assert [a.site for a in _rows(tmp_path, afterhours_alerts)] == ["eps-09"]

    originates = [a for a in pbx.actions if a.name.lower() == "originate"]
    assert len(originates) == 6
    o = originates[0]
    assert (o["Async"], o["Account"], o["Context"], o["Timeout"]) == ("true", "probe", "probe-listen", "3000")
    assert o["ChannelId"].startswith("probe-") and f"PROBE_ID={o['ChannelId']}" in o.getall("Variable")
    assert o["CallerID"] == '"Qualite standard" <0199009999>'
    login = next(a for a in pbx.actions if a.name.lower() == "login")
    assert login["Events"] == "call"  # OriginateResponse is a call event: Events: off would not get it
    assert any(a.name.lower() == "filter" and a["Filter"] == "Event: OriginateResponse" for a in pbx.actions)
    assert FakePbx.secret not in first.output


def test_a_planned_closure_expects_the_closure_message(setup: tuple[Path, Path, Config],
                                                        message_cache: Path, tmp_path: Path) -> None:
    directory, recordings, config = setup
    pbx = SimulatedPbx()
    pbx.setup(config, recordings, message_cache, CLOSURE)
    with running(pbx) as port:
        result = _probe(tmp_path, directory, recordings, port, "--site", "eps-11", "--site", "eps-05",
                        "--at", CLOSURE)
    assert result.exit_code == 0, result.output
    assert "skipped eps-05: open at Fri 15:00: probes call closed sites only" in result.output
    (probe,) = _rows(tmp_path, afterhours_probes)
    assert (probe.site, probe.expected_kind, probe.verdict, probe.matched) == \
        ("eps-11", "closure", "expected", "eps-11/closure")


@pytest.mark.parametrize("drop", ["silently", "recorded"])
def test_an_originate_whose_fate_is_unknown_is_not_sent_again(
        drop: str, setup: tuple[Path, Path, Config], message_cache: Path, tmp_path: Path) -> None:
    directory, recordings, config = setup
    (directory / "afterhours.toml").write_text("[probe]\nring_timeout_seconds = 1\nlisten_seconds = 1\n"
                                               "settle_seconds = 0.1\nrecording_grace_seconds = 0.5\n")
    pbx = SimulatedPbx()
    pbx.setup(config, recordings, message_cache, EVENING, drop=drop)
    with running(pbx) as port:
        result = _probe(tmp_path, directory, recordings, port, "--site", "eps-05", "--at", EVENING)
    assert result.exit_code == 0, result.output
    assert len([a for a in pbx.actions if a.name.lower() == "originate"]) == 1
    (probe,) = _rows(tmp_path, afterhours_probes)
    assert probe.detail.startswith(
        "fate unknown: the AMI connection was lost after the Originate (not re-sent)")
    assert probe.response == "" and probe.time_to_answer is None
    assert probe.verdict == ("error" if drop == "silently" else "expected")  # the recording still tells


def test_probe_errors_a_person_can_act_on(setup: tuple[Path, Path, Config], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    directory = setup[0]
    monkeypatch.setattr("afterhours.probe.CONNECT_WAIT", 1.0)
    refused = CliRunner().invoke(cli, [
        "--db", f"sqlite:///{tmp_path / 's.db'}", "--config", str(directory), "afterhours", "probe",
        "--ami", "127.0.0.1:9", "--ami-user", "u", "--at", EVENING, "--site", "eps-05"],
        env={"QUALIPHONE_AMI_SECRET": "x"})
    assert refused.exit_code == 1
    assert refused.output == ("Error: cannot log in to the AMI at 127.0.0.1:9 within 1 s (no connection: "
                              "check --ami and that the PBX accepts this host)\n")
    no_secret = CliRunner().invoke(cli, ["--config", str(directory), "afterhours", "probe", "--ami",
                                         "127.0.0.1:9", "--ami-user", "u"], env={"QUALIPHONE_AMI_SECRET": ""})
    assert no_secret.exit_code == 1 and "never on the command line" in no_secret.output
    unknown = CliRunner().invoke(cli, ["--config", str(directory), "afterhours", "probe", "--ami",
                                       "127.0.0.1:9", "--ami-user", "u", "--site", "eps-99"],
                                 env={"QUALIPHONE_AMI_SECRET": "x"})
    assert unknown.exit_code == 1 and unknown.output.startswith('Error: site "eps-99" is not in')
