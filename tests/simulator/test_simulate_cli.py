"""`qualiphone simulate month` through click's CliRunner."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from qualiphone.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["simulate", "month", *args])
    return result.exit_code, result.output


def test_simulate_month_writes_the_four_files(tmp_path: Path) -> None:
    code, output = _run("--month", "2026-10", "--days", "1", "--seed", "3", "--out",
                        str(tmp_path / "a"))
    assert code == 0, output
    assert "eps-18" in output and f"qualiphone ingest cdr {tmp_path / 'a' / 'Master.csv'}" in output
    truth = list(csv.DictReader((tmp_path / "a" / "truth.csv").open()))
    cdr = list(csv.reader((tmp_path / "a" / "Master.csv").open()))
    cel = list(csv.reader((tmp_path / "a" / "cel-custom" / "Master.csv").open()))
    keys = {row["call_key"] for row in truth}
    assert len(keys) == len(truth) > 500
    assert {r[19] for r in cdr} == keys == {r[15] for r in cel}
    queue_log = (tmp_path / "a" / "queue_log").read_text().splitlines()
    assert {line.split("|")[1] for line in queue_log[1:]} < keys
    assert f"Simulated 2026-10: {len(truth)} calls" in output

    code, _ = _run("--month", "2026-10", "--days", "1", "--seed", "3", "--out", str(tmp_path / "b"))
    assert code == 0
    for name in ("Master.csv", "queue_log", "cel-custom/Master.csv", "truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_bad_month_is_a_usage_error(tmp_path: Path) -> None:
    code, output = _run("--month", "2026-13", "--out", str(tmp_path))
    assert code == 2
    assert 'Invalid value for \'--month\': "2026-13" is not a month; use YYYY-MM, e.g. 2026-10' \
        in output
