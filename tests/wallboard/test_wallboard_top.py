"""`qualiphone top`: the wallboard's snapshot in a terminal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from config import Config
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.top import _cells, render
from monitor.wallboard.board import Wallboard
from monitor.wallboard.server import WallboardServer
from qualiphone.cli import cli
from simulator.timeline import SimCall
from tests.ingest.ami.ami_support import run
from tests.wallboard.board_scenario import INCOMPLETE_SITE, NOW, morning_calls, morning_feed
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
    assert "Standards des EPS" in result.output and "Paris 13e" in result.output
    assert "30 s hors délai" in result.output and "Taux = décrochés en moins de 25 s" in result.output


def test_top_says_where_no_wallboard_answers() -> None:
    result = CliRunner().invoke(cli, ["top", "--url", "http://127.0.0.1:9", "--once"])
    assert result.exit_code == 1 and 'no wallboard at "http://127.0.0.1:9"' in result.output


def _snapshot_row(**changes: object) -> dict:
    row = {"name": "EPS Paris 5e", "short_name": "Paris 5e", "ringing": 1, "longest_ring": 31.0,
           "level": "late", "waiting": 1, "offered": 3, "answered": 2, "answered_within": 2,
           "abandoned": 0, "unclassified": 0, "unclassified_now": 0,
           "directory_incomplete": False, "pickup_rate": 2 / 3, "pickup_n": 3,
           "pickup_below": True, "pickup_few": True, "hour_pickup_rate": None, "hour_n": 0,
           "hour_below": False, "hour_few": True, "agents_logged": 2, "agents_free": 0}
    return {**row, **changes}


def test_render_marks_late_rings_and_thin_rates_with_text() -> None:
    row = _snapshot_row()
    state = {"threshold": 25.0, "warn": 15.0, "goal": 0.8, "min_n": 10,
             "pbx": [{"name": "paris-eps", "connected": False}],
             "date_text": "lundi 5 octobre 2026", "clock": "10:00:00", "city": row, "sites": [row]}
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(render(state, 100))
    text = console.export_text()
    assert "1 · 31 s hors délai" in text and "66,7 %" in text
    assert "PBX déconnecté : paris-eps" in text and "lundi 5 octobre 2026" in text
    cells = _cells(row, wide=False)
    assert cells[6].plain == "66,7 %" and cells[6].style == "dim"  # 3 calls: muted
    assert cells[10].plain == "jour" and cells[10].style == "dim red"


def test_top_fits_100_columns_with_the_marks_in_words(config: Config, sqlite_store: Store) -> None:
    from rich.console import Console

    with sqlite_store.engine.begin() as conn:
        write_calls(conn, morning_calls(config))
    board = Wallboard(config, sqlite_store.engine, [morning_feed(config)], now=lambda: NOW)
    run(board.refresh())
    snap = board.snapshot()
    console = Console(width=100, record=True)
    console.print(render(snap, 100))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "Sous" in lines[1] and "l'objectif" in lines[2]  # the column's head, on two lines
    for row in [snap["city"], *snap["sites"]]:
        mine = [line for line in lines if line.startswith(row["short_name"] + " ")]
        assert len(mine) == 1, row["short_name"]  # one line per site, nothing cut
        words = mine[0].split()
        assert str(row["offered"]) in words and str(row["pickup_n"]) in words
        below = [name for name, flag in (("jour", row["pickup_below"]),
                                         ("1 h", row["hour_below"])) if flag]
        if below:
            assert f" {', '.join(below)} " in mine[0]
        else:
            assert "jour" not in mine[0] and " 1 h " not in mine[0]
        cells = _cells(row, wide=False)
        if row["pickup_below"] and not row["pickup_few"]:
            assert cells[6].style == "bold white on red3"
    incomplete = next(r for r in snap["sites"] if r["id"] == INCOMPLETE_SITE)
    caption = " ".join(lines)
    assert (f"Répertoire incomplet : {incomplete['short_name']} "
            f"({incomplete['unclassified']} + 1 en cours)") in caption
    wide = Console(width=130, record=True)
    wide.print(render(snap, 130))
    text = wide.export_text()
    assert "Décrochés" in text and "attente" in text
