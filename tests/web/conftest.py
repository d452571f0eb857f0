"""Console fixtures: a store with accounts of every role, the application, test clients."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from starlette.testclient import TestClient

from config import Config
from monitor.store import Store, open_store
from qualiphone.cli import cli
from simulator.month import CDR_FILE
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


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated days of October 2026 for the 17 sites, imported from the CDR file."""
    out = tmp_path_factory.mktemp("websim")
    db = f"sqlite:///{out / 'store.db'}"
    for args in (["simulate", "month", "--month", "2026-10", "--out", str(out), "--seed", "3",
                  "--days", "3"], ["ingest", "cdr", str(out / CDR_FILE)]):
        result = CliRunner().invoke(cli, ["--db", db, *args])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(out / "store.db") as conn:  # everything into the file we copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return out / "store.db"


@pytest.fixture
def console_store(simulated_db: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.db"
    shutil.copy(simulated_db, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def console(console_store: Store, config: Config, tmp_path: Path) -> Console:
    add_accounts(console_store, config)
    reports = tmp_path / "rapports"
    reports.mkdir()
    return Console(config, console_store, Signer(b"k" * 32), reports,
                   LiveBoards(config, console_store.engine, []))


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
