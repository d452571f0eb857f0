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


def _alembic_config(connection: sa.Connection | None) -> AlembicConfig:
    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL waits for other openers
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class StoreError(Exception):
    """The store cannot be used; the message says what happened and what to do."""


class MigrationError(StoreError):
    def __init__(self, url: str, current: str | None, head: str | None, reason: str) -> None:
        self.url, self.current, self.head, self.reason = url, current, head, reason
        start = f"schema revision {current}" if current else "an empty schema"
        super().__init__(
            f'cannot migrate the store "{url}" from {start} to {head}: {reason}; the store was '
            "changed outside qualiphone or by another version: restore it from a backup or give "
            "another --db")


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


MIGRATION_LOCK = 7311001  # PostgreSQL advisory lock key held while the schema is migrated


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current).

    Several processes may open a new or old store at once (30 imports started together): the
    one that takes the lock migrates, the others wait for it, then find the schema current.
    The lock is SQLite's write lock (BEGIN IMMEDIATE, waiting up to the busy timeout) or a
    PostgreSQL transaction-level advisory lock.
    """
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return  # the common case: no lock taken
    with engine.connect() as connection:
        _lock_for_migration(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            try:
                command.upgrade(_alembic_config(connection), "head")
            except sa.exc.DBAPIError as exc:
                connection.rollback()
                url = engine.url.render_as_string(hide_password=True)
                raise MigrationError(url, current, head, _reason(exc)) from exc
        connection.commit()


def _lock_for_migration(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _reason(exc: sa.exc.DBAPIError) -> str:
    """The driver's first line, without SQLAlchemy's statement and links."""
    return str(exc.orig or exc).strip().splitlines()[0]
