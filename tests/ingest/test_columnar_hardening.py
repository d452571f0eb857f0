"""The columnar importers follow the importer hardening rules exactly as the reference does:
each case is imported by both paths (run_batch) into SQLite and PostgreSQL, and the stored
tables, contributions and batch results must be the same; a columnar batch can be dropped."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingest.batch import BatchResult, FileParser, drop_batch, run_batch
from ingest.columnar.batch import ColumnarImporter
from ingest.columnar.cdr import ColumnarCdr
from ingest.columnar.cel import ColumnarCel
from ingest.columnar.queue_log import ColumnarQueueLog
from ingest.finalize import CaptureContext
from ingest.lines import SourceFileError
from monitor.store import Store, open_store
from monitor.store.models import call_contributions, calls
from tests.ingest.columnar_support import stored
from tests.ingest.hostile_support import (
    A1,
    A2,
    T0,
    call_rows,
    cel_call,
    leg,
    parser_for,
    queue_call,
    write_lines,
)
from tests.ingest.test_cdr import render

COLUMNAR: dict[str, type[ColumnarImporter]] = {
    "cdr": ColumnarCdr, "cel": ColumnarCel, "queue_log": ColumnarQueueLog}


def _calls(kind: str, n: int = 40) -> list[str]:
    """Lines of `n` calls of `kind`, enough for the fast path to read them itself."""
    t = int(T0)
    if kind == "cdr":
        return [render(r) for r in call_rows(n)]
    if kind == "queue_log":
        return [line for i in range(n) for line in queue_call(t + 300 * i, i + 1)]
    return [line for i in range(n) for line in cel_call(T0 + 300 * i, i + 1)]


def _result(result: BatchResult) -> tuple[Any, ...]:
    return (result.rows_read, result.calls_seen, result.rejected, result.replaced,
            result.skipped, dict(result.skipped_reasons), result.held, result.counts.imported,
            result.counts.merged, result.counts.duplicates, result.counts.split,
            result.split_examples)


def _contributions(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(
            call_contributions.c.pbx, call_contributions.c.call_key,
            call_contributions.c.digest)))


def both(kind: str, path: Path, capture: CaptureContext, store: Store,
         tmp_path: Path) -> tuple[BatchResult, ColumnarImporter]:
    """Import `path` by the reference into a SQLite store of its own and by the columnar
    importer into `store`: the same tables, contributions and batch result."""
    reference = open_store(f"sqlite:///{tmp_path / f'reference-{path.name}.db'}")
    try:
        expected = run_batch(reference, kind, path, parser_for(kind), capture)
        fast = COLUMNAR[kind]()
        got = run_batch(store, kind, path, fast, capture)
        assert _result(got) == _result(expected)
        assert stored(store) == stored(reference)
        assert _contributions(store) == _contributions(reference)
    finally:
        reference.dispose()
    return got, fast


@pytest.mark.parametrize("kind", list(COLUMNAR))
@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", b"1700000000|cut while writ", "gzip"],
                         ids=["empty", "blank", "held-only", "empty-gzip"])
def test_an_empty_file_is_read_like_the_reference(
        store: Store, capture: CaptureContext, tmp_path: Path, kind: str,
        content: bytes | str) -> None:
    """A file with no complete line (just rotated, emptied, or its first line still being
    written) imports nothing, as the reference: no crash, the next file still imported."""
    path = tmp_path / ("in.gz" if content == "gzip" else "in.txt")
    path.write_bytes(gzip.compress(b"") if content == "gzip" else content)  # type: ignore[arg-type]
    result, _ = both(kind, path, capture, store, tmp_path)
    assert result.counts.imported == 0 and result.calls_seen == 0
    after = write_lines(tmp_path / "next.txt", _calls(kind))
    assert run_batch(store, kind, after, COLUMNAR[kind](), capture).counts.imported == 40


@pytest.mark.parametrize("kind", list(COLUMNAR))
@pytest.mark.parametrize("compress", ["gzip", "bz2"])
def test_a_compressed_file_is_read_like_the_reference(
        store: Store, capture: CaptureContext, tmp_path: Path, kind: str, compress: str) -> None:
    """A rotated file is read by the fast path itself, its cut last line kept as a reject."""
    lines = _calls(kind)
    plain = write_lines(tmp_path / "plain.txt", lines, end=b"\n")
    data = plain.read_bytes() + lines[0][:30].encode()  # cut while it was written
    path = tmp_path / f"in.{compress}"
    path.write_bytes(gzip.compress(data) if compress == "gzip" else bz2.compress(data))
    result, fast = both(kind, path, capture, store, tmp_path)
    assert result.rejected == 1 and result.calls_seen == 40 and not fast.whole_reference


@pytest.mark.parametrize("restart_at", [0, 10, 39])
def test_callers_cut_off_by_a_restart_are_read_like_the_reference(
        store: Store, capture: CaptureContext, tmp_path: Path, restart_at: int) -> None:
    """A QUEUESTART (the PBX restarted) closes the callers still waiting: rejects that no grown
    file completes (not "in progress"); the callers before and after it are calls."""
    lines = _calls("queue_log")
    t = int(T0)
    waiting = [f"{t + 300 * restart_at + 100}|{t}.999|std-05|NONE|ENTERQUEUE||0612345678|1",
               f"{t + 300 * restart_at + 160}|NONE|NONE|NONE|QUEUESTART|"]
    cut = 3 * restart_at + 3  # queue_call writes 3 lines a caller
    path = write_lines(tmp_path / "queue_log", lines[:cut] + waiting + lines[cut:])
    result, _ = both("queue_log", path, capture, store, tmp_path)
    assert result.counts.imported == 40 and result.rejected == 1 and result.in_progress == 0


@pytest.mark.parametrize("after", ["ABANDON|1|1|147", "COMPLETECALLER|14|147|1"])
def test_a_caller_with_lines_on_both_sides_of_a_restart_is_read_like_the_reference(
        store: Store, capture: CaptureContext, tmp_path: Path, after: str) -> None:
    """(Concatenated logs, or a clock set back.) The reference closes the caller at the
    QUEUESTART and reads its later lines as another; the columnar importer leaves such a
    caller to it."""
    t = int(T0) + 300 * 40
    cid = f"{t}.777"
    agent = "PJSIP/eps05-0501" if after.startswith("COMPLETE") else "NONE"
    odd = [f"{t + 1}|{cid}|std-05|NONE|ENTERQUEUE||0612345678|1",
           *([f"{t + 15}|{cid}|std-05|{agent}|CONNECT|14|{t}.778|14"]
             if after.startswith("COMPLETE") else []),
           f"{t + 100}|NONE|NONE|NONE|QUEUESTART|",
           f"{t + 162}|{cid}|std-05|{agent}|{after}"]
    path = write_lines(tmp_path / "queue_log", _calls("queue_log") + odd)
    both("queue_log", path, capture, store, tmp_path)


@pytest.mark.parametrize("kind", list(COLUMNAR))
@pytest.mark.parametrize("compress", [None, "gzip"])
def test_a_last_line_of_blanks_is_a_blank_line(store: Store, capture: CaptureContext,
                                               tmp_path: Path, kind: str,
                                               compress: str | None) -> None:
    """The spaces psql ends its output with (no end of line) are no line being written: nothing
    is held back nor cut, in both importers."""
    lines = _calls(kind)
    data = write_lines(tmp_path / "plain.txt", lines).read_bytes() + b"    "
    path = tmp_path / ("in.gz" if compress else "in.txt")
    path.write_bytes(gzip.compress(data) if compress else data)
    result, _ = both(kind, path, capture, store, tmp_path)
    assert result.held is None and result.rejected == 0
    assert result.rows_read == len(lines) + 1 and result.counts.imported == 40


@pytest.mark.parametrize("kind", list(COLUMNAR))
@pytest.mark.parametrize("whole_rows", [20_000, 3])
def test_a_bom_and_a_half_written_last_line(store: Store, capture: CaptureContext,
                                            tmp_path: Path, kind: str, whole_rows: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """(`whole_rows`: the reference's whole-file parse turns its calls into columns a few at
    a time, as it does for a large file, with the same result.)"""
    import ingest.columnar.batch as columnar

    monkeypatch.setattr(columnar, "WHOLE_ROWS", whole_rows)
    lines = _calls(kind)
    path = write_lines(tmp_path / "in.txt", lines)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + lines[0][:30].encode())
    result, fast = both(kind, path, capture, store, tmp_path)
    assert result.held is not None and result.held.number == len(lines) + 1
    if kind == "cdr":  # the call the held row may complete waits (ingest.cdr.HELD_ROW)
        assert result.rejected == result.in_progress == 1 and fast.whole_reference
    else:
        assert result.rejected == 0 and not fast.whole_reference


@pytest.mark.parametrize(("kind", "given"), [("cel", "cdr"), ("cdr", "cel"), ("queue_log", "cdr")])
def test_a_file_of_another_kind_is_refused_the_same_way(
        store: Store, capture: CaptureContext, tmp_path: Path, kind: str, given: str) -> None:
    path = write_lines(tmp_path / "other.txt", _calls(given) * 4)
    with pytest.raises(SourceFileError) as expected:
        run_batch(open_store(f"sqlite:///{tmp_path / 'ref.db'}"), kind, path, parser_for(kind),
                  capture)
    with pytest.raises(SourceFileError) as got:
        run_batch(store, kind, path, COLUMNAR[kind](), capture)
    assert str(got.value) == str(expected.value)
    assert stored(store)["calls"] == [] and stored(store)["batches"] == []


def test_values_the_store_refuses_are_rejects(store: Store, capture: CaptureContext,
                                              tmp_path: Path) -> None:
    """A NUL byte, a 149-character uniqueid, a dialed number longer than the store keeps: the
    same calls stored and the same reject as the reference, on SQLite and PostgreSQL."""
    rows = call_rows(45)
    rows[1]["clid"] = '"DUP@NT" <0612345678>'
    rows[2]["uniqueid"] = rows[2]["linkedid"] = "s" * 136 + f"-{int(T0) + 600}.2"
    rows[3]["dst"] = "4" * 40
    rows[4]["dst"] = "5" * 200
    path = write_lines(tmp_path / "Master.csv", [*rows[:5], '"only","thr\x00ee","columns"',
                                                 *rows[5:]])
    path.write_bytes(path.read_bytes().replace(b"DUP@NT", b"DUP\x00NT"))
    result, fast = both("cdr", path, capture, store, tmp_path)
    assert result.rejected == 2 and result.replaced == 2 and not fast.whole_reference
    assert any("dialed number is 200 characters long" in r[1] for r in stored(store)["rejects"])


def test_calls_sharing_a_key_are_stored_apart(store: Store, capture: CaptureContext,
                                              tmp_path: Path) -> None:
    first = [leg(A1, end=12, seq=1), leg(A2, answer=12, end=200, seq=2)]
    later = leg(A2, start=6480, answer=6490, end=6540, seq=3)  # 11:48, same uniqueid
    others = call_rows(40, start=20_000)
    path = write_lines(tmp_path / "Master.csv", [first[0], later, first[1], *others])
    result, fast = both("cdr", path, capture, store, tmp_path)
    assert result.counts.split == 1 and len(result.split_examples) == 1
    assert not fast.whole_reference
    # the same file under another name after a PBX restart: every call is another call
    again = write_lines(tmp_path / "again.csv", [render(r) for r in call_rows(40, start=90_000)])
    text = again.read_text(encoding="utf-8")
    for old, new in zip(call_rows(40, start=90_000), others, strict=True):
        text = text.replace(str(old["uniqueid"]), str(new["uniqueid"]))
    again.write_text(text, encoding="utf-8")
    assert run_batch(store, "cdr", again, ColumnarCdr(), capture).counts.split == 40


def _table(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return sorted(tuple(r)[1:] for r in conn.execute(sa.select(calls)))


def test_a_columnar_batch_is_dropped_like_any_other(store: Store, capture: CaptureContext,
                                                    tmp_path: Path) -> None:
    """Import with the columnar importer, drop: the store is as before. CDR then CEL, both
    columnar, drop CEL: the CDR calls are given back exactly."""
    before_path = write_lines(tmp_path / "before.csv", [render(r) for r in call_rows(5, start=50_000)])
    run_batch(store, "cdr", before_path, ColumnarCdr(), capture)
    before = _table(store)
    shared = [r | {"uniqueid": f"{int(T0) + 300 * i}.{i + 1}",
                   "linkedid": f"{int(T0) + 300 * i}.{i + 1}"}
              for i, r in enumerate(call_rows(40))]
    cdr_path = write_lines(tmp_path / "Master.csv", [render(r) for r in shared])
    cdr = run_batch(store, "cdr", cdr_path, ColumnarCdr(), capture)
    assert cdr.counts.imported == 40
    with_cdr = _table(store)
    cel_path = write_lines(tmp_path / "cel.csv", _calls("cel"))
    fast_cel = ColumnarCel()
    cel = run_batch(store, "cel", cel_path, fast_cel, capture)
    assert cel.counts.merged == 40 and not fast_cel.whole_reference
    assert _table(store) != with_cdr
    assert cel.batch_id is not None and cdr.batch_id is not None
    dropped = drop_batch(store, cel.batch_id)
    assert (dropped.removed, dropped.restored) == (0, 40)
    assert _table(store) == with_cdr
    drop_batch(store, cdr.batch_id)
    assert _table(store) == before


def test_a_columnar_parser_is_a_file_parser() -> None:
    assert all(isinstance(cls(), FileParser) for cls in COLUMNAR.values())


# --- the columnar importers are the default; --reference, and large files, stream ----------

def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the columnar importers parse (as columns) from now on."""
    seen: list[str] = []
    parse = ColumnarImporter.parse

    def recording(self: ColumnarImporter, path: Path, *args: Any, **kwargs: Any) -> Any:
        seen.append(path.name)
        return parse(self, path, *args, **kwargs)

    monkeypatch.setattr(ColumnarImporter, "parse", recording)
    return seen


