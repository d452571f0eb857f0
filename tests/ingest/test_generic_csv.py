"""Other PBX exports through a declared column mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from config import SHIPPED_DIR
from ingest.generic_csv import load_mapping
from ingest.records import RecordError
from monitor.store.models import calls, rejected_records
from qualiphone.cli import cli

HEADER = "ID appel;Début;Attente (s);Fin;Numéro appelé;Appelant;Poste;Statut"
ROWS = [
    "a1;05/10/2026 10:00:00;12,5;05/10/2026 10:04:00;01 99 00 01 05;0612345678;201;Répondu",
    "a2;05/10/2026 10:01:00;;05/10/2026 10:01:40;0199000105;0612345679;;Abandonné",
    "a3;05/10/2026 10:02:00;;05/10/2026 10:02:02;0199000106;;;Abandonné",
    "a4;05/10/2026 20:02:00;;05/10/2026 20:02:30;0199000106;0611111111;;Message",
    "a5;32/10/2026 10:00:00;;;0199000106;0611111111;;Répondu",
    "a6;05/10/2026 10:03:00;;05/10/2026 10:03:30;0199000106;0611111111;;Perdu",
    "a7;05/10/2026 10:03:00;;05/10/2026 10:03:30;0188888888;0611111111;;Abandonné",
]


def _file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_import_with_mapping(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = _file(tmp_path, ROWS)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "ingest", "csv", "--mapping", "example-export", str(path)])
    assert result.exit_code == 0, result.output
    assert "read 8 lines, 4 calls: imported 4, merged 0, duplicates 0, rejected 3" in result.output
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = {r.call_key: r for r in conn.execute(sa.select(calls))}
    assert rows["a1"].time_to_answer == 12.5 and rows["a1"].outcome == "answered"
    assert rows["a1"].site == "eps-05" and rows["a1"].answered_by == "201"
    assert rows["a2"].outcome == "abandoned"
    assert rows["a3"].outcome == "short_abandon" and rows["a3"].caller_withheld
    assert rows["a4"].outcome == "message" and not rows["a4"].in_hours
    rejects = runner.invoke(cli, ["--db", db, "ingest", "rejects"])
    assert "bad date in arrival" in rejects.output
    assert 'unknown outcome "Perdu"' in rejects.output
    assert "unknown site" in rejects.output
    again = runner.invoke(cli, ["--db", db, "ingest", "csv", "--mapping", "example-export", str(path)])
    assert "already imported as batch 1" in again.output


def test_an_empty_outcome_without_an_answer_is_a_reject_not_an_abandon(tmp_path: Path) -> None:
    """The export has a status column: a call whose status is empty and that has no answer
    time has not ended yet (or the export lost it); with a wait time, it was answered."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = _file(tmp_path, [
        "b1;05/10/2026 10:00:00;;;0199000105;0612345678;;",
        "b2;05/10/2026 10:01:00;8;05/10/2026 10:03:00;0199000105;0612345679;201;",
    ])
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "ingest", "csv", "--mapping", "example-export",
                                 str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1, merged 0, duplicates 0, rejected 1" in result.output
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        stored = {r.call_key: r.outcome for r in conn.execute(sa.select(calls))}
        reasons = [r.reason for r in conn.execute(sa.select(rejected_records))]
    engine.dispose()
    assert stored == {"b2": "answered"}
    assert [r.split(":")[0] for r in reasons] == [
        'empty outcome (column "Statut") and no answer time']


def test_header_not_as_mapped_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id;start\n1;2\n")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'db'}", "ingest", "csv",
                                      "--mapping", "example-export", str(path)])
    assert result.exit_code == 1
    assert 'column "ID appel" (call_key) is not in the header' in result.output


def test_unknown_mapping() -> None:
    with pytest.raises(RecordError, match=r"no mapping \[csv.nope\]; known: example-export"):
        load_mapping(SHIPPED_DIR / "csv_mappings.toml", "nope")


def _mapping():
    return load_mapping(SHIPPED_DIR / "csv_mappings.toml", "example-export")


@given(
    key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                min_size=1, max_size=12).filter(lambda s: s.strip() == s and s.strip()),
    caller=st.from_regex(r"0[1-9][0-9]{8}", fullmatch=True),
    wait=st.integers(0, 3000),
    minute=st.integers(0, 59),
)
def test_round_trip_with_the_csv_module_as_oracle(key: str, caller: str, wait: int, minute: int) -> None:
    """Rows rendered by csv.writer (quotes, ; and accents included) parse back field by field."""
    import csv
    import io

    from config import load_config
    from ingest.finalize import CaptureContext
    from ingest.generic_csv import parse_generic
    from monitor.call import CallBuilder

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(HEADER.split(";"))
    writer.writerow([key, f"05/10/2026 10:{minute:02d}:00", f"{wait / 10}",
                     "05/10/2026 11:00:00", "0199000105", caller, "201", "Répondu"])
    lines = list(enumerate(buffer.getvalue().splitlines(), start=1))
    ctx = CaptureContext.create(load_config())
    (item,) = list(parse_generic(lines, ctx, mapping=_mapping()))
    assert isinstance(item, CallBuilder)
    assert item.call_key == key and item.caller == caller and item.answered_by == "201"
    assert item.answer is not None and item.arrival is not None
    assert item.answer - item.arrival == pytest.approx(wait / 10)
