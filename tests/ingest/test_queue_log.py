"""queue_log parser: hand-written cases, round-trips, the real recordings, imports into the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import SHIPPED_DIR, load_config
from ingest.batch import LineReader, run_batch
from ingest.finalize import CaptureContext
from ingest.queue_log import QueueLogEntry, parse_queue_log, parse_queue_log_line
from ingest.records import Miss, RecordError, Reject, Skipped
from monitor.call import CallBuilder, Outcome, Source
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from qualiphone.cli import cli

KATA = Path("queue_log/logvisualiserkata/queue_log_freepbx_2010_queue9000.txt")
ALTANAI = Path("queue_log/altanai-asteriskexamples/queue_log_excerpt_from_README.txt")


def _parse(text: str, ctx: CaptureContext) -> list[CallBuilder | Reject | Skipped]:
    return list(parse_queue_log(enumerate(text.strip("\n").splitlines(), start=1), ctx))


def _calls(text: str, ctx: CaptureContext) -> dict[str, CallBuilder]:
    items = _parse(text, ctx)
    assert not [i for i in items if isinstance(i, Reject)]
    return {b.call_key: b for b in items if isinstance(b, CallBuilder)}


def _one(text: str, ctx: CaptureContext) -> CallBuilder:
    (builder,) = _calls(text, ctx).values()
    return builder


def site_context(tmp_path: Path, queues: list[str]) -> CaptureContext:
    """A config with the shipped settings and one test site owning `queues`."""
    directory = tmp_path / "config"
    directory.mkdir()
    shutil.copy(SHIPPED_DIR / "settings.toml", directory / "settings.toml")
    (directory / "sites.toml").write_text(
        '[[site]]\nid = "eps-test"\nname = "Test site"\npbx = "paris-eps"\n'
        f"queues = [{', '.join(repr(q) for q in queues)}]\n",
        encoding="utf-8",
    )
    return CaptureContext.create(load_config(directory))


# --- one line ----------------------------------------------------------------------------------


def test_line_fields_and_missing_or_extra_data() -> None:
    e = parse_queue_log_line("1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312")
    assert e == QueueLogEntry(
        1718000015, "1718000000.311", "std-05", "Poste 0501", "CONNECT", ("14", "1718000001.312")
    )
    assert e.arg(2) == ""  # ringtime: not written by old versions
    extra = parse_queue_log_line("1|2.3|q|NONE|ENTERQUEUE||0612345678|1|Jean Dupont|x\r\n")
    assert extra.arg(1) == "0612345678"
    assert extra.data == ("", "0612345678", "1", "Jean Dupont", "x")
    assert parse_queue_log_line("1266833361|NONE|NONE|NONE|QUEUESTART|").data == ("",)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1718000001|1718000000.1|std-05", "not enough fields: 3, expected at least 5"),
        ("", "not enough fields: 1"),
        (
            "2024-06-10 08:00:01|1718000000.1|std-05|NONE|ENTERQUEUE||0612345678|1",
            'time "2024-06-10 08:00:01" is not whole Unix seconds',
        ),
        ("-5|1718000000.1|std-05|NONE|ENTERQUEUE||0612345678|1", 'time "-5"'),
        ("1718000001||std-05|NONE|ENTERQUEUE||0612345678|1", "empty callid"),
        ("1718000001|1718000000.1|std-05|NONE||x", "empty event name"),
    ],
)
def test_bad_line_reason(text: str, reason: str) -> None:
    with pytest.raises(RecordError, match=reason.replace("|", r"\|")):
        parse_queue_log_line(text)


_FIELD = st.text(st.characters(blacklist_characters="|\r\n", blacklist_categories=("Cs",)))


@given(
    time=st.integers(min_value=0, max_value=2**40),
    callid=_FIELD.filter(bool),
    queue=_FIELD,
    agent=_FIELD,
    event=_FIELD.filter(bool),
    data=st.lists(_FIELD, max_size=8),
)
def test_render_parse_round_trip(
    time: int, callid: str, queue: str, agent: str, event: str, data: list[str]
) -> None:
    text = "|".join([str(time), callid, queue, agent, event, *data])
    entry = parse_queue_log_line(text)
    assert entry == QueueLogEntry(time, callid, queue, agent, event, tuple(data))
    assert entry.render() == text
    assert [str(entry.time), entry.callid, entry.queue, entry.agent, entry.event, *entry.data] == text.split(
        "|"
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.lists(st.text(st.characters(blacklist_characters="\r\n")), max_size=20))
def test_any_text_gives_calls_or_rejects(capture: CaptureContext, texts: list[str]) -> None:
    for item in parse_queue_log(enumerate(texts, start=1), capture):
        assert isinstance(item, CallBuilder | Reject | Skipped)


# --- hand-written calls (shipped config: queue std-05 is site eps-05) --------------------------


def test_answered_call(capture: CaptureContext) -> None:
    b = _one(
        """
