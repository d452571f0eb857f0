"""Hostile and careless input through the importers, on SQLite and PostgreSQL (issue 13): every
bad record is a reject with its line and reason, and one bad record never costs another."""

from __future__ import annotations

from pathlib import Path

from ingest.finalize import CaptureContext
from monitor.store import Store
from tests.ingest.hostile_support import (
    T0,
    call_rows,
    cdr_import,
    rejects,
    stored,
    write_lines,
)

# --- item 1: what PostgreSQL refuses is caught per record, before the write ---------------


def test_nul_bytes_and_long_asterisk_fields_cost_no_other_call(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """A NUL byte (in a call's caller name, in a rejected line), a 149-character uniqueid and
    a 40-digit dialed number are all stored (0 of 1,285 calls were on PostgreSQL); a dialed
    number longer than Asterisk's own limit is one reject naming the field."""
    good, nul_name, long_uid, long_dialed, too_long = call_rows(5)
    nul_name["clid"] = '"DUP@NT" <0612345678>'
    long_uid["uniqueid"] = long_uid["linkedid"] = "s" * 136 + f"-{int(T0) + 600}.2"
    long_dialed["dst"] = "4" * 40
    too_long["dst"] = "5" * 200
    lines = [good, nul_name, b'"only","thr\x00ee","columns"', long_uid, long_dialed, too_long]
    path = write_lines(tmp_path / "Master.csv", lines)
    path.write_bytes(path.read_bytes().replace(b"DUP@NT", b"DUP\x00NT"))
    result = cdr_import(store, capture, path)
    calls = stored(store)
    assert len(long_uid["uniqueid"]) == 149
    assert set(calls) == {good["uniqueid"], nul_name["uniqueid"], long_uid["uniqueid"],
                          long_dialed["uniqueid"]}
    assert calls[long_dialed["uniqueid"]].dialed == "4" * 40
    assert result.counts.imported == 4 and result.rejected == 2
    assert result.replaced == 2  # the NUL bytes are kept as U+FFFD, like bytes not UTF-8
    (bad_line, bad_reason, bad_raw), (long_line, long_reason, _) = rejects(store)
    assert bad_line == 3 and bad_reason.startswith("wrong column count: 3 columns")
    assert bad_raw == '"only","thr\ufffdee","columns"'
    assert long_line == 6
    assert long_reason == ("dialed number is 200 characters long, more than the 80 the store "
                           'keeps: "' + "5" * 40 + '…"')


def test_a_rejected_line_of_any_length_is_kept(store: Store, capture: CaptureContext,
                                               tmp_path: Path) -> None:
    (good,) = call_rows(1)
    path = write_lines(tmp_path / "Master.csv", ["x" * 300_000, good])
    result = cdr_import(store, capture, path)
    assert result.counts.imported == 1 and result.rejected == 1
    ((line, reason, raw),) = rejects(store)
    assert line == 1
    assert reason == ("a field longer than 131,072 characters (the line has 300,000): not a "
                      "Master.csv row")
    assert raw == "x" * 300_000
