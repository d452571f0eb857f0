"""Opening the store: concurrent first use, migration errors that say what happened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from monitor.store import open_store
from monitor.store.engine import _alembic_config
from qualiphone.cli import cli
from tests.conftest import REPO, pg_schema

OPEN = "import sys; from monitor.store import open_store; open_store(sys.argv[1]).dispose()"


def _open_at_once(url: str, processes: int) -> list[str]:
    """Open the store at `url` from `processes` processes started together; their errors."""
    started = [subprocess.Popen([sys.executable, "-c", OPEN, url], cwd=REPO, stderr=subprocess.PIPE,
                                text=True) for _ in range(processes)]
    errors = []
    for proc in started:
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            errors.append(err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}")
    return errors


def _single_head(url: str) -> None:
    store = open_store(url)
    with store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        assert "calls" in sa.inspect(conn).get_table_names()
    store.dispose()
    assert len(versions) == 1


def test_concurrent_first_use_of_a_new_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert _open_at_once(url, 10) == []
    _single_head(url)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".new")]  # no half-made store


@pytest.mark.postgres
def test_concurrent_first_use_of_a_new_postgresql_schema() -> None:
    with pg_schema() as url:
        assert _open_at_once(url, 6) == []
        _single_head(url)


def test_a_failing_migration_says_so_and_does_not_blame_the_url(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a store at revision 0003 where 0004's table already exists
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0003')"))
        conn.execute(sa.text("CREATE TABLE afterhours_probes (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{path}", "store", "batches"])
    assert result.exit_code == 1
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert result.output == (
        f'Error: cannot migrate the store "sqlite:///{path}" from schema revision 0003 to {head}: '
        "table afterhours_probes already exists; the store was changed outside qualiphone or by "
        "another version: restore it from a backup or give another --db\n")


def _stats(*args: str) -> object:
    return CliRunner().invoke(cli, [*args, "stats", "--from", "2026-10-05", "--to", "2026-10-05",
                                    "--format", "csv"])


def test_db_on_a_file_that_is_not_sqlite_is_a_one_line_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    result = _stats("--db", f"sqlite:///{notes}")
    assert result.exit_code == 1
    assert result.output == (
        f'Error: --db "sqlite:///{notes}": the file "{notes}" is not an SQLite database; give the '
        "path of a qualiphone store, or a new file name to create one\n")
    assert notes.read_text() == "not a database\n" * 100
    broken = tmp_path / "broken.db"  # the header of SQLite, then garbage
    broken.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    result = _stats("--db", f"sqlite:///{broken}")
    assert result.exit_code == 1
    assert result.output.startswith(f'Error: cannot open the store "sqlite:///{broken}": file is not '
                                    "a database; check --db")
    assert len(result.output.splitlines()) == 1


def test_db_on_an_existing_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = _stats("--db", f"sqlite:///{empty}")
    assert result.exit_code == 1
    assert result.output == (
        f'Error: --db "sqlite:///{empty}": the file "{empty}" is empty, so it is not a qualiphone '
        "store (qualiphone creates a store only in a new file); delete it or give another path\n")
    assert empty.stat().st_size == 0


def test_db_in_a_missing_directory_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.db"
    result = _stats("--db", f"sqlite:///{target}")
    assert result.exit_code == 1
    assert result.output == (
        f'Error: --db "sqlite:///{target}": the directory "{target.parent}" does not exist; '
        f'create it (mkdir -p "{target.parent}") or fix the path\n')
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_data_directory_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("QUALIPHONE_HOME", str(home))
    result = CliRunner().invoke(cli, ["store", "batches"])
    assert result.exit_code == 0, result.output
    assert (home / "qualiphone.db").is_file()


def test_a_relative_db_from_another_directory_says_which_store_and_that_it_is_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path)
    first = _stats("--db", "sqlite:///demo/demo.db")
    assert first.exit_code == 0, first.output
    where = tmp_path / "demo" / "demo.db"
    assert first.stderr.splitlines() == [
        f'warning: no store was at "{where}" (--db sqlite:///demo/demo.db): created a new, empty '
        "one; check --db or QUALIPHONE_DB and the current directory, or import calls first "
        "(qualiphone ingest …)",
        "no calls in the store for 2026-10-05 to 2026-10-05 (all sites, opening hours only, "
        "test calls left out)"]
    assert first.stdout.startswith("site,period,offered,")  # the CSV itself stays clean
    again = _stats("--db", "sqlite:///demo/demo.db")
    assert again.stderr.splitlines()[0] == (
        f'warning: the store "{where}" (--db sqlite:///demo/demo.db) holds no calls; check --db '
        "or QUALIPHONE_DB and the current directory, or import calls first (qualiphone ingest …)")
    table = CliRunner().invoke(cli, ["--db", "sqlite:///demo/demo.db", "stats", "--from",
                                     "2026-10-05", "--to", "2026-10-05"])
    assert f"Base : {where}" in table.stdout
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no demo/ here: the real place is named
    missing = _stats("--db", "sqlite:///demo/demo.db")
    assert missing.exit_code == 1 and f'the directory "{tmp_path / "elsewhere" / "demo"}" does not ' \
        "exist" in missing.output


def test_a_store_locked_by_another_process_during_migration_says_so(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # an old store (revision 0003) that must be migrated
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0003')"))
    holder = engine.connect()
    holder.exec_driver_sql("BEGIN IMMEDIATE")  # another process writing
    monkeypatch.setattr("monitor.store.engine._sqlite_pragmas", _short_busy_timeout)
    try:
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{path}", "store", "batches"])
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert result.exit_code == 1
    assert result.output == (
        f'Error: the store "sqlite:///{path}" needs a schema migration but another process has held '
        "it locked for too long (database is locked); try again when the other import or migration "
        "has finished\n")


def _short_busy_timeout(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.execute("PRAGMA busy_timeout=200")


def test_a_store_from_a_newer_version_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('9999')"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{path}", "store", "batches"])
    assert result.exit_code == 1
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert result.output.startswith(
        f'Error: the store "sqlite:///{path}" is at schema revision 9999, which this version of '
        f"qualiphone does not know (its latest is {head}): a newer version wrote it;")