1718000001|1718000000.311|std-05|NONE|ENTERQUEUE||0612345678|1
1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312|14
1718000162|1718000000.311|std-05|Poste 0501|COMPLETECALLER|14|147|1
""",
        capture,
    )
    assert (b.pbx, b.source, b.queue, b.caller) == ("paris-eps", Source.QUEUE_LOG, "std-05", "0612345678")
    assert (b.arrival, b.queue_entry, b.first_ring) == (1718000000, 1718000001, 1718000001)
    assert (b.answer, b.end, b.answered_by) == (1718000015, 1718000162, "Poste 0501")
    assert (b.outcome, b.incomplete, b.resolution, b.line, len(b.raw)) == (Outcome.ANSWERED, False, 1.0, 1, 3)
    call = capture.finalize(b)
    assert (call.site, call.outcome, call.time_to_answer) == ("eps-05", Outcome.ANSWERED, 15)


def test_abandon_with_ring_times_in_ms(capture: CaptureContext) -> None:
    b = _one(
        """
1718000403|1718000400.330|std-05|NONE|ENTERQUEUE||0698765432|1
1718000420|1718000400.330|std-05|Poste 0501|RINGNOANSWER|14000
1718000431|1718000400.330|std-05|Poste 0502|RINGCANCELED|25500
1718000431|1718000400.330|std-05|NONE|ABANDON|1|1|28
""",
        capture,
    )
    # rings started 2.5 s after the caller entered (an announcement played first)
    assert (b.outcome, b.answer, b.end, b.first_ring) == (Outcome.ABANDONED, None, 1718000431, 1718000405.5)
    assert b.end - b.queue_entry == 28
    assert capture.finalize(b).outcome is Outcome.ABANDONED


def test_timeout_to_second_queue_counts_from_first_arrival(capture: CaptureContext) -> None:
    b = _one(
        """
1718001003|1718001000.40|std-05|NONE|ENTERQUEUE||0612345678|1
1718001023|1718001000.40|std-05|NONE|EXITWITHTIMEOUT|1|1|20
1718001024|1718001000.40|std-06|NONE|ENTERQUEUE||0612345678|1
1718001030|1718001000.40|std-06|Poste 0601|CONNECT|6|1718001024.45|5
1718001100|1718001000.40|std-06|Poste 0601|COMPLETEAGENT|6|70|1
""",
        capture,
    )
    assert (b.queue, b.queue_entry, b.answer, b.end) == ("std-05", 1718001003, 1718001030, 1718001100)
    call = capture.finalize(b)
    assert (call.site, call.outcome, call.time_to_answer) == ("eps-05", Outcome.ANSWERED, 30)


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("EXITEMPTY", "1|1|9"),
        ("EXITWITHKEY", "0|1|1|9"),
        ("EXITWITHTIMEOUT", "1|1|9"),
        ("WITHDRAW", "1|1|9|"),
    ],
)
def test_last_exit_is_not_answered(capture: CaptureContext, event: str, data: str) -> None:
    """The dialplan went on after the exit: a partial view (incomplete) that CDR/CEL complete."""
    b = _one(
        f"""
1718002003|1718002000.50|std-05|NONE|ENTERQUEUE||0612345678|1
1718002012|1718002000.50|std-05|NONE|{event}|{data}
""",
        capture,
    )
    assert (b.outcome, b.answer, b.end, b.incomplete) == (None, None, 1718002012, True)
    call = capture.finalize(b)
    assert (call.outcome, call.answer) == (Outcome.ABANDONED, None)


def test_exit_then_second_queue_still_waiting_is_a_reject_not_an_abandon(
        capture: CaptureContext) -> None:
    (item,) = _parse(
        """
