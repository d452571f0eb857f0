"""The wallboard in a real headless Chromium (Debian's package): the page loads, a simulated
call rings and turns red past 25 s, the counters change when it ends; on a full morning, sites
below the goal are marked by colour and words, thin rates are muted, calls the directory cannot
classify are shown apart, and the board fills 1920×1080 and 1366×768 screens. Skipped with a
reason when chromium is missing locally; a failure in CI (.ci/run installs it).

QUALIPHONE_SCREENSHOTS=docs/img also writes the morning's screenshots there (README)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from config import Config
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.wallboard.board import Wallboard
from monitor.wallboard.server import WallboardServer
from simulator.timeline import SimCall
from tests.conftest import skip_or_fail
from tests.wallboard.board_scenario import INCOMPLETE_SITE, NOW, morning_calls, morning_feed
from tests.wallboard.chromium_support import Chromium, chromium_path
from tests.wallboard.test_wallboard_http import slow_call
from tests.wallboard.wallboard_support import LoopThread, ScriptedFeed

BELOW_FILL = "rgb(179, 38, 30)"  # td.rate.below
MUTED = "rgb(139, 150, 163)"  # td.rate.few
INCOMPLETE_FILL = "rgb(106, 63, 181)"  # td.uncl.incomplete


def need_chromium() -> None:
    if chromium_path() is None:
        skip_or_fail("chromium is not installed (apt-get install chromium; .ci/run does)")


def test_the_page_in_chromium(config: Config, capture: CaptureContext, sim_calls: list[SimCall],
                              sqlite_store: Store, loop_thread: LoopThread, tmp_path: Path) -> None:
    need_chromium()
    call = slow_call(sim_calls)
    feed = ScriptedFeed.of(capture, call)
    board = Wallboard(config, sqlite_store.engine, [feed])
    server = WallboardServer(board.snapshot, tick=0.2)
    loop_thread.call(board.refresh())
    port = loop_thread.call(server.start())
    cell = f"document.querySelector('#site-{call.site} td.%s')"
    try:
        with Chromium() as browser:
            browser.navigate(f"http://127.0.0.1:{port}/")
            assert browser.wait_for("document.querySelectorAll('#sites tr').length") == 17
            assert browser.evaluate(f"{cell % 'ring'}.textContent") == "—"
            loop_thread.do(lambda: feed.advance(call.arrival + 5))
            browser.wait_for(f"{cell % 'ring'}.className === 'ring ok'")
            loop_thread.do(lambda: feed.advance(call.arrival + 27))
            browser.wait_for(f"{cell % 'ring'}.className === 'ring late'")
            text = browser.evaluate(f"{cell % 'ring'}.textContent")
            assert text.startswith("27 s") and text.endswith("hors délai")  # colour and text
            colour = browser.evaluate(f"getComputedStyle({cell % 'ring'}).backgroundColor")
            assert colour == "rgb(198, 40, 40)"
            assert browser.screenshot(tmp_path / "late.png").read_bytes()[:4] == b"\x89PNG"
            loop_thread.do(lambda: feed.advance(call.end + 1))
            loop_thread.call(board.refresh())
            browser.wait_for(f"{cell % 'offered'}.textContent === '1' && "
                             f"{cell % 'answered'}.textContent === '1'")
            assert browser.evaluate(f"{cell % 'ring'}.textContent") == "—"
            # 0 % on one call: below the goal, but muted, not a bold red figure
            assert browser.evaluate(f"{cell % 'rate'}.textContent") == "0,0 %sous l'objectif"
            style = browser.evaluate(f"(s => [s.color, s.fontWeight, s.backgroundColor])"
                                     f"(getComputedStyle({cell % 'rate'}))")
            assert style == [MUTED, "400", "rgba(0, 0, 0, 0)"]
    finally:
        loop_thread.call(server.close())


@pytest.fixture
def morning(config: Config, sqlite_store: Store, loop_thread: LoopThread) -> Any:
    """A wallboard at 10:40 on a simulated Monday: (port, snapshot)."""
    with sqlite_store.engine.begin() as conn:
        write_calls(conn, morning_calls(config))
    board = Wallboard(config, sqlite_store.engine, [morning_feed(config)], now=lambda: NOW)
    loop_thread.call(board.refresh())
    server = WallboardServer(board.snapshot, tick=0.5)
    port = loop_thread.call(server.start())
    yield port, board.snapshot()
    loop_thread.call(server.close())


def _cells(browser: Chromium, site: str) -> dict[str, dict[str, str]]:
    """Each cell of a row: its class, text, colour, weight and background."""
    return dict(browser.evaluate(f"""Object.fromEntries([...document.querySelectorAll(
        '#{site} td')].map(td => {{const s = getComputedStyle(td);
        return [td.className.split(' ')[0] === 'rate' && td.classList.contains('hour') ? 'hour'
                : td.className.split(' ')[0],
                {{cls: td.className, text: td.textContent, color: s.color,
                  weight: s.fontWeight, background: s.backgroundColor}}]}}))"""))


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_a_morning_on_the_board(size: tuple[int, int], morning: Any, tmp_path: Path) -> None:
    need_chromium()
    port, snap = morning
    rows = {r["id"]: r for r in snap["sites"]}
    below = [r for r in snap["sites"] if r["pickup_below"] and not r["pickup_few"]]
    fine = [r for r in snap["sites"] if not r["pickup_below"] and not r["pickup_few"]]
    few = [r for r in snap["sites"] if r["hour_few"] and r["hour_n"]]
    assert below and fine and few  # the morning has all three
    with Chromium(*size) as browser:
        browser.navigate(f"http://127.0.0.1:{port}/")
        browser.wait_for("document.querySelector('#sites tr td.offered')?.textContent")
        assert browser.evaluate("document.getElementById('date').textContent") == \
            "lundi 5 octobre 2026"
        for r in below:  # colour and words, n beside
            cells = _cells(browser, f"site-{r['id']}")
            assert cells["rate"]["background"] == BELOW_FILL and cells["rate"]["weight"] == "700"
            assert cells["rate"]["text"].endswith("sous l'objectif")
            assert cells["n"]["text"] == str(r["pickup_n"])
        for r in fine:
            cells = _cells(browser, f"site-{r['id']}")
            assert "objectif" not in cells["rate"]["text"]
            assert cells["rate"]["background"] == "rgba(0, 0, 0, 0)"
        for r in few:  # too few calls: muted, not bold, with its n
            cells = _cells(browser, f"site-{r['id']}")
            assert (cells["hour"]["color"], cells["hour"]["weight"]) == (MUTED, "400")
            assert cells["hour_n"]["text"] == str(r["hour_n"])
        _check_unclassified(browser, rows[INCOMPLETE_SITE])
        _check_fills_the_screen(browser, *size)
        shot = browser.screenshot(tmp_path / f"wallboard-{size[0]}x{size[1]}.png")
        if os.environ.get("QUALIPHONE_SCREENSHOTS"):
            shutil.copy(shot, Path(os.environ["QUALIPHONE_SCREENSHOTS"]) / shot.name)
        # another machine's wider font: the board shrinks instead of cutting a figure
        browser.evaluate("document.documentElement.style.fontFamily = 'DejaVu Sans';"
                         "dispatchEvent(new Event('resize'))")
        _check_fills_the_screen(browser, *size)


def _check_unclassified(browser: Chromium, row: dict[str, Any]) -> None:
    """Calls answered by a phone the directory does not know: apart, never abandons."""
    assert row["unclassified"] > 0 and row["unclassified_now"] == 1
    cells = _cells(browser, f"site-{row['id']}")
    assert cells["uncl"]["background"] == INCOMPLETE_FILL
    assert cells["uncl"]["text"] == f"{row['unclassified']}+1répertoire incomplet"
    assert cells["abandoned"]["text"] == str(row["abandoned"])
    assert cells["ringing"]["text"] == "0"  # the call in progress with that phone rings no more
    city = _cells(browser, "city")
    assert "répertoire incomplet" in city["uncl"]["text"]


def _check_fills_the_screen(browser: Chromium, width: int, height: int) -> None:
    found = browser.evaluate("""(() => {
        const rows = [...document.querySelectorAll('#city, #sites tr')];
        const foot = document.querySelector('footer').getBoundingClientRect();
        return {scrollW: document.documentElement.scrollWidth,
                scrollH: document.documentElement.scrollHeight,
                rows: rows.map(r => r.getBoundingClientRect().height),
                footBottom: foot.bottom,
                font: parseFloat(getComputedStyle(document.documentElement).fontSize),
                cut: [...document.querySelectorAll('td, th, header')]
                    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)};
    })()""")
    assert found["scrollW"] <= width and found["scrollH"] <= height  # no scrolling
    assert found["cut"] == []  # no figure or label cut short
    assert found["footBottom"] <= height
    assert sum(found["rows"]) >= 0.8 * height  # the sites' rows take the screen
    assert min(found["rows"]) >= height / 30  # each readable from across a room:
    assert found["font"] >= height / 45  # figures of 24 px and more at 1080 lines
