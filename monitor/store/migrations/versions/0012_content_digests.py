"""Contributions' digests computed from the row's content text (`contributions.content`:
length-prefixed texts, IEEE bits of floats) instead of Python's repr of the row, so that the
set-based write can compute them over columns. The stored digests are recomputed, so that a
file imported again after the upgrade still links its content to the contributions already
kept instead of adding them a second time. The definition is frozen here as of this revision.

Revision ID: 0012
Revises: 0011
"""

import hashlib
import struct

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

KINDS = (
    ("pbx", "text"), ("call_key", "text"), ("site", "text"), ("linkedid", "text"),
    ("dialed", "text"), ("caller_hash", "text"), ("caller_raw", "text"),
    ("caller_withheld", "bool"), ("arrival", "float"), ("first_ring", "float"),
    ("queue_entry", "float"), ("answer", "float"), ("end_time", "float"),
    ("time_to_answer", "float"), ("outcome", "text"), ("answered_by", "text"),
    ("in_hours", "bool"), ("is_test", "bool"), ("incomplete", "bool"), ("sources", "int"),
    ("time_source", "int"), ("resolution", "float"), ("local_date", "text"),
    ("local_hour", "int"), ("local_weekday", "int"),
)
CHUNK = 5000
_DOUBLE, _BITS = struct.Struct("<d"), struct.Struct("<q")


def _digest(values: tuple[object, ...]) -> int:
    fields = []
    for (_, kind), value in zip(KINDS, values, strict=True):
        if value is None:
            fields.append("-")
        elif kind == "text":
            text = str(value)
            fields.append(f"{len(text)}:{text}")
        elif kind == "float":
            fields.append(str(_BITS.unpack(_DOUBLE.pack(float(value)))[0]))  # type: ignore[arg-type]
        elif kind == "bool":
            fields.append("1" if value else "0")
        else:
            fields.append(str(int(value)))  # type: ignore[call-overload]
    data = hashlib.blake2b("|".join(fields).encode(), digest_size=8).digest()
    return int.from_bytes(data, "big", signed=True)


def upgrade() -> None:
    connection = op.get_bind()
    columns = ", ".join(name for name, _ in KINDS)
    last = None
    while True:
        where = "" if last is None else f"WHERE id > {int(last)} "
        rows = connection.exec_driver_sql(
            f"SELECT id, {columns} FROM call_contributions {where}ORDER BY id LIMIT {CHUNK}"
        ).all()
        if not rows:
            return
        connection.execute(sa.text("UPDATE call_contributions SET digest = :digest WHERE id = :id"),
                           [{"id": row[0], "digest": _digest(tuple(row[1:]))} for row in rows])
        last = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError("the former digests (Python's repr of a row) are not restored")
