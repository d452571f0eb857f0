"""The unique key of calls leads with call_key: (call_key, pbx) instead of (pbx, call_key).

With pbx first, PostgreSQL planned the importer's lookup of stored calls on an empty table as
an index scan of the pbx column with call_key as a filter; psycopg prepares the statement after
five runs and PostgreSQL keeps that plan, so each chunk read every stored call of the PBX and a
large import became quadratic. With call_key first the key is always an index condition.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("uq_calls_pbx_call_key", type_="unique")
        batch.create_unique_constraint("uq_calls_call_key_pbx", ["call_key", "pbx"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("uq_calls_call_key_pbx", type_="unique")
        batch.create_unique_constraint("uq_calls_pbx_call_key", ["pbx", "call_key"])
