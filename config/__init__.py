"""Shipped configuration (TOML) and its typed loader."""

from config.loader import (
    SHIPPED_DIR,
    CaptureSettings,
    Closure,
    Config,
    ConfigError,
    PbxSettings,
    Site,
    Targets,
    UnknownSite,
    load_config,
)

__all__ = [
    "SHIPPED_DIR",
    "CaptureSettings",
    "Closure",
    "Config",
    "ConfigError",
    "PbxSettings",
    "Site",
    "Targets",
    "UnknownSite",
    "load_config",
]
