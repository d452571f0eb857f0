"""Options taking a number refuse values that are not finite (nan, inf) before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qualiphone.cli import cli


@pytest.mark.parametrize("args", [
    ["report", "monthly", "--month", "2026-10", "--target-rate", "nan"],
    ["report", "synthesis", "--month", "2026-10", "--target-rate", "nan"],
    ["listen", "--for", "nan"],
    ["listen", "--for", "inf"],
    ["serve", "--for", "nan"],
])
def test_non_finite_numbers_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/s.db", *args])
    assert result.exit_code == 2, result.output
    assert "is not a finite number" in result.output
    assert not (tmp_path / "s.db").exists()  # refused before the store was opened
