"""Open the store: engine, SQLite pragmas, schema migrations to the latest revision.

Alembic is imported only when the schema is not current: `head_revision` reads the newest
revision from the migration files and one query (on a plain sqlite3 or psycopg connection)
reads the store's, so a command on an up-to-date store does not pay Alembic's import (about
0.1 s of every start). The SQLAlchemy engine itself is made on first use of `Store.engine`:
`stats` over months that all have a valid copy never needs it (monitor.store.copies).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.store.copies import light_connect

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config as AlembicConfig

HERE = Path(__file__).resolve().parent
SQLITE_BUSY_TIMEOUT_MS = 30000
_REVISION = re.compile(r"^revision\s*=\s*(.+)$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def data_dir() -> Path:
    """Where qualiphone keeps its files: $QUALIPHONE_HOME, else $XDG_DATA_HOME/qualiphone."""
    if os.environ.get("QUALIPHONE_HOME"):
        return Path(os.environ["QUALIPHONE_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "qualiphone"


def default_db_url() -> str:
    return os.environ.get("QUALIPHONE_DB") or f"sqlite:///{data_dir() / 'qualiphone.db'}"


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class Store:
    """The store: its URL, and its SQLAlchemy engine, made (and SQLAlchemy imported) on first
    use. `Store(engine)` wraps an engine already made."""

    def __init__(self, engine: sa.Engine | None = None, *, url: str | None = None) -> None:
        if engine is None and url is None:
            raise ValueError("Store needs an engine or a URL")
        self._engine = engine
        self.url = url if url is not None else \
            engine.url.render_as_string(hide_password=False)  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"Store(url={self.url.split('@')[-1]!r})"  # no password

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = _create_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def light(self) -> tuple[Any, str] | None:
        """A new plain DB-API connection and its dialect, or None (see copies.light_connect)."""
        return light_connect(self.url)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _create_engine(url: str) -> sa.Engine:
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Connect to the store at `url` (default: QUALIPHONE_DB or the SQLite file in data_dir())."""
    url = url or default_db_url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    store = Store(url=url)
    if migrate and not _current_without_sqlalchemy(url):
        upgrade(store.engine)  # also where a bad URL or an unreachable server is reported
    return store


def _current_without_sqlalchemy(url: str) -> bool:
    """True when a plain connection shows the schema at the head revision; False when it is
    not, or cannot be told that way (any error: the engine's path then reports it)."""
    head = head_revision()
    try:
        light = light_connect(url) if head is not None else None
    except Exception:  # unreachable, bad credentials…: reported by the engine
        return False
    if light is None:
        return False
    raw, _ = light
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT version_num FROM alembic_version")
        row = cursor.fetchone()
        return row is not None and row[0] == head
    except Exception:  # no alembic_version table yet: a new store
        return False
    finally:
        raw.close()


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision of the migration files (the one no other revises), read as text;
    None when it cannot be told that way (several heads, a computed value): Alembic decides."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (HERE / "migrations" / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        names = _QUOTED.findall(revision.group(1)) if revision else []
        if len(names) != 1 or down is None:
            return None
        revisions.add(names[0])
        revised.update(_QUOTED.findall(down.group(1)))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: sa.Engine) -> str | None:
    """The store's revision (alembic_version), or None when it has none yet."""
    import sqlalchemy as sa

    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:  # no alembic_version table: a new store
        return None


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current)."""
    import sqlalchemy as sa

    head = head_revision()
    if head is not None and current_revision(engine) == head:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.begin() as connection:
        cfg = _alembic_config(connection)
        latest = ScriptDirectory.from_config(cfg).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current != latest:
            if engine.dialect.name == "postgresql":
                # several importers may start at once: one migrates, the others wait
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(7311001)"))
                current = MigrationContext.configure(connection).get_current_revision()
            if current != latest:
                command.upgrade(cfg, "head")
