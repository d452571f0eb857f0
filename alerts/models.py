"""The store's alert tables: alerts (one row per firing, open until it clears), the notices sent
about them (fired, repeat, cleared, test) and each channel's delivery of each notice.

Defined on the shared `monitor.store.models.metadata`; the schema change is migration 0006.
No secret is ever stored: a delivery's target is an e-mail address list or a URL's scheme and
host, its detail the server's answer.
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.models import metadata

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),  # unique among the rule's open alerts
    sa.Column("site", sa.String(32)),
    sa.Column("state", sa.String(8), nullable=False),  # firing | cleared
    sa.Column("fired_at", sa.Double, nullable=False),  # UTC epoch
    sa.Column("last_sent_at", sa.Double, nullable=False),
    sa.Column("cleared_at", sa.Double),
    sa.Column("title", sa.Text, nullable=False),  # French, as last sent
    sa.Index("ix_alerts_rule_state", "rule", "state"),
)

alert_notices = sa.Table(
    "alert_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.Integer),  # alerts.id; none for a test message
    sa.Column("kind", sa.String(8), nullable=False),  # fired | repeat | cleared | test
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("site", sa.String(32)),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # English
    sa.Column("title", sa.Text, nullable=False),  # French
    sa.Column("text", sa.Text, nullable=False),  # French
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sa.Index("ix_alert_notices_at", "at"),
    sa.Index("ix_alert_notices_alert_id", "alert_id"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.Integer, sa.ForeignKey("alert_notices.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # email | webhook | log
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Index("ix_alert_deliveries_notice_id", "notice_id"),
)
