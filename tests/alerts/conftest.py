"""Fixtures of the alert tests: a configuration directory with an alerts.toml pointing at the
test servers (tests/alerts/servers.py), the secrets in the environment."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import SHIPPED_DIR, Config, load_config
from tests.alerts.servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_TOKEN,
    Receiver,
    Relay,
    smtp_relay,
    webhook_receiver,
)

CENTRAL = "qualite@example.org"
EPS13 = "direction.eps13@example.org"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value)


def render_toml(tables: dict[str, dict[str, Any]]) -> str:
    """{"email": {...}, "rules.long_ring": {...}} as TOML (scalars and lists of scalars)."""
    out = []
    for name, table in tables.items():
        out.append(f"[{name}]")
        out += [f"{key} = {_value(value)}" for key, value in table.items()]
        out.append("")
    return "\n".join(out)


def alerts_tables(relay: Relay | None = None, receiver: Receiver | None = None,
                  **rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {f"rules.{name}": table for name, table in rules.items()}
    if relay is not None:
        tables["email"] = {"enabled": True, "host": "127.0.0.1", "port": relay.port, "starttls": True,
                           "username": SMTP_USER, "password_env": "QUALIPHONE_SMTP_PASSWORD",
                           "ca_file": str(relay.cert), "sender": "qualiphone@example.org",
                           "central": [CENTRAL], "timeout_seconds": 10}
        tables["email.sites"] = {"eps-13": [EPS13]}
    if receiver is not None:
        tables["webhook"] = {"enabled": True, "url": receiver.url, "token_env": "QUALIPHONE_WEBHOOK_TOKEN",
                             "timeout_seconds": 5, "retries": 2, "retry_delay_seconds": 0.05}
    return tables


def config_dir(base: Path, tables: dict[str, dict[str, Any]] | None) -> Path:
    """The shipped configuration, with alerts.toml replaced by `tables` (removed when None)."""
    directory = base / "config"
    if not directory.exists():
        shutil.copytree(SHIPPED_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = directory / "alerts.toml"
    if tables is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(render_toml(tables))
    return directory


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    with smtp_relay(tmp_path) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as server:
        yield server


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIPHONE_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("QUALIPHONE_WEBHOOK_TOKEN", WEBHOOK_TOKEN)


@pytest.fixture
def wired_config(tmp_path: Path, relay: Relay, receiver: Receiver, secrets_env: None) -> Config:
    """A configuration whose alerts go to the test relay and receiver."""
    return load_config(config_dir(tmp_path, alerts_tables(relay, receiver)))
