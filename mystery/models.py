"""Tables of mystery-call campaigns, on the store's metadata (migration 0002).

Times are UTC epoch seconds; `local_start` keeps the site's wall-clock slot for people to read.
A result row holds what a caller (or an external firm) observed, and room for the PBX's view:
`pbx_ring_seconds` (filled by matching the captured call, or by a future AMI-assisted call),
`pbx_channel_id` (the Originate's ChannelId) and `captured_call_id` (calls.id, no foreign key:
the retention purge may remove the call).
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.models import metadata

mystery_campaigns = sa.Table(
    "mystery_campaigns",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("code", sa.String(16), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # the campaign TOML as planned
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("planned_at", sa.Double, nullable=False),
)

mystery_planned_calls = sa.Table(
    "mystery_planned_calls",
    metadata,
    sa.Column("call_id", sa.String(40), primary_key=True),
    sa.Column("campaign_id", sa.String(64), sa.ForeignKey("mystery_campaigns.id"), nullable=False),
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("start_utc", sa.Double, nullable=False),
    sa.Column("local_start", sa.String(16), nullable=False),
    sa.Column("band", sa.String(64), nullable=False),
    sa.Column("caller", sa.String(64), nullable=False),
    sa.Column("scenario", sa.String(64), nullable=False),
    sa.Column("double_scored", sa.Boolean, nullable=False),
    sa.Index("ix_mystery_planned_calls_campaign_id", "campaign_id"),
    sa.Index("ix_mystery_planned_calls_site_start_utc", "site", "start_utc"),
)

mystery_results = sa.Table(
    "mystery_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.String(40), sa.ForeignKey("mystery_planned_calls.call_id"), nullable=False),
    sa.Column("role", sa.String(8), nullable=False),  # primary | second
    sa.Column("scorer", sa.String(100), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("called_at", sa.Double),
    sa.Column("status", sa.String(12), nullable=False),  # in_progress | complete
    sa.Column("source", sa.String(8), nullable=False),  # form | import | ami
    sa.Column("pbx_ring_seconds", sa.Double),
    sa.Column("pbx_channel_id", sa.String(150)),
    sa.Column("pbx_linkedid", sa.String(150)),
    sa.Column("captured_call_id", sa.BigInteger),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.UniqueConstraint("call_id", "role"),
)

mystery_answers = sa.Table(
    "mystery_answers",
    metadata,
    sa.Column("result_id", sa.Integer, sa.ForeignKey("mystery_results.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("criterion", sa.String(64), primary_key=True),
    sa.Column("value", sa.Double),  # yes/no as 1/0, scale 1–4, seconds; NULL when not applicable
    sa.Column("na", sa.Boolean, nullable=False),  # "sans objet"
)

mystery_actions = sa.Table(
    "mystery_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.String(64), sa.ForeignKey("mystery_campaigns.id"), nullable=False),
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("criterion", sa.String(64), nullable=False),
    sa.Column("finding", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("owner", sa.String(100), nullable=False, default=""),
    sa.Column("due", sa.String(10), nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("closed_at", sa.Double),
    sa.UniqueConstraint("campaign_id", "site", "criterion"),
)
