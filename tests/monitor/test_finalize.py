"""One place decides site, in-hours flag, pseudonym, local buckets and outcome refinements."""

from __future__ import annotations

import datetime as dt

import pytest

from config import Config
from ingest.finalize import CaptureContext
from ingest.records import RecordError
from monitor.calendar import SiteCalendar, holiday_name
from monitor.call import CallBuilder, Outcome, Source


def _paris(*args: int) -> float:
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Paris")).timestamp()


def _builder(**kw: object) -> CallBuilder:
    b = CallBuilder(pbx="paris-eps", call_key="1.1", source=Source.CDR, dialed="0199000105",
                    caller="0612345678", arrival=_paris(2026, 10, 5, 10, 0))
    for k, v in kw.items():
        setattr(b, k, v)
    return b


def test_answered_call(capture: CaptureContext) -> None:
    call = capture.finalize(_builder(answer=_paris(2026, 10, 5, 10, 0, 12), end=_paris(2026, 10, 5, 10, 3)))
    assert call.site == "eps-05"
    assert call.outcome is Outcome.ANSWERED
    assert call.time_to_answer == 12
    assert call.in_hours
    assert (call.local_date, call.local_hour, call.local_weekday) == ("2026-10-05", 10, 0)
    assert call.dialed == "+33199000105"
    assert call.caller_raw is None and call.caller_hash and "0612345678" not in call.caller_hash
    assert not call.caller_withheld


def test_pseudonym_is_stable_and_keyed(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    a = CaptureContext.create(config).finalize(_builder()).caller_hash
    b = CaptureContext.create(config).finalize(_builder(caller="+33612345678")).caller_hash
    assert a == b
    monkeypatch.setenv("QUALIPHONE_PSEUDONYM_KEY", "another-key")
    assert CaptureContext.create(config).finalize(_builder()).caller_hash != a


def test_withheld_caller(capture: CaptureContext) -> None:
    call = capture.finalize(_builder(caller="anonymous"))
    assert call.caller_withheld and call.caller_hash is None


def test_short_abandon_and_abandon(capture: CaptureContext) -> None:
    start = _builder().arrival
    assert capture.finalize(_builder(end=start + 4.9)).outcome is Outcome.SHORT_ABANDON
    assert capture.finalize(_builder(end=start + 5.0)).outcome is Outcome.ABANDONED


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ((2026, 10, 5, 8, 29), False),
        ((2026, 10, 5, 8, 30), True),
        ((2026, 10, 5, 16, 59), True),
        ((2026, 10, 5, 17, 0), False),
        ((2026, 10, 10, 10, 0), False),  # Saturday
        ((2026, 11, 11, 10, 0), False),  # Armistice
        ((2026, 10, 16, 11, 0), True),  # eps-11 closed in the afternoon only (not eps-05)
    ],
)
def test_in_hours(capture: CaptureContext, when: tuple[int, ...], open_: bool) -> None:
    assert capture.finalize(_builder(arrival=_paris(*when))).in_hours is open_


def test_closures_and_lunch_breaks(config: Config) -> None:
    cal = SiteCalendar(config)
    eps11, eps18 = config.site("eps-11"), config.site("eps-18")
    assert cal.is_open(eps11, dt.datetime(2026, 10, 16, 11, 0))
    assert not cal.is_open(eps11, dt.datetime(2026, 10, 16, 14, 0))
    assert not cal.is_open(eps18, dt.datetime(2026, 10, 5, 13, 0))
    assert cal.opening_intervals(eps11, dt.date(2026, 10, 16)) == [(dt.time(8, 30), dt.time(12, 30))]
    assert holiday_name(dt.date(2026, 7, 14)) is not None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"answer": _paris(2026, 10, 5, 9, 59)}, "answer before the call's start"),
        ({"end": _paris(2026, 10, 5, 9, 59)}, "end before the call's start"),
        ({"dialed": "0100000000", "context": "x"}, 'unknown site: no site of'),
        ({"outcome": Outcome.ANSWERED}, "no answer time"),
        ({"arrival": None}, "no arrival time"),
    ],
)
def test_rejections(capture: CaptureContext, changes: dict[str, object], reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        capture.finalize(_builder(**changes))
