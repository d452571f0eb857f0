"""Open the store: engine, SQLite pragmas, schema migrations to the latest revision.

Alembic is imported only when the schema is not current: `head_revision` reads the newest
revision from the migration files and one query (on a plain sqlite3 or psycopg connection)
reads the store's, so a command on an up-to-date store does not pay Alembic's import (about
0.1 s of every start). The SQLAlchemy engine itself is made on first use of `Store.engine`:
`stats` over months that all have a valid copy never needs it (monitor.store.copies).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
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


def _alembic_config(connection: sa.Connection | None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # first: switching to WAL waits for other openers
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
    if url.startswith("sqlite:///") and "?" not in url:  # the common case, without SQLAlchemy
        name = url.removeprefix("sqlite:///")
        if not name or name == ":memory:" or name.startswith("file:"):
            return None
        return Path(name).expanduser().absolute()
    if not url.startswith("sqlite"):
        return None
    import sqlalchemy as sa

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
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """The store: its URL, and its SQLAlchemy engine, made (and SQLAlchemy imported) on first
    use. `Store(engine)` wraps an engine already made."""

    def __init__(self, engine: sa.Engine | None = None, created: bool = False, *,
                 url: str | None = None) -> None:
        if engine is None and url is None:
            raise ValueError("Store needs an engine or a URL")
        self._engine = engine
        self.created = created  # a new SQLite file was made by open_store
        self.url = url if url is not None else \
            engine.url.render_as_string(hide_password=False)  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"Store(url={self.url.split('@')[-1]!r})"  # no password

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = _engine(self.url)
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
    store = Store(created=created, url=url)
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
        if len(names) != 1 or down is None or names[0] in revisions:  # Alembic decides
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


MIGRATION_LOCK = 7311001  # PostgreSQL advisory lock key held while the schema is migrated


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest Alembic revision (a no-op when it is current).

    Several processes may open a new or old store at once (30 imports started together): the
    one that takes the lock migrates, the others wait for it, then find the schema current.
    The lock is SQLite's write lock (BEGIN IMMEDIATE, waiting up to the busy timeout) or a
    PostgreSQL transaction-level advisory lock.
    """
    import sqlalchemy as sa
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
    import sqlalchemy as sa

    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _reason(exc: sa.exc.DBAPIError) -> str:
    """The driver's first line, without SQLAlchemy's statement and links."""
    return str(exc.orig or exc).strip().splitlines()[0]
