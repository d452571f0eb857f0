"""A file given to the wrong command says what it looks like and which command reads it; the
directory tools (`sites learn`, `sites check`) read psql dumps of a CEL table as `ingest cel
--psql` does. On the real recordings."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from config import Config
from ingest.batch import FileParse
from ingest.cdr import parse_cdr
from ingest.cel import parse_cel, parse_cel_table
from ingest.directory_check import check_files
from ingest.finalize import CaptureContext
from ingest.learn.observation import check_readable, is_cel_table, observe_file, sniff
from ingest.lines import SourceFileError
from ingest.queue_log import parse_queue_log
from ingest.sniff import CDR, CEL, PSQL_CEL, QUEUE_LOG, hint, looks_like

pytestmark = pytest.mark.realdata

PSQL = "cel/wazo-call-logd/test_call_log_generation__test_answered_internal.psql.txt"
FILES = {PSQL: PSQL_CEL,
         "cel/asterisk-testsuite/self_test_CELMaster1.csv": CEL,
         "queue_log/logvisualiserkata/queue_log_freepbx_2010_queue9000.txt": QUEUE_LOG,
         "cdr/dj-asterisk-cdr/Master.csv": CDR,
         "cdr/simularent/Master.csv": CDR,
         "cdr/asterisk-testsuite/self_test_Master.csv": CDR}


def _head(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[:20]


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_kind_is_told_by_its_first_lines(real_data: Path, name: str) -> None:
    assert looks_like(_head(real_data / name)) == FILES[name]


def test_nothing_is_guessed_from_text_that_is_no_pbx_file() -> None:
    assert looks_like(["%PDF-1.7", "hello, world", ""]) is None
    assert hint(["%PDF-1.7"], "ingest cdr") == ""
    assert hint(["1700000000|1|q|NONE|ENTERQUEUE||0612|1"], "ingest queue-log") == ""


@pytest.mark.parametrize(("name", "parser", "kind", "expected"), [
    (PSQL, parse_cel, "cel", "It looks like a psql dump of a CEL table: ingest cel --psql reads it."),
    ("queue_log/logvisualiserkata/queue_log_freepbx_2010_queue9000.txt",
     functools.partial(parse_cdr, layout="auto", usegmtime=False), "cdr",
     "It looks like an Asterisk queue_log: ingest queue-log reads it."),
    ("cel/asterisk-testsuite/self_test_CELMaster1.csv", parse_cel_table, "cel",
     "It looks like a cel_custom CSV (CEL): ingest cel reads it."),
    ("cdr/dj-asterisk-cdr/Master.csv", parse_queue_log, "queue_log",
     "It looks like an Asterisk Master.csv (CDR): ingest cdr reads it."),
])
def test_a_refused_file_names_the_command_that_reads_it(
        real_data: Path, capture: CaptureContext, name: str, parser: object, kind: str,
        expected: str) -> None:
    with pytest.raises(SourceFileError) as refused:
        list(FileParse(real_data / name, parser, capture, kind))  # type: ignore[arg-type]
    message = str(refused.value)
    assert message.endswith(expected), message


def test_the_directory_tools_read_a_psql_dump(real_data: Path, config: Config) -> None:
    path = real_data / PSQL
    assert is_cel_table(path) and sniff(path) == "cel"
    check_readable(path, "cel", config.pbxs["paris-eps"].tz)  # reads: no refusal
    observed = list(observe_file(path, "cel", config.pbxs["paris-eps"].tz))
    assert len(observed) == 1 and observed[0].caller_device.startswith("SIP/")
    report = check_files(config, "paris-eps", [path])  # parsed as `ingest cel --psql` would
    assert not report.empty or report.misses == []


def test_learn_names_the_kind_when_refusing(real_data: Path, config: Config) -> None:
    path = real_data / "queue_log/logvisualiserkata/queue_log_freepbx_2010_queue9000.txt"
    with pytest.raises(SourceFileError) as refused:
        check_readable(path, "cdr", config.pbxs["paris-eps"].tz)
    assert str(refused.value).endswith("It looks like an Asterisk queue_log: --kind queue_log.")


def test_the_first_reasons_are_given_once_and_cut_at_a_word() -> None:
    from ingest.batch import first_reasons
    from ingest.records import Reject

    long = "wrong column count: 1 columns, expected 20 " + "word " * 40
    shown = first_reasons([Reject(1, long, ""), Reject(2, long, ""), Reject(5, "short", "")])
    assert shown.startswith("lines 1, 2: wrong column count: 1 columns, expected 20 word")
    assert shown.endswith(" …; line 5: short")
    assert "wor …" not in shown and len(shown) < 200
