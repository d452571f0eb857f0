"""The rules on a store filled with known calls (SQLite and PostgreSQL): the month, the hour's and
day's rates as the listener reads them, ringing calls, a PBX down, the after-hours probes, and
the directory-gap hook with findings made here."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from afterhours.repository import ProbeRecord, save_probe
from alerts.delivery import LogChannel
from alerts.directory import DirectoryGapFinding, directory_gap_evaluation
from alerts.engine import Dispatcher, scheduled_evaluations
from alerts.live import LiveAlerts
from alerts.model import NoticeKind
from alerts.rules_batch import afterhours_evaluation, month_evaluation
from alerts.settings import Rule, RuleSettings, load_alerts
from alerts.store import history
from config import Config, load_config
from ingest.ami.live import LiveCall, LiveState
from monitor.call import Call, Outcome, Source
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts
from tests.alerts.conftest import alerts_tables, config_dir

PARIS = ZoneInfo("Europe/Paris")
MONDAY = dt.date(2026, 10, 5)


def at(hour: int, minute: int = 0, day: dt.date = MONDAY) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).timestamp()


def call(key: str, site: str, arrival: float, tta: float | None) -> Call:
    """Answered after `tta` seconds, or abandoned after 40 s (tta None)."""
    date, hour, weekday = local_parts(arrival, PARIS)
    outcome = Outcome.ANSWERED if tta is not None else Outcome.ABANDONED
    answer = None if tta is None else arrival + tta
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=Source.AMI, answer=answer, end=(answer or arrival) + 40, local_date=date,
                local_hour=hour, local_weekday=weekday, resolution=1e-6)


def calls(site: str, start: float, count: int, within: int, step: float = 120.0) -> list[Call]:
    """`count` calls from `start`, `step` s apart; the first `within` answered in 10 s, the
    others in 30 s (after the 25 s target)."""
    return [call(f"{site}-{start:.0f}-{i}", site, start + i * step, 10.0 if i < within else 30.0)
            for i in range(count)]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(config_dir(tmp_path, alerts_tables()))


# ---- the month ------------------------------------------------------------------------------------

def test_month_below_target(store: Store, config: Config) -> None:
    with store.engine.begin() as conn:
        write_calls(conn, calls("eps-13", at(9), 120, within=80, step=300.0)  # 66.7 %, n = 120
                    + calls("eps-05", at(9), 110, within=110, step=300.0)  # 100 %
                    + calls("eps-06", at(9), 20, within=0))  # 0 %, but n = 20 < 100
    rule = RuleSettings(min_calls=100)
    found = month_evaluation(store, config, rule, "2026-10")
    assert [(f.subject, f.site) for f in found.findings] == [("eps-13/2026-10", "eps-13")]
    f = found.findings[0]
    assert f.data["rate"] == pytest.approx(80 / 120) and f.data["n"] == 120
    assert f.title == "EPS Paris 13e : octobre 2026 sous l'objectif (66,7 % < 80 %)"
    assert "80 appels décrochés par une personne en moins de 25 s sur 120 appels" in f.detail
    assert list(found.checked) == ["eps-05/2026-10"]
    assert month_evaluation(store, config, rule, "2026-11").findings == []

    # sent once; when the month recovers (more calls within), the clearing is sent
    settings = load_alerts(config)
    dispatcher = Dispatcher(store, settings, [LogChannel()])
    assert [s.notice.kind for s in dispatcher.process([found]).sent] == [NoticeKind.FIRED]
    assert dispatcher.process([month_evaluation(store, config, rule, "2026-10")]).sent == []
    with store.engine.begin() as conn:
        write_calls(conn, calls("eps-13", at(9, day=MONDAY + dt.timedelta(days=1)), 200, within=200,
                                step=100.0))
    again = dispatcher.process([month_evaluation(store, config, rule, "2026-10")])
    assert [(s.notice.kind, s.notice.subject) for s in again.sent] == [(NoticeKind.CLEARED, "eps-13/2026-10")]
    assert again.sent[0].notice.text == ("Taux de décroché de octobre 2026 : 87,5 % sur 320 appels, "
                                         "l'objectif de 80 % est atteint.")


# ---- the rates as the listener reads them ----------------------------------------------------------

class Feed:
    pbx = "paris-eps"

    def __init__(self, now: float, unwritten: list[Call] | None = None) -> None:
        self.live = LiveState()
        self.now = now
        self._unwritten = unwritten or []

    def unwritten(self) -> list[Call]:
        return self._unwritten

    def pbx_now(self) -> float:
        return self.now


def live_alerts(store: Store, config: Config, feed: Feed, clock: float) -> LiveAlerts:
    settings = load_alerts(config)
    return LiveAlerts(config, store, settings, Dispatcher(store, settings, [LogChannel()],
                                                            clock=lambda: clock), [feed], clock=lambda: clock)


def test_rates_of_the_hour_and_the_day(store: Store, config: Config) -> None:
    with store.engine.begin() as conn:
        write_calls(conn, calls("eps-13", at(9), 15, within=15, step=200.0)  # 09:00-09:47, all within
                    + calls("eps-13", at(10, 5), 12, within=4, step=240.0)  # 10:05-10:49: 4 of 12
                    + calls("eps-05", at(10, 10), 8, within=2, step=240.0)  # n = 8 …
                    + calls("eps-06", at(9, 30), 25, within=25, step=200.0))
    late = [call("eps-05-live-1", "eps-05", at(10, 55), 40.0),
            call("eps-05-live-2", "eps-05", at(10, 56), 2.0)]
    feed = Feed(at(11), unwritten=late)  # … + 2 finished calls not yet stored: n = 10
    alerts = live_alerts(store, config, feed, at(11))
    found = {e.rule: e for e in alerts._rate_evaluations(feed.unwritten())}
    hour, day = found[Rule.RATE_HOUR], found[Rule.RATE_DAY]
    assert {f.subject: f.data["rate"] for f in hour.findings} == {"eps-13": pytest.approx(4 / 12),
                                                                  "eps-05": pytest.approx(3 / 10)}
    assert {f.subject: (f.data["rate"], f.data["n"]) for f in day.findings} == \
        {"eps-13": (pytest.approx(19 / 27), 27)}  # eps-05's day: n = 10 < 20, not judged
    assert "eps-06" in hour.checked and "eps-06" in day.checked and "eps-05" not in day.checked
    f = next(f for f in hour.findings if f.subject == "eps-13")
    assert f.title == "EPS Paris 13e : taux de décroché de la dernière heure sous l'objectif (33,3 % < 80 %)"
    assert f.summary == "eps-13: pickup rate 33.3% over the last hour (n=12) is below the goal 80%"

    # at 18:00 every site is closed: the rates are not judged, open alerts keep their state
    feed.now = at(18)
    assert all(not e.findings and not e.checked for e in alerts._rate_evaluations([]))


# ---- ringing calls and connections -------------------------------------------------------------------

def test_long_ring_and_listener_down(store: Store, tmp_path: Path) -> None:
    config = load_config(config_dir(tmp_path, alerts_tables(
        long_ring={"seconds": 60}, listener_down={"minutes": 10})))
    now = at(10)
    feed = Feed(now)
    feed.live.add(LiveCall("paris-eps", "c1", "eps-13", arrival=now - 90))
    feed.live.add(LiveCall("paris-eps", "c2", "eps-13", arrival=now - 70, answer=now - 50))  # answered
    feed.live.add(LiveCall("paris-eps", "c3", "eps-05", arrival=now - 20))
    clock = [now]
    settings = load_alerts(config)
    alerts = LiveAlerts(config, store, settings, Dispatcher(store, settings, [LogChannel()],
                                                            clock=lambda: clock[0]),
                        [feed], clock=lambda: clock[0])
    alerts._rates_at = now  # the rates are tested above

    feed.live.connected["paris-eps"] = True
    asyncio.run(alerts.tick())
    rows = history(store)
    assert [(r.kind, r.rule, r.subject) for r in rows] == [("fired", "long_ring", "eps-13")]
    assert rows[0].title == "EPS Paris 13e : un appel sonne depuis 1 min 30 s"

    feed.live.connected["paris-eps"] = False  # cut: stale calls are not judged, the cut is
    for minutes in (0, 9, 10):
        clock[0] = now + minutes * 60
        asyncio.run(alerts.tick())
    rows = history(store)
    assert (rows[0].kind, rows[0].rule, rows[0].subject) == ("fired", "listener_down", "paris-eps")
    assert rows[0].title == "Standard paris-eps : écoute interrompue depuis 10 min"
    assert len(rows) == 2

    feed.live.connected["paris-eps"] = True  # back; the long call was answered meanwhile
    feed.live.calls.clear()
    clock[0] = now + 11 * 60
    asyncio.run(alerts.tick())
    assert sorted((r.kind, r.rule) for r in history(store)[:2]) == [("cleared", "listener_down"),
                                                                   ("cleared", "long_ring")]


# ---- after-hours probes --------------------------------------------------------------------------------

def probe(site: str, started: float, verdict: str) -> ProbeRecord:
    local = dt.datetime.fromtimestamp(started, PARIS)
    return ProbeRecord(id=f"probe-{site}-{started:.0f}", site=site, pbx="paris-eps", expected_kind="closed",
                       started_at=started, local_date=local.date().isoformat(),
                       local_time=local.strftime("%H:%M:%S"), number="0199000109", verdict=verdict)


def test_afterhours_probes_failed_twice(store: Store, config: Config) -> None:
    tuesday = MONDAY + dt.timedelta(1)
    for p in (probe("eps-09", at(20), "silence"), probe("eps-09", at(20, day=tuesday), "no_answer"),
              probe("eps-05", at(20), "silence"), probe("eps-05", at(20, day=tuesday), "expected"),
              probe("eps-06", at(20), "silence"),  # one failure only: not judged
              probe("eps-10", at(20), "expected"), probe("eps-10", at(20, 5), "error")):  # errors are skipped
        save_probe(store, p)
    found = afterhours_evaluation(store, config)
    assert [f.subject for f in found.findings] == ["eps-09"]
    f = found.findings[0]
    assert f.title == "EPS Paris 9e : message hors horaires en échec (2 sondes de suite)"
    assert "2026-10-05 20:00 : silence" in f.detail and "2026-10-06 20:00 : pas de réponse" in f.detail
    assert f.detail.startswith("ALERTE qualiphone : EPS Paris 9e (eps-09) — 2 sondes hors horaires")
    assert sorted(found.checked) == ["eps-05", "eps-10"]
    assert found.checked["eps-05"] == \
        "Dernière sonde hors horaires réussie : 2026-10-06 20:00 : message attendu."


# ---- directory gaps: the hook, with findings made here -------------------------------------------------

GAPS = [
    DirectoryGapFinding("did:+33199000150", None,
                        'DID "+33199000150" is used by calls and declared by no site', calls=412,
                        changes_figure=True, change_points=2.4),
    DirectoryGapFinding("queue:std-13b", "eps-13", 'queue "std-13b" is not in eps-13\'s queues', calls=3),
]


def test_directory_gaps_hook(store: Store, config: Config) -> None:
    rule = RuleSettings()
    found = directory_gap_evaluation(GAPS, rule, config)
    assert [(f.subject, f.site) for f in found.findings] == [("did:+33199000150", None),
                                                             ("queue:std-13b", "eps-13")]
    assert found.findings[0].title == "Annuaire des standards : écart did:+33199000150 (sans site)"
    assert "Il modifie un chiffre publié de 2,4 points." in found.findings[0].detail
    assert found.findings[1].title == "Annuaire des standards : écart queue:std-13b (EPS Paris 13e)"
    only = directory_gap_evaluation(GAPS, RuleSettings(only_if_figure_changes=True), config)
    assert [f.subject for f in only.findings] == ["did:+33199000150"]

    # through the dispatcher: both fire; when the check no longer reports the queue, it clears
    settings = load_alerts(config)
    dispatcher = Dispatcher(store, settings, [LogChannel()])
    dispatcher.process([found])
    later = dispatcher.process([directory_gap_evaluation(GAPS[:1], rule, config)])
    assert [(s.notice.kind, s.notice.subject) for s in later.sent] == [(NoticeKind.CLEARED, "queue:std-13b")]

    # `alerts check` evaluates it with a detection function, and says so without one
    wired = scheduled_evaluations(store, config, settings, "2026-10", directory_gaps=lambda: GAPS)
    assert [f.subject for e in wired for f in e.findings if e.rule is Rule.DIRECTORY_GAP] == \
        ["did:+33199000150", "queue:std-13b"]
    unwired = scheduled_evaluations(store, config, settings, "2026-10")
    assert next(e for e in unwired if e.rule is Rule.DIRECTORY_GAP).note.startswith("not evaluated")


def test_a_directory_gap_alert_says_when_its_calls_came_after_hours() -> None:
    """After hours a machine answer moves the share of calls taken by the message, not the
    pickup rate: the alert's description says where the calls came in."""
    import datetime as dt

    from alerts.directory import findings_from_report
    from monitor.directory_gaps import Gap, GapReport

    night = Gap("machine", "Playback@nuit-05", "eps-05", 4, impact=80.0, after_hours=4,
                rate_impact=None, after_hours_impact=80.0)
    mixed = Gap("device", "PJSIP/201", "eps-05", 5, impact=10.0, after_hours=2,
                rate_impact=10.0, after_hours_impact=None)
    day = Gap("device", "PJSIP/202", "eps-06", 3, impact=5.0, rate_impact=5.0)
    report = GapReport(dt.date(2026, 10, 1), dt.date(2026, 10, 31), [night, mixed, day])
    found = {f.key: f.description for f in findings_from_report(report)}
    assert found["machine:eps-05:Playback@nuit-05"].endswith(
        ", hors horaires (effet sur la part des appels pris par le message)")
    assert ", dont 2 hors horaires" in found["device:eps-05:PJSIP/201"]
    assert "hors horaires" not in found["device:eps-06:PJSIP/202"]
