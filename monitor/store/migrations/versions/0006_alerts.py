"""Alerts: each alert (firing until it clears), the notices sent about it, their deliveries.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("site", sa.String(32)),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("fired_at", sa.Double, nullable=False),
        sa.Column("last_sent_at", sa.Double, nullable=False),
        sa.Column("cleared_at", sa.Double),
        sa.Column("title", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_rule_state", "alerts", ["rule", "state"])
    op.create_table(
        "alert_notices",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("site", sa.String(32)),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notices"),
    )
    op.create_index("ix_alert_notices_at", "alert_notices", ["at"])
    op.create_index("ix_alert_notices_alert_id", "alert_notices", ["alert_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("notice_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["alert_notices.id"], name="fk_alert_deliveries_notice_id_alert_notices"
        ),
    )
    op.create_index("ix_alert_deliveries_notice_id", "alert_deliveries", ["notice_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_notice_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alert_notices_alert_id", table_name="alert_notices")
    op.drop_index("ix_alert_notices_at", table_name="alert_notices")
    op.drop_table("alert_notices")
    op.drop_index("ix_alerts_rule_state", table_name="alerts")
    op.drop_table("alerts")
