"""What each write gave each call, to drop an import batch and restore what it merged into.

Every row the writer stores is also kept as a contribution (`record`): the row as that source
gave it, owned by the batch that first wrote that content. A batch writing the same content
again (the same file imported again after it grew, an overlapping file) adds a link, not a row.
Dropping a batch (`drop`) removes its links and its contributions (handing a contribution
another batch also wrote over to that batch), then rebuilds each call it touched by writing its
remaining contributions again, in the order they were first written, through the writer's own
upsert: the merge rules are the same, so a call stored by CDR then merged by CEL is the CDR call
again once the CEL batch is dropped, and a call only that batch gave is removed.

A contribution's digest is a hash of the row's `content` (a text made field by field), which
the row writer computes per row and the set write (`monitor.store.bulk`) over columns; the two
give the same digest for the same row (tests/monitor/test_bulk_write.py).

Contributions of no batch are the live capture's and the calls stored before contributions were
kept (migration 0010): no drop removes them.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.lookup import rows_by_key
from monitor.store.models import call_contributions, calls, contribution_batches

if TYPE_CHECKING:
    import polars as pl

Row = dict[str, object]
Key = tuple[str, str]  # pbx, call_key
_KEYS = 500  # keys per lookup

# How each stored column is written into a row's content (`content`): by the column's type, so
# that a time is the same whether a parser kept it as an int or a float, as the store does.
_KINDS = ((sa.String, "text"), (sa.Float, "float"), (sa.Boolean, "bool"), (sa.Integer, "int"))
KIND = {c.name: next(kind for base, kind in _KINDS if isinstance(c.type, base))
        for c in calls.columns if c.name != "id"}
_DOUBLE, _BITS = struct.Struct("<d"), struct.Struct("<q")


def content(row: Row) -> str:
    """A row's values as one text, field by field in the row's order, separated by "|": a
    missing value "-", a text "LENGTH:TEXT" (so no text can pass for another field), a float
    its IEEE 754 bits as a signed integer, a boolean 1 or 0, an integer its digits."""
    return "|".join(["-" if value is None else _ENCODE[name](value)
                     for name, value in row.items()])


def _text(value: object) -> str:
    text = str(value)
    return f"{len(text)}:{text}"


def _float(value: object) -> str:
    return str(_BITS.unpack(_DOUBLE.pack(value))[0])  # pack takes an int time as its float


_ENCODE = {name: {"text": _text, "float": _float, "bool": lambda v: "1" if v else "0",
                  "int": lambda v: str(int(v))}[kind]  # type: ignore[call-overload]
           for name, kind in KIND.items()}


def digest(row: Row) -> int:
    """A 64-bit signed hash of a row's `content` (the same row, the same digest, in any
    process and any version)."""
    data = hashlib.blake2b(content(row).encode(), digest_size=8).digest()
    return int.from_bytes(data, "big", signed=True)


def digests(frame: pl.DataFrame) -> pl.Series:
    """`digest` of each row of `frame` (its columns named as a row's keys, in that order):
    the contents are made over columns, only the hash is per row."""
    import numpy as np
    import polars as pl

    from monitor.store.writer import ROW_KEYS

    fields: list[pl.Series] = []
    for name in ROW_KEYS:
        column, kind = frame[name], KIND[name]
        if kind == "text":
            column = column.cast(pl.String)
            field = column.str.len_chars().cast(pl.String) + ":" + column
        elif kind == "float":
            column = column.cast(pl.Float64)
            bits = pl.Series(column.fill_null(0.0).to_numpy().view(np.int64)).cast(pl.String)
            field = bits.zip_with(column.is_not_null(), pl.Series([None], dtype=pl.String))
        else:
            field = column.cast(pl.Int8 if kind == "bool" else pl.Int64).cast(pl.String)
        fields.append(field.fill_null("-").alias(name))
    texts = pl.DataFrame(fields).select(pl.concat_str(ROW_KEYS, separator="|")).to_series()
    blake = hashlib.blake2b
    return pl.Series("digest", [
        int.from_bytes(blake(text.encode(), digest_size=8).digest(), "big", signed=True)
        for text in texts.to_list()], dtype=pl.Int64)


def record(conn: sa.Connection, rows: Sequence[Row], batch_id: int | None,
           known: set[Key]) -> None:
    """Keep `rows` (as just written to calls) as contributions of `batch_id`. `known`: the keys
    already stored before this write; only their contributions may exist already (the others
    are new rows of this batch, inserted without a lookup)."""
    if not rows:
        return
    from monitor.store.writer import execute_many

    stamped = [row | {"digest": digest(row), "batch_id": batch_id} for row in rows]
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        call_contributions).on_conflict_do_nothing(index_elements=["call_key", "pbx", "digest"])
    execute_many(conn, "contributions", insert, stamped)
    again = {(str(r["pbx"]), str(r["call_key"]), r["digest"]) for r in stamped
             if (str(r["pbx"]), str(r["call_key"])) in known}
    if not again or batch_id is None:
        return
    links = [{"contribution_id": cid, "batch_id": batch_id}
             for cid, pbx, key, dig, owner in _contributions(
                 conn, {(p, k) for p, k, _ in again}, with_digest=True)
             if (pbx, key, dig) in again and owner != batch_id]
    if links:
        conn.execute(sa.insert(contribution_batches), links)


def _contributions(conn: sa.Connection, keys: Iterable[Key], *, with_digest: bool = False
                   ) -> list[tuple[object, ...]]:
    """(id, pbx, call_key[, digest, batch_id]) of the contributions of these calls."""
    columns = ("id", "pbx", "call_key", *(("digest", "batch_id") if with_digest else ()))
    by_pbx: dict[str, list[str]] = {}
    for pbx, key in keys:
        by_pbx.setdefault(pbx, []).append(key)
    found: list[tuple[object, ...]] = []
    for pbx, some in by_pbx.items():
        found.extend(rows_by_key(conn, call_contributions, columns, pbx, some))
    return found


def purge_contributions(conn: sa.Connection, cutoff: float) -> None:
    """Remove what the batches gave the calls purged (store purge): the contributions that
    arrived before `cutoff`, and those left without their call."""
    c = call_contributions.c
    orphan = ~sa.exists().where(calls.c.pbx == c.pbx, calls.c.call_key == c.call_key)
    gone = sa.select(c.id).where(sa.or_(c.arrival < cutoff, orphan))
    conn.execute(sa.delete(contribution_batches).where(
        contribution_batches.c.contribution_id.in_(gone)))
    conn.execute(sa.delete(call_contributions).where(sa.or_(c.arrival < cutoff, orphan)))


@dataclass
class DropCounts:
    removed: int = 0  # calls only the batch gave: gone
    restored: int = 0  # calls the batch merged into: as the other contributions make them


def drop(conn: sa.Connection, batch_id: int) -> DropCounts:
    """Remove what batch `batch_id` gave and rebuild the calls it touched."""
    c, links = call_contributions.c, contribution_batches.c
    linked = sa.select(links.contribution_id).where(links.batch_id == batch_id)
    keys = {(str(pbx), str(key)) for pbx, key in conn.execute(
        sa.select(c.pbx, c.call_key).where(sa.or_(c.batch_id == batch_id, c.id.in_(linked)))
        .distinct())}
    conn.execute(sa.delete(contribution_batches).where(links.batch_id == batch_id))
    owned = [row[0] for row in conn.execute(sa.select(c.id).where(c.batch_id == batch_id))]
    for start in range(0, len(owned), _KEYS):  # content another batch wrote too: now its own
        handed = conn.execute(sa.select(links.contribution_id, sa.func.min(links.id)).where(
            links.contribution_id.in_(owned[start:start + _KEYS]))
            .group_by(links.contribution_id)).all()
        for contribution, link in handed:
            heir = conn.execute(sa.select(links.batch_id).where(links.id == link)).scalar_one()
            conn.execute(sa.update(call_contributions).where(c.id == contribution)
                         .values(batch_id=heir))
            conn.execute(sa.delete(contribution_batches).where(links.id == link))
    conn.execute(sa.delete(call_contributions).where(c.batch_id == batch_id))
    return rebuild(conn, keys)


def rebuild(conn: sa.Connection, keys: set[Key]) -> DropCounts:
    """Write these calls anew from their contributions, in the order first written."""
    from monitor.store.writer import ROW_KEYS, upsert_statement

    counts = DropCounts()
    order = sorted(keys)
    for start in range(0, len(order), _KEYS):
        some = order[start:start + _KEYS]
        by_pbx: dict[str, list[str]] = {}
        for pbx, key in some:
            by_pbx.setdefault(pbx, []).append(key)
        for pbx, pbx_keys in by_pbx.items():
            conn.execute(sa.delete(calls).where(calls.c.pbx == pbx,
                                                calls.c.call_key.in_(pbx_keys)))
        rows = conn.execute(sa.select(call_contributions).where(
            call_contributions.c.id.in_([cid for cid, *_ in _contributions(conn, some)]))
            .order_by(call_contributions.c.id)).mappings().all()
        rounds: dict[Key, list[Row]] = {}
        for row in rows:
            rounds.setdefault((row["pbx"], row["call_key"]), []).append(
                {name: row[name] for name in ROW_KEYS})
        counts.restored += len(rounds)
        counts.removed += len(some) - len(rounds)
        stmt = upsert_statement(conn.dialect.name)
        for n in range(max((len(v) for v in rounds.values()), default=0)):
            conn.execute(stmt, [versions[n] for versions in rounds.values() if len(versions) > n])
    return counts
