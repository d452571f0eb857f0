"""Statements: listed and downloaded per site scope (by URL too), generated on demand."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from tests.web.web_support import post
from web.console import Console


def _write(console: Console) -> None:
    for name in ("releve-2026-10-eps-05.pdf", "releve-2026-10-eps-05.html",
                 "releve-2026-10-eps-13.pdf", "synthese-2026-10.pdf",
                 "tableau-de-suivi-indicateurs.xlsx", "notes.txt"):
        (console.reports_dir / name).write_bytes(b"%PDF-1.7 " + name.encode())


def test_director_lists_and_downloads_only_their_statements(
        console: Console, client_for: Callable[[str], TestClient]) -> None:
    _write(console)
    director = client_for("dir05")
    page = director.get("/releves").text
    assert "releve-2026-10-eps-05.pdf" in page
    assert "eps-13" not in page and "synthese" not in page and "tableau-de-suivi" not in page
    own = director.get("/releves/fichier/releve-2026-10-eps-05.pdf")
    assert own.status_code == 200 and own.content == b"%PDF-1.7 releve-2026-10-eps-05.pdf"
    for other in ("releve-2026-10-eps-13.pdf", "synthese-2026-10.pdf",
                  "tableau-de-suivi-indicateurs.xlsx", "notes.txt", "..%2Fstore.db",
                  "%2Fetc%2Fpasswd"):
        assert director.get(f"/releves/fichier/{other}").status_code == 404, other
    assert post(director, "/releves/generer", {"month": "2026-10"}).status_code == 403


def test_quality_sees_every_document(console: Console,
                                     client_for: Callable[[str], TestClient]) -> None:
    _write(console)
    page = client_for("qualite").get("/releves").text
    for name in ("releve-2026-10-eps-13.pdf", "synthese-2026-10.pdf",
                 "tableau-de-suivi-indicateurs.xlsx"):
        assert name in page
    assert "notes.txt" not in page


def test_no_download_without_a_session(console: Console, anonymous: TestClient) -> None:
    _write(console)
    assert anonymous.get("/releves/fichier/releve-2026-10-eps-05.pdf").status_code == 401


def test_quality_generates_a_statement(console: Console,
                                       client_for: Callable[[str], TestClient]) -> None:
    quality = client_for("qualite")
    response = post(quality, "/releves/generer", {"month": "2026-10", "site": "eps-05"},
                    page="/releves")
    assert response.status_code == 200 and "Documents de 2026-10 générés" in response.text
    written = sorted(p.name for p in console.reports_dir.iterdir())
    assert written == ["releve-2026-10-eps-05.html", "releve-2026-10-eps-05.pdf",
                       "tableau-de-suivi-indicateurs.xlsx"]
    pdf = quality.get("/releves/fichier/releve-2026-10-eps-05.pdf")
    assert pdf.content[:5] == b"%PDF-"
    bad = post(quality, "/releves/generer", {"month": "2026-13"}, page="/releves")
    assert bad.status_code == 400
