"""After-hours message checks: probes (verdicts, measurements) and alerts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "afterhours_probes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("expected_kind", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("local_time", sa.String(8), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("response", sa.String(16), nullable=False),
        sa.Column("reason", sa.SmallInteger),
        sa.Column("time_to_answer", sa.Double),
        sa.Column("recording", sa.Text),
        sa.Column("recording_seconds", sa.Double),
        sa.Column("message_seconds", sa.Double),
        sa.Column("reference_seconds", sa.Double),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("matched", sa.String(64)),
        sa.Column("similarity", sa.Double),
        sa.Column("worst", sa.Double),
        sa.Column("coverage", sa.Double),
        sa.Column("expected_similarity", sa.Double),
        sa.Column("expected_worst", sa.Double),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_afterhours_probes"),
    )
    op.create_index(
        "ix_afterhours_probes_site_started_at", "afterhours_probes", ["site", "started_at"]
    )
    op.create_table(
        "afterhours_alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("raised_at", sa.Double, nullable=False),
        sa.Column("probes", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("hook", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_afterhours_alerts"),
    )
    op.create_index(
        "ix_afterhours_alerts_site_raised_at", "afterhours_alerts", ["site", "raised_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_afterhours_alerts_site_raised_at", table_name="afterhours_alerts")
    op.drop_table("afterhours_alerts")
    op.drop_index("ix_afterhours_probes_site_started_at", table_name="afterhours_probes")
    op.drop_table("afterhours_probes")
