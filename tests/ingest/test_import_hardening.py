"""Hostile and careless input through the importers, on SQLite and PostgreSQL (issue 13): every
bad record is a reject with its line and reason, and one bad record never costs another."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from config import SHIPPED_DIR, load_config
from ingest.finalize import CaptureContext
from monitor.store import Store
from tests.ingest.hostile_support import (
    CSV_HEADER,
    T0,
    call_rows,
    cdr_import,
    cel_call,
    csv_row,
    import_file,
    queue_call,
    rejects,
    stored,
    write_lines,
)
from tests.ingest.test_cdr import render

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


# --- item 4: a value the parser did not foresee is one reject, never a crash ---------------

def _unforeseen(kind: str) -> tuple[list[str], int, str]:
    """(lines, line of the bad record, words of its reason) for one unforeseen value."""
    t = int(T0)
    if kind == "cdr-year-1":
        bad = call_rows(2)[1] | {"start": "0001-01-01 00:00:00", "answer": None,
                                 "end": "0001-01-01 00:00:30"}
        return [render(call_rows(1)[0]), render(bad)], 2, '"0001-01-01 00:00:00"'
    if kind == "cdr-superscript":
        bad = call_rows(2)[1] | {"duration": "2²"}
        return [render(call_rows(1)[0]), render(bad)], 2, 'duration "2²"'
    if kind == "queue_log-epoch":
        bad = queue_call(t + 300, 5)
        bad[1] = bad[1].replace(f"{t + 308}|", "99999999999999|", 1)
        return [*queue_call(t, 1), *bad], 5, '"99999999999999"'
    if kind == "cel-12-digits":
        bad = cel_call(T0 + 300, 5)
        bad[0] = bad[0].replace(f'"{T0 + 300:.6f}"', '"999999999999.000000"')
        return [*cel_call(T0, 1), *bad], 9, '"999999999999"'
    if kind == "cel-deep-json":
        good = cel_call(T0, 1)
        hangup = next(i for i, line in enumerate(good) if line.startswith('"HANGUP"'))
        good[hangup] = good[hangup].rsplit(",", 1)[0] + ',"' + "[" * 100_000 + '"'
        return good, 0, ""
    assert kind == "csv-long-field"
    return [CSV_HEADER, csv_row("a1"), csv_row("x" * 200_000)], 3, "131,072 characters"


@pytest.mark.parametrize("case", ["cdr-year-1", "cdr-superscript", "queue_log-epoch",
                                  "cel-12-digits", "cel-deep-json", "csv-long-field"])
def test_an_unforeseen_value_is_a_reject_not_a_crash(store: Store, capture: CaptureContext,
                                                     tmp_path: Path, case: str) -> None:
    """Year 0001, a duration '2²' that passes str.isdigit, a 14-digit queue_log epoch, a
    12-digit CEL epoch, 100,000 nested JSON brackets, a 200,000-character CSV field: each lost
    the whole file."""
    kind = case.split("-")[0]
    lines, bad_line, words = _unforeseen(case)
    result = import_file(store, capture, kind, write_lines(tmp_path / "in.txt", lines))
    assert result.counts.imported >= 1 and len(stored(store)) == result.counts.imported
    if bad_line:
        assert [(line, words in reason) for line, reason, _ in rejects(store)][:1] == [
            (bad_line, True)]
    else:
        assert rejects(store) == []


# --- item 5: implausible values are rejects naming the value and the setting ---------------

def _window_reason(name: str, value: str, capture: CaptureContext) -> str:
    last = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return (f'{name} "{value}" is outside the plausible dates 2000-01-01 to {last} '
            f"(capture.plausible_from and capture.plausible_days_ahead in "
            f"{capture.config.directory / 'settings.toml'}): check the PBX's clock, or widen "
            "them")


def test_implausible_years_are_rejects_naming_the_setting(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """Years 1970, 2099 and 9999 were stored as calls."""
    good, *bad = call_rows(4)
    for row, year in zip(bad, ("1970", "2099", "9999"), strict=True):
        for name in ("start", "answer", "end"):
            row[name] = year + str(row[name])[4:]
    path = write_lines(tmp_path / "Master.csv", [good, *bad])
    result = cdr_import(store, capture, path)
    assert set(stored(store)) == {good["uniqueid"]} and result.rejected == 3
    assert [(line, reason) for line, reason, _ in rejects(store)] == [
        (n, _window_reason("start", str(row["start"]), capture))
        for n, row in enumerate(bad, start=2)]


@pytest.mark.parametrize("kind", ["queue_log", "cel", "csv"])
def test_implausible_dates_of_every_source_are_rejects(
        store: Store, capture: CaptureContext, tmp_path: Path, kind: str) -> None:
    t = int(T0)
    if kind == "queue_log":
        bad = [line.replace(str(t + 300), "86400", 1) for line in queue_call(t + 300, 5)]
        lines, value, name = [*queue_call(t, 1), *bad], "1970-01-02 00:00:00 UTC", "time"
    elif kind == "cel":
        bad = [line.replace(f"{int(T0) + 300}.", "4102444800.", 1) if n == 0 else line
               for n, line in enumerate(cel_call(T0 + 300, 5))]
        lines, value, name = [*cel_call(T0, 1), *bad], "2100-01-01 00:00:00 UTC", "eventtime"
    else:
        lines = [CSV_HEADER, csv_row("a1"), csv_row("a2", "05/10/1970 10:00:00",
                                                     end="05/10/1970 10:01:00")]
        value, name = "05/10/1970 10:00:00", "arrival"
    import_file(store, capture, kind, write_lines(tmp_path / "in.txt", lines))
    assert {"queue_log": f"{t}.1", "cel": f"{t}.1", "csv": "a1"}[kind] in stored(store)
    reasons = [reason for _, reason, _ in rejects(store)]
    assert _window_reason(name, value, capture) in reasons


@pytest.mark.parametrize("wait", ["nan", "inf", "-inf", "1e300"])
def test_a_wait_that_is_no_number_of_seconds_is_a_reject(
        store: Store, capture: CaptureContext, tmp_path: Path, wait: str) -> None:
    """A wait of 'nan' was stored as answered, with no answer time."""
    lines = [CSV_HEADER, csv_row("a1"), csv_row("a2", wait=wait)]
    result = import_file(store, capture, "csv", write_lines(tmp_path / "export.csv", lines))
    assert set(stored(store)) == {"a1"} and result.rejected == 1
    ((line, reason, _),) = rejects(store)
    assert line == 3 and reason.startswith(f'bad number in wait_seconds: "{wait}"')


def test_the_plausible_window_is_a_setting(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_DIR, directory)
    settings = directory / "settings.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[capture]\n", "[capture]\nplausible_from = 1969-01-01\n"), encoding="utf-8")
    ctx = CaptureContext.create(load_config(directory))
    row = call_rows(1)[0]
    for name in ("start", "answer", "end"):
        row[name] = "1970" + str(row[name])[4:]
    result = cdr_import(store, ctx, write_lines(tmp_path / "Master.csv", [row]))
    assert result.counts.imported == 1 and result.rejected == 0


@pytest.mark.parametrize(("line", "shown", "expected"), [
    ('plausible_from = "last year"', '"last year"', "a date not after today, e.g. 2000-01-01"),
    ("plausible_from = 2999-01-01", '"2999-01-01"', "a date not after today, e.g. 2000-01-01"),
    ("plausible_days_ahead = nan", '"nan"', "a number from 0 to 366"),
    ("plausible_days_ahead = -1", '"-1"', "a number from 0 to 366"),
])
def test_a_wrong_plausible_window_setting_names_the_key(tmp_path: Path, line: str, shown: str,
                                                        expected: str) -> None:
    from config import ConfigError

    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_DIR, directory)
    settings = directory / "settings.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[capture]\n", f"[capture]\n{line}\n"), encoding="utf-8")
    key = line.split(" = ")[0]
    with pytest.raises(ConfigError) as error:
        load_config(directory)
    assert str(error.value) == f"{settings}: key capture.{key} is {shown}; expected {expected}."
