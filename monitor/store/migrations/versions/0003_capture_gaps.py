"""AMI capture gaps: (pbx, start, end, reason) of each period a live listener missed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_gaps",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("start_time", sa.Double, nullable=False),
        sa.Column("end_time", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_capture_gaps"),
    )
    op.create_index("ix_capture_gaps_pbx_start_time", "capture_gaps", ["pbx", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_capture_gaps_pbx_start_time", table_name="capture_gaps")
    op.drop_table("capture_gaps")
