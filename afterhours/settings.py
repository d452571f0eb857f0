"""`afterhours.toml` of the configuration directory: check thresholds, probe and alert settings.

The file is optional (defaults below); a wrong value raises `config.ConfigError` naming the
file, the key and what was expected, like the rest of the configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from config import Config, ConfigError
from config.loader import read_toml

FILE = "afterhours.toml"


@dataclass(frozen=True)
class CheckSettings:
    min_failures: int = 2
    min_answered_share: float = 0.95


@dataclass(frozen=True)
class ProbeSettings:
    channel: str = "Local/{number}@probe-out"
    context: str = "probe-listen"
    exten: str = "s"
    priority: int = 1
    ring_timeout_seconds: float = 45.0
    caller_id: str = '"Qualite standard" <0199009999>'
    account: str = "probe"
    listen_seconds: float = 60.0
    recordings_dir: str = ""
    settle_seconds: float = 3.0
    recording_grace_seconds: float = 10.0
    concurrency: int = 4
    events: str = "call"

    def recordings(self) -> Path:
        """The recordings directory (default: probe-recordings/ in the data directory)."""
        if self.recordings_dir:
            return Path(self.recordings_dir).expanduser()
        from monitor.store.engine import data_dir

        return data_dir() / "probe-recordings"


@dataclass(frozen=True)
class AlertSettings:
    consecutive_failures: int = 2
    command: str = ""


@dataclass(frozen=True)
class AfterHoursSettings:
    check: CheckSettings = field(default_factory=CheckSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    alert: AlertSettings = field(default_factory=AlertSettings)


def _section(path: Path, name: str, table: object, cls: type) -> Any:
    """Build dataclass `cls` from a TOML table, checking keys and types."""
    if not isinstance(table, dict):
        raise ConfigError(path, name, table, "a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(path, f"{name}.{key}", key, "one of the keys " + ", ".join(sorted(known)))
        default = known[key].default
        kind = type(default)
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (number and (not math.isfinite(value) or value < 0)):
            raise ConfigError(path, f"{name}.{key}", value, f"a {kind.__name__} like {default!r}")
        values[key] = value
    return cls(**values)


def load_settings(config: Config) -> AfterHoursSettings:
    """Read `afterhours.toml` next to the config's sites.toml (defaults when absent)."""
    path = config.directory / FILE
    if not path.exists():
        return AfterHoursSettings()
    data = read_toml(path)
    parts = {"check": CheckSettings, "probe": ProbeSettings, "alert": AlertSettings}
    for key in data:
        if key not in parts:
            raise ConfigError(path, key, key, "one of the tables [check], [probe], [alert]")
    built = {name: _section(path, name, data.get(name, {}), cls) for name, cls in parts.items()}
    if built["probe"].concurrency < 1:
        raise ConfigError(path, "probe.concurrency", built["probe"].concurrency, "an integer >= 1")
    return AfterHoursSettings(**built)
