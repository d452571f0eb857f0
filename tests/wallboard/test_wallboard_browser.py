"""The wallboard in a real headless Chromium (Debian's package): the page loads, a simulated
call rings and turns red past 25 s, the counters change when it ends. Skipped with a reason
when chromium is missing locally; a failure in CI (.ci/run installs it)."""

from __future__ import annotations

from pathlib import Path

from config import Config
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.wallboard.board import Wallboard
from monitor.wallboard.server import WallboardServer
from simulator.timeline import SimCall
from tests.conftest import skip_or_fail
from tests.wallboard.chromium_support import Chromium, chromium_path
from tests.wallboard.test_wallboard_http import slow_call
from tests.wallboard.wallboard_support import LoopThread, ScriptedFeed


def test_the_page_in_chromium(config: Config, capture: CaptureContext, sim_calls: list[SimCall],
                              sqlite_store: Store, loop_thread: LoopThread, tmp_path: Path) -> None:
    if chromium_path() is None:
        skip_or_fail("chromium is not installed (apt-get install chromium; .ci/run does)")
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
            assert browser.evaluate(f"{cell % 'rate'}.textContent") == "0,0 %"
    finally:
        loop_thread.call(server.close())
