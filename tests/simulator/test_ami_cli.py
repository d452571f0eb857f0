"""`qualiphone simulate ami`: options, the secret, a short run."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from qualiphone.cli import cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_simulator_only_listens_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "s")
    result = CliRunner().invoke(cli, ["simulate", "ami", "--listen", "0.0.0.0:5038"])
    assert result.exit_code == 2
    assert '"0.0.0.0:5038" is not a loopback address' in result.output


def test_the_secret_never_comes_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_AMI_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["simulate", "ami", "--listen", "127.0.0.1:5038"])
    assert result.exit_code == 1
    assert "no AMI secret: set QUALIPHONE_AMI_SECRET or pass --ami-secret-file PATH" in result.output


def test_a_short_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "s3cret")
    port = free_port()
    result = CliRunner().invoke(cli, [
        "simulate", "ami", "--listen", f"127.0.0.1:{port}", "--date", "2026-10-01",
        "--start", "10:00", "--speed", "60", "--site", "eps-05", "--for", "0.5"])
    assert result.exit_code == 0, result.output
    assert (f"AMI simulator on 127.0.0.1:{port}: 2026-10-01 from 10:00 (Europe/Paris), 1 site, "
            "seed 0, speed 60x.") in result.output
    assert "events sent." in result.output and "s3cret" not in result.output
