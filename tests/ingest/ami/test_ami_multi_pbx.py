"""`qualiphone listen` without --ami: one listener per [pbx.NAME] with `ami` in settings.toml."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from config import SHIPPED_DIR, load_config
from ingest.ami.live import LiveCall, LiveState
from monitor.store import open_store
from monitor.store.models import calls
from monitor.wallboard.board import Wallboard
from qualiphone.cli import cli
from tests.ingest.ami.ami_support import FakePbx, ev, pbxs_in_thread

T0 = 1790000000.0
HOURS = ('hours = { mon = ["00:00-23:59"], tue = ["00:00-23:59"], wed = ["00:00-23:59"], '
         'thu = ["00:00-23:59"], fri = ["00:00-23:59"], sat = ["00:00-23:59"], sun = ["00:00-23:59"] }')


def _settings(directory: Path, pbxs: dict[str, str]) -> None:
    """The shipped settings.toml with its [pbx.*] tables replaced by `pbxs` (name -> extra lines)."""
    text = (SHIPPED_DIR / "settings.toml").read_text()
    head = text[:text.index("[pbx.paris-eps]")]
    tables = [f'[pbx.{name}]\ntimezone = "Europe/Paris"\n{extra}' for name, extra in pbxs.items()]
    (directory / "settings.toml").write_text(head + "\n".join(tables) + "\n")


def _sites(directory: Path) -> None:
    blocks = []
    for site, pbx, did in (("site-a", "pbx-a", "0199000201"), ("site-b", "pbx.b", "0199000202")):
        blocks.append("\n".join([
            "[[site]]", f'id = "{site}"', f'name = "{site}"', f'pbx = "{pbx}"', HOURS,
            f'dids = ["{did}"]', f'contexts = ["in-{site}"]', f'staff_devices = ["PJSIP/{site}-*"]']))
    (directory / "sites.toml").write_text("\n\n".join(blocks) + "\n")


def _caller(site: str, did: str, uid: str) -> dict[str, str]:
    return {"Channel": f"PJSIP/trunk-{uid}", "Uniqueid": uid, "Linkedid": uid, "Context": f"in-{site}",
            "Exten": did, "CallerIDNum": "0612345678"}


def _pbx_sending(secret: str, site: str, did: str, uid: str) -> FakePbx:
    """A PBX that, on login, plays one call to `site` that rings 9 s and is abandoned."""
    caller = _caller(site, did, uid)
    frames = b"".join(m.render() for m in (ev("Newchannel", T0, **caller), ev("Hangup", T0 + 9, **caller)))
    return FakePbx(secret=secret, on_login=lambda s: s.send(frames))


def test_listen_without_ami_captures_every_pbx_with_an_ami_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pbx_a = _pbx_sending("secret-of-a", "site-a", "0199000201", "1790000000.1")
    pbx_b = _pbx_sending("secret-of-b", "site-b", "0199000202", "1790000000.2")
    with pbxs_in_thread(pbx_a, pbx_b):
        config = tmp_path / "config"
        config.mkdir()
        _settings(config, {
            "pbx-a": f'ami = "127.0.0.1:{pbx_a.port}"\nami_user = "mon-a"',
            '"pbx.b"': f'ami = "127.0.0.1:{pbx_b.port}"\nami_user = "mon-b"',
            "pbx-c": "",  # no ami: not listened to
        })
        _sites(config)
        monkeypatch.setenv("QUALIPHONE_AMI_SECRET_PBX_A", pbx_a.secret)
        monkeypatch.setenv("QUALIPHONE_AMI_SECRET_PBX_B", pbx_b.secret)
        monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "the-fallback-is-not-used")
        db = tmp_path / "store.db"
        args = ["--db", f"sqlite:///{db}", "--config", str(config), "-v", "listen", "--for", "2"]
        with caplog.at_level(logging.DEBUG):
            result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"AMI 127.0.0.1:{pbx_a.port} (pbx-a): " in result.output
    assert f"AMI 127.0.0.1:{pbx_b.port} (pbx.b): " in result.output
    assert result.output.count("1 calls written, 0 not stored, 0 capture gaps recorded") == 2
    logins = {pbx.port: [(a.get("Username"), a.get("Secret")) for a in pbx.actions if a.name == "Login"]
              for pbx in (pbx_a, pbx_b)}
    assert logins == {pbx_a.port: [("mon-a", pbx_a.secret)], pbx_b.port: [("mon-b", pbx_b.secret)]}
    for secret in (pbx_a.secret, pbx_b.secret):
        assert secret not in result.output + caplog.text
    with open_store(f"sqlite:///{db}").engine.connect() as conn:
        rows = sorted((r.pbx, r.site, r.outcome) for r in conn.execute(sa.select(calls)))
    assert rows == [("pbx-a", "site-a", "abandoned"), ("pbx.b", "site-b", "abandoned")]


def test_listen_without_any_ami_says_what_to_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "x")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 's.db'}", "listen", "--for", "1"])
    assert result.exit_code == 2
    assert 'pass --ami HOST:PORT --ami-user NAME, or add ami = "HOST:PORT"' in result.output
    assert "settings.toml" in result.output


def test_listen_names_the_missing_secret_of_a_pbx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_AMI_SECRET", raising=False)
    monkeypatch.delenv("QUALIPHONE_AMI_SECRET_PBX_A", raising=False)
    config = tmp_path / "config"
    config.mkdir()
    _settings(config, {"pbx-a": 'ami = "127.0.0.1:9"\nami_user = "mon"', '"pbx.b"': ""})
    _sites(config)
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 's.db'}", "--config", str(config),
                                      "listen", "--for", "1"])
    assert result.exit_code == 1
    assert ('no AMI secret for PBX "pbx-a": set QUALIPHONE_AMI_SECRET_PBX_A or QUALIPHONE_AMI_SECRET'
            in result.output)


@dataclass
class _Feed:
    pbx: str
    live: LiveState
    clock: float
    agents: dict[str, tuple[int, int]] = field(default_factory=dict)

    def unwritten(self) -> list[object]:
        return []

    def pbx_now(self) -> float:
        return self.clock


def test_wallboard_times_each_pbx_calls_on_its_own_clock_with_a_shared_live_state(
        tmp_path: Path) -> None:
    """The listeners share one LiveState; a site's ring is read through its own PBX's feed."""
    config = tmp_path / "config"
    config.mkdir()
    _settings(config, {"pbx-a": "", '"pbx.b"': ""})
    _sites(config)
    live = LiveState()
    live.add(LiveCall("pbx-a", "a1", "site-a", arrival=T0))
    live.add(LiveCall("pbx.b", "b1", "site-b", arrival=T0 + 100))
    feeds = [_Feed("pbx-a", live, T0 + 20), _Feed("pbx.b", live, T0 + 105)]  # B's clock runs ahead
    board = Wallboard(load_config(config), sa.create_engine("sqlite://"), feeds)
    rows = {r["id"]: (r["ringing"], r["longest_ring"]) for r in board.snapshot()["sites"]}
    assert rows == {"site-a": (1, 20.0), "site-b": (1, 5.0)}
