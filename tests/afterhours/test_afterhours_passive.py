"""The passive check: simulated days with a broken site, and hand-made calls on both stores."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from afterhours.passive import check_month
from afterhours.settings import CheckSettings
from config import Config, load_config
from monitor.call import Call, Outcome, Source
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts
from qualiphone.cli import cli
from tests.afterhours.conftest import shipped_config_dir

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two simulated days of the 17 sites, eps-09's message missing, imported from the CDR."""
    base = tmp_path_factory.mktemp("passive")
    directory = shipped_config_dir(base / "config", broken="eps-09")
    db = f"sqlite:///{base / 'store.db'}"
    runner = CliRunner()
    sim = runner.invoke(cli, ["--config", str(directory), "simulate", "month", "--month", "2026-10",
                              "--out", str(base / "sim"), "--days", "2"])
    assert sim.exit_code == 0, sim.output
    ingest = runner.invoke(cli, ["--db", db, "--config", str(directory), "ingest", "cdr",
                                 str(base / "sim" / "Master.csv")])
    assert ingest.exit_code == 0, ingest.output
    return directory, db


def _check(simulated: tuple[Path, str], *args: str) -> object:
    directory, db = simulated
    return CliRunner().invoke(cli, ["--db", db, "--config", str(directory), "afterhours", "check",
                                    "--month", "2026-10", *args])


def test_the_site_without_message_is_flagged(simulated: tuple[Path, str]) -> None:
    result = _check(simulated, "--by", "site")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[-1] == "1 site flagged: eps-09."
    row = next(line for line in lines if line.startswith("eps-09"))
    assert row.endswith("FLAGGED: after-hours calls not answered by the message") and " 0.0 %" in row
    others = [line for line in lines if line.startswith("eps-") and not line.startswith("eps-09")]
    assert len(others) == 16 and all("100.0 %" in line and "FLAGGED" not in line for line in others)


def test_the_figures_match_the_simulators_truth(simulated: tuple[Path, str]) -> None:
    directory, _ = simulated
    truth = list(csv.DictReader((directory.parent / "sim" / "truth.csv").open()))
    doc = json.loads(_check(simulated, "--format", "json").output)
    sites = {s["site"]: s for s in doc["sites"]}
    assert doc["flagged"] == ["eps-09"]
    for site in ("eps-05", "eps-13", "eps-18"):
        expected = sum(r["site"] == site and r["outcome"] == "message" and r["is_test"] == "false"
                       for r in truth)
        assert sites[site]["calls"] == sites[site]["by_message"] == expected > 0
        assert 0 < sites[site]["heard"] <= expected
    broken = [r for r in truth if r["site"] == "eps-09" and r["outcome"] == "failed"]
    assert sites["eps-09"]["failures"] == len(broken) > 0 and sites["eps-09"]["by_message"] == 0
    days = [d for d in doc["days"] if d["site"] == "eps-09"]
    assert [d["date"] for d in days] == ["2026-10-01", "2026-10-02"]
    assert {(f["period"], f["outcome"]) for d in days for f in d["failures"]} == {("closed", "failed")}  # CDR


def test_csv_per_day_lists_failure_times(simulated: tuple[Path, str]) -> None:
    rows = list(csv.DictReader(_check(simulated, "--format", "csv", "--site", "eps-09").output.splitlines()))
    assert [r["date"] for r in rows] == ["2026-10-01", "2026-10-02"]
    times = rows[0]["failure_times"].split(";")
    assert len(times) == int(rows[0]["failures"]) and times[0].endswith(" failed closed")
    assert dt.time.fromisoformat(times[0].split()[0])


def test_an_unknown_site_is_an_error(simulated: tuple[Path, str]) -> None:
    result = _check(simulated, "--site", "eps-21")
    assert result.exit_code == 1 and result.output.startswith('Error: site "eps-21" is not in ')


def _call(key: str, site: str, local: dt.datetime, outcome: Outcome, length: float | None,
          resolution: float = 1e-6, **kw: object) -> Call:
    arrival = local.replace(tzinfo=PARIS).timestamp()
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=Source.CEL, end=None if length is None else arrival + length, local_date=date,
                local_hour=hour, local_weekday=weekday, resolution=resolution, **kw)  # type: ignore[arg-type]


