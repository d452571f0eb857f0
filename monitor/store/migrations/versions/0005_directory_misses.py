"""Directory misses: the dialed numbers, queues and contexts of calls that matched no site, per
import batch, so that `qualiphone sites check` can list the directory's gaps.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_misses",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("dialed", sa.Text),
        sa.Column("queue", sa.Text),
        sa.Column("context", sa.Text),
        sa.Column("rejected", sa.Boolean, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("first_line", sa.Integer),
        sa.Column("first_arrival", sa.Double),
        sa.Column("last_arrival", sa.Double),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"],
                                name="fk_directory_misses_batch_id_import_batches"),
        sa.PrimaryKeyConstraint("id", name="pk_directory_misses"),
    )
    op.create_index("ix_directory_misses_batch_id", "directory_misses", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_directory_misses_batch_id", table_name="directory_misses")
    op.drop_table("directory_misses")
