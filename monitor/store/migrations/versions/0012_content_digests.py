"""Contributions' digests computed from the row's content text (`contributions.content`:
length-prefixed texts, IEEE bits of floats) instead of Python's repr of the row, so that the
set-based write can compute them over columns. The stored digests are recomputed, so that a
file imported again after the upgrade still links its content to the contributions already
kept instead of adding them a second time; contributions of one call that only the old digest
told apart (a value given as True once and as 1 once) become one, linked to both batches. The
definition is frozen here as of this revision.

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
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE qp_new_digests (id BIGINT PRIMARY KEY, pbx VARCHAR(64) NOT NULL, "
        "call_key VARCHAR(150) NOT NULL, digest BIGINT NOT NULL)")
    columns = ", ".join(name for name, _ in KINDS)
    insert = sa.text("INSERT INTO qp_new_digests (id, pbx, call_key, digest) "
                     "VALUES (:id, :pbx, :call_key, :digest)")
    last = None
    while True:
        where = "" if last is None else f"WHERE id > {int(last)} "
        rows = connection.exec_driver_sql(
            f"SELECT id, {columns} FROM call_contributions {where}ORDER BY id LIMIT {CHUNK}"
        ).all()
        if not rows:
            break
        connection.execute(insert, [{"id": row[0], "pbx": row[1], "call_key": row[2],
                                     "digest": _digest(tuple(row[1:]))} for row in rows])
        last = rows[-1][0]
    _merge_same_content(connection)
    connection.exec_driver_sql(
        "UPDATE call_contributions SET digest = (SELECT n.digest FROM qp_new_digests n "
        "WHERE n.id = call_contributions.id)")
    connection.exec_driver_sql("DROP TABLE qp_new_digests")


def _merge_same_content(connection: sa.Connection) -> None:
    """Contributions of one call that the old digest told apart and the new one does not (the
    same values given as True and as 1): the first is kept, the batches of the others become
    its links."""
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE qp_same (id BIGINT PRIMARY KEY, keep BIGINT NOT NULL)")
    connection.exec_driver_sql(
        "INSERT INTO qp_same (id, keep) SELECT n.id, k.keep FROM qp_new_digests n JOIN "
        "(SELECT pbx, call_key, digest, min(id) AS keep FROM qp_new_digests "
        "GROUP BY pbx, call_key, digest HAVING count(*) > 1) k "
        "ON k.pbx = n.pbx AND k.call_key = n.call_key AND k.digest = n.digest "
        "WHERE n.id <> k.keep")
    if connection.exec_driver_sql("SELECT count(*) FROM qp_same").scalar():
        connection.exec_driver_sql(
            "UPDATE contribution_batches SET contribution_id = (SELECT s.keep FROM qp_same s "
            "WHERE s.id = contribution_batches.contribution_id) "
            "WHERE contribution_id IN (SELECT id FROM qp_same)")
        connection.exec_driver_sql(
            "INSERT INTO contribution_batches (contribution_id, batch_id) "
            "SELECT s.keep, c.batch_id FROM qp_same s JOIN call_contributions c ON c.id = s.id "
            "WHERE c.batch_id IS NOT NULL ORDER BY s.id")
        kept = "SELECT keep FROM qp_same"
        connection.exec_driver_sql(  # a link to the kept contribution's own batch, or twice
            "DELETE FROM contribution_batches WHERE contribution_id IN (" + kept + ") AND ("
            "EXISTS (SELECT 1 FROM call_contributions c WHERE c.id = "
            "contribution_batches.contribution_id AND c.batch_id = contribution_batches.batch_id) "
            "OR id NOT IN (SELECT min(id) FROM contribution_batches WHERE contribution_id IN ("
            + kept + ") GROUP BY contribution_id, batch_id))")
        connection.exec_driver_sql(
            "DELETE FROM call_contributions WHERE id IN (SELECT id FROM qp_same)")
        connection.exec_driver_sql("DELETE FROM qp_new_digests WHERE id IN (SELECT id FROM qp_same)")
    connection.exec_driver_sql("DROP TABLE qp_same")


def downgrade() -> None:
    raise NotImplementedError("the former digests (Python's repr of a row) are not restored")
