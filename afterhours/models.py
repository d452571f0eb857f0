"""The store's after-hours tables: probes with their verdicts and measurements, and alerts.

Defined on the shared `monitor.store.models.metadata`; the schema change is migration 0004.
Probes are test calls: they live here only, never in `calls` (a probe that comes back into one
of our switchboards is stored there with is_test = true, from its caller id / account code).
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.models import metadata

afterhours_probes = sa.Table(
    "afterhours_probes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the probe id, also the Originate ChannelId
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("pbx", sa.String(64), nullable=False),
    sa.Column("expected_kind", sa.String(16), nullable=False),  # closed | closure
    sa.Column("started_at", sa.Double, nullable=False),  # UTC epoch: Originate sent
    sa.Column("local_date", sa.String(10), nullable=False),
    sa.Column("local_time", sa.String(8), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("response", sa.String(16), nullable=False),  # Success | Failure | "" (unknown)
    sa.Column("reason", sa.SmallInteger),  # OriginateResponse Reason
    sa.Column("time_to_answer", sa.Double),  # seconds, Originate to OriginateResponse Success
    sa.Column("recording", sa.Text),
    sa.Column("recording_seconds", sa.Double),
    sa.Column("message_seconds", sa.Double),  # first to last sound of the recording
    sa.Column("reference_seconds", sa.Double),  # the same for the expected reference
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("matched", sa.String(64)),  # best reference, "site/kind"
    sa.Column("similarity", sa.Double),
    sa.Column("worst", sa.Double),
    sa.Column("coverage", sa.Double),
    sa.Column("expected_similarity", sa.Double),
    sa.Column("expected_worst", sa.Double),
    sa.Column("scores", sa.Text, nullable=False, default="{}"),  # JSON: ref -> [similarity, worst]
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("is_test", sa.Boolean, nullable=False, default=True),
    sa.Index("ix_afterhours_probes_site_started_at", "site", "started_at"),
)

afterhours_alerts = sa.Table(
    "afterhours_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("raised_at", sa.Double, nullable=False),
    sa.Column("probes", sa.Text, nullable=False),  # the failed probe ids, comma-separated
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("hook", sa.String(200), nullable=False, default=""),  # "", "sent", "failed: …"
    sa.Index("ix_afterhours_alerts_site_raised_at", "site", "raised_at"),
)
