"""The simulated sites' messages (simulator/messages.py) and simulation.toml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from afterhours.audio import read_wav
from config import Config, ConfigError, load_config
from simulator.messages import (
    message_text,
    probe_site,
    simulated_probe,
    simulation_settings,
    spoken_hours,
    spoken_number,
    write_probe_recording,
)
from tests.afterhours.conftest import shipped_config_dir

EVENING = dt.datetime(2026, 10, 5, 20, 30)  # a Monday


def test_texts_give_the_name_hours_and_number(config: Config) -> None:
    text = message_text(config.site("eps-09"), "closed")
    assert "Solidarités Paris neuvième" in text
    assert "du lundi au vendredi de 8 heures 30 à 17 heures" in text
    assert "zéro un, 99, zéro zéro, zéro un, zéro neuf" in text
    assert "paris point f r" in text and "115" in text
    assert "fermeture exceptionnelle" in message_text(config.site("eps-09"), "closure")
    assert message_text(config.site("eps-09"), "daytime").startswith("Bonjour, bienvenue")


def test_spoken_hours_and_numbers(config: Config) -> None:
    assert spoken_hours(config.site("eps-13")) == (
        "du lundi au mercredi de 8 heures 30 à 17 heures, le jeudi de 8 heures 30 à 12 heures 30, "
        "le vendredi de 8 heures 30 à 17 heures")
    assert spoken_hours(config.site("eps-18")).endswith(
        "de 8 heures 30 à 12 heures 30 et de 13 heures 30 à 17 heures")
    assert spoken_number("+33199000120") == "zéro un, 99, zéro zéro, zéro un, 20"


def test_rendered_messages_last_message_seconds(config: Config, rendered: dict) -> None:
    for (site, kind), path in rendered.items():
        seconds = read_wav(path).seconds
        if kind == "daytime":
            assert 3.0 < seconds < 10.0
        else:
            assert abs(seconds - config.site(site).message_seconds) < 1.5, (site, kind, seconds)


def test_simulation_settings(tmp_path: Path) -> None:
    assert simulation_settings(load_config()).broken_message_site == "eps-09"  # shipped
    plain = load_config(shipped_config_dir(tmp_path / "a", broken=None))
    assert simulation_settings(plain).broken_message_site is None
    wrong = load_config(shipped_config_dir(tmp_path / "b", broken="eps-99"))
    with pytest.raises(ConfigError, match=r'simulation\.broken_message_site is "eps-99"'):
        simulation_settings(wrong)
    bad_kind = load_config(shipped_config_dir(tmp_path / "c", kind="loud"))
    with pytest.raises(ConfigError, match="expected one of missing, other_site"):
        simulation_settings(bad_kind)


def test_what_a_probe_meets_in_the_simulation(tmp_path: Path) -> None:
    config = load_config(shipped_config_dir(tmp_path, broken="eps-09"))
    assert simulated_probe(config, "eps-05", EVENING).kind == "closed"
    missing = simulated_probe(config, "eps-09", EVENING)
    assert (missing.answered, missing.reason, missing.kind) == (False, 8, "missing")
    assert simulated_probe(config, "eps-05", EVENING.replace(hour=10)).kind == "daytime"
    closure = simulated_probe(config, "eps-11", dt.datetime(2026, 10, 16, 15, 0))  # closures.toml
    assert closure.kind == "closure" and closure.answered and closure.reason == 4
    assert simulated_probe(config, "eps-11", dt.datetime(2026, 11, 11, 10, 0)).kind == "closed"  # holiday


def test_probe_site_from_variable_or_number(config: Config) -> None:
    assert probe_site(config, "Local/0199000105@probe-out", {}) == "eps-05"
    assert probe_site(config, "PJSIP/+33199000113@trunk", {}) == "eps-13"
    assert probe_site(config, "Local/x@y", {"PROBE_SITE": "eps-20"}) == "eps-20"
    assert probe_site(config, "Local/0612345678@probe-out", {}) is None


def test_write_probe_recording(config: Config, message_cache: Path, tmp_path: Path) -> None:
    path = write_probe_recording(config, "eps-05", "probe-x1", tmp_path, kind="closed",
                                 cache_dir=message_cache)
    assert path == tmp_path / "probe-x1.wav" and (tmp_path / "probe-x1.done").exists()
    assert 28.0 < read_wav(path).seconds < 30.0
    assert write_probe_recording(config, "eps-05", "probe-x2", tmp_path, kind="missing") is None
    assert not (tmp_path / "probe-x2.wav").exists()
    truncated = write_probe_recording(config, "eps-05", "probe-x3", tmp_path, kind="truncated",
                                      cache_dir=message_cache)
    assert truncated is not None and read_wav(truncated).seconds < 15.0
    with pytest.raises(ValueError, match='recording kind "loud"'):
        write_probe_recording(config, "eps-05", "probe-x4", tmp_path, kind="loud")