1718002003|1718002000.50|std-05|NONE|ENTERQUEUE||0612345678|1
1718002012|1718002000.50|std-05|NONE|EXITEMPTY|1|1|9
1718002013|1718002000.50|std-06|NONE|ENTERQUEUE||0612345678|1
""",
        capture,
    )
    assert isinstance(item, Reject) and item.line == 1 and len(item.raw.splitlines()) == 3
    assert item.reason.startswith('still waiting in queue "std-05" when the file ends (10 s after')


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("BLINDTRANSFER", "2000|from-internal|10|30|1"),
        ("ATTENDEDTRANSFER", "BRIDGE|1718003041.77|10|30|1"),
        ("TRANSFER", "2000|from-internal|10|30"),
    ],
)
def test_transfer_keeps_first_answer(capture: CaptureContext, event: str, data: str) -> None:
    b = _one(
        f"""
1718003001|1718003000.70|std-05|NONE|ENTERQUEUE||0612345678|1
1718003011|1718003000.70|std-05|Poste 0501|CONNECT|10|1718003001.71|10
1718003041|1718003000.70|std-05|Poste 0501|{event}|{data}
""",
        capture,
    )
    assert (b.answer, b.answered_by, b.end) == (1718003011, "Poste 0501", 1718003041)
    assert capture.finalize(b).time_to_answer == 11


def test_a_caller_still_waiting_at_the_end_of_the_file_is_a_reject_not_an_abandon(
        capture: CaptureContext) -> None:
    """How the call ended is unknown: counting it as abandoned was a guess (the wallboard and
    the statement said "hung up before an answer")."""
    (item,) = _parse(
        """
1718004001|1718004000.80|std-05|NONE|ENTERQUEUE||0612345678|1
1718004016|1718004000.80|std-05|Poste 0501|RINGNOANSWER|15000
""",
        capture,
    )
    assert isinstance(item, Reject) and item.line == 1
    assert item.reason.startswith('still waiting in queue "std-05" when the file ends (15 s')
    assert "not as an abandon" in item.reason and "CDR or CEL" in item.reason


def test_withheld_caller(capture: CaptureContext) -> None:
    b = _one(
        """
1718005001|1718005000.90|std-05|NONE|ENTERQUEUE|||1
1718005004|1718005000.90|std-05|NONE|ABANDON|1|1|3
""",
        capture,
    )
    assert b.caller is None
    call = capture.finalize(b)
    assert (call.caller_withheld, call.caller_hash, call.outcome) == (True, None, Outcome.SHORT_ABANDON)


def test_old_connect_without_ringtime(capture: CaptureContext) -> None:
    b = _one(
        """
1266839770|1266839761.533|std-05|NONE|ENTERQUEUE||03420254064
1266839775|1266839761.533|std-05|Local/2004@from-internal/n|CONNECT|5|1266839771.539
""",
        capture,
    )
    assert (b.answer, b.answered_by, b.first_ring) == (1266839775, "Local/2004@from-internal/n", None)
    assert (b.outcome, b.end, b.incomplete) == (Outcome.ANSWERED, None, False)


def test_callid_forms_give_the_arrival(capture: CaptureContext) -> None:
    found = _calls(
        """
1718006005|pbx1-1718006000.12|std-05|NONE|ENTERQUEUE||0612345678|1
1718006006|qualiphone-probe-7|std-05|NONE|ENTERQUEUE||0612345678|1
1718006007|1600000000.3|std-05|NONE|ENTERQUEUE||0612345678|1
1718006010|pbx1-1718006000.12|std-05|NONE|ABANDON|1|1|5
1718006010|qualiphone-probe-7|std-05|NONE|ABANDON|1|1|4
1718006010|1600000000.3|std-05|NONE|ABANDON|1|1|3
""",
        capture,
    )
    # systemname prefix; a custom ChannelId; an epoch far before the caller's first line
    assert {k: b.arrival for k, b in found.items()} == {
        "pbx1-1718006000.12": 1718006000,
        "qualiphone-probe-7": 1718006006,
        "1600000000.3": 1718006007,
    }


def test_completion_without_connect_from_a_rotated_file(capture: CaptureContext) -> None:
    b = _one("1718007200|1718007000.5|std-05|Poste 0501|COMPLETEAGENT|20|150|1", capture)
    assert (b.arrival, b.answer, b.end, b.answered_by) == (1718007000, 1718007050, 1718007200, "Poste 0501")
    assert capture.finalize(b).outcome is Outcome.ANSWERED


def test_ignored_lines_and_unknown_queues(capture: CaptureContext) -> None:
    found = _calls(
        """
