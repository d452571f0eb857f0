"""`qualiphone top`: the wallboard's snapshot in a terminal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from config import Config
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.top import render
from monitor.wallboard.board import Wallboard
from monitor.wallboard.server import WallboardServer
from qualiphone.cli import cli
from simulator.timeline import SimCall
from tests.wallboard.test_wallboard_http import slow_call
from tests.wallboard.wallboard_support import LoopThread, ScriptedFeed

TOKEN = "top-token-0123456789abcdef"


def test_top_shows_what_the_wallboard_shows(config: Config, capture: CaptureContext,
                                            sim_calls: list[SimCall], sqlite_store: Store,
                                            loop_thread: LoopThread,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    call = slow_call(sim_calls)
    feed = ScriptedFeed.of(capture, call)
    feed.advance(call.arrival + 30)
    board = Wallboard(config, sqlite_store.engine, [feed])
    server = WallboardServer(board.snapshot, token=TOKEN)
    port = loop_thread.call(server.start("127.0.0.2", 0))
    url = f"http://127.0.0.2:{port}"
    monkeypatch.delenv("QUALIPHONE_WALLBOARD_TOKEN", raising=False)
    refused = CliRunner().invoke(cli, ["top", "--url", url, "--once"])
    assert refused.exit_code == 1 and "wants its token: set QUALIPHONE_WALLBOARD_TOKEN" in refused.output
    monkeypatch.setenv("QUALIPHONE_WALLBOARD_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["top", "--url", url, "--once"])
    loop_thread.call(server.close())
    assert result.exit_code == 0, result.output
    assert "Standards des EPS" in result.output and "EPS Paris 13e" in result.output
    assert "30 s hors délai" in result.output and "Taux de décroché" in result.output


def test_top_says_where_no_wallboard_answers() -> None:
    result = CliRunner().invoke(cli, ["top", "--url", "http://127.0.0.1:9", "--once"])
    assert result.exit_code == 1 and 'no wallboard at "http://127.0.0.1:9"' in result.output


def test_render_marks_late_rings_with_text() -> None:
    row = {"name": "EPS Paris 5e", "ringing": 1, "longest_ring": 31.0, "level": "late",
           "waiting": 1, "offered": 3, "answered": 2, "answered_within": 2, "abandoned": 0,
           "pickup_rate": 2 / 3, "hour_pickup_rate": None, "hour_n": 0, "agents_logged": 2,
           "agents_free": 0}
    state = {"threshold": 25.0, "pbx": [{"name": "paris-eps", "connected": False}],
             "date": "2026-10-05", "clock": "10:00:00", "city": row, "sites": [row]}
    from rich.console import Console

    console = Console(width=220, record=True)
    console.print(render(state))
    text = console.export_text()
    assert "31 s hors délai" in text and "66,7 %" in text and "PBX déconnecté : paris-eps" in text
