"""Console fixtures: a store with accounts of every role, the application, test clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from config import Config
from monitor.store import Store
from tests.web.web_support import add_accounts, login
from web import accounts
from web.app import create_app
from web.auth import Signer
from web.console import Console
from web.live import LiveBoards


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small costs: the tests hash dozens of passwords (production keeps the
    library's defaults)."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024,
                                                            parallelism=1))


@pytest.fixture
def console(sqlite_store: Store, config: Config, tmp_path: Path) -> Console:
    add_accounts(sqlite_store, config)
    reports = tmp_path / "rapports"
    reports.mkdir()
    return Console(config, sqlite_store, Signer(b"k" * 32), reports,
                   LiveBoards(config, sqlite_store.engine, []))


@pytest.fixture
def anonymous(console: Console) -> Iterator[TestClient]:
    with TestClient(create_app(console)) as client:
        yield client


@pytest.fixture
def client_for(console: Console) -> Iterator[Callable[[str], TestClient]]:
    """A logged-in client per user name."""
    opened: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(create_app(console))
        opened.append(client)
        return login(client, username)

    yield make
    for client in opened:
        client.close()