1596191926|NONE|NONE|NONE|QUEUESTART|
1596510480|CLI|std-05|SIP/0004f2040001|ADDMEMBER|

1596512941|1596512941.163|std-05|NONE|ENTERQUEUE||7000|1
1596512942|1596512941.163|std-05|NONE|SOMECUSTOMEVENT|x
1596512950|1596512950.170|helpdesk|NONE|ENTERQUEUE||7001|1
1596512951|1596512951.171|std-05|NONE|DID|0199000105
1596512960|1596512941.163|std-05|NONE|ABANDON|1|1|19
""",
        capture,
    )
    assert list(found) == ["1596512941.163"]
    assert found["1596512941.163"].raw[1].endswith("SOMECUSTOMEVENT|x")


def test_bad_lines_rejected_with_line_numbers(capture: CaptureContext) -> None:
    items = _parse(
        """
1718000001|1718000000.311|std-05|NONE|ENTERQUEUE||0612345678|1
abc|1718000000.311|std-05|NONE|RINGNOANSWER|1000
1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312|14
1718000016|1718000000.311|std-05
1718000162|1718000000.311|std-05|Poste 0501|COMPLETECALLER|14|147|1
""",
        capture,
    )
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [(r.line, r.raw) for r in rejects] == [
        (2, "abc|1718000000.311|std-05|NONE|RINGNOANSWER|1000"),
        (4, "1718000016|1718000000.311|std-05"),
    ]
    assert 'time "abc"' in rejects[0].reason and "not enough fields" in rejects[1].reason
    (b,) = [i for i in items if isinstance(i, CallBuilder)]
    assert (b.answer, b.end, b.outcome) == (1718000015, 1718000162, Outcome.ANSWERED)


def test_silent_caller_is_emitted_before_the_end(capture: CaptureContext) -> None:
    text = """
1718000001|1718000000.1|std-05|NONE|ENTERQUEUE||0612345678|1
1718000010|1718000000.1|std-05|NONE|ABANDON|1|1|9
1718090001|1718090000.2|std-05|NONE|ENTERQUEUE||0612345678|1
1718090011|1718090000.2|std-05|NONE|ABANDON|1|1|10
"""
    items = parse_queue_log(enumerate(text.strip().splitlines(), start=1), capture)
    first = next(items)
    assert isinstance(first, CallBuilder) and first.call_key == "1718000000.1"
    assert [b.call_key for b in items if isinstance(b, CallBuilder)] == ["1718090000.2"]


def test_caller_of_an_unknown_queue_is_skipped_with_its_reason(capture: CaptureContext) -> None:
    items = _parse(
        """
