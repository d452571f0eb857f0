"""The Alembic migrations build exactly the tables the code declares (no drift), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import afterhours.models  # noqa: F401  (registers its tables on the shared metadata)
import alerts.models  # noqa: F401
import ingest.ami.models  # noqa: F401
import mystery.models  # noqa: F401
import web.models  # noqa: F401
from monitor.store import Store
from monitor.store.models import metadata
from tests.conftest import pg_schema


def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    # alembic_version is Alembic's own table
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diff == []


def test_every_table_is_created(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= names


def test_head_read_from_the_files_is_alembics_head() -> None:
    """The start-up check that skips Alembic reads the head from the files: it must be
    Alembic's own answer, or the check would skip a migration."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from monitor.store.engine import HERE, head_revision

    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_a_current_store_opens_without_importing_alembic(store: Store) -> None:
    import subprocess
    import sys

    from monitor.store.engine import current_revision, head_revision

    assert current_revision(store.engine) == head_revision()
    url = store.engine.url.render_as_string(hide_password=False)
    code = ("import sys; from monitor.store import open_store; open_store(sys.argv[1]).dispose();"
            " print(any(m == 'alembic' or m.startswith('alembic.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on an empty database: an SQLite file, or a PostgreSQL schema of its own."""
    from monitor.store.engine import _engine

    if request.param == "sqlite":
        engine = _engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    with pg_schema() as url:
        engine = _engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def test_contribution_digests_are_recomputed_from_their_content(empty_engine: sa.Engine) -> None:
    """Revision 0012: the contributions kept before it get the digest the writers now compute,
    so that importing a file again still links to them rather than copying them; two of one
    call that only the old digest told apart become one, linked to every batch that gave it."""
    from alembic import command

    from monitor.store.contributions import digest
    from monitor.store.engine import _alembic_config
    from monitor.store.models import call_contributions, contribution_batches
    from monitor.store.writer import ROW_KEYS

    row = {name: None for name in ROW_KEYS} | {
        "pbx": "pbx-a", "call_key": "1790000000.1", "site": "eps-05", "dialed": "0142|x",
        "caller_withheld": False, "arrival": 1_790_000_000.25, "outcome": "answered",
        "answer": 1_790_000_012, "in_hours": True, "is_test": False, "incomplete": False,
        "sources": 2, "time_source": 2, "resolution": 1.0, "local_date": "2026-09-21",
        "local_hour": 9, "local_weekday": 0}
    other = row | {"call_key": "b"}
    with empty_engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0011")
        conn.execute(sa.insert(call_contributions), [
            row | {"digest": 42, "batch_id": 1}, other | {"digest": 7, "batch_id": None},
            row | {"digest": 43, "batch_id": 2}, row | {"digest": 44, "batch_id": 3}])
        conn.execute(sa.insert(contribution_batches), [
            {"contribution_id": 3, "batch_id": 4}, {"contribution_id": 4, "batch_id": 1}])
    with empty_engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
        found = conn.execute(sa.select(call_contributions.c.id, call_contributions.c.call_key,
                                       call_contributions.c.digest, call_contributions.c.batch_id)
                             .order_by(call_contributions.c.id)).all()
        links = conn.execute(sa.select(contribution_batches.c.contribution_id,
                                       contribution_batches.c.batch_id)
                             .order_by(contribution_batches.c.batch_id)).all()
    assert found == [(1, "1790000000.1", digest(row), 1), (2, "b", digest(other), None)]
    assert links == [(1, 2), (1, 3), (1, 4)]
