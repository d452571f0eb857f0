"""Delivery against real servers: an SMTP relay with STARTTLS (self-signed certificate) and a
login, and an HTTP receiver. An alert is received once, not again within the cooldown, again
after it, and its clearing is received too; no secret reaches the logs or the store."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from alerts.delivery import AlertSecretError, build_channels
from alerts.engine import Dispatcher
from alerts.model import Evaluation
from alerts.models import alert_deliveries, alert_notices, alerts
from alerts.rules_live import long_ring_evaluation
from alerts.settings import Rule, load_alerts
from config import Config, load_config
from monitor.store import Store
from qualiphone.cli import cli
from tests.alerts.conftest import CENTRAL, EPS13, alerts_tables, config_dir
from tests.alerts.servers import SMTP_PASSWORD, WEBHOOK_TOKEN, Receiver, Relay, smtp_relay

T0 = 1_791_000_000.0  # 2026-10-03 (UTC epoch)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def ringing(config: Config, seconds: list[float]) -> Evaluation:
    settings = load_alerts(config).rule(Rule.LONG_RING)
    return long_ring_evaluation(settings, config, {"eps-13": seconds})


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """Our log lines (the test relay's own debug log, mail.log, is not qualiphone's)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))


def _stored_text(store: Store) -> str:
    with store.engine.connect() as conn:
        return "\n".join(repr(tuple(r)) for table in (alerts, alert_notices, alert_deliveries)
                         for r in conn.execute(sa.select(table)))


def test_alert_sent_once_again_after_the_cooldown_and_cleared(
        store: Store, wired_config: Config, relay: Relay, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = load_alerts(wired_config)
    cooldown = settings.rule(Rule.LONG_RING).cooldown_minutes * 60
    clock = Clock(T0)
    dispatcher = Dispatcher(store, settings, build_channels(settings), clock=clock)
    with caplog.at_level(logging.DEBUG):
        dispatcher.process([ringing(wired_config, [75.0, 12.0])])
        assert len(relay.messages) == 1 and receiver.kinds() == ["fired"]

        clock.t = T0 + 60  # still ringing, within the cooldown: nothing
        dispatcher.process([ringing(wired_config, [135.0])])
        clock.t = T0 + cooldown - 1
        dispatcher.process([ringing(wired_config, [75.0 + cooldown])])
        assert len(relay.messages) == 1 and receiver.kinds() == ["fired"]

        clock.t = T0 + cooldown  # the cooldown has passed: a reminder
        dispatcher.process([ringing(wired_config, [80.0])])
        assert len(relay.messages) == 2 and receiver.kinds() == ["fired", "repeat"]

        clock.t = T0 + cooldown + 30  # nothing rings beyond the limit any more: cleared, once
        dispatcher.process([ringing(wired_config, [3.0])])
        dispatcher.process([ringing(wired_config, [])])
    assert receiver.kinds() == ["fired", "repeat", "cleared"]
    assert relay.subjects() == [
        "[qualiphone] Alerte : EPS Paris 13e : un appel sonne depuis 1 min 15 s",
        "[qualiphone] Rappel : EPS Paris 13e : un appel sonne depuis 1 min 20 s",
        "[qualiphone] Fin d'alerte : EPS Paris 13e : un appel sonne depuis 1 min 20 s",
    ]
    first = relay.messages[0]
    assert first["From"] == "qualiphone@example.org" and first["To"] == f"{CENTRAL}, {EPS13}"
    assert relay.envelopes[0] == [CENTRAL, EPS13]
    assert relay.tls == [True, True, True] and relay.logins == [("qualiphone", True)] * 3
    text = first.get_content()
    assert "1 appel sonne depuis plus de 1 min sans être décroché" in text
    assert "un rappel sera envoyé dans 30 min au plus tôt ; un message annoncera sa fin." in text
    assert "Alerte levée le " in relay.messages[2].get_content()

    post = receiver.posts[0]
    assert (post["rule"], post["subject"], post["site"]) == ("long_ring", "eps-13", "eps-13")
    assert post["data"] == {"longest_seconds": 75.0, "calls": 1, "limit_seconds": 60.0}
    assert post["text"].startswith("[qualiphone] Alerte : EPS Paris 13e")
    assert {h["Authorization"] for h in receiver.headers} == {f"Bearer {WEBHOOK_TOKEN}"}
    assert receiver.headers[0]["Content-Type"] == "application/json; charset=utf-8"

    # the history: three notices, each delivered by log, e-mail and webhook
    result = CliRunner().invoke(cli, ["--db", store.engine.url.render_as_string(hide_password=False),
                                      "--config", str(wired_config.directory), "alerts", "list",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["kind"] for r in rows] == ["cleared", "repeat", "fired"]
    assert len({r["alert_id"] for r in rows}) == 1
    assert all([(d["channel"], d["ok"]) for d in r["deliveries"]] ==
               [("log", True), ("email", True), ("webhook", True)] for r in rows)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.state, alerts.c.cleared_at)).one() == \
            ("cleared", T0 + cooldown + 30)

    # no secret in the logs, the store or the CLI output (nor AUTH's base64 forms)
    everywhere = ours(caplog) + _stored_text(store) + result.output
    for secret in (SMTP_PASSWORD, WEBHOOK_TOKEN):
        assert secret not in everywhere
        assert base64.b64encode(secret.encode()).decode() not in everywhere
    assert base64.b64encode(f"\0qualiphone\0{SMTP_PASSWORD}".encode()).decode() not in everywhere
    assert "alert fired: long_ring eps-13: eps-13: a call has been ringing for 75 s" in ours(caplog)


