"""Each role's main task in Debian's headless chromium, driven by Playwright (never
`playwright install`: the system browser). Skipped with a reason when chromium or Playwright is
missing locally; a failure in CI (.ci/run installs both).

Set QUALIPHONE_SCREENSHOTS=docs/img to refresh the README's screenshots.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mystery.models import mystery_actions, mystery_planned_calls
from qualiphone.cli import cli
from tests.conftest import skip_or_fail
from tests.wallboard.chromium_support import chromium_path
from tests.web.web_support import PASSWORD, Served, plan_shipped_campaign
from web.console import Console, pct

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        skip_or_fail("chromium is not installed (apt-get install chromium; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def site(console: Console) -> Iterator[tuple[str, Console]]:
    plan_shipped_campaign(console.store, console.config)
    with Served(console) as url:
        yield url, console


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("QUALIPHONE_SCREENSHOTS") or tmp_path)


def _login(browser: Any, url: str, username: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{url}/")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#logout")
    return page


def _logout(page: Any) -> None:
    page.click("#logout")
    page.wait_for_selector("#login")
    page.goto(page.url.split("/login")[0] + "/stats")
    assert "/login" in page.url  # the session is over


def _stats_json(console: Console, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--db", str(console.store.engine.url), "stats", "--format",
                                      "json", *args])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["cells"])


def test_director(browser: Any, site: tuple[str, Console], tmp_path: Path) -> None:
    url, console = site
    (console.reports_dir / "releve-2026-10-eps-05.pdf").write_bytes(b"%PDF-1.7 eps-05")
    (console.reports_dir / "releve-2026-10-eps-13.pdf").write_bytes(b"%PDF-1.7 eps-13")
    page = _login(browser, url, "dir05")
    assert page.locator("#site-list li").all_inner_texts() == ["EPS Paris 5e eps-05"]
    # the stats explorer: the figures of `stats --format json` for the same period
    page.goto(f"{url}/stats?from=2026-10-01&to=2026-10-03&site=eps-05&by=day")
    expected = _stats_json(console, "--from", "2026-10-01", "--to", "2026-10-03", "--site", "eps-05",
                           "--by", "day")
    rows = page.locator("#cells tbody tr")
    assert rows.count() == len(expected) > 0
    for i, cell in enumerate(expected):
        row = rows.nth(i)
        assert row.get_attribute("data-period") == cell["period"]
        assert row.locator("td.offered").inner_text() == str(cell["offered"])
        assert row.locator("td.rate").inner_text() == pct(cell["pickup_rate"]["value"])
    assert page.locator("select#site option").all_inner_texts() == ["tous mes sites", "EPS Paris 5e"]
    # statements: their own downloads, another site's is refused (by URL too)
    page.goto(f"{url}/releves")
    assert page.locator("a.doc").evaluate_all("l => l.map(a => a.dataset.name)") == \
        ["releve-2026-10-eps-05.pdf"]
    with page.expect_download() as download:
        page.evaluate("() => { const a = document.querySelector('a.doc'); "
                      "a.setAttribute('download', ''); a.click(); }")
    assert Path(download.value.path()).read_bytes() == b"%PDF-1.7 eps-05"
    refused = page.goto(f"{url}/releves/fichier/releve-2026-10-eps-13.pdf")
    assert refused.status == 404 and "Page introuvable" in page.content()
    page.goto(f"{url}/hors-horaires?mois=2026-10")
    assert page.locator(".probe-site").count() == 1 and page.locator("#probes-eps-05").count() == 1
    _logout(page)


def _double_call(console: Console) -> sa.Row:
    with console.store.engine.connect() as conn:
        return conn.execute(sa.select(mystery_planned_calls).where(
            mystery_planned_calls.c.double_scored, mystery_planned_calls.c.scenario != "personne-absente")
            .order_by(mystery_planned_calls.c.call_id)).first()


def _fill(page: Any, politesse: str) -> None:
    page.fill("input[name='c:decroche-25s']", "14")
    for criterion, value in (("annonce-service", "oui"), ("politesse", politesse),
                             ("ecoute", "3"), ("information-orientation", "4"),
                             ("mise-en-attente", "SO"), ("prise-de-conge", "oui")):
        page.check(f"input[name='c:{criterion}'][value='{value}']")


def test_caller_scores_a_call(browser: Any, site: tuple[str, Console], tmp_path: Path) -> None:
    url, console = site
    page = _login(browser, url, "appelant")
    page.click("text=Mes appels")
    calls = page.locator("section.call")
    assert calls.count() > 0
    with console.store.engine.connect() as conn:
        mine = {r.call_id: r for r in conn.execute(sa.select(mystery_planned_calls)
                                                   .where(mystery_planned_calls.c.caller == "appelant-a"))}
    shown = [i.removeprefix("call-") for i in calls.evaluate_all("l => l.map(s => s.id)")]
    assert set(shown) == set(mine)
    call_id = next(c for c in shown if mine[c].scenario != "personne-absente")
    page.click(f"#call-{call_id} a.button")
    criteria = page.locator("fieldset.criterion").evaluate_all("l => l.map(f => f.dataset.criterion)")
    assert "absence-transfert" not in criteria and "politesse" in criteria  # scenario's only
    page.check("input[name='c:ecoute'][value='']")
    page.fill("input[name='c:decroche-25s']", "vingt")
    page.click("#save-final")
    assert page.locator(".field-error").first.inner_text().startswith("Réponse « vingt » refusée")
    _fill(page, "oui")
    page.fill("#comment", "<script>document.title='pwned'</script> très bon accueil")
    page.click("#save-final")
    page.wait_for_selector("#saved")
    assert page.locator("#observed-seconds").inner_text() == "14,0 s"
    assert page.locator("#pbx-seconds").inner_text()  # the PBX's measure, or why there is none
    assert page.title() != "pwned"
    assert page.locator("#stored-comment").inner_text().startswith("<script>")  # shown as text
    page.screenshot(path=str(_shots(tmp_path) / "console-scoring.png"), full_page=False)
    _logout(page)


def test_quality_double_scores_edits_an_action_and_generates(
        browser: Any, site: tuple[str, Console], tmp_path: Path) -> None:
    url, console = site
    call = _double_call(console)
    page = _login(browser, url, "qualite")
    for role, politesse in (("primary", "oui"), ("second", "non")):
        page.goto(f"{url}/mystere/appel/{call.call_id}?role={role}")
        _fill(page, politesse)
        page.click("#save-final")
        page.wait_for_selector("#saved")
    page.goto(f"{url}/mystere/campagne/eps-2026/rapport")
    assert page.locator("tr[data-criterion='politesse'] td.pairs").inner_text() == "1"
    assert page.locator("tr[data-criterion='politesse'] td.kappa").inner_text() == "0,00"  # oui/non
    assert page.locator("tr[data-criterion='politesse']").get_attribute("class") == "flagged"
    # an action: edit it and see its history
    with console.store.engine.begin() as conn:
        action = conn.execute(sa.insert(mystery_actions).values(
            campaign_id="eps-2026", site=call.site, criterion="politesse", finding="2 sur 8",
            action="Reprendre les règles de politesse", owner="", due="", status="open",
            comment="", created_at=time.time(), updated_at=time.time())
            .returning(mystery_actions.c.id)).scalar_one()
    page.goto(f"{url}/mystere/actions?campagne=eps-2026")
    page.click(f"tr[data-action='{action}'] a")
    page.fill("#owner", "Direction EPS")
    page.fill("#due", "2027-01-31")
    page.select_option("#status", "in_progress")
    page.click("#save-action")
    history = page.locator("#history").inner_text()
    assert "responsable : « — » → « Direction EPS »" in history
    assert "statut : « à faire » → « en cours »" in history
    page.screenshot(path=str(_shots(tmp_path) / "console-actions.png"))
    # a statement generated on demand, then downloaded
    page.goto(f"{url}/releves")
    page.fill("input[name='month']", "2026-10")
    page.select_option("select[name='site']", "eps-05")
    page.click("#generate button")
    page.wait_for_selector("#generated", timeout=120_000)
    with page.expect_download() as download:
        page.evaluate("() => { const a = document.querySelector(\"a.doc[data-name$='eps-05.pdf']\");"
                      " a.setAttribute('download', ''); a.click(); }")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    # the explorer over all sites, with its charts
    page.goto(f"{url}/stats?from=2026-10-01&to=2026-10-03&by=site")
    expected = _stats_json(console, "--from", "2026-10-01", "--to", "2026-10-03")
    rates = page.locator("#cells td.rate").all_inner_texts()
    assert rates == [pct(c["pickup_rate"]["value"]) for c in expected]
    assert page.locator(".chart svg").count() == 3
    page.screenshot(path=str(_shots(tmp_path) / "console-stats.png"), full_page=True)
    _logout(page)


def test_supervisor_live_view(browser: Any, site: tuple[str, Console], tmp_path: Path) -> None:
    url, _ = site
    page = _login(browser, url, "sup13")
    page.click("text=Temps réel")
    board = page.frame_locator("iframe.board")
    board.locator("#site-eps-13").wait_for()
    assert board.locator("#sites tr").count() == 1
    assert board.locator("#city td.name").inner_text() == "Les 1 EPS"  # its own site only
    links = page.locator("#history-links a")
    assert links.all_inner_texts() == ["EPS Paris 13e"]
    page.screenshot(path=str(tmp_path / "console-live.png"))
    links.first.click()
    assert re.search(r"site=eps-13", page.url) and page.locator("#cells").count() == 1
    _logout(page)


def test_admin_adds_an_account(browser: Any, site: tuple[str, Console]) -> None:
    url, _ = site
    page = _login(browser, url, "admin")
    page.goto(f"{url}/admin/comptes")
    page.fill("input[name='username']", "sup05")
    page.select_option("select[name='role']", "supervisor")
    page.select_option("select[name='sites']", ["eps-05"])
    page.click("text=Créer le compte")
    shown = page.locator("#one-time").inner_text()
    password = shown.rsplit(" ", 1)[-1]
    assert "sup05" in page.locator("#users").inner_text() and len(password) >= 12
    _logout(page)
    other = browser.new_page()
    other.goto(f"{url}/login")
    other.fill("#username", "sup05")
    other.fill("#password", password)
    other.click("#login")
    other.wait_for_selector("input[name='new']")  # a one-time password must be changed