@pytest.mark.parametrize(("kind", "command"), [("cdr", "cdr"), ("queue_log", "queue-log"),
                                               ("cel", "cel")])
def test_the_cli_reads_as_columns_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              kind: str, command: str) -> None:
    from click.testing import CliRunner

    from qualiphone.cli import cli

    seen = _recorded(monkeypatch)
    runs = {"default": ([], {}), "flag": (["--reference"], {}),
            "env": ([], {"QUALIPHONE_REFERENCE_IMPORT": "1"}),
            "old flag": (["--columnar"], {})}
    for name, (options, env) in runs.items():
        path = write_lines(tmp_path / f"{name}.txt", _calls(kind, 3))
        db = ["--db", f"sqlite:///{tmp_path / f'{name}.db'}"]
        result = CliRunner().invoke(cli, [*db, "ingest", command, *options, str(path)], env=env)
        assert result.exit_code == 0, result.output
        assert "3 calls: imported 3" in result.output
    assert seen == ["default.txt", "old flag.txt"]


@pytest.mark.parametrize("compress", [None, "gzip", "bz2"])
def test_a_file_too_large_for_memory_is_streamed(
        sqlite_store: Store, capture: CaptureContext, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, compress: str | None) -> None:
    """Above the memory budget's limit (bytes of file, uncompressed) the reference reads the
    file, streaming: the same result, and the columnar parse is never run."""
    import ingest.columnar.batch as columnar

    seen = _recorded(monkeypatch)
    data = write_lines(tmp_path / "plain.csv", _calls("cdr")).read_bytes()
    path = tmp_path / "Master.csv"
    path.write_bytes({None: data, "gzip": gzip.compress(data) if compress == "gzip" else b"",
                      "bz2": bz2.compress(data) if compress == "bz2" else b""}[compress])
    monkeypatch.setattr(columnar, "columnar_limit", lambda budget: len(data) - 1)
    assert run_batch(sqlite_store, "cdr", path, ColumnarCdr(), capture).counts.imported == 40
    assert seen == []
    monkeypatch.setattr(columnar, "columnar_limit", lambda budget: len(data))
    assert run_batch(sqlite_store, "cdr", path, ColumnarCdr(), capture, again=True) \
        .counts.duplicates == 40
    assert seen == ["Master.csv"]


