"""Helpers of the console tests: accounts of every role, a logged-in test client."""

from __future__ import annotations

import re
import threading
import time

import uvicorn
from starlette.testclient import TestClient

from config import Config
from monitor.store import Store
from web.accounts import add_user
from web.app import create_app
from web.console import Console
from web.roles import Role

PASSWORD = "correct horse battery"
ACCOUNTS = {  # username: (role, sites, caller)
    "admin": (Role.ADMIN, (), ""),
    "qualite": (Role.QUALITY, (), ""),
    "dir05": (Role.DIRECTOR, ("eps-05",), ""),
    "sup13": (Role.SUPERVISOR, ("eps-13",), ""),
    "appelant": (Role.CALLER, (), "appelant-a"),
}


def add_accounts(store: Store, config: Config) -> None:
    for name, (role, sites, caller) in ACCOUNTS.items():
        add_user(store, config, name, role, PASSWORD, sites=sites, caller=caller,
                 display_name=name.capitalize())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post("/login", data={"csrf": csrf_of(page.text), "username": username,
                                           "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, url: str, data: dict[str, str] | None = None, page: str = "/",
         **kwargs: object):  # type: ignore[no-untyped-def]
    """POST a form with the CSRF token of `page`."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf": token, **(data or {})}, **kwargs)  # type: ignore[arg-type]


def plan_shipped_campaign(store: Store, config: Config) -> None:
    """The shipped eps-2026 campaign, planned with its own seed."""
    from mystery.campaign import find_campaign, load_campaign
    from mystery.planner import plan_campaign
    from mystery.repository import save_plan

    campaign = load_campaign(find_campaign("eps-2026", config), config)
    save_plan(store, plan_campaign(campaign, config, campaign.year), config)


def answered_form(campaign_criteria: list[str], **overrides: str) -> dict[str, str]:
    """A complete scoring form for an answered call (yes / level 3 / 12 s)."""
    values = {"outcome": "answered", "attempts": "1", "called_at": "2026-10-14 10:00",
              "comment": "", "save": "valider"}
    for criterion in campaign_criteria:
        values[f"c:{criterion}"] = {"decroche-25s": "12", "ecoute": "3",
                                    "information-orientation": "3"}.get(criterion, "oui")
    values.update(overrides)
    return values


class Served:
    """The console on uvicorn in a thread (a real HTTP server for logs and browsers)."""

    def __init__(self, console: Console) -> None:
        config = uvicorn.Config(create_app(console), host="127.0.0.1", port=0, log_level="debug",
                                lifespan="off", log_config=None)  # records reach caplog
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
