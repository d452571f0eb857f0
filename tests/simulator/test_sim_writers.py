"""The written files against the real recordings (columns, quoting, fields) and the truth."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from config import Config
from ingest.site_map import SiteMap, device_of
from monitor.call import Outcome
from monitor.timeutil import local_to_epoch
from simulator.ids import assign_ids
from simulator.model import simulate_site_day
from simulator.month import Rendered, render
from simulator.timeline import SimCall
from simulator.truth import COLUMNS


def raw_fields(line: str) -> list[tuple[str, bool]]:
    """Split one CSV line into (value, was quoted), keeping what csv.reader throws away."""
    fields, i, n = [], 0, len(line)
    while True:
        if i < n and line[i] == '"':
            j, parts = i + 1, []
            while True:
                k = line.index('"', j)
                parts.append(line[j:k])
                if line[k + 1:k + 2] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            fields.append(("".join(parts), True))
        else:
            k = line.find(",", i)
            k = n if k < 0 else k
            fields.append((line[i:k], False))
            i = k
        if i >= n:
            return fields
        assert line[i] == ",", line
        i += 1


def _kind(value: str, quoted: bool) -> str:
    if quoted:
        return "quoted"
    return "empty" if value == "" else "int" if value.isdigit() else "other"


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", "replace").splitlines()


def _epoch(local: str, config: Config, near: float) -> float:
    naive = dt.datetime.strptime(local, "%Y-%m-%d %H:%M:%S")
    return local_to_epoch(naive, config.pbxs["paris-eps"].tz, near=near)


# --- CDR ----------------------------------------------------------------------------------


@pytest.mark.realdata
def test_cdr_columns_and_quoting_match_the_real_21_column_file(real_data: Path,
                                                                sim_files: Rendered) -> None:
    real = _lines(real_data / "cdr" / "dj-asterisk-cdr" / "Master.csv")
    allowed: dict[int, set[str]] = defaultdict(set)
    for line in real:
        for i, field in enumerate(raw_fields(line)):
            allowed[i].add(_kind(*field))
    ours = sim_files.cdr.splitlines()
    assert ours
    for line in ours:
        kinds = [_kind(*field) for field in raw_fields(line)]
        assert len(kinds) == 21
        assert all(k in allowed[i] for i, k in enumerate(kinds)), line
    assert {len(r) for r in csv.reader(real)} == {len(r) for r in csv.reader(ours)} == {21}
    assert allowed[10] == {"quoted", "empty"} and allowed[12] == allowed[13] == {"int"}


def test_cdr_rows_group_into_the_truth_calls(config: Config, sim_calls: list[SimCall],
                                             sim_files: Rendered) -> None:
    rows = list(csv.reader(io.StringIO(sim_files.cdr)))
    assert {r[19] for r in rows} == {c.key for c in sim_calls}  # linkedid = caller uniqueid
    sequences = [int(r[20]) for r in rows]
    assert len(set(sequences)) == len(sequences)
    by_call = defaultdict(list)
    for r in rows:
        by_call[r[19]].append(r)
    for call in sim_calls:
        near = float(call.key.split(".")[0])
        caller = sorted((r for r in by_call[call.key] if r[16] == call.key), key=lambda r: int(r[20]))
        assert caller, call.key
        assert _epoch(caller[0][9], config, near) == int(call.arrival)
        for r in by_call[call.key]:
            start, end = _epoch(r[9], config, near), _epoch(r[11], config, near)
            assert abs(int(r[12]) - (end - start)) <= 1 and int(r[13]) <= int(r[12])
        if call.outcome is Outcome.ANSWERED:
            _check_answered_rows(config, call, caller, by_call[call.key], near)


def _check_answered_rows(config: Config, call: SimCall, caller: list[list[str]],
                         rows: list[list[str]], near: float) -> None:
    won = next(r for r in caller if r[14] == "ANSWERED" and r[6])
    if won[6].startswith("Local/"):  # the partner Local;2 row reached the person's phone
        partner = next(r for r in rows if r[5] == won[6][:-1] + "2" and r[14] == "ANSWERED")
        assert device_of(partner[6]) == call.answered_by
    else:
        assert device_of(won[6]) == call.answered_by
    if call.site == "eps-centre":  # welcome message: every caller row shows answer ≈ start
        for r in caller:
            if r[10]:
                assert _epoch(r[10], config, near) - _epoch(r[9], config, near) <= 1
    else:
        assert call.answer is not None
        assert abs(_epoch(won[10], config, near) - call.answer) < 1.01


# --- queue_log ------------------------------------------------------------------------------

_HEAD = r"\d+\|\d+\.\d+\|[^|]+\|"
# Reference §6; older versions omit the trailing field in brackets (the real 2010 file does).
QUEUE_LOG_SCHEMA = {
    "ENTERQUEUE": (_HEAD + r"NONE\|ENTERQUEUE\|\|[^|]*", r"\|\d+"),
    "CONNECT": (_HEAD + r"[^|]+\|CONNECT\|\d+\|\d+\.\d+", r"\|\d+"),
    "RINGNOANSWER": (_HEAD + r"[^|]+\|RINGNOANSWER\|\d+", ""),
    "RINGCANCELED": (_HEAD + r"[^|]+\|RINGCANCELED\|\d+", ""),
    "ABANDON": (_HEAD + r"NONE\|ABANDON\|\d+\|\d+\|\d+", ""),
    "EXITEMPTY": (_HEAD + r"NONE\|EXITEMPTY\|\d+\|\d+\|\d+", ""),
    "COMPLETECALLER": (_HEAD + r"[^|]+\|COMPLETECALLER\|\d+\|\d+\|\d+", ""),
    "COMPLETEAGENT": (_HEAD + r"[^|]+\|COMPLETEAGENT\|\d+\|\d+\|\d+", ""),
    "BLINDTRANSFER": (_HEAD + r"[^|]+\|BLINDTRANSFER\|\d+\|[^|]+\|\d+\|\d+\|\d+", ""),
}


@pytest.mark.realdata
def test_queue_log_fields_follow_the_reference_and_the_real_file(
        real_data: Path, sim_files: Rendered) -> None:
    real = _lines(real_data / "queue_log" / "logvisualiserkata"
                  / "queue_log_freepbx_2010_queue9000.txt")
    for line in real:
        event = line.split("|")[4] if line.count("|") >= 4 else ""
        if event in QUEUE_LOG_SCHEMA:
            base, newer = QUEUE_LOG_SCHEMA[event]
            assert re.fullmatch(f"{base}(?:{newer})?", line), line
    ours = sim_files.queue_log.splitlines()
    assert re.fullmatch(r"\d+\|NONE\|NONE\|NONE\|QUEUESTART\|", ours[0])
    seen = set()
    for line in ours[1:]:
        event = line.split("|")[4]
        seen.add(event)
        base, newer = QUEUE_LOG_SCHEMA[event]
        assert re.fullmatch(base + newer, line), line
    assert seen == set(QUEUE_LOG_SCHEMA)
    times = [int(line.split("|")[0]) for line in ours]
    assert times == sorted(times)


def test_queue_log_gives_the_answer_time_within_2_s(sim_calls: list[SimCall],
                                                    sim_files: Rendered) -> None:
    lines = defaultdict(list)
    for line in sim_files.queue_log.splitlines()[1:]:
        lines[line.split("|")[1]].append(line.split("|"))
    calls = {c.key: c for c in sim_calls}
    assert set(lines) <= set(calls)
    for key, entries in lines.items():
        call = calls[key]
        connect = [e for e in entries if e[4] == "CONNECT"]
        assert (call.outcome is Outcome.ANSWERED) == bool(connect)
        if connect:
            enter = next(e for e in entries if e[4] == "ENTERQUEUE")
            estimate = int(enter[0]) - int(key.split(".")[0]) + int(connect[0][5])
            assert call.answer is not None and abs(estimate - (call.answer - call.arrival)) <= 2
            member = next(ch for ch in call.channels if ch.uniqueid == connect[0][6])
            assert member.name.endswith(";1") and connect[0][3] == call.answered_by
        for e in entries:
            if e[4] == "RINGNOANSWER":
                assert int(e[5]) >= 15000


# --- CEL ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_cel_has_20_quoted_columns_like_the_real_files(real_data: Path,
                                                       sim_files: Rendered) -> None:
    real = [line for path in sorted((real_data / "cel" / "asterisk-testsuite").glob("*.csv"))
            for line in _lines(path)]
    ours = sim_files.cel.splitlines()
    for line in real + ours:
        fields = raw_fields(line)
        assert len(fields) == 20 and all(quoted for _, quoted in fields), line
        assert re.fullmatch(r"\d+\.\d{6}", fields[1][0]) and fields[12][0] == "3"
    assert {len(r) for r in csv.reader(ours)} == {20}


def test_cel_records_match_the_truth(config: Config, sim_calls: list[SimCall],
                                     sim_files: Rendered) -> None:
    rows = list(csv.reader(io.StringIO(sim_files.cel)))
    times = [float(r[1]) for r in rows]
    assert times == sorted(times)
    by_call = defaultdict(list)
    for r in rows:
        by_call[r[15]].append(r)
    assert set(by_call) == {c.key for c in sim_calls}
    staff = SiteMap.build(config, "paris-eps")
    for call in sim_calls:
        records = by_call[call.key]
        assert records[0][:2] == ["CHAN_START", f"{call.arrival:.6f}"] and records[0][14] == call.key
        assert records[-1][0] == "LINKEDID_END"
        assert next(r for r in records if r[0] == "HANGUP" and r[14] == call.key)[1] == \
            f"{call.end:.6f}"
        answers = [r for r in records if r[0] == "ANSWER" and staff.is_staff(r[9])]
        if call.answer is None:
            assert not answers
        else:
            assert answers[0][1] == f"{call.answer:.6f}"
            assert device_of(answers[0][9]) == call.answered_by
        for r in records:
            if r[0] in ("HANGUP", "BRIDGE_ENTER", "BRIDGE_EXIT", "BLINDTRANSFER"):
                extra = json.loads(r[19])
                assert "hangupcause" in extra or "bridge_id" in extra


# --- truth ----------------------------------------------------------------------------------


def test_truth_file(sim_calls: list[SimCall], sim_files: Rendered) -> None:
    rows = list(csv.DictReader(io.StringIO(sim_files.truth)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(sim_calls)
    for row, call in zip(rows, sim_calls, strict=True):
        assert row["call_key"] == call.key and row["outcome"] == call.outcome.value
        assert re.fullmatch(r"\d+\.\d{6}", row["arrival"]) and float(row["arrival"]) == call.arrival
        assert row["is_test"] == ("true" if call.is_test else "false")
        assert (row["answer"] == "") == (call.answer is None)


def test_cdr_local_times_on_the_25_hour_day(config: Config) -> None:
    """02:xx is written twice that night; the uniqueid's epoch tells the two apart."""
    day, tz = dt.date(2026, 10, 25), config.pbxs["paris-eps"].tz
    calls = assign_ids(simulate_site_day(config, "eps-05", day, seed=2, volume=1000))
    rows = list(csv.reader(io.StringIO(render(calls, tz).cdr)))
    arrivals = {c.key: c.arrival for c in calls}
    starts_at_2 = defaultdict(set)
    for r in rows:
        near = float(r[16].split(".")[0])
        start = _epoch(r[9], config, near)
        assert start == int(arrivals[r[16]])
        if r[9][11:13] == "02":
            starts_at_2[r[9][:13]].add(start - start % 3600)
    assert len(starts_at_2["2026-10-25 02"]) == 2  # two different UTC hours both read 02:xx
