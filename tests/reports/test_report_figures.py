"""The statements' figures are those of `qualiphone stats` for the same period and rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner

from config import Config
from monitor.store import Store
from qualiphone.cli import cli
from reports.data import Figures, Period, gather
from reports.statement import statement
from reports.synthesis import synthesis


def stats(url: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def figures(report_store: Store, report_config: Config) -> Figures:
    return gather(report_store.engine, report_config, Period.month("2026-10"))


OCTOBER = ("--from", "2026-10-01", "--to", "2026-10-31")


def test_headline_of_every_site_is_the_stats_record(figures: Figures, report_url: str) -> None:
    cells = {c["site"]: c for c in stats(report_url, *OCTOBER)["cells"]}
    assert len(cells) == 17
    for site_id in figures.site_ids:
        assert statement(figures, site_id).head == cells[site_id], site_id
    assert cells["eps-11"]["offered"] > 200  # the comparison is not between empty cells


def test_all_hours_city_and_staffing_match_stats(figures: Figures, report_url: str) -> None:
    every = {c["site"]: c for c in stats(report_url, *OCTOBER, "--all-hours")["cells"]}
    city = stats(report_url, *OCTOBER, "--merge-sites")["cells"][0]
    hint = stats(report_url, *OCTOBER, "--staffing", "--site", "eps-11")["staffing"]
    s = statement(figures, "eps-11")
    assert s.head_all == every["eps-11"] and s.city == city
    assert every["eps-11"]["message"] > 0
    a = s.after_hours
    assert a.offered == every["eps-11"]["offered"] - s.head["offered"]
    assert a.message == every["eps-11"]["message"] and a.answered + a.unanswered > 0
    below = [c for c in hint["cells"] if c["calls"] and c["pickup_rate"] < 0.8]
    assert s.understaffed == below and below


def test_trend_months_match_stats_by_month(figures: Figures, report_url: str) -> None:
    doc = stats(report_url, "--from", "2025-11-01", "--to", "2026-10-31", "--by", "month",
                "--show-empty", "--site", "eps-06", "--site", "eps-17")
    by_site = {s: [c for c in doc["cells"] if c["site"] == s] for s in ("eps-06", "eps-17")}
    for site_id, cells in by_site.items():
        assert statement(figures, site_id).trend == cells
    assert [c["offered"] > 0 for c in by_site["eps-06"]][-2:] == [True, False]


def test_heatmap_and_days_match_stats(figures: Figures, report_url: str) -> None:
    s = statement(figures, "eps-05")
    cells = stats(report_url, *OCTOBER, "--by", "weekday-hour", "--show-empty", "--site",
                  "eps-05")["cells"]
    assert [c["offered"] for c in cells] == s.heat_offered.ravel().tolist()
    days = stats(report_url, *OCTOBER, "--by", "day", "--show-empty", "--site", "eps-05")["cells"]
    assert [c["offered"] for c in days] == [d.offered for d in s.days]
    worst = min((c for c in days if c["pickup_rate"]["n"] >= 10),
                key=lambda c: c["pickup_rate"]["value"])
    assert s.worst_days[0].day.isoformat() == worst["period"]


def test_synthesis_ranks_by_the_stats_rate(figures: Figures, report_url: str) -> None:
    cells = {c["site"]: c for c in stats(report_url, *OCTOBER)["cells"]}
    syn = synthesis(figures)
    ranked = [x.site.id for x in syn.lines if x.rank is not None]
    expected = sorted((s for s in cells if cells[s]["pickup_rate"]["value"] is not None),
                      key=lambda s: -cells[s]["pickup_rate"]["value"])
    assert ranked == expected == ["eps-05", "eps-17", "eps-11"]
    assert [x.site.id for x in syn.missing][:1] == ["eps-centre"] and len(syn.missing) == 14
    assert "eps-06" in {x.site.id for x in syn.missing}


def test_coverage_states_the_holes(figures: Figures) -> None:
    c05, c11 = figures.coverage.sites["eps-05"], figures.coverage.sites["eps-11"]
    assert [d.isoformat() for d in c05.silent_days] == ["2026-10-07"]
    assert len(c05.gaps) == 1 and c05.gaps[0].open_seconds == 1800
    assert c11.incomplete_total > 0 and c11.by_source == {"CEL": c11.calls}
    assert figures.coverage.sites["eps-06"].calls == 0
    marks = {(m.site, m.day.isoformat(), m.kind) for m in figures.marks}
    assert ("eps-11", "2026-10-16", "fermeture") in marks
    assert ("eps-17", "2026-10-30", "fermeture") in marks


def test_gather_on_sqlite_and_postgresql(store: Store, report_config: Config) -> None:
    """The store-side parts (calls, coverage counts, capture gaps) on both stores."""
    import sqlalchemy as sa

    from ingest.ami.models import capture_gaps
    from monitor.store.writer import write_calls
    from tests.reports.conftest import GAP, PARIS, make_calls

    calls = [c for c in make_calls(report_config) if "2026-10-01" <= c.local_date <= "2026-10-09"]
    start, end = (t.replace(tzinfo=PARIS).timestamp() - 14 * 86400 for t in GAP)  # Tue 6 Oct
    with store.engine.begin() as conn:
        write_calls(conn, calls)
        conn.execute(sa.insert(capture_gaps).values(pbx="paris-eps", start_time=start,
                                                    end_time=end, reason="test"))
    url = store.engine.url.render_as_string(hide_password=False)
    figures = gather(store.engine, report_config, Period.month("2026-10"))
    cells = {c["site"]: c for c in stats(url, *OCTOBER)["cells"]}
    assert [statement(figures, s).head for s in figures.site_ids] == list(cells.values())
    c11 = figures.coverage.sites["eps-11"]
    incomplete = sum(1 for c in calls if c.site == "eps-11" and c.incomplete and not c.is_test)
    every = stats(url, *OCTOBER, "--all-hours", "--site", "eps-11")["cells"][0]
    assert incomplete and c11.incomplete == {"2026-10": incomplete}
    assert c11.calls == every["offered"] and [g.open_seconds for g in c11.gaps] == [1800.0]


def test_calls_the_pbx_ended_have_their_own_line(figures: Figures, report_url: str) -> None:
    """No-answer calls (the PBX ended them) are the stats' `no_answer`, apart from the abandons,
    in the statement's table of unanswered calls and in the indicators workbook."""
    from reports.tables import unanswered_table
    from reports.xlsx import HEADERS, _row

    cells = {c["site"]: c for c in stats(report_url, *OCTOBER)["cells"]}
    assert sum(c["no_answer"] for c in cells.values()) > 0
    for site_id in ("eps-11", "eps-17"):
        s = statement(figures, site_id)
        rows = dict(unanswered_table(s)[1])
        said = rows["Sans réponse : le standard a mis fin à l'appel sans qu'une personne décroche"]
        assert said == str(cells[site_id]["no_answer"])
        assert rows["Abandons : l'appelant a raccroché avant toute réponse"] == \
            str(cells[site_id]["abandoned"])
    row = _row(figures, figures.index("eps-11"), "2026-10", dt.datetime(2026, 11, 2))
    assert row[HEADERS.index("Sans réponse (fin par le standard)")] == cells["eps-11"]["no_answer"]

