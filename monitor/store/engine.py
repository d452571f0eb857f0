"""Open the store: engine, SQLite pragmas, schema migrations to the latest revision."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

HERE = Path(__file__).resolve().parent
_REVISION = re.compile(r'^(down_)?revision\s*=\s*["\']?([^"\'\s]+)["\']?\s*$', re.MULTILINE)


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


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The head of the migration scripts, read from their `revision` lines (so that a store
    already at head is opened without importing Alembic); None when it cannot be told."""
    revisions, parents = set(), set()
    for script in (HERE / "migrations" / "versions").glob("*.py"):
        found = dict((bool(down), value) for down, value in _REVISION.findall(script.read_text()))
        if False not in found:
            return None
        revisions.add(found[False])
        if found.get(True, "None") != "None":
            parents.add(found[True])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: sa.Engine) -> bool:
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except sa.exc.DBAPIError:
        return False
    return [row[0] for row in current] == [head]


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current)."""
    if _at_head(engine):
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
