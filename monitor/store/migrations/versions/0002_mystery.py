"""Mystery-call campaigns: campaigns, planned calls, results, answers, actions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mystery_campaigns",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("planned_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mystery_campaigns"),
    )
    op.create_table(
        "mystery_planned_calls",
        sa.Column("call_id", sa.String(40), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("start_utc", sa.Double, nullable=False),
        sa.Column("local_start", sa.String(16), nullable=False),
        sa.Column("band", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("double_scored", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_mystery_planned_calls"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["mystery_campaigns.id"],
            name="fk_mystery_planned_calls_campaign_id_mystery_campaigns",
        ),
    )
    op.create_index("ix_mystery_planned_calls_campaign_id", "mystery_planned_calls", ["campaign_id"])
    op.create_index(
        "ix_mystery_planned_calls_site_start_utc", "mystery_planned_calls", ["site", "start_utc"]
    )
    op.create_table(
        "mystery_results",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("scorer", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("called_at", sa.Double),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("pbx_ring_seconds", sa.Double),
        sa.Column("pbx_channel_id", sa.String(128)),
        sa.Column("pbx_linkedid", sa.String(128)),
        sa.Column("captured_call_id", sa.BigInteger),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mystery_results"),
        sa.UniqueConstraint("call_id", "role", name="uq_mystery_results_call_id_role"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["mystery_planned_calls.call_id"],
            name="fk_mystery_results_call_id_mystery_planned_calls",
        ),
    )
    op.create_table(
        "mystery_answers",
        sa.Column("result_id", sa.Integer, nullable=False),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("value", sa.Double),
        sa.Column("na", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("result_id", "criterion", name="pk_mystery_answers"),
        sa.ForeignKeyConstraint(
            ["result_id"], ["mystery_results.id"], ondelete="CASCADE",
            name="fk_mystery_answers_result_id_mystery_results",
        ),
    )
    op.create_table(
        "mystery_actions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("closed_at", sa.Double),
        sa.PrimaryKeyConstraint("id", name="pk_mystery_actions"),
        sa.UniqueConstraint(
            "campaign_id", "site", "criterion", name="uq_mystery_actions_campaign_id_site_criterion"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["mystery_campaigns.id"],
            name="fk_mystery_actions_campaign_id_mystery_campaigns",
        ),
    )


def downgrade() -> None:
    op.drop_table("mystery_actions")
    op.drop_table("mystery_answers")
    op.drop_table("mystery_results")
    op.drop_table("mystery_planned_calls")
    op.drop_table("mystery_campaigns")
