"""Per-month columnar copies of the calls (call_columns) and the triggers that mark a month
changed (call_changes) on every insert, update or delete of calls, whatever writes them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MONTH_OF = "substr({row}.local_date, 1, 7)"
# SQLite: row triggers. The WHEN clause skips the body once the month is marked (all but the
# first call of a month in a batch): a probe of a tiny table per written call.
SQLITE_UNMARKED = "NOT EXISTS (SELECT 1 FROM call_changes WHERE month = {month})"
SQLITE_MARK = "INSERT INTO call_changes (month) SELECT {month} WHERE {unmarked};"
SQLITE_TRIGGERS = {
    "calls_changed_insert": ("AFTER INSERT ON calls", ["NEW"]),
    "calls_changed_update": (
        "AFTER UPDATE OF site, outcome, arrival, answer, end_time, queue_entry, in_hours, "
        "is_test, local_date ON calls", ["OLD", "NEW"]),
    "calls_changed_delete": ("AFTER DELETE ON calls", ["OLD"]),
}
# PostgreSQL: statement triggers reading the transition tables; plain inserts into
# call_changes (no unique key), so concurrent writers never wait for one another
PG_FUNCTION = """
CREATE FUNCTION calls_changed_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO call_changes (month) {select};
  RETURN NULL;
END $$"""
PG_SELECT = "SELECT DISTINCT substr(local_date, 1, 7) FROM {table}"
PG_TRIGGERS = {
    "insert": ("AFTER INSERT", "NEW TABLE AS new_calls", PG_SELECT.format(table="new_calls")),
    "update": ("AFTER UPDATE", "OLD TABLE AS old_calls NEW TABLE AS new_calls",
               PG_SELECT.format(table="old_calls") + " UNION "
               + PG_SELECT.format(table="new_calls")),
    "delete": ("AFTER DELETE", "OLD TABLE AS old_calls", PG_SELECT.format(table="old_calls")),
}


def upgrade() -> None:
    op.create_table(
        "call_columns",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("format", sa.Integer, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("sites", sa.Text, nullable=False),
        sa.Column("outcomes", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("built_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("month", name="pk_call_columns"),
    )
    op.create_table(
        "call_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_changes"),
    )
    op.create_index("ix_call_changes_month", "call_changes", ["month"])
    if op.get_bind().dialect.name == "postgresql":
        # stored as is: compressing the blobs halves them but doubles the time to read them
        op.execute("ALTER TABLE call_columns ALTER COLUMN data SET STORAGE EXTERNAL")
        for name, (event, tables, select) in PG_TRIGGERS.items():
            op.execute(PG_FUNCTION.format(name=name, select=select))
            op.execute(f"CREATE TRIGGER calls_changed_{name} {event} ON calls "
                       f"REFERENCING {tables} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION calls_changed_{name}()")
    else:
        for name, (event, rows) in SQLITE_TRIGGERS.items():
            months = [MONTH_OF.format(row=r) for r in rows]
            unmarked = [SQLITE_UNMARKED.format(month=m) for m in months]
            body = " ".join(SQLITE_MARK.format(month=m, unmarked=u)
                            for m, u in zip(months, unmarked, strict=True))
            op.execute(f"CREATE TRIGGER {name} {event} WHEN {' OR '.join(unmarked)} "
                       f"BEGIN {body} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER calls_changed_{name} ON calls")
            op.execute(f"DROP FUNCTION calls_changed_{name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_call_changes_month", table_name="call_changes")
    op.drop_table("call_changes")
    op.drop_table("call_columns")
