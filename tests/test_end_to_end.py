"""A simulated period imports to exactly the simulator's calls, from every source, once."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from monitor.store.models import calls
from qualiphone.cli import cli
from simulator.month import CDR_FILE, CEL_FILE, QUEUE_LOG_FILE, TRUTH_FILE


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{out / 'unused.db'}", "simulate", "month",
                                      "--month", "2026-10", "--out", str(out), "--seed", "7",
                                      "--days", "3"])
    assert result.exit_code == 0, result.output
    return out


def _truth(out: Path) -> dict[str, dict[str, str]]:
    with (out / TRUTH_FILE).open() as fh:
        return {row["call_key"]: row for row in csv.DictReader(fh)}


def _run(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.output


def _stored(db: str) -> dict[str, sa.Row]:
    with sa.create_engine(db).connect() as conn:
        return {r.call_key: r for r in conn.execute(sa.select(calls))}


def test_every_source_gives_the_simulators_calls_once(simulated: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    truth = _truth(simulated)
    db = f"sqlite:///{tmp_path / 'q.db'}"
    first = _run(db, "ingest", "cdr", str(simulated / CDR_FILE))
    assert f"imported {len(truth)}, merged 0, duplicates 0, rejected 0" in first
    assert "merged" in _run(db, "ingest", "queue-log", str(simulated / QUEUE_LOG_FILE))
    cel = _run(db, "ingest", "cel", str(simulated / CEL_FILE))
    assert f"imported 0, merged {len(truth)}, duplicates 0, rejected 0" in cel
    for name in (CDR_FILE, QUEUE_LOG_FILE, CEL_FILE):
        assert "nothing added" in _run(db, "ingest", "cdr" if name == CDR_FILE else
                                       "queue-log" if name == QUEUE_LOG_FILE else "cel",
                                       str(simulated / name))
    stored = _stored(db)
    assert set(stored) == set(truth)
    for key, expected in truth.items():
        row = stored[key]
        assert row.site == expected["site"], key
        assert row.outcome == expected["outcome"] or (
            # the CEL tells congestion apart; the CDR (congestion=no) writes FAILED
            {row.outcome, expected["outcome"]} == {"congestion", "failed"}), key
        assert row.is_test == (expected["is_test"] == "true"), key
        if expected["answer"]:
            # CEL is the most precise source: the answer to the microsecond
            assert row.answer == pytest.approx(float(expected["answer"]), abs=2e-6), key
            assert row.answered_by == expected["answered_by"], key
        else:
            assert row.answer is None, key


def test_cdr_alone_agrees_with_the_truth_at_its_resolution(simulated: Path, tmp_path: Path) -> None:
    truth = _truth(simulated)
    db = f"sqlite:///{tmp_path / 'cdr.db'}"
    _run(db, "ingest", "cdr", str(simulated / CDR_FILE))
    stored = _stored(db)
    assert len(stored) == len(truth)
    for key, expected in truth.items():
        if expected["answer"]:
            tta = float(expected["answer"]) - float(expected["arrival"])
            # whole-second times, each truncated: within one second of the truth
            assert abs(stored[key].time_to_answer - tta) < 1.0, key
            assert stored[key].answered_by == expected["answered_by"], key
