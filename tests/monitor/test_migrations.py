"""The Alembic migrations build exactly the tables the code declares (no drift), on both stores."""

from __future__ import annotations

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
