"""Open the store: engine, SQLite pragmas, schema migrations to the latest revision."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent


def data_dir() -> Path:
    """Where qualiphone keeps its files: $QUALIPHONE_HOME, else $XDG_DATA_HOME/qualiphone."""
    if os.environ.get("QUALIPHONE_HOME"):
        return Path(os.environ["QUALIPHONE_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "qualiphone"


def default_db_url() -> str:
    return os.environ.get("QUALIPHONE_DB") or f"sqlite:///{data_dir() / 'qualiphone.db'}"


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@dataclass
class Store:
    engine: sa.Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Connect to the store at `url` (default: QUALIPHONE_DB or the SQLite file in data_dir())."""
    url = url or default_db_url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        upgrade(engine)
    return Store(engine)


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current)."""
    with engine.begin() as connection:
        cfg = _alembic_config(connection)
        head = ScriptDirectory.from_config(cfg).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            if engine.dialect.name == "postgresql":
                # several importers may start at once: one migrates, the others wait
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(7311001)"))
                current = MigrationContext.configure(connection).get_current_revision()
            if current != head:
                command.upgrade(cfg, "head")
