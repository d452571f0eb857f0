"""The shipped directory loads; every kind of mistake names file, key, value and expectation."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import SHIPPED_DIR, ConfigError, UnknownSite, load_config
from qualiphone.cli import cli


def test_shipped_directory_has_the_17_eps() -> None:
    config = load_config()
    ids = config.site_ids
    assert len(ids) == 17
    assert ids[0] == "eps-centre"
    assert ids[1:] == [f"eps-{n:02d}" for n in range(5, 21)]
    assert all(s.placeholder for s in config.sites)
    assert config.targets.threshold_seconds == 25.0
    assert config.targets.ring_period_seconds == 5.0
    assert config.site("eps-13").hours[3] == ((dt.time(8, 30), dt.time(12, 30)),)
    assert config.site("eps-05").hours[5] == ()


def test_unknown_site_message_lists_known_sites() -> None:
    with pytest.raises(UnknownSite) as err:
        load_config().site("eps-21")
    assert 'site "eps-21" is not in' in str(err.value)
    assert "eps-centre" in str(err.value) and "eps-20" in str(err.value)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(SHIPPED_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "key", "expected"),
    [
        ("settings.toml", "threshold_seconds = 25.0", 'threshold_seconds = "25"',
         "targets.threshold_seconds", "a number >= 1.0"),
        ("settings.toml", "pickup_rate_goal = 0.80", "pickup_rate_goal = 80",
         "targets.pickup_rate_goal", "a rate between 0 and 1"),
        ("settings.toml", 'clock_start = "arrival"', 'clock_start = "ring"',
         "targets.clock_start", '"arrival", "queue_entry"'),
        ("settings.toml", 'timezone = "Europe/Paris"', 'timezone = "Europe/Pariss"',
         "pbx.paris-eps.timezone", "IANA time zone"),
        ("settings.toml", '# ami = "127.0.0.1:5038"', 'ami = "127.0.0.1:70000"',
         "pbx.paris-eps.ami", 'HOST:PORT" with a port 1-65535'),
        ("settings.toml", '# ami = "127.0.0.1:5038"', 'ami = "pbx.example"',
         "pbx.paris-eps.ami", 'HOST:PORT" with a port 1-65535'),
        ("settings.toml", '# ami_user = "qualimon"', "ami_user = 5038",
         "pbx.paris-eps.ami_user", "an AMI user name"),
        ("sites.toml", 'mon = ["08:30-12:30", "13:30-17:00"]',
         'mon = ["08:30-12:30", "17:00-13:30"]',
         'site "eps-18".hours.mon[1]', "HH:MM-HH:MM"),
        ("sites.toml", 'queues = ["std-06"]', 'queues = ["std-05"]',
         'site "eps-06".queues', 'not already used by site "eps-05"'),
        ("sites.toml", 'pbx = "paris-eps"\ndids = ["0199000107"', 'pbx = "nope"\ndids = ["0199000107"',
         'site "eps-07".pbx', "paris-eps"),
        ("closures.toml", 'site = "eps-11"', 'site = "eps-21"', "closure[0].site", "a site id"),
        ("closures.toml", 'date = "2026-10-16"', 'date = "2026-13-16"', "closure[0].date", "YYYY-MM-DD"),
        ("sites.toml", 'name = "EPS Paris 9e"', 'nom = "EPS Paris 9e"', 'site "eps-09".nom',
         "one of the keys"),
    ],
)
def test_wrong_value_names_file_key_value_and_expectation(
    tmp_path: Path, file: str, old: str, new: str, key: str, expected: str
) -> None:
    directory = _copy(tmp_path)
    path = directory / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    message = str(err.value)
    assert str(path) in message
    assert key in message
    assert expected in message


def test_pbx_ami_settings_are_optional_and_read(tmp_path: Path) -> None:
    assert load_config().pbxs["paris-eps"].ami == ""  # shipped: commented out
    directory = _copy(tmp_path)
    path = directory / "settings.toml"
    text = path.read_text().replace('# ami = "127.0.0.1:5038"', 'ami = "[::1]:5038"')
    path.write_text(text.replace('# ami_user = "qualimon"', 'ami_user = "qualimon"'))
    pbx = load_config(directory).pbxs["paris-eps"]
    assert (pbx.ami, pbx.ami_user) == ("[::1]:5038", "qualimon")


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / "settings.toml").write_text("[targets\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(directory)


def test_cli_refuses_a_bad_config_with_exit_1(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "settings.toml"
    path.write_text(path.read_text().replace("ring_period_seconds = 5.0", "ring_period_seconds = -5"))
    result = CliRunner().invoke(cli, ["--config", str(directory), "sites"])
    assert result.exit_code == 1
    assert f"Error: {path}: key targets.ring_period_seconds is \"-5\"" in result.output


def test_sites_json_lists_the_directory() -> None:
    import json

    result = CliRunner().invoke(cli, ["sites", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["id"] for s in data][:2] == ["eps-centre", "eps-05"]
    assert data[0]["hours"]["mon"] == ["08:30-17:00"]
    assert data[0]["placeholder"] is True


def test_an_unreachable_store_is_an_error_naming_the_url_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody:s3cret@/nodb?host={tmp_path}"
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--from", "2026-10-01", "--to",
                                      "2026-10-02"])
    assert result.exit_code == 1
    assert result.output.startswith('Error: cannot open the store "postgresql+psycopg://nobody:***@')
    assert "s3cret" not in result.output and "check --db or QUALIPHONE_DB" in result.output