1718000001|1718000000.311|hotline-it|NONE|ENTERQUEUE||0612345678|1
1718000010|1718000000.311|hotline-it|NONE|ABANDON|1|1|9
1718000101|1718000100.312|NONE|NONE|DID|0199000999
1718000102|1718000100.312|hotline-it|NONE|ENTERQUEUE||0612345678|1
1718000401|1718000400.330|std-05|NONE|ENTERQUEUE||0698765432|1
1718000411|1718000400.330|std-05|NONE|ABANDON|1|1|10
""",
        capture,
    )
    assert [i.call_key for i in items if isinstance(i, CallBuilder)] == ["1718000400.330"]
    assert [i for i in items if isinstance(i, Skipped)] == [
        Skipped(1, 'queue "hotline-it" of no configured site', Miss(queue="hotline-it")),
        Skipped(3, 'dialed "0199000999" / queue "hotline-it" of no configured site',
                Miss(dialed="0199000999", queue="hotline-it")),
    ]


def test_cli_says_why_callers_were_skipped(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text("1718000001|1718000000.311|hotline-it|NONE|ENTERQUEUE||0612345678|1\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest",
                                      "queue-log", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 calls: imported 0" not in result.output and " 0 calls: " in result.output
    assert result.output.splitlines()[1] == (
        "  skipped 1 calls of no configured switchboard (internal, outbound or other services' "
        'calls): 1\u00d7 queue "hotline-it" of no configured site; if that is unexpected, check '
        f"the dids, queues and contexts in {SHIPPED_DIR / 'sites.toml'}"
    )


# --- real recordings ---------------------------------------------------------------------------


def _real_entries(path: Path) -> list[QueueLogEntry]:
    text = path.read_text(encoding="utf-8")
    return [parse_queue_log_line(line) for line in text.splitlines() if line.strip()]


@pytest.mark.realdata
def test_logvisualiserkata_matches_asterisk_hold_and_wait_times(real_data: Path, tmp_path: Path) -> None:
    path = real_data / KATA
    ctx = site_context(tmp_path, ["9000"])
    entries = _real_entries(path)
    order = [e.callid for e in entries if e.event == "ENTERQUEUE"]
    holds = {e.callid: int(e.data[0]) for e in entries if e.event == "CONNECT"}
    waits = {e.callid: int(e.data[2]) for e in entries if e.event == "ABANDON"}
    assert [holds[c] for c in order if c in holds] == [1, 2, 36, 6, 84, 4, 5, 5]
    assert [waits[c] for c in order if c in waits] == [13, 45, 17, 32, 17, 21, 15, 23, 17, 10, 2, 3]

    items = list(parse_queue_log(LineReader(path), ctx))
    (waiting,) = [i for i in items if isinstance(i, Reject)]  # still waiting when the file ends
    assert "1266839768.534" in waiting.raw and waiting.reason.startswith("still waiting in queue")
    found = {b.call_key: b for b in items if isinstance(b, CallBuilder)}
    assert sorted(found, key=order.index) == [c for c in order if c != "1266839768.534"]
    assert len(found) == 20
    answered = {k: b for k, b in found.items() if b.outcome is Outcome.ANSWERED}
    abandoned = {k: b for k, b in found.items() if b.outcome is Outcome.ABANDONED}
    assert set(answered) == set(holds) and set(abandoned) == set(waits)
    for key, b in answered.items():
        assert b.answer - b.queue_entry == pytest.approx(holds[key], abs=1)
        assert b.answered_by.startswith("Local/20")
    for key, b in abandoned.items():
        assert b.end - b.queue_entry == pytest.approx(waits[key], abs=1)
    finalized = [ctx.finalize(b) for b in found.values()]
    assert [c.outcome for c in finalized].count(Outcome.ANSWERED) == 8
    first = found["1266833905.2"]  # entered 6 s after its channel was created, answered after 1 s
    assert (first.arrival, first.answer, first.first_ring) == (1266833905, 1266833912, 1266833911)


@pytest.mark.realdata
def test_altanai_excerpt(real_data: Path, tmp_path: Path) -> None:
    ctx = site_context(tmp_path, ["support", "sales"])
    items = list(parse_queue_log(LineReader(real_data / ALTANAI), ctx))
    found = {b.call_key: b for b in items if isinstance(b, CallBuilder)}
    (waiting,) = [i for i in items if isinstance(i, Reject)]
    assert len(items) == 2 and list(found) == ["1596512941.163"]
    gone = found["1596512941.163"]
    assert (gone.outcome, gone.end - gone.queue_entry, gone.incomplete) == (Outcome.ABANDONED, 68, False)
    assert gone.queue == "support" and ctx.finalize(gone).site == "eps-test"
    assert "1596513054.164" in waiting.raw
    # a QUEUESTART (the PBX restarted) follows: the caller was cut off, no later line completes it
    assert waiting.reason.startswith('still waiting in queue "sales" (0 s after it entered) when '
                                     "the PBX restarted (QUEUESTART, line 10, 574 s after its "
                                     "last line): the call was cut off")
    assert not waiting.call  # not "in progress": importing the grown file will not store it


# --- through the store -------------------------------------------------------------------------

_LOG = """\
1718000001|1718000000.311|std-05|NONE|ENTERQUEUE||0612345678|1
1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312|14
1718000162|1718000000.311|std-05|Poste 0501|COMPLETECALLER|14|147|1
1718000403|1718000400.330|std-05|NONE|ENTERQUEUE||0698765432|1
1718000431|1718000400.330|std-05|NONE|ABANDON|1|1|28
1718000501|1718000500.340|std-06|NONE|ENTERQUEUE|||1
1718000520|1718000500.340|std-06|Poste 0601|CONNECT|19|1718000501.341|19
1718000600|1718000500.340|std-06|Poste 0601|COMPLETEAGENT|19|80|1
"""


def _stored(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(calls.c.call_key, calls.c.outcome)).all())


def test_import_twice_adds_nothing(store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(_LOG, encoding="utf-8")
    first = run_batch(store, "queue_log", path, parse_queue_log, capture)
    assert (first.calls_seen, first.counts.imported, first.rejected) == (3, 3, 0)
    before = _stored(store)
    assert before == [
        ("1718000000.311", "answered"),
        ("1718000400.330", "abandoned"),
        ("1718000500.340", "answered"),
    ]
    again = run_batch(store, "queue_log", path, parse_queue_log, capture)
    assert again.skipped_as == first.batch_id
    rotated = tmp_path / "queue_log.1"  # same calls, different bytes: merged per call key
    rotated.write_text("1718000000|NONE|NONE|NONE|QUEUESTART|\n" + _LOG, encoding="utf-8")
    third = run_batch(store, "queue_log", rotated, parse_queue_log, capture)
    assert (third.counts.imported, third.counts.merged, third.counts.duplicates) == (0, 0, 3)
    assert _stored(store) == before


def test_import_keeps_good_calls_and_rejects_bad_lines(
    store: Store, capture: CaptureContext, tmp_path: Path
) -> None:
    lines = _LOG.splitlines()
    lines[1:1] = ["17180000O2|1718000000.311|std-05|NONE|RINGNOANSWER|1000"]
    lines[5:5] = ["1718000432|1718000400.330"]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_batch(store, "queue_log", path, parse_queue_log, capture)
    assert (result.counts.imported, result.rejected) == (3, 2)
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(rejected_records.c.line, rejected_records.c.reason, rejected_records.c.raw).order_by(
                rejected_records.c.line
            )
        ).all()
    assert [(r.line, r.raw) for r in rows] == [
        (2, "17180000O2|1718000000.311|std-05|NONE|RINGNOANSWER|1000"),
        (6, "1718000432|1718000400.330"),
    ]
    assert rows[0].reason.startswith('time "17180000O2" is not whole Unix seconds')
    assert rows[1].reason.startswith("not enough fields: 2")


def test_probe_caller_id_marks_a_test_call(capture: CaptureContext) -> None:
    b = _one(
        """
