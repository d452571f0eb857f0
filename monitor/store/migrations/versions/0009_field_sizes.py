"""Columns as wide as what Asterisk writes: a uniqueid or linkedid is up to 149 characters
(AST_MAX_UNIQUEID), a dialed extension up to 79 (AST_MAX_EXTENSION), a device or
"Application@context" more than 128; the mystery results keep the same linkedid.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WIDER = {
    "calls": {"call_key": (128, 150), "linkedid": (128, 150), "dialed": (32, 80),
              "caller_raw": (64, 80), "answered_by": (128, 255)},
    "mystery_results": {"pbx_channel_id": (128, 150), "pbx_linkedid": (128, 150)},
}
NOT_NULL = {"call_key"}


def _alter(index: int) -> None:
    triggers = _calls_triggers()
    for table, columns in WIDER.items():
        with op.batch_alter_table(table) as batch:
            for name, sizes in columns.items():
                batch.alter_column(name, type_=sa.String(sizes[index]),
                                   existing_type=sa.String(sizes[1 - index]),
                                   existing_nullable=name not in NOT_NULL)
    for sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    _alter(1)


def downgrade() -> None:
    _alter(0)

def _calls_triggers() -> list[str]:
    """SQLite: the CREATE TRIGGER statements on `calls` (revision 0008's, which mark the months
    a write touches). batch_alter_table rebuilds the table by copying it, which drops them: they
    are read before and run again after (the rows are the same, so the month copies stay
    valid)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    return [sql for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'calls'")]
