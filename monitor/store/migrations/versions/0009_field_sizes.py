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
    for table, columns in WIDER.items():
        with op.batch_alter_table(table) as batch:
            for name, sizes in columns.items():
                batch.alter_column(name, type_=sa.String(sizes[index]),
                                   existing_type=sa.String(sizes[1 - index]),
                                   existing_nullable=name not in NOT_NULL)


def upgrade() -> None:
    _alter(1)
    _restore_sqlite_triggers()


def downgrade() -> None:
    _alter(0)
    _restore_sqlite_triggers()


def _restore_sqlite_triggers() -> None:
    """batch_alter_table rebuilt `calls` on SQLite without the triggers of revision 0008 that
    mark the months a write touches: create them again (the rows are the same, so the month
    copies stay valid)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "_qualiphone_0008", Path(__file__).with_name("0008_call_columns.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for statement in module.sqlite_triggers():
        op.execute(statement)
