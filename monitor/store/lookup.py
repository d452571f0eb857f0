"""Rows of a table for a list of call keys of one PBX, one query per chunk of keys.

On PostgreSQL the keys are one array parameter and the statement is never prepared: psycopg
prepares a statement run five times, and PostgreSQL may then keep a plan made while the table
was small (a sequential scan), which made a long import quadratic (issue 13). Planned each time,
it is an index lookup once the table is large (the tables' keys lead with call_key). On SQLite,
lists of 500 keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

_SQLITE_KEYS = 500


def rows_by_key(conn: sa.Connection, table: sa.Table, columns: Sequence[str], pbx: str,
                keys: Sequence[str]) -> list[tuple[object, ...]]:
    """`columns` of the rows of `table` whose pbx is `pbx` and call_key one of `keys`."""
    if not keys:
        return []
    if conn.dialect.name == "postgresql":
        sql = (f"SELECT {', '.join(columns)} FROM {table.name} "  # names from our own models
               "WHERE call_key = ANY(%(keys)s) AND pbx = %(pbx)s")
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, {"keys": list(keys), "pbx": pbx}, prepare=False)  # type: ignore[call-arg]
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
    found: list[tuple[object, ...]] = []
    selected = [table.c[name] for name in columns]
    for start in range(0, len(keys), _SQLITE_KEYS):
        found.extend(tuple(row) for row in conn.execute(sa.select(*selected).where(
            table.c.pbx == pbx, table.c.call_key.in_(keys[start:start + _SQLITE_KEYS]))))
    return found
