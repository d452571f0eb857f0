"""The unique key of calls leads with call_key: (call_key, pbx) instead of (pbx, call_key).

With pbx first, PostgreSQL planned the importer's lookup of stored calls on an empty table as
an index scan of the pbx column with call_key as a filter; psycopg prepares the statement after
five runs and PostgreSQL keeps that plan, so each chunk read every stored call of the PBX and a
large import became quadratic. With call_key first the key is always an index condition.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("uq_calls_pbx_call_key", type_="unique")
        batch.create_unique_constraint("uq_calls_call_key_pbx", ["call_key", "pbx"])
    _restore_sqlite_triggers()


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("uq_calls_call_key_pbx", type_="unique")
        batch.create_unique_constraint("uq_calls_pbx_call_key", ["pbx", "call_key"])
    _restore_sqlite_triggers()


def _restore_sqlite_triggers() -> None:
    """batch_alter_table rebuilt `calls` on SQLite without the triggers of revision 0008 that
    mark the months a write touches: create them again (the rows are the same, so the month
    copies stay valid)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "_qualiphone_0008", Path(__file__).with_name("0008_call_columns.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for statement in module.sqlite_triggers():
        op.execute(statement)
