"""A small store for the report tests: three sites over September and October 2026, written
directly with monitor.store.writer.write_calls, and the documents rendered from it once.

* eps-05, eps-11, eps-17: calls every day, in and out of opening hours (in_hours from the
  site calendar, so holidays and closures are honoured: eps-11 closes on 2026-10-16 pm,
  eps-17 on 2026-10-30); answer times on and around 25.0 s; abandons, short abandons, busy,
  failed, voicemail, after-hours messages, test calls (left out), incomplete calls;
* eps-05 has no call on 2026-10-07 (an open day without capture);
* eps-06 only has calls in September: in October it is missing from the capture;
* an AMI capture gap on 2026-10-20 from 10:00 to 10:30.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from config import Config, load_config
from ingest.ami.models import capture_gaps
from monitor.calendar import SiteCalendar
from monitor.call import Call, Outcome, Source
from monitor.store import Store, open_store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts
from reports.build import Output, build_reports
from reports.data import Period
from tests.conftest import skip_or_fail

PARIS = ZoneInfo("Europe/Paris")
GENERATED = dt.datetime(2026, 11, 2, 8, 30)
SITES = {"eps-05": 0.9, "eps-11": 0.65, "eps-17": 0.85}  # share answered quickly
SILENT = ("eps-05", dt.date(2026, 10, 7))
GAP = (dt.datetime(2026, 10, 20, 10, 0), dt.datetime(2026, 10, 20, 10, 30))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _call(site: str, key: str, local: dt.datetime, outcome: Outcome, in_hours: bool,
          tta: float | None = None, hangup: float | None = None, **kw: object) -> Call:
    arrival = local.replace(tzinfo=PARIS).timestamp()
    answer = None if tta is None else arrival + tta
    end = (answer + 95.0) if answer is not None else (arrival + hangup if hangup else None)
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=Source.CEL, answer=answer, end=end, in_hours=in_hours, local_date=date,
                local_hour=hour, local_weekday=weekday, resolution=1e-6, **kw)  # type: ignore[arg-type]


def _in_hours_call(rng: np.random.Generator, site: str, key: str, local: dt.datetime,
                   quick: float) -> Call:
    draw = rng.random()
    if draw < 0.7:
        tta = float(rng.choice([rng.gamma(2.0, 5.0), 25.0, 24.999999, 25.000001, 60.5],
                               p=[0.9, 0.03, 0.03, 0.02, 0.02]))
        tta = tta if rng.random() < quick else tta + 20.0
        return _call(site, key, local, Outcome.ANSWERED, True, tta=round(tta, 6),
                     is_test=rng.random() < 0.02, incomplete=rng.random() < 0.01)
    if draw < 0.85:
        return _call(site, key, local, Outcome.ABANDONED, True, hangup=float(rng.uniform(5, 90)))
    if draw < 0.9:
        return _call(site, key, local, Outcome.SHORT_ABANDON, True, hangup=float(rng.uniform(0, 5)))
    outcome = [Outcome.BUSY, Outcome.FAILED, Outcome.VOICEMAIL][int(rng.integers(3))]
    if outcome is Outcome.FAILED and key.endswith(("1", "3", "5")):  # (no draw: same data)
        outcome = Outcome.NO_ANSWER  # rang out: the PBX ended the call
    return _call(site, key, local, outcome, True, hangup=1.0)


def _after_hours_call(rng: np.random.Generator, site: str, key: str, local: dt.datetime) -> Call:
    draw = rng.random()
    if draw < 0.8:
        return _call(site, key, local, Outcome.MESSAGE, False, hangup=28.0)
    if draw < 0.95:
        return _call(site, key, local, Outcome.ABANDONED, False, hangup=3.0)
    return _call(site, key, local, Outcome.ANSWERED, False, tta=8.0)


def make_calls(config: Config) -> list[Call]:
    """Every call of the test store, the same on every run."""
    rng = np.random.default_rng(5)
    cal = SiteCalendar(config)
    out = []
    sites = {**SITES, "eps-06": 0.8}
    for site_id, quick in sites.items():
        site = config.site(site_id)
        last = dt.date(2026, 9, 30) if site_id == "eps-06" else dt.date(2026, 10, 31)
        for day in _days(dt.date(2026, 9, 1), last):
            if (site_id, day) == SILENT:
                continue
            for k in range(int(rng.integers(18, 30))):
                minute = int(rng.integers(7 * 60, 20 * 60))
                local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60,
                                                         int(rng.integers(60))))
                key = f"{site_id}-{day}-{k}"
                out.append(_in_hours_call(rng, site_id, key, local, quick)
                           if cal.is_open(site, local) else
                           _after_hours_call(rng, site_id, key, local))
    return out


@pytest.fixture(scope="session")
def report_config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def report_store(tmp_path_factory: pytest.TempPathFactory,
                 report_config: Config) -> Iterator[Store]:
    """The test store (SQLite file), filled once for the session."""
    path = tmp_path_factory.mktemp("reports") / "store.db"
    store = open_store(f"sqlite:///{path}")
    start, end = (t.replace(tzinfo=PARIS).timestamp() for t in GAP)
    with store.engine.begin() as conn:
        write_calls(conn, make_calls(report_config))
        conn.execute(sa.insert(capture_gaps).values(pbx="paris-eps", start_time=start,
                                                    end_time=end, reason="connexion perdue"))
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def report_url(report_store: Store) -> str:
    return report_store.engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def october(report_store: Store, report_config: Config) -> Output:
    """October 2026 rendered once: two statements, the synthesis, the tracking table."""
    return build_reports(report_store.engine, report_config, Period.month("2026-10"),
                         sites=["eps-05", "eps-11"], generated=GENERATED)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext extracts it (layout kept), spaces made plain."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    try:
        done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              check=True, text=True)
    except FileNotFoundError:
        skip_or_fail("pdftotext not found (apt-get install poppler-utils; .ci/run does)")
    return done.stdout.replace("\u202f", " ").replace("\u00a0", " ")
