"""Initial schema: calls, import batches, rejected records.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("call_key", sa.String(128), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(128)),
        sa.Column("dialed", sa.String(32)),
        sa.Column("caller_hash", sa.String(64)),
        sa.Column("caller_raw", sa.String(64)),
        sa.Column("caller_withheld", sa.Boolean, nullable=False),
        sa.Column("arrival", sa.Double, nullable=False),
        sa.Column("first_ring", sa.Double),
        sa.Column("queue_entry", sa.Double),
        sa.Column("answer", sa.Double),
        sa.Column("end_time", sa.Double),
        sa.Column("time_to_answer", sa.Double),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("answered_by", sa.String(128)),
        sa.Column("in_hours", sa.Boolean, nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("incomplete", sa.Boolean, nullable=False),
        sa.Column("sources", sa.Integer, nullable=False),
        sa.Column("time_source", sa.Integer, nullable=False),
        sa.Column("resolution", sa.Double, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("local_hour", sa.SmallInteger, nullable=False),
        sa.Column("local_weekday", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("pbx", "call_key", name="uq_calls_pbx_call_key"),
    )
    op.create_index("ix_calls_site_local_date", "calls", ["site", "local_date"])
    op.create_index("ix_calls_arrival", "calls", ["arrival"])
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("calls_seen", sa.Integer, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False),
        sa.Column("merged", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_batches"),
    )
    op.create_index("ix_import_batches_checksum", "import_batches", ["kind", "pbx", "checksum"])
    op.create_table(
        "rejected_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("line", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rejected_records"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["import_batches.id"],
            name="fk_rejected_records_batch_id_import_batches",
        ),
    )
    op.create_index("ix_rejected_records_batch_id", "rejected_records", ["batch_id"])


def downgrade() -> None:
    op.drop_table("rejected_records")
    op.drop_table("import_batches")
    op.drop_table("calls")
