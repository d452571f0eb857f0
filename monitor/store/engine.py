"""Open the store: engine, SQLite pragmas, schema migrations to the latest revision."""

from __future__ import annotations

import contextlib
import os
import secrets
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


class NotAStore(StoreError):
    """A --db naming a file or place that cannot hold a store."""

    def __init__(self, url: str, problem: str) -> None:
        self.url, self.problem = url, problem
        super().__init__(f'--db "{url}": {problem}')


SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (relative to the current directory), None for memory or others."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or \
            parsed.database == ":memory:" or parsed.query.get("uri") or \
            parsed.database.startswith("file:"):
        return None
    return Path(parsed.database).expanduser().absolute()  # errors name the real place


def _check_sqlite_file(url: str, path: Path) -> None:
    """Refuse what is not a store: a directory, an empty file, a file of another kind."""
    if path.is_dir():
        raise NotAStore(url, f'"{path}" is a directory; give a file path such as '
                             f'"{path / "qualiphone.db"}"')
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if not header:
        raise NotAStore(url, f'the file "{path}" is empty, so it is not a qualiphone store '
                             "(qualiphone creates a store only in a new file); delete it or give "
                             "another path")
    if header != SQLITE_HEADER:
        raise NotAStore(url, f'the file "{path}" is not an SQLite database; give the path of a '
                             "qualiphone store, or a new file name to create one")


def _create_sqlite_store(url: str, path: Path) -> None:
    """A new, migrated store at `path`, which appears there complete or not at all.

    Built under a temporary name and hard-linked into place, so that a process starting at the
    same moment never sees a half-made file (and an empty file at `path` is never ours).
    """
    parent = path.parent
    if not parent.is_dir():
        if parent.resolve() != data_dir().resolve():
            raise NotAStore(url, f'the directory "{parent}" does not exist; create it '
                                 f'(mkdir -p "{parent}") or fix the path')
        parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new"
    engine = _engine(f"sqlite:///{temporary}")
    try:
        upgrade(engine)
        engine.dispose()  # the last connection closed: the WAL is folded into the file
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: theirs is used
        except OSError:  # a file system without hard links
            if not path.exists():
                temporary.replace(path)
    finally:
        engine.dispose()
        for leftover in (temporary, *(Path(f"{temporary}{x}") for x in ("-wal", "-shm", "-journal"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@dataclass
class Store:
    engine: sa.Engine
    created: bool = False  # a new SQLite file was made by open_store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Connect to the store at `url` (default: QUALIPHONE_DB or the SQLite file in data_dir())."""
    url = url or default_db_url()
    path = sqlite_file(url)
    created = False
    if path is not None:
        if path.exists():
            _check_sqlite_file(url, path)
        else:
            _create_sqlite_store(url, path)
            created = True
    engine = _engine(url)
    if migrate:
        upgrade(engine)
    return Store(engine, created)


MIGRATION_LOCK = 7311001  # PostgreSQL advisory lock key held while the schema is migrated


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current).

    Several processes may open a new or old store at once (30 imports started together): the
    one that takes the lock migrates, the others wait for it, then find the schema current.
    The lock is SQLite's write lock (BEGIN IMMEDIATE, waiting up to the busy timeout) or a
    PostgreSQL transaction-level advisory lock.
    """
    script = ScriptDirectory.from_config(_alembic_config(None))
    head = script.get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return  # the common case: no lock taken
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreError(f'the store "{url}" is at schema revision {current}, which this version of '
                         f"qualiphone does not know (its latest is {head}): a newer version wrote "
                         "it; run that version, or give another --db")
    with engine.connect() as connection:
        try:
            _lock_for_migration(connection)
        except sa.exc.OperationalError as exc:
            url = engine.url.render_as_string(hide_password=True)
            raise StoreError(f'the store "{url}" needs a schema migration but another process has '
                             f"held it locked for too long ({_reason(exc)}); try again when the "
                             "other import or migration has finished") from exc
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
