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
    _unique_key(("uq_calls_pbx_call_key", "uq_calls_call_key_pbx"), ["call_key", "pbx"])


def downgrade() -> None:
    _unique_key(("uq_calls_call_key_pbx", "uq_calls_pbx_call_key"), ["pbx", "call_key"])


def _unique_key(names: tuple[str, str], columns: list[str]) -> None:
    triggers = _calls_triggers()
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint(names[0], type_="unique")
        batch.create_unique_constraint(names[1], columns)
    for sql in triggers:
        op.execute(sql)


def _calls_triggers() -> list[str]:
    """SQLite: the CREATE TRIGGER statements on `calls` (revision 0008's, which mark the months
    a write touches). batch_alter_table rebuilds the table by copying it, which drops them: they
    are read before and run again after (the rows are the same, so the month copies stay
    valid)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    return [sql for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'calls'")]
