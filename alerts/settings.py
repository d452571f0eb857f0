"""`alerts.toml` of the configuration directory: the rules, their thresholds and the channels.

Without the file, alerting is off (the listener runs no evaluator, `alerts check` says how to
turn it on). A wrong value raises `config.ConfigError` naming the file, the key, the value and
what was expected. Secrets are never read from this file: `password_file` / `token_file` name a
private file, `password_env` / `token_env` a variable (see `alerts.delivery`).
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Config, ConfigError
from config.loader import MISSING, TableReader

FILE = "alerts.toml"
SECRET_KEYS = {"password": "password_file or password_env", "token": "token_file or token_env"}


class Rule(enum.StrEnum):
    """The alert rules; the value is the rule's table in alerts.toml ([rules.NAME])."""

    RATE_HOUR = "rate_hour"
    RATE_DAY = "rate_day"
    LONG_RING = "long_ring"
    LISTENER_DOWN = "listener_down"
    AFTERHOURS_PROBE = "afterhours_probe"
    MONTH_BELOW_TARGET = "month_below_target"
    DIRECTORY_GAP = "directory_gap"


# Evaluated by `qualiphone listen`; the others by `qualiphone alerts check`.
LIVE_RULES = (Rule.RATE_HOUR, Rule.RATE_DAY, Rule.LONG_RING, Rule.LISTENER_DOWN)


@dataclass(frozen=True)
class RuleSettings:
    """One rule: on or off, how often a firing alert is sent again, and its threshold(s)."""

    enabled: bool = True
    cooldown_minutes: float = 60.0
    min_calls: int = 0  # rate rules: fewest calls (n of the rate) before judging
    seconds: float = 0.0  # long_ring: a call ringing this long
    minutes: float = 0.0  # listener_down: disconnected this long
    only_if_figure_changes: bool = False  # directory_gap: only gaps that move a figure > 1 point


# The keys each rule takes besides enabled and cooldown_minutes, with their defaults.
RULE_KEYS: dict[Rule, dict[str, Any]] = {
    Rule.RATE_HOUR: {"min_calls": 10, "cooldown_minutes": 60.0},
    Rule.RATE_DAY: {"min_calls": 20, "cooldown_minutes": 180.0},
    Rule.LONG_RING: {"seconds": 60.0, "cooldown_minutes": 30.0},
    Rule.LISTENER_DOWN: {"minutes": 10.0, "cooldown_minutes": 60.0},
    Rule.AFTERHOURS_PROBE: {"cooldown_minutes": 1440.0},
    Rule.MONTH_BELOW_TARGET: {"min_calls": 100, "cooldown_minutes": 10080.0},
    Rule.DIRECTORY_GAP: {"only_if_figure_changes": False, "cooldown_minutes": 1440.0},
}


@dataclass(frozen=True)
class LiveSettings:
    interval_seconds: float = 5.0  # ringing calls and connections are checked this often
    rates_every_seconds: float = 60.0  # the hour's and day's rates are read from the store this often


@dataclass(frozen=True)
class EmailSettings:
    enabled: bool = False
    host: str = ""
    port: int = 25
    starttls: bool = True
    username: str = ""  # empty: no login
    password_env: str = "QUALIPHONE_SMTP_PASSWORD"
    password_file: str = ""
    ca_file: str = ""  # CA bundle for the relay's certificate (default: the system's)
    sender: str = ""
    central: tuple[str, ...] = ()  # the central quality team: every alert
    sites: dict[str, tuple[str, ...]] = field(default_factory=dict)  # site id -> its recipients
    timeout_seconds: float = 30.0

    def recipients(self, site: str | None) -> list[str]:
        """The central team, then the site's own recipients (once each)."""
        found = [*self.central, *(self.sites.get(site, ()) if site else ())]
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class WebhookSettings:
    enabled: bool = False
    url: str = ""
    token_env: str = "QUALIPHONE_WEBHOOK_TOKEN"
    token_file: str = ""
    timeout_seconds: float = 10.0
    retries: int = 3  # further attempts after a failed POST
    retry_delay_seconds: float = 2.0  # doubled after each failed attempt


@dataclass(frozen=True)
class LogSettings:
    enabled: bool = True


