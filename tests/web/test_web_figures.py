"""The stats explorer gives `qualiphone stats --format json`'s figures; downloads are safe."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from qualiphone.cli import cli
from web.console import Console, pct
from web.downloads import csv_bytes, neutralise, xlsx_bytes

PERIOD = {"from": "2026-10-01", "to": "2026-10-03"}


def _cli_json(console: Console, *args: str) -> dict:
    db = str(console.store.engine.url)
    result = CliRunner().invoke(cli, ["--db", db, "stats", "--from", PERIOD["from"], "--to",
                                      PERIOD["to"], "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("by", ["site", "day", "hour", "weekday-hour"])
def test_explorer_json_equals_stats_json(console: Console, client_for: Callable[[str], TestClient],
                                         by: str) -> None:
    expected = _cli_json(console, "--by", by)
    response = client_for("qualite").get("/stats.json", params={**PERIOD, "by": by})
    assert response.status_code == 200
    got = response.json()
    assert got == expected
    assert sum(c["offered"] for c in got["cells"]) > 1000  # the simulated days are there


def test_explorer_page_shows_the_same_figures(console: Console,
                                              client_for: Callable[[str], TestClient]) -> None:
    expected = _cli_json(console, "--site", "eps-05", "--by", "day")["cells"]
    html = client_for("dir05").get("/stats", params={**PERIOD, "site": "eps-05", "by": "day"}).text
    rows = re.findall(r'<tr data-site="eps-05" data-period="([^"]+)">(.*?)</tr>', html, re.S)
    assert [period for period, _ in rows] == [c["period"] for c in expected]
    for (_, row), cell in zip(rows, expected, strict=True):
        assert f'<td class="offered">{cell["offered"]}</td>' in row
        assert f'<td class="within">{cell["answered_within"]}</td>' in row
        assert f'>{pct(cell["pickup_rate"]["value"])}</td>' in row
    assert "<svg" in html and "objectif 80 %" in html  # the charts, against the goal


def test_director_sees_only_their_sites(client_for: Callable[[str], TestClient]) -> None:
    director = client_for("dir05")
    doc = director.get("/stats.json", params=PERIOD).json()
    assert {c["site"] for c in doc["cells"]} == {"eps-05"}
    page = director.get("/stats", params=PERIOD).text
    assert "eps-13" not in page and "EPS Paris 13e" not in page
    for url in ("/stats", "/stats.json", "/stats.csv", "/stats.xlsx"):
        assert director.get(url, params={**PERIOD, "site": "eps-13"}).status_code == 404


def test_caller_has_no_figures(client_for: Callable[[str], TestClient]) -> None:
    caller = client_for("appelant")
    assert caller.get("/stats").status_code == 403
    assert caller.get("/stats.csv").status_code == 403


def test_csv_and_xlsx_downloads(client_for: Callable[[str], TestClient], tmp_path: Path) -> None:
    quality = client_for("qualite")
    csv_response = quality.get("/stats.csv", params={**PERIOD, "by": "site"})
    assert csv_response.headers["content-disposition"].startswith('attachment; filename="indicateurs')
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("site;period;offered")
    assert len(lines) == 18  # header and the 17 sites
    xlsx = quality.get("/stats.xlsx", params={**PERIOD, "by": "site"})
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 18 and sheet.cell(1, 1).value == "site"


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise(-1.5) == -1.5  # numbers stay numbers
    assert ("'" + text).encode() in csv_bytes(["a"], [[text]]).replace(b'"', b"")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx_bytes("t", ["a"], [[text]]))).active
    value = sheet.cell(2, 1).value  # (XML reads a carriage return back as a line feed)
    assert value.startswith("'") and sheet.cell(2, 1).data_type == "s"


def test_bad_dates_are_explained(client_for: Callable[[str], TestClient]) -> None:
    page = client_for("qualite").get("/stats", params={"from": "2026-13-01"})
    assert page.status_code == 400 and "n&#39;est pas une date" in page.text
