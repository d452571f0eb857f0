"""Hostile and careless input through the importers, on SQLite and PostgreSQL (issue 13): every
bad record is a reject with its line and reason, and one bad record never costs another."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from config import SHIPPED_DIR, load_config
from ingest.batch import SourceFileError, run_batch
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store
from qualiphone.cli import cli
from tests.ingest.hostile_support import (
    A1,
    A2,
    CSV_HEADER,
    T0,
    call_rows,
    cdr_import,
    cel_call,
    csv_row,
    import_file,
    leg,
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
    text = settings.read_text(encoding="utf-8")
    assert "\nplausible_from = 2000-01-01\n" in text
    settings.write_text(text.replace("\nplausible_from = 2000-01-01\n",
                                     "\nplausible_from = 1969-01-01\n"), encoding="utf-8")
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
    key = line.split(" = ")[0]
    text = "\n".join(row for row in settings.read_text(encoding="utf-8").splitlines()
                     if not row.startswith(f"{key} ="))
    settings.write_text(text.replace("[capture]\n", f"[capture]\n{line}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(directory)
    assert str(error.value) == f"{settings}: key capture.{key} is {shown}; expected {expected}."


# --- item 9: a UTF-8 BOM is read by every importer ----------------------------------------

def _two_calls(kind: str) -> tuple[list[str], set[str]]:
    """Lines of two calls of `kind` and their call keys."""
    t = int(T0)
    if kind == "cdr":
        rows = call_rows(2)
        return [render(r) for r in rows], {str(r["uniqueid"]) for r in rows}
    if kind == "queue_log":
        return [*queue_call(t, 1), *queue_call(t + 300, 5)], {f"{t}.1", f"{t + 300}.5"}
    if kind == "cel":
        return [*cel_call(T0, 1), *cel_call(T0 + 300, 5)], {f"{t}.1", f"{t + 300}.5"}
    return [CSV_HEADER, csv_row("a1"), csv_row("a2")], {"a1", "a2"}


KINDS = ["cdr", "queue_log", "cel", "csv"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_utf8_bom_is_read_by_every_importer(store: Store, capture: CaptureContext,
                                              tmp_path: Path, kind: str) -> None:
    """Excel's "CSV UTF-8" and qualiphone's own exports start with a BOM: the generic CSV
    importer lost all 2,000 calls of such a file (header not as mapped), CEL its first call."""
    lines, keys = _two_calls(kind)
    path = write_lines(tmp_path / "in.txt", lines)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = import_file(store, capture, kind, path)
    assert set(stored(store)) == keys and result.rejected == 0


def test_a_utf16_file_is_refused_with_the_fix(store: Store, capture: CaptureContext,
                                              tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([CSV_HEADER, csv_row("a1")]) + "\n", encoding="utf-16")
    with pytest.raises(SourceFileError, match="UTF-16 text: save it as UTF-8"):
        import_file(store, capture, "csv", path)
    assert stored(store) == {} and rejects(store) == []


# --- item 10: compressed files are read; a file of the wrong kind is refused whole --------

@pytest.mark.parametrize("compress", ["gzip", "bz2", "xz"])
def test_a_compressed_rotated_file_is_read_transparently(
        store: Store, capture: CaptureContext, tmp_path: Path, compress: str) -> None:
    """logrotate compresses Master.csv: it was stored as 15,023 binary-garbage rejects."""
    import bz2
    import gzip
    import lzma

    lines, keys = _two_calls("cdr")
    data = write_lines(tmp_path / "Master.csv", lines).read_bytes()
    module = {"gzip": gzip, "bz2": bz2, "xz": lzma}[compress]
    path = tmp_path / f"Master.csv.1.{compress}"
    path.write_bytes(module.compress(data))  # type: ignore[attr-defined]
    result = cdr_import(store, capture, path)
    assert set(stored(store)) == keys and result.rejected == 0 and result.rows_read == 2


def test_a_damaged_gzip_file_is_refused_and_nothing_is_stored(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    import gzip

    lines, _ = _two_calls("cdr")
    data = gzip.compress(write_lines(tmp_path / "Master.csv", lines * 50).read_bytes())
    path = tmp_path / "Master.csv.1.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError, match="gzip file is damaged or incomplete"):
        cdr_import(store, capture, path)
    assert stored(store) == {} and rejects(store) == []


@pytest.mark.parametrize(("kind", "given"), [("cel", "cdr"), ("cdr", "cel"), ("queue_log", "cdr"),
                                             ("cdr", "garbage"), ("cel", "garbage")])
def test_a_file_of_another_kind_is_refused_whole(store: Store, capture: CaptureContext,
                                                 tmp_path: Path, kind: str, given: str) -> None:
    """`ingest cel` on a CDR file stored 97,290 rejects with exit 0."""
    import random

    if given == "garbage":
        rng = random.Random(13)
        data = bytes(rng.randrange(256) for _ in range(60_000))
    else:
        lines, _ = _two_calls(given)
        data = write_lines(tmp_path / "other.txt", lines * 60).read_bytes()
    path = tmp_path / "in.txt"
    path.write_bytes(data)
    with pytest.raises(SourceFileError, match=f"does not read as a {kind} file") as error:
        import_file(store, capture, kind, path)
    assert "nothing was stored" in str(error.value)
    assert stored(store) == {} and rejects(store) == []


def test_cli_refuses_a_file_of_another_kind_with_exit_1(tmp_path: Path) -> None:
    lines, _ = _two_calls("cdr")
    path = write_lines(tmp_path / "Master.csv", lines * 60)
    db = ["--db", f"sqlite:///{tmp_path / 'q.db'}"]
    result = CliRunner().invoke(cli, [*db, "ingest", "cel", str(path)])
    assert result.exit_code == 1
    assert (f"Error: {path}: does not read as a cel file: its first 100 lines were all "
            "rejected") in result.output


def test_cli_imports_the_other_files_when_one_is_refused(tmp_path: Path) -> None:
    lines, keys = _two_calls("cdr")
    good = write_lines(tmp_path / "Master.csv", lines)
    damaged = tmp_path / "Master.csv.1.gz"
    damaged.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    db = f"sqlite:///{tmp_path / 'q.db'}"
    result = CliRunner().invoke(cli, ["--db", db, "ingest", "cdr", str(damaged), str(good)])
    assert result.exit_code == 1
    assert f"{good}: batch 1: read 2 lines, 2 calls: imported 2" in result.output
    assert f"Error: {damaged}: the gzip file is damaged or incomplete" in result.output
    from monitor.store import open_store

    assert set(stored(open_store(db))) == keys


def test_cli_imports_the_other_files_when_the_importer_fails_on_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault of the importer itself on one file (a bug) refuses that file in one line,
    stores nothing of it, and the other files are still imported (exit status 1)."""
    from ingest.columnar.batch import ColumnarImporter

    lines, keys = _two_calls("cdr")
    good = write_lines(tmp_path / "Master.csv", lines)
    bad = write_lines(tmp_path / "Master-bad.csv", lines)
    parse = ColumnarImporter.parse

    def failing(self: ColumnarImporter, path: Path, *args: Any, **kwargs: Any) -> Any:
        if path == bad:
            raise KeyError("text")
        return parse(self, path, *args, **kwargs)

    monkeypatch.setattr(ColumnarImporter, "parse", failing)
    db = f"sqlite:///{tmp_path / 'q.db'}"
    result = CliRunner().invoke(cli, ["--db", db, "ingest", "cdr", str(bad), str(good)])
    assert result.exit_code == 1
    assert f"{good}: batch 1: read 2 lines, 2 calls: imported 2" in result.output
    assert (f"Error: {bad}: the import stopped on an unexpected error (KeyError: 'text'); "
            "nothing of this file was stored, the other files were imported") in result.output
    assert "Traceback" not in result.output
    from monitor.store import open_store

    assert set(stored(open_store(db))) == keys


