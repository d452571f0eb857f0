"""`qualiphone alerts check | test | list`, and the live rules inside `qualiphone listen`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from alerts.cli import resolve_month
from alerts.store import history
from config import load_config
from monitor.store import open_store
from monitor.store.writer import write_calls
from qualiphone.cli import cli
from tests.alerts.conftest import alerts_tables, config_dir, render_toml
from tests.alerts.servers import Receiver, free_port
from tests.alerts.test_alerts_rules import MONDAY, at, calls


def run(tmp_path: Path, *args: str) -> Result:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    return CliRunner().invoke(cli, ["--db", db, "--config", str(tmp_path / "config"), *args])


@pytest.fixture
def below(tmp_path: Path) -> Path:
    """A store where eps-13 is below target in October 2026 and eps-05 above."""
    config_dir(tmp_path, alerts_tables())
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.begin() as conn:
        write_calls(conn, calls("eps-13", at(9), 120, within=80, step=300.0)
                    + calls("eps-05", at(9), 110, within=110, step=300.0))
    store.dispose()
    return tmp_path


def test_check_fires_with_exit_status_3_then_holds_within_the_cooldown(below: Path) -> None:
    first = run(below, "alerts", "check", "--month", "2026-10")
    assert first.exit_code == 3, first.output
    lines = first.output.splitlines()
    assert lines[0] == "Alerts check, 2026-10"
    month = [line for line in lines if "month_below_target" in line]
    assert len(month) == 1
    assert month[0].startswith("FIRING   month_below_target   eps-13/2026-10   eps-13: pickup rate 66.7% for "
                               "2026-10 (n=120) is below the goal 80%  [fired: log ok]")
    # the directory check is evaluated too: the 15 sites other than eps-13 and eps-05 received
    # no call this month
    gaps = [line for line in lines if "directory_gap" in line]
    assert len(gaps) == 15 and all("silent_site:" in line for line in gaps)
    assert "eps-05" not in " ".join(gaps) and "eps-13" not in " ".join(gaps)
    assert lines[-1] == "16 alerts firing (16 new, 0 reminders, 0 within the cooldown), 0 cleared."

    again = run(below, "alerts", "check", "--month", "2026-10", "--format", "json")
    assert again.exit_code == 3
    data = json.loads(again.output)
    month = [f for f in data["firing"] if f["rule"] == "month_below_target"]
    assert [(f["subject"], f["notice"]) for f in month] == [("eps-13/2026-10", "held")]
    assert month[0]["title"] == "EPS Paris 13e : octobre 2026 sous l'objectif (66,7 % < 80 %)"
    assert not data["not_evaluated"]

    listed = run(below, "alerts", "list")
    assert listed.exit_code == 0
    assert len(listed.output.splitlines()) == 16 and " fired    month_below_target " in listed.output

    quiet = run(below, "alerts", "check", "--month", "2026-09")
    assert quiet.exit_code == 0 and "0 alerts firing" in quiet.output


def test_check_dry_run_sends_and_stores_nothing(below: Path) -> None:
    result = run(below, "alerts", "check", "--month", "2026-10", "--dry-run")
    assert result.exit_code == 3
    assert "(dry run: nothing sent or stored)" in result.output and "[fired" not in result.output
    assert run(below, "alerts", "list").output == "No alert notices stored.\n"


def test_month_keywords_and_a_wrong_month(below: Path) -> None:
    config = load_config(below / "config")
    assert resolve_month("current", config, MONDAY) == "2026-10"
    assert resolve_month("previous", config, dt.date(2026, 1, 1)) == "2025-12"
    result = run(below, "alerts", "check", "--month", "2026-13")
    assert result.exit_code == 2
    assert 'Invalid value for --month: "2026-13" is not a month; use YYYY-MM (e.g. 2026-10), current ' \
           "or previous" in result.output


def test_without_alerts_toml(tmp_path: Path) -> None:
    config_dir(tmp_path, None)
    result = run(tmp_path, "alerts", "check", "--month", "2026-10")
    assert result.exit_code == 1
    assert result.output == (f"Error: alerting is off: {tmp_path}/config/alerts.toml does not exist; "
                             "copy the shipped config/alerts.toml there and set its [email] / "
                             "[webhook] tables\n")


@pytest.mark.parametrize(("table", "key", "value", "message"), [
    ("email", "password", "hunter2", 'key email.password is "…"; expected no secret in alerts.toml: use '
                                     "password_file or password_env"),
    ("webhook", "token", "abc", 'key webhook.token is "…"; expected no secret in alerts.toml'),
    ("rules.long_ring", "seconds", -5, 'key rules.long_ring.seconds is "-5"; expected a number >= 0.0'),
    ("rules.rate_hour", "min_count", 3, 'key rules.rate_hour.min_count is "min_count"; expected one of '
                                        "the keys cooldown_minutes, enabled, min_calls"),
    ("email.sites", "eps-99", ["a@example.org"], 'key email.sites.eps-99 is "eps-99"; expected a site id'),
    ("email", "starttls", False, 'key email.starttls is "False"; expected true when email.username is set'),
])
def test_wrong_alerts_toml(tmp_path: Path, table: str, key: str, value: object, message: str) -> None:
    tables = alerts_tables()
    tables["email"] = {"enabled": True, "host": "relay.example.org", "sender": "q@example.org",
                       "central": ["c@example.org"], "username": "q"}
    tables.setdefault(table, {})[key] = value
    config_dir(tmp_path, tables)
    result = run(tmp_path, "alerts", "check", "--month", "2026-10")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {tmp_path}/config/alerts.toml: ")
    assert message in result.output
    assert "hunter2" not in result.output


def test_alerts_test_through_the_webhook(tmp_path: Path, receiver: Receiver) -> None:
    config_dir(tmp_path, alerts_tables(receiver=receiver))
    result = run(tmp_path, "alerts", "test", "--site", "eps-13")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["log      ok      log",
                                          f"webhook  ok      http://127.0.0.1:{receiver.port}: HTTP 200"]
    assert receiver.posts[0]["title"] == \
        "message de test des alertes qualiphone (destinataires de EPS Paris 13e)"
    receiver.statuses = [404]
    failed = run(tmp_path, "alerts", "test")
    assert failed.exit_code == 1 and "webhook  FAILED  " in failed.output and "HTTP 404" in failed.output
    rows = json.loads(run(tmp_path, "alerts", "list", "--rule", "test", "--format", "json").output)
    assert [[d["ok"] for d in r["deliveries"]] for r in rows] == [[True, False], [True, True]]


# ---- the listener -----------------------------------------------------------------------------------

def test_listen_evaluates_the_live_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PBX that cannot be reached: listener_down (0 minutes here) fires from inside `listen`."""
    tables = alerts_tables(listener_down={"minutes": 0}, rate_hour={"enabled": False},
                           rate_day={"enabled": False})
    tables["live"] = {"interval_seconds": 0.1}
    config_dir(tmp_path, tables)
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "ami-secret-value")
    result = run(tmp_path, "listen", "--ami", f"127.0.0.1:{free_port()}", "--ami-user", "u", "--for", "1.5")
    assert result.exit_code == 0, result.output
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    rows = history(store)
    store.dispose()
    assert [(r.kind, r.rule, r.subject) for r in rows] == [("fired", "listener_down", "paris-eps")]


def test_listen_stops_on_a_wrong_alerts_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = config_dir(tmp_path, alerts_tables())
    (directory / "alerts.toml").write_text(render_toml({"email": {"password": "s3cr3t"}}))
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "ami-secret-value")
    result = run(tmp_path, "listen", "--ami", f"127.0.0.1:{free_port()}", "--ami-user", "u", "--for", "1")
    assert result.exit_code == 1
    assert 'alerts.toml: key email.password is "…"; expected no secret in alerts.toml' in result.output
    assert "s3cr3t" not in result.output
