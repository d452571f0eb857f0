"""The store's record of AMI capture gaps: when a listener was not receiving events.

Defined on the shared `monitor.store.models.metadata`; the schema change is migration 0003.
Reports use it to show coverage; calls that overlap a gap are stored with `incomplete = true`
so that a batch import (CDR, queue_log, CEL) of the same day completes them.
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.models import metadata

capture_gaps = sa.Table(
    "capture_gaps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pbx", sa.String(64), nullable=False),
    sa.Column("start_time", sa.Double, nullable=False),  # UTC epoch: last frame received
    sa.Column("end_time", sa.Double, nullable=False),  # UTC epoch: next successful login
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_capture_gaps_pbx_start_time", "pbx", "start_time"),
)
