"""A psql dump of a CEL table whose eventtimes carry no offset: read as UTC or as the PBX's
local time, as the rows themselves say (each CHAN_START against the creation second in its
uniqueid), or as settings.toml / --table-times says; a PBX whose zone matches neither is
named in a warning. Tested on generated tables around the autumn DST change and on the real
Wazo captures (written in Montreal time)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.cel import parse_cel_table, table_zone
from ingest.cel_read import CelRecord, naive_times, read_cel_csv, read_cel_table
from ingest.finalize import CaptureContext
from ingest.records import Reject
from monitor.call import CallBuilder
from tests.ingest.hostile_support import cel_call

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = ("eventtype", "eventtime", "cid_name", "cid_num", "cid_dnid", "exten", "context",
           "channame", "appname", "appdata", "uniqueid", "linkedid", "peer", "extra")


def _records(start: float, calls: int = 3) -> list[CelRecord]:
    lines = [line for i in range(calls) for line in cel_call(start + 600 * i, i + 1)]
    out = list(read_cel_csv(enumerate(lines, start=1), PARIS))
    assert not [r for r in out if isinstance(r, Reject)]
    return [r for r in out if isinstance(r, CelRecord)]


def _table(records: list[CelRecord], zone: ZoneInfo | None) -> list[tuple[int, str]]:
    """The records as `psql -c 'SELECT … FROM cel'` prints them, eventtimes written without an
    offset: in UTC (zone None) or as wall-clock time in `zone` (cel_pgsql, usegmtime = no)."""
    def written(epoch: float) -> str:
        moment = dt.datetime.fromtimestamp(epoch, zone or dt.UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ", timespec="microseconds")

    rows = [" | ".join(COLUMNS), "-+-".join("-" * len(c) for c in COLUMNS)]
    for r in records:
        values = {"eventtime": written(r.eventtime), "channame": r.channel}
        rows.append(" | ".join(values.get(c, getattr(r, c, "")) for c in COLUMNS))
    rows.append(f"({len(records)} rows)")
    return list(enumerate(rows, start=1))


def _hours(calls: list[CallBuilder]) -> list[int]:
    return [dt.datetime.fromtimestamp(b.arrival or 0.0, PARIS).hour for b in calls]


def _calls(numbered: list[tuple[int, str]], ctx: CaptureContext,
           times: str | None = None) -> list[CallBuilder]:
    items = list(parse_cel_table(numbered, ctx, times))
    assert not [i for i in items if isinstance(i, Reject)]
    return sorted((i for i in items if isinstance(i, CallBuilder)), key=lambda b: b.arrival or 0.0)


@pytest.mark.parametrize("zone", [None, PARIS], ids=["utc", "paris"])
def test_auto_reads_the_zone_the_rows_were_written_in(capture: CaptureContext,
                                                      zone: ZoneInfo | None) -> None:
    records = _records(dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC).timestamp())
    numbered = _table(records, zone)
    found = naive_times(numbered, PARIS)
    assert found.verdict == ("utc" if zone is None else "local")
    assert found.rows == 6  # the caller's and the phone's CHAN_START of each call
    calls = _calls(numbered, capture)
    truth = sorted(r.eventtime for r in records if r.eventtype == "CHAN_START"
                   and r.uniqueid == r.linkedid)
    assert [b.arrival for b in calls] == pytest.approx(truth, abs=1e-6)
    assert _hours(calls) == [10, 10, 10]  # 08:00Z is 10:00 in Paris (CEST)
    forced = _calls(numbered, capture, "utc" if zone is not None else "local")
    shift = 7200 if zone is not None else -7200  # read in the wrong zone: two hours off
    assert [b.arrival for b in forced] == pytest.approx([t + shift for t in truth], abs=1e-6)


def test_local_times_of_the_repeated_hour_are_placed_by_their_uniqueid(
        capture: CaptureContext) -> None:
    """25 October 2026, 02:00–03:00 happens twice in Paris: a call at 00:30Z and one at 01:30Z
    are both written "02:30"; the uniqueid tells them apart."""
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp()
    second = [dataclasses.replace(r, linkedid=r.linkedid.replace(".1", ".9"),  # other ids
                                  uniqueid=r.uniqueid.replace(".1", ".9"))
              for r in _records(first + 3600, calls=1)]
    records = _records(first, calls=1) + second
    numbered = _table(records, PARIS)
    assert sum(" 02:30:00.000000 |" in text for _, text in numbered) == 2
    assert naive_times(numbered, PARIS).verdict == "local"
    arrivals = [b.arrival for b in _calls(numbered, capture)]
    assert arrivals == pytest.approx([first, first + 3600], abs=1e-6)


def test_a_zone_that_is_neither_is_named_in_a_warning(capture: CaptureContext,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    records = _records(dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC).timestamp())
    numbered = _table(records, ZoneInfo("America/Montreal"))
    found = naive_times(numbered, PARIS)
    assert found.verdict == "unknown" and found.gap == -4 * 3600
    with caplog.at_level(logging.WARNING, logger="ingest.cel"):
        assert table_zone(numbered, capture, "auto") is None  # read as UTC, and said
    assert "-4.00 h from the creation second of their uniqueid" in caplog.text
    assert "neither UTC nor local time in Europe/Paris" in caplog.text


def test_the_setting_decides_when_not_auto(capture: CaptureContext) -> None:
    records = _records(dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC).timestamp())
    numbered = _table(records, PARIS)
    pbx = dataclasses.replace(capture.pbx, cel_table_times="utc")
    as_utc = dataclasses.replace(capture, pbx=pbx)
    assert _hours(_calls(numbered, as_utc)) == [12, 12, 12]  # two hours late
    assert _hours(_calls(numbered, as_utc, "auto")) == [10, 10, 10]


def test_without_uniqueid_seconds_nothing_is_told_and_utc_is_kept(
        capture: CaptureContext) -> None:
    records = [dataclasses.replace(r, uniqueid="a1b2-" + r.uniqueid.replace(".", "x"))
               for r in _records(dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC).timestamp())]
    numbered = _table(records, PARIS)
    assert naive_times(numbered, PARIS).verdict == "none"
    assert table_zone(numbered, capture, "auto") is None


@pytest.mark.realdata
def test_real_wazo_captures_are_read_in_the_zone_they_were_written_in(real_data: Path) -> None:
    """Wazo's test PBX wrote its CEL table in Montreal time without an offset (its uniqueids
    are 4 or 5 hours ahead). With the PBX's zone set to America/Montreal, `auto` reads them as
    that local time: every caller's CHAN_START then falls on its uniqueid's second."""
    montreal = ZoneInfo("America/Montreal")
    checked, rows, on_time = 0, 0, 0
    for path in sorted((real_data / "cel/wazo-call-logd").glob("*.psql.txt")):
        numbered = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
        if naive_times(numbered, montreal).verdict != "local":
            continue  # offsets written, or UTC
        checked += 1
        assert naive_times(numbered, PARIS).verdict == "unknown"
        for r in read_cel_table(numbered, montreal):
            if isinstance(r, CelRecord) and r.eventtype == "CHAN_START" \
                    and r.uniqueid.replace(".", "").isdigit():
                rows += 1
                on_time += 0 <= r.eventtime - float(r.uniqueid.split(".")[0]) < 2
    assert checked >= 20 and on_time >= 0.95 * rows  # (a generated scenario reuses an id)


def test_the_warning_names_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Several files in one import: each warning says which file it is about."""
    from click.testing import CliRunner

    from qualiphone.cli import cli

    records = _records(dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC).timestamp())
    path = tmp_path / "cel%20montreal %s.txt"  # (a % in the name is no format)
    path.write_text("\n".join(text for _, text in _table(records, ZoneInfo("America/Montreal")))
                    + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ingest.cel"):
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'q.db'}", "ingest",
                                          "cel", "--psql", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: CEL table: eventtimes written without an offset are -4.00 h" in caplog.text