1718002003|1718002000.51|std-05|NONE|ENTERQUEUE||0199009999|1
1718002009|1718002000.51|std-05|PJSIP/eps05-201|CONNECT|6|1718002003.52|6
""",
        capture,
    )
    assert b.is_test


def test_callers_still_waiting_are_rejects_until_the_grown_file_brings_them(
        store: Store, capture: CaptureContext, tmp_path: Path) -> None:
    """A file cut while callers wait (an hourly import during the day) stores no abandon for
    them, is not refused as a file of another kind, and the grown file stores the real call."""
    waiting = "1718000701|1718000700.350|std-05|NONE|ENTERQUEUE||0612345678|1\n"
    path = tmp_path / "queue_log"
    path.write_text(waiting, encoding="utf-8")
    first = run_batch(store, "queue_log", path, parse_queue_log, capture)
    assert (first.counts.imported, first.rejected) == (0, 1)
    assert _stored(store) == []
    with store.engine.connect() as conn:
        (reason,) = conn.execute(sa.select(rejected_records.c.reason)).scalars()
    assert reason.startswith('still waiting in queue "std-05" when the file ends')
    path.write_text(waiting + "1718000712|1718000700.350|std-05|Poste 0501|CONNECT|11|1718000701.1|11\n",
                    encoding="utf-8")
    grown = run_batch(store, "queue_log", path, parse_queue_log, capture)
    assert (grown.counts.imported, grown.rejected) == (1, 0)
    assert _stored(store) == [("1718000700.350", "answered")]
