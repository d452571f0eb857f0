"""Every route: nothing without a session, no POST without the CSRF token, no secret in logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.web.web_support import PASSWORD, Served, csrf_of, login
from web.app import create_app
from web.console import ROUTES, Console
from web.pages import load_pages

SAMPLE = {"call_id": "EPS26-05-004", "cid": "eps-2026", "name": "releve-2026-10-eps-05.pdf",
          "username": "dir05", "change": "desactiver", "action_id": "1", "probe_id": "p",
          "site": "eps-05", "kind": "closed", "fmt": "pdf"}
OPEN = {"/login"}


def _routes(method: str) -> list[str]:
    load_pages()
    paths = []
    for route in ROUTES:
        if isinstance(route, Route) and method in (route.methods or ()) and route.path not in OPEN:
            paths.append(re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE[m.group(1)], route.path))
    return paths


def test_every_page_and_download_needs_a_session(anonymous: TestClient) -> None:
    paths = _routes("GET")
    assert len(paths) >= 20
    for path in paths:
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code in (303, 401), path
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login"), path
        assert "releve" not in response.text and "eps-05" not in response.text.replace(path, "")


def test_every_form_refuses_a_missing_or_foreign_csrf_token(
        client_for: Callable[[str], TestClient], console: Console) -> None:
    admin = client_for("admin")
    other = TestClient(create_app(console))
    foreign = csrf_of(other.get("/login").text)  # a valid token, of another browser's session
    paths = _routes("POST")
    assert len(paths) >= 7
    for path in paths:
        for data in ({}, {"csrf": ""}, {"csrf": foreign}, {"csrf": "0" * 64}):
            response = admin.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, data)
    assert admin.get("/").status_code == 200  # not even logged out
    other.close()


def test_pages_carry_security_headers(client_for: Callable[[str], TestClient]) -> None:
    response = client_for("qualite").get("/stats")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    with Served(console) as url:
        yield url


def test_no_password_or_session_id_in_logs(served: str, console: Console,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=served) as client:
        token = csrf_of(client.get("/login").text)
        bad = client.post("/login", data={"csrf": token, "username": "dir05",
                                          "password": "a wrong secret value"})
        assert bad.status_code == 401
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"csrf": token, "username": "dir05", "password": PASSWORD})
        cookie = client.cookies["qp_session"]
        assert client.get("/stats").status_code == 200
        client.get("/live/tableau/state.json")
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in server_side)
    assert "GET /stats" in logged  # the access log is there …
    for secret in (PASSWORD, "a wrong secret value", cookie, cookie.split(".")[0]):
        assert secret not in logged  # … without passwords or session ids
    with console.store.engine.connect() as conn:  # nor in the store
        import sqlalchemy as sa

        dump = "\n".join(str(tuple(r)) for t in ("web_audit", "web_sessions", "web_users")
                         for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
    assert PASSWORD not in dump and "a wrong secret value" not in dump
    assert cookie.split(".")[0] not in dump


def test_login_page_is_reachable_and_login_works_over_http(served: str) -> None:
    with httpx.Client(base_url=served) as client:
        login(client, "qualite")  # type: ignore[arg-type]
        assert client.get("/mystere").status_code == 200
