"""Shared fixtures: the real recordings, a store on SQLite and on PostgreSQL, the config."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

from config import Config, load_config
from ingest.finalize import CaptureContext
from monitor.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("QUALIPHONE_SHARED", REPO.parent / "shared")) / "data" / "real"
PG_URL = os.environ.get("QUALIPHONE_TEST_PG")  # e.g. postgresql+psycopg://qualiphone@/qualiphone_test
# No per-example deadline: timing is measured by bench/, and a loaded CI machine must not turn a
# slow example into a failure.
settings.register_profile("qualiphone", deadline=None, print_blob=True)
settings.load_profile("qualiphone")

# In CI a missing PostgreSQL or missing real recordings is a failure, not a skip.
REQUIRE_ALL = bool(os.environ.get("QUALIPHONE_REQUIRE_ALL") or os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{reason} — required in CI (QUALIPHONE_REQUIRE_ALL / CI is set)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data directory and a fixed pseudonym key."""
    monkeypatch.setenv("QUALIPHONE_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("QUALIPHONE_PSEUDONYM_KEY", "test-key")
    monkeypatch.delenv("QUALIPHONE_DB", raising=False)
    monkeypatch.delenv("QUALIPHONE_CONFIG", raising=False)


@pytest.fixture
def real_data() -> Path:
    """../shared/data/real; skipped with a reason when absent (CI fails on such skips)."""
    if not REAL.is_dir():
        skip_or_fail(f"real recordings not found at {REAL} (set QUALIPHONE_SHARED)")
    return REAL


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture
def capture(config: Config) -> CaptureContext:
    return CaptureContext.create(config)


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema of its own, dropped afterwards."""
    if not PG_URL:
        skip_or_fail("PostgreSQL not configured (set QUALIPHONE_TEST_PG; .ci/run does)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _pg_store() -> Iterator[Store]:
    with pg_schema() as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated store: SQLite file, then a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        yield s
        s.dispose()
    else:
        yield from _pg_store()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.dispose()
