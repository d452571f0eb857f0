"""`qualiphone sites check` on a store: gaps outside opening hours, and a period without calls."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from monitor.call import Call, Outcome, Source
from monitor.directory_gaps import check_store, counts_from_calls, site_gaps
from monitor.store import Store
from monitor.store.writer import write_calls

from qualiphone.cli import cli  # isort: skip

PARIS = ZoneInfo("Europe/Paris")
DAY = dt.date(2024, 1, 27)


def call(n: int, hour: int, outcome: Outcome, *, in_hours: bool, by: str | None = None,
         answer_after: float | None = None, day: dt.date = DAY) -> Call:
    local = dt.datetime.combine(day, dt.time(hour, n % 60), PARIS)
    arrival = local.timestamp()
    answer = None if answer_after is None else arrival + answer_after
    return Call(pbx="paris-eps", call_key=f"k-{day}-{hour}-{n}", site="eps-05", arrival=arrival,
                outcome=outcome, source=Source.CDR, answer=answer, end=arrival + 60,
                answered_by=by, in_hours=in_hours, local_date=day.isoformat(), local_hour=hour,
                local_weekday=day.weekday())


def night(machines: int, messages: int = 0) -> list[Call]:
    """20 calls picked up in hours; after hours `machines` calls answered by Playback in a
    context the directory does not list, and `messages` by the site's message."""
    staff = [call(i, 10, Outcome.ANSWERED, in_hours=True, by="PJSIP/eps05-1", answer_after=8.0)
             for i in range(20)]
    machine = [call(i, 21, Outcome.MACHINE, in_hours=False, by="Playback@nuit-05",
                    answer_after=0.0) for i in range(machines)]
    message = [call(i, 22, Outcome.MESSAGE, in_hours=False, answer_after=0.0)
               for i in range(messages)]
    return staff + machine + message


def stored(store: Store, found: list[Call]) -> Store:
    with store.engine.begin() as conn:
        write_calls(conn, found)
    return store


def run(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, "sites", "check", "--site", "eps-05", *args],
                              catch_exceptions=False)


def url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_machine_answers_after_hours_are_a_gap_that_fails(store: Store) -> None:
    stored(store, night(machines=30))
    out = run(url(store), "--from", "2024-01-27", "--to", "2024-01-28")
    assert out.exit_code == 3, out.output
    assert "no gap" not in out.output
    assert "Playback@nuit-05" in out.output and "<- over the limit" in out.output
    assert "after hours 30 calls, 100.0 points of the after-hours message share" in out.output
    report = json.loads(run(url(store), "--from", "2024-01-27", "--to", "2024-01-28",
                            "--format", "json").output)
    [gap] = report["gaps"]
    assert (gap["kind"], gap["calls"], gap["after_hours"]) == ("machine", 30, 30)
    assert gap["pickup_rate_points"] == 0.0 and gap["after_hours_points"] == 100.0
    assert gap["fails"] is True and report["calls"] == 50


def test_after_hours_machine_answers_count_against_the_sites_after_hours_calls(
        store: Store) -> None:
    """1 machine answer among 201 after-hours calls: 0.5 point of them, listed, not failing;
    3 of 203: 1.5 points, failing."""
    stored(store, night(machines=1, messages=200))
    report = check_store(store.engine, DAY, DAY, ["eps-05"])
    [gap] = report.gaps
    assert gap.after_hours == 1 and gap.after_hours_impact == pytest.approx(100 / 201)
    assert not report.fails
    stored(store, [call(i, 23, Outcome.MACHINE, in_hours=False, by="Playback@nuit-05")
                   for i in range(2)])
    report = check_store(store.engine, DAY, DAY, ["eps-05"])
    assert report.gaps[0].after_hours_impact == pytest.approx(300 / 203) and report.fails


def test_an_unknown_device_after_hours_is_listed_and_moves_no_published_figure() -> None:
    found = night(machines=0) + [call(i, 20, Outcome.UNKNOWN_DEVICE, in_hours=False,
                                      by="PJSIP/201", answer_after=5.0) for i in range(4)]
    [gap] = site_gaps(counts_from_calls(found))
    assert (gap.kind, gap.value, gap.calls, gap.after_hours) == ("device", "PJSIP/201", 4, 4)
    assert gap.rate_impact == 0.0 and gap.after_hours_impact is None and gap.impact == 0.0


def test_in_hours_gaps_keep_the_pickup_rate_definition() -> None:
    """A machine in hours: its calls back in the pickup rate's denominator as not picked up
    (20 of 20 -> 20 of 25: 20 points); its after-hours calls do not enter that rate."""
    found = night(machines=3) + [call(i, 11, Outcome.MACHINE, in_hours=True,
                                      by="Playback@nuit-05") for i in range(5)]
    [gap] = site_gaps(counts_from_calls(found))
    assert (gap.calls, gap.after_hours) == (8, 3)
    assert gap.rate_impact == pytest.approx(20.0) and gap.after_hours_impact == 100.0
    assert gap.impact == 100.0


def test_a_period_without_any_call_checks_nothing_and_says_so(store: Store) -> None:
    stored(store, night(machines=0))
    out = run(url(store), "--from", "2024-03-01", "--to", "2024-03-31")
    assert out.exit_code == 4, out.output
    assert out.output.strip() == (
        "no call in the store between 2024-03-01 and 2024-03-31: nothing was checked; the "
        "imports or the listener may have stopped — last call stored: 2024-01-27 10:19")
    # the default window (30 days to today) of a store whose imports stopped
    out = run(url(store))
    assert out.exit_code == 4 and "last call stored: 2024-01-27 10:19" in out.output
    report = json.loads(run(url(store), "--format", "json").output)
    assert report["nothing_checked"] is True and report["last_call"] == "2024-01-27 10:19"


def test_an_empty_store_checks_nothing(tmp_path: Path) -> None:
    out = run(f"sqlite:///{tmp_path / 'empty.db'}", "--from", "2024-03-01", "--to", "2024-03-31")
    assert out.exit_code == 4 and "last call stored: none" in out.output
