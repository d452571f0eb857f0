"""The month copies without SQLAlchemy: their layout, and reading them through a plain DB-API
connection (sqlite3 or psycopg), so that `stats` on months that all have a valid copy starts
without importing SQLAlchemy (about 0.1 s). Building and saving copies, and reading rows,
is monitor.store.month_columns (SQLAlchemy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

FORMAT = 1  # layout of call_columns.data; a copy of another layout is rebuilt
NULL = -(2**62)  # an unknown time (no time is that far from its call's arrival)
US = 1_000_000
_LAYOUT = (("arrival", np.float64), ("t", np.float64), ("handle", np.float64),
           ("queue", np.float64), ("site", np.int16), ("day", np.int8), ("outcome", np.int8),
           ("flags", np.uint8))
IN_HOURS, IS_TEST = 2, 1  # bits of `flags`


@dataclass(frozen=True, eq=False)
class MonthColumns:
    """Calls of (part of) a month. `site` and `outcome` index `sites` and `outcomes` (the
    names known when the copy was made; -1 for none); `day` is the local day of the month."""

    sites: tuple[str, ...]
    outcomes: tuple[str, ...]
    arrival: np.ndarray  # seconds since the epoch (whole µs)
    t: np.ndarray  # arrival -> answer, else -> end (s, whole µs); NaN when neither is known
    handle: np.ndarray  # answer -> end; NaN unless both are known
    queue: np.ndarray  # arrival -> queue entry; NaN when unknown
    site: np.ndarray  # int16
    day: np.ndarray  # int8
    outcome: np.ndarray  # int8
    flags: np.ndarray  # uint8: IN_HOURS | IS_TEST

    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    def to_bytes(self) -> bytes:
        return b"".join(np.ascontiguousarray(getattr(self, name), dtype=np.dtype(kind)
                                             .newbyteorder("<")).tobytes()
                        for name, kind in _LAYOUT)

    @classmethod
    def from_bytes(cls, data: bytes, n: int, sites: Sequence[str],
                   outcomes: Sequence[str]) -> MonthColumns:
        columns: dict[str, np.ndarray] = {}
        offset = 0
        for name, kind in _LAYOUT:
            dtype = np.dtype(kind).newbyteorder("<")
            columns[name] = np.frombuffer(data, dtype=dtype, count=n, offset=offset)
            offset += n * dtype.itemsize
        if offset != len(data):
            raise ValueError(f"call_columns blob of {len(data)} bytes for {n} calls")
        return cls(tuple(sites), tuple(outcomes), **columns)

    @classmethod
    def concat(cls, parts: Sequence[MonthColumns]) -> MonthColumns:
        """Parts read with the same site and outcome lists, one after the other."""
        return cls(parts[0].sites, parts[0].outcomes,
                   **{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls) if f.name not in ("sites", "outcomes")})


def months(start: dt.date, end: dt.date) -> Iterator[tuple[str, dt.date, dt.date, bool]]:
    """(YYYY-MM, first, last, whole) of each month overlapping start … end: first and last
    are clipped to the range; `whole` says the range covers the month."""
    day = start.replace(day=1)
    while day <= end:
        following = (day + dt.timedelta(days=32)).replace(day=1)
        first, last = max(day, start), min(following - dt.timedelta(days=1), end)
        yield day.strftime("%Y-%m"), first, last, first == day and last == following - \
            dt.timedelta(days=1)
        day = following



@dataclass(frozen=True)
class Copy:
    month: str
    calls: int
    sites: tuple[str, ...]
    outcomes: tuple[str, ...]


# The copies of a range of months that no write has touched since (see month_columns).
VALID_COPIES = (
    "SELECT c.month, c.calls, c.sites, c.outcomes FROM call_columns c "
    "WHERE c.month BETWEEN {p} AND {p} AND c.format = {p} "
    "AND NOT EXISTS (SELECT 1 FROM call_changes x WHERE x.month = c.month)")


def _param(dialect: str) -> str:
    return "%s" if dialect == "postgresql" else "?"


def valid_copies(raw: Any, dialect: str, first: str, last: str) -> dict[str, Copy]:
    """The valid copies of the months first … last (YYYY-MM), on a DB-API connection."""
    cursor = raw.cursor()
    try:
        cursor.execute(VALID_COPIES.format(p=_param(dialect)), (first, last, FORMAT))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return {m: Copy(m, n, tuple(s.split("\n")) if s else (), tuple(o.split("\n")) if o else ())
            for m, n, s, o in rows}


def read_copy(raw: Any, dialect: str, copy: Copy) -> MonthColumns:
    """The columns of one copy (binary transfer: no hex text on PostgreSQL)."""
    cursor = raw.cursor(binary=True) if dialect == "postgresql" else raw.cursor()
    try:
        cursor.execute(f"SELECT data FROM call_columns WHERE month = {_param(dialect)}",
                       (copy.month,))
        data = cursor.fetchone()[0]
    finally:
        cursor.close()
    return MonthColumns.from_bytes(data, copy.calls, copy.sites, copy.outcomes)


def light_connect(url: str) -> tuple[Any, str] | None:
    """A plain DB-API connection to the store at `url` and its dialect, or None when the
    URL is not one this module knows how to open without SQLAlchemy (then use the engine)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path == ":memory:" or "?" in path:
            return None
        import sqlite3

        return sqlite3.connect(path, check_same_thread=False), "sqlite"
    if url.startswith("postgresql+psycopg://"):
        import psycopg  # libpq reads the same URL, query parameters included

        conninfo = "postgresql://" + url.removeprefix("postgresql+psycopg://")
        return psycopg.connect(conninfo, autocommit=True), "postgresql"
    return None
