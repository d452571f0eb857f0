"""Logging in and out, sessions, the login rate limit, CSRF, the one-time password."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.web.web_support import PASSWORD, csrf_of, login, post
from web.accounts import set_password
from web.console import Console


def test_pages_need_a_session(anonymous: TestClient) -> None:
    response = anonymous.get("/live", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/live"


def test_login_then_home_then_logout(anonymous: TestClient) -> None:
    login(anonymous, "dir05")
    home = anonymous.get("/")
    assert home.status_code == 200 and "Bonjour Dir05" in home.text
    assert post(anonymous, "/logout", follow_redirects=False).status_code == 303
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_is_rotated_httponly_and_lax(anonymous: TestClient) -> None:
    first = anonymous.get("/login")
    before = anonymous.cookies["qp_session"]
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    response = anonymous.post("/login", data={"csrf": csrf_of(first.text), "username": "dir05",
                                              "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303
    assert anonymous.cookies["qp_session"] != before  # no session fixation


def test_secure_cookie_over_tls(console: Console) -> None:
    with TestClient(__import__("web.app").app.create_app(console),
                    base_url="https://console.example") as client:
        assert "Secure" in client.get("/login").headers["set-cookie"]


def test_wrong_password_is_refused(anonymous: TestClient) -> None:
    page = anonymous.get("/login")
    response = anonymous.post("/login", data={"csrf": csrf_of(page.text), "username": "dir05",
                                              "password": "wrong password!"})
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in response.text


def test_login_without_csrf_is_refused(anonymous: TestClient) -> None:
    anonymous.get("/login")
    response = anonymous.post("/login", data={"username": "dir05", "password": PASSWORD})
    assert response.status_code == 403


def test_login_rate_limit(anonymous: TestClient) -> None:
    for _ in range(5):
        page = anonymous.get("/login")
        bad = anonymous.post("/login", data={"csrf": csrf_of(page.text), "username": "dir05",
                                             "password": "not the password"})
        assert bad.status_code == 401
    page = anonymous.get("/login")
    refused = anonymous.post("/login", data={"csrf": csrf_of(page.text), "username": "dir05",
                                             "password": PASSWORD})  # even the right one
    assert refused.status_code == 429
    assert "infructueux" in refused.text
    page = anonymous.get("/login")  # another account from the same client is not locked yet
    other = anonymous.post("/login", data={"csrf": csrf_of(page.text), "username": "sup13",
                                           "password": PASSWORD}, follow_redirects=False)
    assert other.status_code == 303


def test_reset_ends_sessions_and_one_time_password_must_change(console: Console,
                                                               anonymous: TestClient) -> None:
    login(anonymous, "dir05")
    set_password(console.store, "dir05", "one-time-password-1", must_change=True)
    assert anonymous.get("/", follow_redirects=False).status_code == 303  # session ended
    login(anonymous, "dir05", "one-time-password-1")
    response = anonymous.get("/live", follow_redirects=False)
    assert response.headers["location"] == "/compte/mot-de-passe"
    changed = post(anonymous, "/compte/mot-de-passe", {
        "current": "one-time-password-1", "new": "my own long password", "again": "my own long password"},
        page="/compte/mot-de-passe", follow_redirects=False)
    assert changed.status_code == 303
    assert anonymous.get("/live").status_code == 200