# --- item 6: a half-written last line is held back until the file grows --------------------

def test_a_half_written_last_line_is_held_back_then_read_whole(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """A line cut after column 16 while Asterisk writes it parsed as a 16-column row: the call
    was stored twice, for good, once the full line arrived. The call the held line may belong
    to (here its id is cut off: the call of the row before it) waits as a reject, so that a
    call whose answering row is still being written is never stored as an abandon."""
    rows = call_rows(3)
    full = render(rows[2])
    cut = ",".join(full.split(",")[:16])
    path = write_lines(tmp_path / "Master.csv", [render(rows[0]), render(rows[1]), cut], end=b"")
    first = cdr_import(store, capture, path)
    assert (first.rows_read, first.calls_seen, first.rejected, first.in_progress) == (2, 1, 1, 1)
    assert first.held is not None and (first.held.number, first.held.size) == (3, len(cut))
    assert set(stored(store)) == {str(rows[0]["uniqueid"])}
    ((line, reason, raw),) = rejects(store)
    assert line == 2 and raw == render(rows[1])
    assert reason.startswith("a row of this call may be the last line of the file, still being "
                             "written (line 3, held back)")
    path.write_bytes(path.read_bytes() + full[len(cut):].encode() + b"\n")
    second = cdr_import(store, capture, path)
    assert (second.rows_read, second.counts.imported, second.counts.duplicates) == (3, 2, 1)
    assert second.held is None
    assert set(stored(store)) == {str(r["uniqueid"]) for r in rows}


def test_held_blanks_hold_back_no_call(store: Store, capture: CaptureContext,
                                       tmp_path: Path) -> None:
    rows = call_rows(2)
    path = write_lines(tmp_path / "Master.csv", [render(rows[0]), render(rows[1]), "  "],
                       end=b"")
    result = cdr_import(store, capture, path)
    assert result.held is None and result.rejected == 0  # blanks: a blank line, not held
    assert set(stored(store)) == {str(r["uniqueid"]) for r in rows}


def test_a_held_row_whose_id_is_written_waits_with_its_own_call(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """When the held line already shows its call's id, that call waits, not the one before."""
    rows = call_rows(3)
    rows[2]["linkedid"] = rows[0]["linkedid"]  # the held row is a second row of the first call
    full = render(rows[2])
    cut = full[:full.rindex(",") + 1]  # everything but the last column is written
    path = write_lines(tmp_path / "Master.csv", [render(rows[0]), render(rows[1]), cut], end=b"")
    result = cdr_import(store, capture, path)
    assert set(stored(store)) == {str(rows[1]["uniqueid"])}
    assert [line for line, _, _ in rejects(store)] == [1] and result.in_progress == 1


def test_a_cut_last_line_of_a_compressed_file_is_a_reject(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """A rotated file no longer grows: its cut last line is kept as a reject, never read as a
    short row."""
    import gzip

    rows = call_rows(2)
    cut = ",".join(render(rows[1]).split(",")[:16])
    data = write_lines(tmp_path / "Master.csv", [render(rows[0]), cut], end=b"").read_bytes()
    path = tmp_path / "Master.csv.1.gz"
    path.write_bytes(gzip.compress(data))
    result = cdr_import(store, capture, path)
    assert set(stored(store)) == {str(rows[0]["uniqueid"])} and result.held is None
    assert rejects(store) == [(2, "the last line has no end of line: it was cut while the PBX "
                                  "wrote it, and a compressed (rotated) file does not grow",
                               cut)]


def test_cli_says_which_line_is_held_back(tmp_path: Path) -> None:
    rows = call_rows(2)
    path = write_lines(tmp_path / "Master.csv", [render(rows[0]), render(rows[1])[:40]],
                       end=b"")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "cdr",
                                      str(path)])
    assert result.exit_code == 0, result.output
    assert ("  held back line 2 (40 bytes): it has no end of line yet (the PBX is writing it); "
            "it is read when the file is imported again after it grows (if the file is "
            "complete, end it with a newline)") in result.output


# --- item 8: the CDR import streams: memory does not grow with the file ---------------------

def _peak_import(store: Store, capture: CaptureContext, path: Path) -> int:
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        cdr_import(store, capture, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_cdr_import_memory_does_not_grow_with_the_file(
        capture: CaptureContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 414 MB Master.csv peaked at 1.85 GB: every row, group and call was held until the
    write. Now rows are grouped as soon as a call's last row is read, and calls wait for the
    write on disk (the in-memory share of that spool is made small here). Peak Python memory
    (tracemalloc) of importing 8,000 calls is compared with 2,000, after a first import that
    warms the caches: it was 3.6 times as much before."""
    import ingest.batch as batch

    monkeypatch.setattr(batch, "SPOOL_ITEMS", 200, raising=False)
    long_dial = "PJSIP/eps05-0502&" * 120  # 2 kB of Dial() arguments: memory is rows' text
    peaks = []
    for name, n in (("warm", 50), ("small", 2_000), ("big", 8_000)):
        path = write_lines(tmp_path / f"{name}.csv", call_rows(n, step=60, lastdata=long_dial))
        store = open_store(f"sqlite:///{tmp_path / name}.db")
        peaks.append(_peak_import(store, capture, path))
        store.dispose()
    assert peaks[2] < 1.5 * peaks[1], peaks


def test_rows_of_one_call_far_apart_in_the_file_are_still_one_call(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """The streaming grouping is exact: a call's caller row written 3,000 lines after its
    first leg (a long call) still joins it."""
    long_call = [leg(A1, end=12, seq=1), leg(A2, answer=12, end=9000, seq=2)]
    fillers = call_rows(3_000, start=100, step=3)
    path = write_lines(tmp_path / "Master.csv", [long_call[0], *fillers, long_call[1]])
    result = cdr_import(store, capture, path)
    calls = stored(store)
    assert result.counts.imported == 3_001 and result.rejected == 0
    call = calls[str(long_call[0]["uniqueid"])]
    assert (call.answer - call.arrival, call.end_time - call.arrival) == (12.0, 9000.0)


# --- item 7: two calls sharing an id are told apart, not merged -----------------------------

def test_two_cdr_calls_sharing_a_uniqueid_are_stored_apart(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """Two calls 1 h 48 apart with the same uniqueid became one call of 1 h 48."""
    first = [leg(A1, end=12, seq=1), leg(A2, answer=12, end=200, seq=2)]
    later = leg(A2, start=6480, answer=6490, end=6540, seq=3)  # 11:48, same uniqueid
    path = write_lines(tmp_path / "Master.csv", [first[0], later, first[1]])
    result = cdr_import(store, capture, path)
    uid = str(first[0]["uniqueid"])
    calls = stored(store)
    assert set(calls) == {uid, f"{uid}@{int(T0) + 6480}"} and result.rejected == 0
    assert calls[uid].end_time - calls[uid].arrival == 200
    other = calls[f"{uid}@{int(T0) + 6480}"]
    assert (other.arrival, other.answer - other.arrival) == (T0 + 6480, 10.0)
    assert result.counts.split == 1 and result.split_examples == [
        (2, uid, f"{uid}@{int(T0) + 6480}")]


def test_generic_csv_rows_sharing_a_key_are_stored_apart_exact_copies_are_duplicates(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    lines = [CSV_HEADER, csv_row("a1"), csv_row("a1", "05/10/2026 10:30:00",
                                                 end="05/10/2026 10:34:00"), csv_row("a1")]
    result = import_file(store, capture, "csv", write_lines(tmp_path / "export.csv", lines))
    later = int(dt.datetime(2026, 10, 5, 8, 30, tzinfo=dt.UTC).timestamp())
    assert set(stored(store)) == {"a1", f"a1@{later}"}
    assert (result.counts.imported, result.counts.duplicates, result.counts.split) == (2, 1, 1)
    again = tmp_path / "again.csv"  # the same calls again: nothing new
    write_lines(again, [*lines, ""])
    second = import_file(store, capture, "csv", again)
    assert (second.counts.imported, second.counts.duplicates) == (0, 3)


def test_a_cel_linkedid_reused_after_its_end_is_another_call(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    reused = [line.replace(f"{T0 + 3600:.6f}"[:10], f"{int(T0) + 3600}")
              for line in cel_call(T0 + 3600, 1)]
    reused = [line.replace(f'"{int(T0) + 3600}.1"', f'"{int(T0)}.1"') for line in reused]
    result = import_file(store, capture, "cel", write_lines(tmp_path / "cel.csv",
                                                             [*cel_call(T0, 1), *reused]))
    assert set(stored(store)) == {f"{int(T0)}.1", f"{int(T0)}.1@{int(T0) + 3600}"}
    assert result.counts.split == 1


def test_a_call_of_another_file_with_the_same_id_is_stored_apart(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """Across batches (Asterisk restarted without systemname and reused a uniqueid)."""
    (row,) = call_rows(1)
    cdr_import(store, capture, write_lines(tmp_path / "one.csv", [row]))
    moved = row | {k: str(row[k]).replace("2026-10-05", "2026-10-06") for k in
                   ("start", "answer", "end")}
    result = cdr_import(store, capture, write_lines(tmp_path / "two.csv", [moved]))
    uid = str(row["uniqueid"])
    assert set(stored(store)) == {uid, f"{uid}@{int(T0) + 86400}"}
    assert (result.counts.imported, result.counts.merged, result.counts.split) == (1, 0, 1)


def test_cli_says_which_calls_were_stored_apart(tmp_path: Path) -> None:
    lines = [CSV_HEADER, csv_row("a1"), csv_row("a1", "05/10/2026 10:30:00",
                                                 end="05/10/2026 10:34:00")]
    path = write_lines(tmp_path / "export.csv", lines)
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "csv",
                                      "--mapping", "example-export", str(path)])
    later = int(dt.datetime(2026, 10, 5, 8, 30, tzinfo=dt.UTC).timestamp())
    assert result.exit_code == 0, result.output
    assert ("  1 call had the id of another call (another arrival): stored apart as ID@ARRIVAL, "
            f'e.g. line 3: "a1" -> "a1@{later}"; two calls of the PBX share an id') in result.output


# --- item 10: a batch can be dropped, and the calls it merged into come back -----------------

def _rows_of(store: Store) -> dict[str, dict[str, object]]:
    import sqlalchemy as sa

    from monitor.store.models import calls

    with store.engine.connect() as conn:
        return {r.call_key: {k: v for k, v in r._mapping.items() if k != "id"}
                for r in conn.execute(sa.select(calls))}


def _count(store: Store, table: object, batch: int) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)  # type: ignore[arg-type]
                                .where(table.c.batch_id == batch)).scalar_one())  # type: ignore[attr-defined]


def test_drop_removes_a_batch_calls_rejects_and_misses(store: Store, capture: CaptureContext,
                                                       tmp_path: Path) -> None:
    from ingest.batch import drop_batch
    from monitor.store.models import directory_misses, rejected_records

    good, stranger = call_rows(2)
    stranger.update(dst="0188888888", dcontext="from-trunk")  # a DID of no site: a reject
    path = write_lines(tmp_path / "Master.csv", [good, '"only","three","columns"', stranger])
    first = cdr_import(store, capture, path)
    assert first.rejected == 2 and _count(store, directory_misses, first.batch_id) == 1
    dropped = drop_batch(store, first.batch_id)
    assert (dropped.removed, dropped.restored, dropped.rejects, dropped.misses) == (1, 0, 2, 1)
    assert stored(store) == {} and rejects(store) == []
    assert _count(store, rejected_records, first.batch_id) == 0
    again = cdr_import(store, capture, path)  # a dropped file is imported anew
    assert again.skipped_as is None and again.counts.imported == 1


@pytest.mark.parametrize("dropped", ["cel", "cdr"])
def test_drop_gives_back_the_calls_the_batch_merged_into(
        store: Store, capture: CaptureContext, tmp_path: Path, dropped: str,
        sqlite_store: Store) -> None:
    """A call stored by CDR then merged by CEL (the CEL timing wins): dropping the CEL batch
    gives back the CDR call exactly; dropping the CDR batch leaves the call as CEL alone gives
    it. A call only the dropped batch gave is gone."""
    from ingest.batch import drop_batch

    shared = call_rows(1)[0] | {"uniqueid": f"{int(T0)}.1", "linkedid": f"{int(T0)}.1"}
    cdr_path = write_lines(tmp_path / "Master.csv", [shared])
    cel_path = write_lines(tmp_path / "cel.csv", [*cel_call(T0, 1), *cel_call(T0 + 600, 7)])
    order = [("cdr", cdr_path), ("cel", cel_path)]
    alone = sqlite_store  # the other source imported alone, for comparison
    kept = next((kind, path) for kind, path in order if kind != dropped)
    import_file(alone, capture, *kept)
    expected = _rows_of(alone)
    batches = {kind: import_file(store, capture, kind, path).batch_id for kind, path in order}
    merged = _rows_of(store)
    assert merged[f"{int(T0)}.1"]["sources"] == 2 | 8 and len(merged) == 2
    result = drop_batch(store, batches[dropped])
    assert _rows_of(store) == expected
    assert (result.removed, result.restored) == ((1, 1) if dropped == "cel" else (0, 1))


def test_drop_refuses_what_it_cannot_undo(store: Store, capture: CaptureContext,
                                          tmp_path: Path) -> None:
    import sqlalchemy as sa

    from ingest.batch import BatchError, drop_batch
    from monitor.store.models import call_contributions, import_batches

    with pytest.raises(BatchError, match='no import batch 99; list them: qualiphone store batches'):
        drop_batch(store, 99)
    batch = cdr_import(store, capture, write_lines(tmp_path / "Master.csv", call_rows(1))).batch_id
    drop_batch(store, batch)
    with pytest.raises(BatchError, match=f"batch {batch} is already dropped"):
        drop_batch(store, batch)
    old = cdr_import(store, capture, write_lines(tmp_path / "old.csv", call_rows(1))).batch_id
    with store.engine.begin() as conn:  # as if imported before the store kept contributions
        conn.execute(sa.update(call_contributions).where(call_contributions.c.batch_id == old)
                     .values(batch_id=None))
        session = conn.execute(sa.insert(import_batches).values(
            kind="ami", pbx="paris-eps", path="ami://pbx:5038", checksum="session-1", size=0,
            started_at=0.0, status="live", rows_read=0, calls_seen=0, imported=0, merged=0,
            duplicates=0, rejected=0).returning(import_batches.c.id)).scalar_one()
    with pytest.raises(BatchError, match=f"batch {old} was imported before qualiphone kept"):
        drop_batch(store, old)
    with pytest.raises(BatchError, match=f"batch {session} is a listener session"):
        drop_batch(store, session)


def test_cli_drop_asks_then_says_what_it_did(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "Master.csv", [*call_rows(2), '"bad"'])
    db = ["--db", f"sqlite:///{tmp_path / 'q.db'}"]
    runner = CliRunner()
    assert runner.invoke(cli, [*db, "ingest", "cdr", str(path)]).exit_code == 0
    kept = runner.invoke(cli, [*db, "ingest", "drop", "--batch", "1"], input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert (f"Drop batch 1 (cdr, {path}: 2 calls imported, 0 merged, 1 rejected)? [y/N]"
            in kept.output)
    done = runner.invoke(cli, [*db, "ingest", "drop", "--batch", "1", "--yes"])
    assert done.exit_code == 0, done.output
    assert done.output == (f"batch 1 ({path}) dropped: 2 calls removed, 0 calls restored as the "
                           "other batches give them, 1 rejected records and 0 directory misses "
                           "removed\n")
    again = runner.invoke(cli, [*db, "ingest", "drop", "--batch", "1", "--yes"])
    assert again.exit_code == 1 and "Error: batch 1 is already dropped" in again.output


def test_a_reclassified_call_stays_reclassified_when_a_batch_is_dropped(
        store: Store, tmp_path: Path) -> None:
    """`sites reclassify` changes stored calls; what the batches gave must change with them,
    or dropping another batch would bring the old outcome back."""
    import dataclasses

    import sqlalchemy as sa

    from ingest.reclassify import reclassify
    from monitor.call import Outcome, Source
    from monitor.store.contributions import drop
    from monitor.store.models import calls
    from monitor.store.writer import write_calls
    from tests.monitor.test_writer import BASE

    unknown = dataclasses.replace(BASE, outcome=Outcome.UNKNOWN_DEVICE, answered_by="PJSIP/999")
    cel = dataclasses.replace(unknown, source=Source.CEL, arrival=BASE.arrival + 0.2,
                              resolution=1e-6)
    with store.engine.begin() as conn:
        write_calls(conn, [unknown], batch_id=1)
        write_calls(conn, [cel], batch_id=2)
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_DIR, directory)
    sites = directory / "sites.toml"
    sites.write_text(sites.read_text(encoding="utf-8").replace(
        '"PJSIP/eps05-*"', '"PJSIP/eps05-*", "PJSIP/999"'), encoding="utf-8")
    assert reclassify(store.engine, load_config(directory)) == {("unknown_device", "answered"): 1}
    with store.engine.begin() as conn:
        drop(conn, 2)
        row = conn.execute(sa.select(calls)).one()
    assert (row.outcome, row.arrival, row.time_to_answer) == ("answered", BASE.arrival, 15.0)


def test_purge_removes_what_the_batches_gave_the_purged_calls(tmp_path: Path) -> None:
    """Contributions keep caller pseudonyms: a retention purge must remove them with the calls."""
    import sqlalchemy as sa

    from monitor.store.models import call_contributions, contribution_batches

    db = f"sqlite:///{tmp_path / 'q.db'}"
    path = write_lines(tmp_path / "Master.csv", call_rows(2))
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "ingest", "cdr", str(path)]).exit_code == 0
    out = runner.invoke(cli, ["--db", db, "store", "purge", "--older-than", "1"], input="y\n")
    assert out.exit_code == 0, out.output
    store = open_store(db)
    with store.engine.connect() as conn:
        left = [conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (call_contributions, contribution_batches)]
    store.dispose()
    assert left == [0, 0]


@pytest.mark.parametrize("first", [1, 2])
def test_drop_keeps_what_another_import_of_the_same_calls_gave(
        store: Store, capture: CaptureContext, tmp_path: Path, first: int) -> None:
    """A grown file imported again writes its calls again (the same rows: kept once, with a
    link per batch). Dropping either import keeps the calls the other one has."""
    from ingest.batch import drop_batch

    rows = call_rows(3)
    path = write_lines(tmp_path / "Master.csv", rows[:2])
    one = cdr_import(store, capture, path).batch_id
    write_lines(path, rows)  # the file grew
    two = cdr_import(store, capture, path).batch_id
    before = _rows_of(store)
    batches = {1: one, 2: two}
    dropped = drop_batch(store, batches[first])
    left = {str(r["uniqueid"]) for r in (rows if first == 1 else rows[:2])}
    assert set(_rows_of(store)) == left
    assert all(_rows_of(store)[key] == before[key] for key in left)
    assert (dropped.removed, dropped.restored) == ((0, 2) if first == 1 else (1, 2))
    drop_batch(store, batches[3 - first])
    assert stored(store) == {}


@pytest.mark.parametrize("reference", [False, True])
def test_an_import_aborted_by_a_deadlock_is_written_again(
        store: Store, capture: CaptureContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        reference: bool) -> None:
    """PostgreSQL aborts one of two imports that wait for each other (deadlock detected,
    40P01): the aborted one is written again, whole, not lost."""
    import sqlalchemy as sa

    import monitor.store.bulk as bulk
    from ingest import batch as batch_module
    from ingest.cdr import parse_cdr
    from ingest.columnar.cdr import ColumnarCdr

    class Deadlock(Exception):
        sqlstate = "40P01"

    calls_made = []
    write_frame, write_rows = bulk.write_frame, batch_module.write_rows

    def failing_once(real):  # type: ignore[no-untyped-def]
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls_made.append(1)
            if len(calls_made) == 1:
                raise sa.exc.OperationalError("INSERT …", {}, Deadlock("deadlock detected"))
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(batch_module.time, "sleep", lambda _s: None)
    if reference:
        monkeypatch.setattr(batch_module, "write_rows", failing_once(write_rows))
    else:
        monkeypatch.setattr(bulk, "write_frame", failing_once(write_frame))
    rows = call_rows(3)
    path = write_lines(tmp_path / "Master.csv", rows)
    parser = parse_cdr if reference else ColumnarCdr()
    result = run_batch(store, "cdr", path, parser, capture)  # type: ignore[arg-type]
    assert result.counts.imported == 3 and len(calls_made) >= 2
    assert set(stored(store)) == {str(r["uniqueid"]) for r in rows}


def test_an_import_failing_for_another_reason_is_not_written_again(
        store: Store, capture: CaptureContext, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    import monitor.store.bulk as bulk
    from ingest.columnar.cdr import ColumnarCdr

    class DiskFull(Exception):
        sqlstate = "53100"

    attempts = []

    def full(*_args: object, **_kwargs: object) -> None:
        attempts.append(1)
        raise sa.exc.OperationalError("INSERT …", {}, DiskFull("could not extend file"))

    monkeypatch.setattr(bulk, "write_frame", full)
    path = write_lines(tmp_path / "Master.csv", call_rows(2))
    with pytest.raises(sa.exc.OperationalError, match="could not extend file"):
        run_batch(store, "cdr", path, ColumnarCdr(), capture)
    assert len(attempts) == 1 and stored(store) == {}


def test_cli_says_in_one_line_when_the_store_refuses_an_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error the import cannot get past (the disk is full): one line naming the
    driver's reason and that nothing was saved, exit status 1, no traceback."""
    import sqlalchemy as sa

    import monitor.store.bulk as bulk

    class DiskFull(Exception):
        sqlstate = "53100"

    def full(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO calls …", {"caller": "+33612345678"},
                                      DiskFull("could not extend file: No space left on device"))

    monkeypatch.setattr(bulk, "write_frame", full)
    path = write_lines(tmp_path / "Master.csv", call_rows(2))
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "cdr",
                                      str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: the store refused the operation: could not extend file: No space left on "
        "device. Nothing of it was saved (its transaction was rolled back); fix the cause (disk "
        "space, permissions, the database server) and run it again")
    assert "+33612345678" not in result.output and "Traceback" not in result.output


def test_cli_says_when_another_process_holds_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    import sqlalchemy as sa

    import monitor.store.bulk as bulk

    def locked(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT …", {}, sqlite3.OperationalError(
            "database is locked"))

    monkeypatch.setattr(bulk, "write_frame", locked)
    path = write_lines(tmp_path / "Master.csv", call_rows(2))
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest", "cdr",
                                      str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith(
        "database is locked. Nothing of it was saved (its transaction was rolled back); another "
        "process holds the store (an import, a purge): run it again when that has finished")
