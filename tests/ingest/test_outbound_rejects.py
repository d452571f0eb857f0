"""Calls of no site that look internal or outbound (placed from an extension-named phone, or
dialed out through a trunk) stay rejects, but are no gap of the directory: the import says what
they are instead of sending the installer to `sites learn` for them, and they are not stored as
directory misses. On a real Master.csv (simularent: phones calling out through Google Voice)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from monitor.store import open_store
from monitor.store.models import directory_misses, rejected_records
from qualiphone.cli import cli
from tests.ingest.foreign_pbx import shipped_copy

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize("reference", [False, True], ids=["columnar", "reference"])
def test_outbound_looking_calls_are_said_and_not_gaps(real_data: Path, tmp_path: Path,
                                                      reference: bool) -> None:
    config = shipped_copy(tmp_path / "c")
    db = f"sqlite:///{tmp_path / 'q.db'}"
    path = real_data / "cdr/simularent/Master.csv"
    result = CliRunner().invoke(cli, ["--db", db, "--config", str(config), "ingest", "cdr",
                                      *(["--reference"] if reference else []), str(path)])
    assert result.exit_code == 0, result.output
    assert "rejected 23" in result.output
    assert ("23 of the rejects are calls of no site that look internal or outbound (placed "
            "from a phone, or dialed out through a trunk): nothing to add to the directory"
            ) in result.output
    assert "dialed numbers of no site" not in result.output  # no directory gap named
    store = open_store(db)
    with store.engine.connect() as conn:
        reasons = conn.execute(sa.select(rejected_records.c.reason)).scalars().all()
        stored_misses = conn.execute(sa.select(directory_misses.c.dialed,
                                               directory_misses.c.rejected)).all()
    assert len(reasons) == 23 and all("looks like an internal or outbound call" in r
                                      for r in reasons)  # kept, with their reason
    assert not [m for m in stored_misses if m.rejected]  # no "unknown site" gap stored
    store.dispose()