@dataclass(frozen=True)
class AlertsSettings:
    path: Path
    rules: dict[Rule, RuleSettings]
    live: LiveSettings = field(default_factory=LiveSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    log: LogSettings = field(default_factory=LogSettings)

    def rule(self, rule: Rule) -> RuleSettings:
        return self.rules[rule]

    def enabled(self, rule: Rule) -> bool:
        return self.rules[rule].enabled

    @property
    def live_rules(self) -> list[Rule]:
        return [r for r in LIVE_RULES if self.enabled(r)]


class AlertsOff(Exception):
    """There is no alerts.toml in the configuration directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"alerting is off: {path} does not exist; copy the shipped "
                         f"config/{FILE} there and set its [email] / [webhook] tables")


def _scalar(reader: TableReader, name: str, default: Any) -> Any:
    """A bool, int, float or str of `reader`'s table, checked against the default's type."""
    if isinstance(default, bool):
        return reader.get(name, bool, "true or false", default)
    if isinstance(default, int):
        value = reader.get(name, int, f"a whole number >= 0 like {default}", default)
        if value < 0:
            raise ConfigError(reader.path, reader.key(name), value, f"a whole number >= 0 like {default}")
        return value
    if isinstance(default, float):
        return reader.number(name, default)
    return reader.get(name, str, "a string", default)


def _table(path: Path, data: dict[str, Any], name: str) -> TableReader:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(path, name, table, "a table")
    return TableReader(path, table, f"{name}.")


def _refuse_secrets(reader: TableReader) -> None:
    for key, instead in SECRET_KEYS.items():
        if key in reader.table:
            raise ConfigError(reader.path, reader.key(key), "…",
                              f"no secret in {FILE}: use {instead} (a file of mode 600 or an "
                              "environment variable)")


def _rules(path: Path, data: dict[str, Any]) -> dict[Rule, RuleSettings]:
    tables = _table(path, data, "rules")
    tables.unknown_keys({r.value for r in Rule})
    rules = {}
    for rule in Rule:
        reader = _table(path, tables.table, rule.value)
        reader.prefix = f"rules.{rule.value}."
        defaults = {"enabled": True, **RULE_KEYS[rule]}
        reader.unknown_keys(set(defaults))
        rules[rule] = RuleSettings(**{k: _scalar(reader, k, v) for k, v in defaults.items()})
    return rules


def _plain(path: Path, data: dict[str, Any], name: str, cls: type, skip: tuple[str, ...] = ()) -> Any:
    """Dataclass `cls` from table `name`: every scalar field, checked (lists handled by caller)."""
    reader = _table(path, data, name)
    _refuse_secrets(reader)
    defaults = cls()
    allowed = {f for f in defaults.__dataclass_fields__}
    reader.unknown_keys(allowed)
    values = {f: _scalar(reader, f, getattr(defaults, f)) for f in allowed - set(skip)}
    return reader, values


def _addresses(reader: TableReader, name: str, value: object) -> tuple[str, ...]:
    expected = 'a list of e-mail addresses like ["qualite@example.org"]'
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        raise ConfigError(reader.path, reader.key(name), value, expected)
    return tuple(value)


def _email(path: Path, data: dict[str, Any], config: Config) -> EmailSettings:
    reader, values = _plain(path, data, "email", EmailSettings, skip=("central", "sites"))
    values["central"] = _addresses(reader, "central", reader.table.get("central", []))
    sites = reader.table.get("sites", {})
    if not isinstance(sites, dict):
        raise ConfigError(path, "email.sites", sites, 'a table of site id = ["address", …]')
    known = set(config.site_ids)
    for site_id in sites:
        if site_id not in known:
            raise ConfigError(path, f"email.sites.{site_id}", site_id,
                              f"a site id of {config.directory / 'sites.toml'}")
    site_reader = TableReader(path, sites, "email.sites.")
    values["sites"] = {s: _addresses(site_reader, s, v) for s, v in sites.items()}
    email = EmailSettings(**values)
    if email.enabled:
        for key in ("host", "sender"):
            if not getattr(email, key):
                raise ConfigError(path, f"email.{key}", MISSING, "a value when email.enabled = true")
        if "@" not in email.sender:
            raise ConfigError(path, "email.sender", email.sender,
                              'an e-mail address like "qualiphone@example.org"')
        if not email.central and not any(email.sites.values()):
            raise ConfigError(path, "email.central", MISSING, "at least one recipient (central or sites)")
        if email.username and not email.starttls:
            raise ConfigError(path, "email.starttls", False,
                              "true when email.username is set: a password is never sent in clear")
        if not 0 < email.port < 65536:
            raise ConfigError(path, "email.port", email.port, "a port 1-65535 (25, 587)")
    return email


def _webhook(path: Path, data: dict[str, Any]) -> WebhookSettings:
    _, values = _plain(path, data, "webhook", WebhookSettings)
    hook = WebhookSettings(**values)
    if hook.enabled and not hook.url.startswith(("http://", "https://")):
        raise ConfigError(path, "webhook.url", hook.url or MISSING,
                          'an http:// or https:// URL when webhook.enabled = true')
    return hook


def load_alerts(config: Config) -> AlertsSettings:
    """Read `alerts.toml` of the configuration directory; AlertsOff when there is none."""
    path = config.directory / FILE
    if not path.exists():
        raise AlertsOff(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc), "valid TOML") from None
    TableReader(path, data).unknown_keys({"rules", "live", "email", "webhook", "log"})
    _, live = _plain(path, data, "live", LiveSettings)
    _, log = _plain(path, data, "log", LogSettings)
    settings = AlertsSettings(path, _rules(path, data), LiveSettings(**live), _email(path, data, config),
                              _webhook(path, data), LogSettings(**log))
    if settings.live.interval_seconds < 0.1:
        raise ConfigError(path, "live.interval_seconds", settings.live.interval_seconds, "a number >= 0.1")
    return settings
