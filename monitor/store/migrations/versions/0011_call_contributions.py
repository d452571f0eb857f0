"""What each import batch wrote for each call (call_contributions, owned by the batch that first
wrote that content; contribution_batches, the other batches that wrote the same), so that
`qualiphone ingest drop --batch N` can remove a batch and restore the calls it merged into.
The calls already stored become contributions of no batch (kept by every drop).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CALL_COLUMNS = (
    "pbx", "call_key", "site", "linkedid", "dialed", "caller_hash", "caller_raw",
    "caller_withheld", "arrival", "first_ring", "queue_entry", "answer", "end_time",
    "time_to_answer", "outcome", "answered_by", "in_hours", "is_test", "incomplete", "sources",
    "time_source", "resolution", "local_date", "local_hour", "local_weekday",
)


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "call_contributions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("call_key", sa.String(150), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(150)),
        sa.Column("dialed", sa.String(80)),
        sa.Column("caller_hash", sa.String(64)),
        sa.Column("caller_raw", sa.String(80)),
        sa.Column("caller_withheld", sa.Boolean, nullable=False),
        sa.Column("arrival", sa.Double, nullable=False),
        sa.Column("first_ring", sa.Double),
        sa.Column("queue_entry", sa.Double),
        sa.Column("answer", sa.Double),
        sa.Column("end_time", sa.Double),
        sa.Column("time_to_answer", sa.Double),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("answered_by", sa.String(255)),
        sa.Column("in_hours", sa.Boolean, nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.Column("incomplete", sa.Boolean, nullable=False),
        sa.Column("sources", sa.Integer, nullable=False),
        sa.Column("time_source", sa.Integer, nullable=False),
        sa.Column("resolution", sa.Double, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("local_hour", sa.SmallInteger, nullable=False),
        sa.Column("local_weekday", sa.SmallInteger, nullable=False),
        sa.Column("digest", sa.BigInteger, nullable=False),
        sa.Column("batch_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_call_contributions"),
        sa.UniqueConstraint("call_key", "pbx", "digest",
                            name="uq_call_contributions_call_key_pbx_digest"),
    )
    op.create_table(
        "contribution_batches",
        sa.Column("id", _id(), nullable=False),
        sa.Column("contribution_id", sa.BigInteger, nullable=False),
        sa.Column("batch_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_contribution_batches"),
    )
    op.create_index("ix_call_contributions_batch_id", "call_contributions", ["batch_id"])
    op.create_index("ix_contribution_batches_batch_id", "contribution_batches", ["batch_id"])
    op.create_index("ix_contribution_batches_contribution_id", "contribution_batches",
                    ["contribution_id"])
    columns = ", ".join(CALL_COLUMNS)
    # Each stored call, as it is, is a contribution of no batch (digest 0: there is one per
    # call), which no drop removes.
    op.execute(f"INSERT INTO call_contributions ({columns}, digest, batch_id) "
               f"SELECT {columns}, 0, NULL FROM calls")


def downgrade() -> None:
    op.drop_index("ix_contribution_batches_contribution_id", table_name="contribution_batches")
    op.drop_index("ix_contribution_batches_batch_id", table_name="contribution_batches")
    op.drop_table("contribution_batches")
    op.drop_index("ix_call_contributions_batch_id", table_name="call_contributions")
    op.drop_table("call_contributions")
