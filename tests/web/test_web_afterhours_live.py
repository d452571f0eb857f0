"""After-hours probes (with their recordings) and the live wallboard, per site scope."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from afterhours.repository import AlertRecord, ProbeRecord, save_alert, save_probe
from web.console import Console

WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00" \
      b"\x02\x00\x10\x00data\x00\x00\x00\x00"


def _probe(console: Console, site: str, tmp_path: Path, verdict: str) -> str:
    recording = tmp_path / f"probe-{site}.wav"
    recording.write_bytes(WAV)
    save_probe(console.store, ProbeRecord(
        id=f"probe-{site}", site=site, pbx="paris-eps", expected_kind="closed",
        started_at=time.time(), local_date="2026-10-02", local_time="20:00:00",
        number="0199000105", verdict=verdict, response="Success", recording=str(recording),
        recording_seconds=12.0, similarity=0.91))
    return f"probe-{site}"


def test_director_sees_their_probes_and_recordings(console: Console, tmp_path: Path,
                                                   client_for: Callable[[str], TestClient]) -> None:
    mine = _probe(console, "eps-05", tmp_path, "expected")
    other = _probe(console, "eps-13", tmp_path, "silence")
    save_alert(console.store, AlertRecord("eps-13", time.time(), [other], "ALERTE eps-13"))
    director = client_for("dir05")
    page = director.get("/hors-horaires", params={"mois": "2026-10"}).text
    assert 'id="probes-eps-05"' in page and "message attendu" in page
    assert f"/hors-horaires/enregistrement/{mine}" in page
    assert "eps-13" not in page and "ALERTE" not in page
    assert director.get(f"/hors-horaires/enregistrement/{mine}").content == WAV
    assert director.get(f"/hors-horaires/enregistrement/{other}").status_code == 404
    assert director.get("/hors-horaires/reference/eps-13/closed").status_code == 404
    quality = client_for("qualite").get("/hors-horaires", params={"mois": "2026-10"}).text
    assert "ALERTE eps-13" in quality and "silence" in quality


def test_supervisor_live_board_is_their_sites(client_for: Callable[[str], TestClient]) -> None:
    supervisor = client_for("sup13")
    state = supervisor.get("/live/tableau/state.json").json()
    assert [s["id"] for s in state["sites"]] == ["eps-13"]
    assert state["city"]["name"] == "Paris — 1 EPS"
    board = supervisor.get("/live/tableau/")
    assert "frame-ancestors 'self'" in board.headers["content-security-policy"]
    assert "Standards des EPS" in board.text
    live = supervisor.get("/live").text
    assert "/stats?site=eps-13&amp;by=day" in live and "eps-05" not in live
    assert supervisor.get("/hors-horaires").status_code == 403
    assert supervisor.get("/releves").status_code == 403
