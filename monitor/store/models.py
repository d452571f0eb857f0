"""Tables of the store. Times are UTC epoch seconds (double precision)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("pbx", sa.String(64), nullable=False),
    # Asterisk's uniqueid and linkedid: up to 149 characters (AST_MAX_UNIQUEID)
    sa.Column("call_key", sa.String(150), nullable=False),
    sa.Column("site", sa.String(32), nullable=False),
    sa.Column("linkedid", sa.String(150)),
    sa.Column("dialed", sa.String(80)),  # an extension: up to 79 characters (AST_MAX_EXTENSION)
    sa.Column("caller_hash", sa.String(64)),
    sa.Column("caller_raw", sa.String(80)),
    sa.Column("caller_withheld", sa.Boolean, nullable=False, default=False),
    sa.Column("arrival", sa.Double, nullable=False),
    sa.Column("first_ring", sa.Double),
    sa.Column("queue_entry", sa.Double),
    sa.Column("answer", sa.Double),
    sa.Column("end_time", sa.Double),
    sa.Column("time_to_answer", sa.Double),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("answered_by", sa.String(255)),  # a device, or "Application@context"
    sa.Column("in_hours", sa.Boolean, nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False, default=False),
    sa.Column("incomplete", sa.Boolean, nullable=False, default=False),
    sa.Column("sources", sa.Integer, nullable=False),
    sa.Column("time_source", sa.Integer, nullable=False),
    sa.Column("resolution", sa.Double, nullable=False),
    sa.Column("local_date", sa.String(10), nullable=False),
    sa.Column("local_hour", sa.SmallInteger, nullable=False),
    sa.Column("local_weekday", sa.SmallInteger, nullable=False),
    # call_key first: PostgreSQL then always looks a key up by the index (migration 0009)
    sa.UniqueConstraint("call_key", "pbx"),
    sa.Index("ix_calls_site_local_date", "site", "local_date"),
    sa.Index("ix_calls_arrival", "arrival"),
)

# Per local month (YYYY-MM of local_date), a columnar copy of its calls that `stats` reads
# instead of the rows (monitor.store.month_columns). Triggers on `calls` (migration 0008) add a
# row to call_changes for every month an insert, update or delete touches; a copy is used only
# while its month has no such row, and building a copy removes them in the same transaction.
call_columns = sa.Table(
    "call_columns",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("format", sa.Integer, nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("sites", sa.Text, nullable=False),  # site ids of the codes, one per line
    sa.Column("outcomes", sa.Text, nullable=False),  # outcome names of the codes, one per line
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("built_at", sa.Double, nullable=False),
)

call_changes = sa.Table(
    "call_changes",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Index("ix_call_changes_month", "month"),
)

import_batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("pbx", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("finished_at", sa.Double),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("calls_seen", sa.Integer, nullable=False, default=0),
    sa.Column("imported", sa.Integer, nullable=False, default=0),
    sa.Column("merged", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Index("ix_import_batches_checksum", "kind", "pbx", "checksum"),
)

rejected_records = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_rejected_records_batch_id", "batch_id"),
)

# What the site directory did not match, per import batch (or listener session): the dialed
# number, queue and context of calls refused as "unknown site" or left out as no configured
# switchboard's, counted. `qualiphone sites check` lists them as directory gaps.
directory_misses = sa.Table(
    "directory_misses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=False),
    sa.Column("pbx", sa.String(64), nullable=False),
    sa.Column("dialed", sa.Text),
    sa.Column("queue", sa.Text),
    sa.Column("context", sa.Text),
    sa.Column("rejected", sa.Boolean, nullable=False),  # True: kept as a reject; False: skipped
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("first_line", sa.Integer),
    sa.Column("first_arrival", sa.Double),
    sa.Column("last_arrival", sa.Double),
    sa.Index("ix_directory_misses_batch_id", "batch_id"),
)


# What each write gave each call, so that an import batch can be dropped and the calls it merged
# into restored (`monitor.store.contributions`): one row per distinct content a source wrote for
# a call (the columns of `calls`, `digest` a hash of them), owned by the batch that first wrote
# it (batch_id NULL: the live capture, or a call stored before contributions were kept), and one
# link per other batch that wrote the same content again.
call_contributions = sa.Table(
    "call_contributions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    *(sa.Column(c.name, c.type, nullable=c.nullable) for c in calls.columns if c.name != "id"),
    sa.Column("digest", sa.BigInteger, nullable=False),
    sa.Column("batch_id", sa.Integer),
    sa.UniqueConstraint("call_key", "pbx", "digest"),
    sa.Index("ix_call_contributions_batch_id", "batch_id"),
)

contribution_batches = sa.Table(
    "contribution_batches",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("contribution_id", sa.BigInteger, nullable=False),
    sa.Column("batch_id", sa.Integer),
    sa.Index("ix_contribution_batches_batch_id", "batch_id"),
    sa.Index("ix_contribution_batches_contribution_id", "contribution_id"),
)