def test_periods_heard_to_the_end_and_what_counts_as_a_failure(store: Store, config: Config) -> None:
    d = dt.datetime
    batch = [
        _call("a", "eps-11", d(2026, 10, 16, 14, 0), Outcome.MESSAGE, 28.2),  # planned closure (pm)
        _call("b", "eps-11", d(2026, 10, 16, 10, 0), Outcome.ANSWERED, 60.0),  # open: not counted
        _call("c", "eps-11", d(2026, 11, 11, 10, 0), Outcome.ABANDONED, 20.0),  # holiday: failure
        _call("d", "eps-11", d(2026, 10, 16, 19, 0), Outcome.MESSAGE, 27.4, resolution=1.0),  # heard (CDR)
        _call("e", "eps-11", d(2026, 10, 16, 19, 5), Outcome.MESSAGE, 12.0),  # hung up during it
        _call("f", "eps-11", d(2026, 10, 16, 17, 2), Outcome.ANSWERED, 90.0),  # a person, after hours
        _call("g", "eps-11", d(2026, 10, 16, 20, 0), Outcome.BUSY, 2.0, is_test=True),  # a test call
        _call("h", "eps-11", d(2026, 10, 17, 11, 0), Outcome.VOICEMAIL, 40.0),  # Saturday: failure
    ]
    with store.engine.begin() as conn:
        write_calls(conn, batch)
    october = check_month(store, config, "2026-10", ["eps-11"])
    (s,) = october.sites
    assert (s.calls, s.by_message, s.heard, s.by_person, s.failures) == (5, 3, 2, 1, 1)
    assert s.answered_share == 3 / 4 and not s.flagged  # one failure is not enough to flag
    assert [(f.local_time, f.outcome, f.period) for day in october.days for f in day.failures] == \
        [(d(2026, 10, 17, 11, 0), "voicemail", "closed")]
    strict = CheckSettings(min_failures=1)
    assert check_month(store, config, "2026-10", ["eps-11"], strict).flagged == ["eps-11"]
    november = check_month(store, config, "2026-11", ["eps-11"])
    assert november.days[0].failures[0].period == "holiday"


def test_settings_file_errors(tmp_path: Path) -> None:
    from afterhours.settings import load_settings
    from config import ConfigError

    directory = shipped_config_dir(tmp_path, afterhours="[check]\nmin_failures = -1\n")
    with pytest.raises(ConfigError, match=r"check.min_failures is \"-1\"; expected a int like 2"):
        load_settings(load_config(directory))
    (directory / "afterhours.toml").write_text("[probes]\n")
    with pytest.raises(ConfigError, match=r"expected one of the tables \[check\], \[probe\], \[alert\]"):
        load_settings(load_config(directory))
    (directory / "afterhours.toml").write_text("[probe]\nringtimeout = 3\n")
    with pytest.raises(ConfigError, match=r"probe\.ringtimeout"):
        load_settings(load_config(directory))


def test_a_message_in_a_context_the_directory_does_not_list_is_not_a_failure(
        simulated: tuple[Path, str], tmp_path: Path) -> None:
    """eps-05's message plays in msg-eps-05, but this directory lists another context: its
    after-hours calls are machine answers to classify, not failures, and eps-05 is not flagged
    (whereas eps-09, whose message is really missing, still is)."""
    directory, _ = simulated
    other = tmp_path / "config"
    other.mkdir()
    for name in ("settings.toml", "closures.toml", "simulation.toml"):
        (other / name).write_bytes((directory / name).read_bytes())
    sites = (directory / "sites.toml").read_text().replace(
        'message_contexts = ["msg-eps-05"]', 'message_contexts = ["msg-autre"]')
    (other / "sites.toml").write_text(sites)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    runner = CliRunner()
    sim = runner.invoke(cli, ["--config", str(directory), "simulate", "month", "--month", "2026-10",
                              "--out", str(tmp_path / "sim"), "--days", "2"])
    assert sim.exit_code == 0
    assert runner.invoke(cli, ["--db", db, "--config", str(other), "ingest", "cdr",
                               str(tmp_path / "sim" / "Master.csv")]).exit_code == 0
    result = runner.invoke(cli, ["--db", db, "--config", str(other), "afterhours", "check",
                                 "--month", "2026-10", "--by", "site"])
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("eps-05"))
    assert "FLAGGED" not in row and "to classify" in row
    assert lines[-1] == "1 site flagged: eps-09."
