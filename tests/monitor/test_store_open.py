"""Opening the store: concurrent first use, migration errors that say what happened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from monitor.store import open_store
from qualiphone.cli import cli
from tests.conftest import PG_URL, REPO, skip_or_fail

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


@pytest.mark.postgres
def test_concurrent_first_use_of_a_new_postgresql_schema() -> None:
    if not PG_URL:
        skip_or_fail("PostgreSQL not configured (set QUALIPHONE_TEST_PG; .ci/run does)")
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        shown = url.render_as_string(hide_password=False)
        assert _open_at_once(shown, 6) == []
        _single_head(shown)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
    assert result.output == (
        f'Error: cannot migrate the store "sqlite:///{path}" from schema revision 0003 to 0004: '
        "table afterhours_probes already exists; the store was changed outside qualiphone or by "
        "another version: restore it from a backup or give another --db\n")