def test_one_failing_channel_does_not_stop_the_others(
        sqlite_store: Store, tmp_path: Path, receiver: Receiver, secrets_env: None,
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    tables = alerts_tables(relay, receiver)
    tables["email"]["password_env"] = "QUALIPHONE_OTHER_PASSWORD"
    relay.password = "the relay expects another one"
    config = load_config(config_dir(tmp_path, tables))
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.DEBUG):
        mp.setenv("QUALIPHONE_OTHER_PASSWORD", SMTP_PASSWORD)
        settings = load_alerts(config)
        sent = Dispatcher(sqlite_store, settings, build_channels(settings)).send_test("eps-13", "EPS 13")
    by = {d.channel: d for d in sent.deliveries}
    assert by["email"].ok is False and "SMTPAuthenticationError" in by["email"].detail
    assert by["webhook"].ok and by["log"].ok and receiver.kinds() == ["test"]
    logged = ours(caplog)
    assert "email delivery to qualite@example.org, direction.eps13@example.org via 127.0.0.1" in logged
    assert SMTP_PASSWORD not in logged + _stored_text(sqlite_store)
    assert base64.b64encode(SMTP_PASSWORD.encode()).decode() not in logged


def test_the_relay_certificate_is_checked(sqlite_store: Store, tmp_path: Path, relay: Relay,
                                          secrets_env: None) -> None:
    tables = alerts_tables(relay)
    tables["email"]["ca_file"] = ""  # the system's CAs do not know the self-signed relay
    config = load_config(config_dir(tmp_path, tables))
    settings = load_alerts(config)
    sent = Dispatcher(sqlite_store, settings, build_channels(settings)).send_test()
    email = next(d for d in sent.deliveries if d.channel == "email")
    assert not email.ok and "CERTIFICATE_VERIFY_FAILED" in email.detail
    assert relay.messages == [] and relay.logins == []  # no password went out


def test_plain_relay_without_login(sqlite_store: Store, tmp_path: Path) -> None:
    with smtp_relay(tmp_path, starttls=False) as relay:
        tables = alerts_tables(relay)
        tables["email"].update(starttls=False, username="")
        settings = load_alerts(load_config(config_dir(tmp_path, tables)))
        sent = Dispatcher(sqlite_store, settings, build_channels(settings)).send_test()
    assert all(d.ok for d in sent.deliveries)
    assert relay.subjects() == ["[qualiphone] Test : message de test des alertes qualiphone"]
    assert relay.tls == [False] and relay.envelopes == [[CENTRAL]]


@pytest.mark.parametrize(("statuses", "ok", "attempts", "posts"), [
    ([500, 503], True, 3, 1),  # retried after server errors
    ([500, 500, 500], False, 3, 0),  # retries = 2: three attempts in all
    ([404], False, 1, 0),  # a client error is not retried
    ([302], False, 1, 0),  # a redirect is not followed (the token would go elsewhere)
])
def test_webhook_retries(sqlite_store: Store, tmp_path: Path, receiver: Receiver, secrets_env: None,
                         statuses: list[int], ok: bool, attempts: int, posts: int) -> None:
    receiver.statuses = list(statuses)
    settings = load_alerts(load_config(config_dir(tmp_path, alerts_tables(receiver=receiver))))
    sent = Dispatcher(sqlite_store, settings, build_channels(settings)).send_test()
    hook = next(d for d in sent.deliveries if d.channel == "webhook")
    assert (hook.ok, hook.attempts, len(receiver.posts)) == (ok, attempts, posts)
    assert hook.target == f"http://127.0.0.1:{receiver.port}"  # the path is never shown
    assert len(receiver.headers) == attempts


def test_webhook_without_token_sends_no_authorization(sqlite_store: Store, tmp_path: Path,
                                                       receiver: Receiver,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_WEBHOOK_TOKEN", raising=False)
    settings = load_alerts(load_config(config_dir(tmp_path, alerts_tables(receiver=receiver))))
    Dispatcher(sqlite_store, settings, build_channels(settings)).send_test()
    assert receiver.kinds() == ["test"] and "Authorization" not in receiver.headers[0]


def test_secrets_from_private_files_only(tmp_path: Path, relay: Relay, receiver: Receiver,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_SMTP_PASSWORD", raising=False)
    password, token = tmp_path / "smtp.secret", tmp_path / "hook.secret"
    password.write_text(SMTP_PASSWORD + "\n")
    token.write_text(WEBHOOK_TOKEN + "\n")
    password.chmod(0o600)
    token.chmod(0o644)
    tables = alerts_tables(relay, receiver)
    tables["email"]["password_file"] = str(password)
    tables["webhook"]["token_file"] = str(token)
    settings = load_alerts(load_config(config_dir(tmp_path, tables)))
    with pytest.raises(AlertSecretError, match=r"hook.secret\" is readable by group or others"):
        build_channels(settings)
    token.chmod(0o600)
    channels = build_channels(settings)
    assert [c.name for c in channels] == ["log", "email", "webhook"]
    assert SMTP_PASSWORD not in repr(channels) + repr(settings)


def test_missing_smtp_password_is_refused(tmp_path: Path, relay: Relay,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUALIPHONE_SMTP_PASSWORD", raising=False)
    settings = load_alerts(load_config(config_dir(tmp_path, alerts_tables(relay))))
    with pytest.raises(AlertSecretError, match=re.escape(
            'no SMTP password for user "qualiphone": set QUALIPHONE_SMTP_PASSWORD or email.password_file')):
        build_channels(settings)
