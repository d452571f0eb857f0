"""The wallboard over HTTP: the JSON, the event stream, the figures, the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import Config
from ingest.finalize import CaptureContext
from monitor.metrics.records import records
from monitor.query import StatsRequest, store_stats
from monitor.store import Store
from monitor.store.writer import write_calls
from monitor.wallboard.auth import COOKIE, cookie_value, token_required
from monitor.wallboard.board import Wallboard
from monitor.wallboard.server import WallboardServer
from qualiphone.cli import cli
from simulator.timeline import SimCall
from tests.ingest.ami.ami_support import run
from tests.wallboard.wallboard_support import EventStream, ScriptedFeed, http_get

TOKEN = "wallboard-token-0123456789"


def slow_call(calls: list[SimCall]) -> SimCall:
    """A call answered by a person after more than 30 s of ringing, in opening hours."""
    return next(c for c in calls if c.answer is not None and c.answer - c.arrival > 30
                and not c.is_test and c.site == "eps-13")


def row(snapshot: dict, site: str) -> dict:
    return next(r for r in snapshot["sites"] if r["id"] == site)


def test_a_ringing_call_turns_red_past_25_s_and_the_counters_change(
        config: Config, capture: CaptureContext, sim_calls: list[SimCall],
        sqlite_store: Store) -> None:
    call = slow_call(sim_calls)
    feed = ScriptedFeed.of(capture, call)
    board = Wallboard(config, sqlite_store.engine, [feed])

    async def go() -> list[dict]:
        await board.refresh()
        server = WallboardServer(board.snapshot, tick=0.05)
        port = await server.start()
        events = await EventStream.open(port)
        seen = []
        for offset in (5, 16, 26):
            feed.advance(call.arrival + offset)
            await events.next()  # a snapshot may have been on its way
            seen.append(await events.next())
        feed.advance(call.end + 1)
        await board.refresh()
        await events.next()
        seen.append(await events.next())
        status, headers, body = await http_get(port, "/state.json")
        assert status == 200 and headers["content-type"] == "application/json"
        assert b'"sites"' in body
        events.close()
        await server.close()
        return seen

    before, orange, red, after = run(go())  # type: ignore[misc]
    site = call.site
    assert (row(before, site)["ringing"], row(before, site)["level"]) == (1, "ok")
    assert row(orange, site)["level"] == "warn" and row(orange, site)["longest_ring"] >= 16
    assert row(red, site)["level"] == "late" and red["city"]["level"] == "late"
    done = row(after, site)
    assert (done["ringing"], done["level"], done["offered"], done["answered"]) == (0, "none", 1, 1)
    assert done["answered_within"] == 0 and done["pickup_rate"] == 0.0  # answered after 25 s
    assert row(before, site)["offered"] == 0 and after["city"]["offered"] == 1


def test_figures_are_the_core_s_over_the_store_plus_calls_not_yet_stored(
        config: Config, capture: CaptureContext, sim_calls: list[SimCall],
        sqlite_store: Store) -> None:
    day_calls = [c for c in sim_calls if c.site == "eps-13"]
    feed = ScriptedFeed.of(capture, day_calls[0])
    for call in day_calls:  # every call of the day through the tracker
        feed.frames = ScriptedFeed.of(capture, call).frames
        feed.sent = 0
        feed.advance(call.end + 1)
    finished = feed.finished
    with sqlite_store.engine.begin() as conn:  # half stored, half still with the listener
        write_calls(conn, finished[: len(finished) // 2])
    feed.finished = finished[len(finished) // 2 - 3:]  # three of them in both places
    board = Wallboard(config, sqlite_store.engine, [feed], now=lambda: day_calls[-1].end + 60)
    run(board.refresh())
    with sqlite_store.engine.begin() as conn:
        write_calls(conn, finished)
    day = board.figures.day  # type: ignore[union-attr]
    request = StatsRequest(start=day, end=day, sites=tuple(board.site_ids))
    expected = {r["site"]: r for r in records(store_stats(sqlite_store.engine, request)["site"])}
    assert board.figures is not None and board.figures.sites["eps-13"] == expected["eps-13"]
    assert expected["eps-13"]["offered"] > 20


def test_a_token_is_needed_off_the_default_loopback_addresses(
        caplog: pytest.LogCaptureFixture) -> None:
    assert not token_required("127.0.0.1") and not token_required("::1")
    assert token_required("127.0.0.2") and token_required("0.0.0.0")
    caplog.set_level(logging.DEBUG)

    async def go() -> list[tuple[int, dict[str, str], bytes]]:
        server = WallboardServer(lambda: {"ok": True}, token=TOKEN)
        port = await server.start("127.0.0.2", 0)  # loopback, but not a default address
        host = "127.0.0.2"
        answers = [
            await http_get(port, "/state.json", host=host),
            await http_get(port, "/state.json", f"Authorization: Bearer {TOKEN}", host=host),
            await http_get(port, f"/?token={TOKEN}", host=host),
            await http_get(port, "/?token=wrong-token-0000000000", host=host),
            await http_get(port, "/", f"Cookie: {COOKIE}={cookie_value(TOKEN)}", host=host),
            await http_get(port, "/events", "Cookie: qp_wallboard=forged", host=host),
        ]
        await server.close()
        return answers

    denied, bearer, login, wrong, cookie, forged = run(go())  # type: ignore[misc]
    assert denied[0] == 401 and "jeton" in denied[2].decode()
    assert bearer[0] == 200 and bearer[2] == b'{"ok": true}'
    assert login[0] == 303 and login[1]["location"] == "/"
    assert login[1]["set-cookie"].startswith(f"{COOKIE}={cookie_value(TOKEN)};")
    assert "HttpOnly" in login[1]["set-cookie"] and TOKEN not in login[1]["set-cookie"]
    assert wrong[0] == 401 and forged[0] == 401
    assert cookie[0] == 200 and b"Standards des EPS" in cookie[2]
    assert "content-security-policy" in cookie[1]
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_listen_refuses_an_exposed_wallboard_without_token(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUALIPHONE_AMI_SECRET", "s")
    monkeypatch.delenv("QUALIPHONE_WALLBOARD_TOKEN", raising=False)
    args = ["listen", "--ami", "127.0.0.1:5038", "--ami-user", "u", "--wallboard", "127.0.0.2:8025"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert ('the wallboard on "127.0.0.2" is not on 127.0.0.1, ::1 or localhost, so it needs a '
            "token: set QUALIPHONE_WALLBOARD_TOKEN") in result.output
    loose = tmp_path / "token"
    loose.write_text(TOKEN)
    loose.chmod(0o644)
    result = CliRunner().invoke(cli, [*args, "--wallboard-token-file", str(loose)])
    assert result.exit_code == 2 and f"run: chmod 600 {loose}" in result.output
    monkeypatch.setenv("QUALIPHONE_WALLBOARD_TOKEN", "short")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "use at least 16" in result.output


def test_the_page_is_self_contained() -> None:
    async def go() -> tuple[int, dict[str, str], bytes]:
        server = WallboardServer(lambda: {})
        port = await server.start()
        answer = await http_get(port, "/")
        await server.close()
        return answer

    status, headers, body = run(go())  # type: ignore[misc]
    page = body.decode()
    assert status == 200 and "http://" not in page and "https://" not in page
    assert "default-src 'none'" in headers["content-security-policy"]
    for label in ("En attente", "Plus longue sonnerie", "Reçus", "Décrochés", "< 25 s",
                  "Abandons", "À classer", "Taux de décroché", "Dernière heure"):
        assert label in page.replace("&lt;", "<").replace("&nbsp;", " ")
