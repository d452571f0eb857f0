"""`afterhours probe` that probed nothing exits with its own status, so that a timer notices."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from afterhours.cli_probe import NOTHING_PROBED_EXIT
from qualiphone.cli import cli


def test_probing_nothing_is_a_distinct_non_zero_exit(tmp_path: Path) -> None:
    args = ["--db", f"sqlite:///{tmp_path / 's.db'}", "afterhours", "probe", "--ami", "127.0.0.1:9",
            "--ami-user", "u", "--site", "eps-05", "--site", "eps-06"]
    env = {"QUALIPHONE_AMI_SECRET": "x"}
    open_hours = CliRunner().invoke(cli, [*args, "--at", "2026-10-05T10:00"], env=env)
    assert NOTHING_PROBED_EXIT == 4
    assert open_hours.exit_code == 4
    assert open_hours.stdout.splitlines()[0] == "0 sites probed, 2 skipped."
    assert open_hours.stderr == ("nothing probed: every site was skipped (reasons above); exit "
                                 "status 4\n")
    # closed, but no reference registered: skipped too
    evening = CliRunner().invoke(cli, [*args, "--at", "2026-10-05T20:30"], env=env)
    assert evening.exit_code == 4
    assert "skipped eps-05: no \"closed\" reference: register one with" in evening.stdout