def test_non_blank_lines_are_counted_like_the_line_reader(tmp_path: Path) -> None:
    """The refusal check's count of non-blank lines, read in blocks, is LineReader's for ASCII
    (white space, controls str.isspace() counts, NUL) and never more than it otherwise."""
    from ingest.columnar.lines import FileLines
    from ingest.lines import LineReader

    lines = [b"abc", b"", b"  \t", b"\x1c\x1f ", b"\x00", b" x ", b"\xc2\xa0", b"\xe9t\xe9", b"\r"]
    path = tmp_path / "lines.txt"
    path.write_bytes(b"\n".join(lines * 7) + b"\n")
    reader = LineReader(path)
    counts = [reader.nonblank for _ in reader]
    ours = FileLines.of(path.read_bytes())
    assert ours.nonblank_at_most(block=4).tolist() == ours.nonblank_at_most().tolist()
    assert all(a <= b for a, b in zip(ours.nonblank_at_most().tolist(), counts, strict=True))
    ascii_only = FileLines.of(b"\n".join(lines[:6] * 7) + b"\n")
    path.write_bytes(b"\n".join(lines[:6] * 7) + b"\n")
    reader = LineReader(path)
    assert ascii_only.nonblank_at_most().tolist() == [reader.nonblank for _ in reader]
