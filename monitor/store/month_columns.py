"""Calls as columns, a local month at a time: read from the rows, or from the month's copy.

`stats` over years cannot afford the row engines: SQLite needs 0.3–0.6 µs a call just to step
through rows and hand over a few values, PostgreSQL more (bench/README.md). So each month's
calls are also kept as one blob of columns (`call_columns`), which a reader turns into arrays
with numpy alone. The copy of a month is used only while no write touched the month since it
was built: triggers on `calls` (migration 0008) add a row to `call_changes` for each month an
insert, update or delete touches, whoever writes; a copy counts only while its month has no
such row. A reader that finds no valid copy reads the rows (`read_rows`) and, for a whole
month, saves what it read as the new copy and deletes the month's change rows, in the same
transaction as the read, so that a write committed in between is never lost:

* SQLite (WAL): the read and the save are one transaction; if another connection wrote since
  the read began, SQLite refuses the save (SQLITE_BUSY_SNAPSHOT) and nothing is saved;
* PostgreSQL: the transaction first takes `LOCK TABLE calls IN SHARE MODE NOWAIT`, which
  waits for no one: it fails while a writer is at work (then nothing is saved), and holds new
  writers back only while one month is read.

A save that fails (a writer at work, a read-only store) is skipped: the figures are the same,
only the next read is not faster. Times are whole microseconds (the finest resolution of any
source) kept as seconds, so that a reader only selects: the arrival since the epoch, the time
to the answer (else to the end), the handling time and the queue entry after the arrival.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import sqlalchemy as sa

from monitor.metrics.arrays import OUTCOMES
from monitor.store.copies import (  # noqa: F401  (the copies' layout, read by monitor.query)
    FORMAT,
    IN_HOURS,
    IS_TEST,
    NULL,
    US,
    Copy,
    MonthColumns,
    months,
)
from monitor.store.copies import read_copy as _read_copy
from monitor.store.copies import valid_copies as _valid_copies
from monitor.store.engine import SQLITE_BUSY_TIMEOUT_MS
from monitor.store.models import call_changes, call_columns, calls

log = logging.getLogger(__name__)

_EPOCH = dt.date(1970, 1, 1)


# --- reading the rows ------------------------------------------------------------------


def _micro(expr: Any) -> Any:
    return sa.func.coalesce(sa.cast(sa.func.round(expr * US), sa.BigInteger), NULL)


def _text_list(expr: Any) -> Any:
    return sa.func.aggregate_strings(sa.cast(expr, sa.Text), ",")


def _rows_where(first: dt.date, last: dt.date, sites: Sequence[str] | None) -> list[Any]:
    c = calls.c
    low = (first - _EPOCH).days * 86400.0 - 2 * 86400  # the arrival index narrows the scan;
    high = ((last - _EPOCH).days + 1) * 86400.0 + 2 * 86400  # any UTC offset fits in 2 days
    where = [c.local_date.between(first.isoformat(), last.isoformat()),
             c.arrival.between(low, high)]
    return where if sites is None else [*where, c.site.in_(list(sites))]


def _rows_query(first: dt.date, last: dt.date, sites: Sequence[str] | None,
                site_names: Sequence[str], outcome_names: Sequence[str]) -> sa.Select[Any]:
    """One row: the number of calls, then one comma-separated text per column."""
    c = calls.c
    site = sa.case({s: i for i, s in enumerate(site_names)}, value=c.site, else_=-1)
    outcome = sa.case({o: i for i, o in enumerate(outcome_names)}, value=c.outcome, else_=-1)
    day = sa.cast(sa.func.substr(c.local_date, 9, 2), sa.Integer)
    code = (((site + 1) * (len(outcome_names) + 1) + outcome + 1) * 128 + day * 4
            + sa.cast(c.in_hours, sa.Integer) * IN_HOURS + sa.cast(c.is_test, sa.Integer) * IS_TEST)
    return sa.select(
        sa.func.count(), _text_list(code), _text_list(_micro(c.arrival)),
        _text_list(_micro(c.answer - c.arrival)), _text_list(_micro(c.end_time - c.arrival)),
        _text_list(_micro(c.queue_entry - c.arrival)),
    ).where(*_rows_where(first, last, sites))


def _parse(text: str | None, n: int) -> np.ndarray:
    values = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)
    if values.size != n:
        raise RuntimeError(f"store returned {values.size} values for {n} calls")
    return values


def _seconds(micro: np.ndarray, known: np.ndarray) -> np.ndarray:
    out = np.divide(micro, US, dtype=np.float64)
    out[~known] = np.nan
    return out


def _decode(row: Sequence[Any], site_names: Sequence[str],
            outcome_names: Sequence[str]) -> MonthColumns:
    n = int(row[0])
    code, arrival, answer, end, queue = (_parse(text, n) for text in row[1:])
    kinds, low = divmod(code, 128)
    site, outcome = np.divmod(kinds, len(outcome_names) + 1)
    has_answer, has_end = answer != NULL, end != NULL
    return MonthColumns(
        tuple(site_names), tuple(outcome_names), arrival=arrival / US,
        t=_seconds(np.where(has_answer, answer, end), has_answer | has_end),
        handle=_seconds(end - answer, has_answer & has_end), queue=_seconds(queue, queue != NULL),
        site=(site - 1).astype(np.int16), day=(low >> 2).astype(np.int8),
        outcome=(outcome - 1).astype(np.int8), flags=(low & 3).astype(np.uint8))


def _names(conn: sa.Connection, column: Any, known: Sequence[str],
           where: list[Any]) -> list[str]:
    """`known`, then the other values of `column` among the rows `where` selects."""
    others = conn.execute(sa.select(column).where(*where, column.not_in(list(known)))
                          .distinct()).scalars()
    return [*known, *sorted(others)]


def read_rows(conn: sa.Connection, first: dt.date, last: dt.date, *,
              sites: Sequence[str] | None = None,
              site_names: Sequence[str] = ()) -> MonthColumns:
    """The calls with a local date in first … last (of `sites` only, if given) from the rows.
    Every site and outcome found is coded: `site_names` and this version's outcomes first,
    then any other the rows hold."""
    site_list = list(site_names if sites is None else sites)
    outcome_list = [o.value for o in OUTCOMES]
    while True:
        row = conn.execute(_rows_query(first, last, sites, site_list, outcome_list)).one()
        part = _decode(row, site_list, outcome_list)
        unknown_site, unknown_outcome = (part.site < 0).any(), (part.outcome < 0).any()
        if not (unknown_site and sites is None) and not unknown_outcome:
            return part
        where = _rows_where(first, last, sites)
        if unknown_site and sites is None:
            site_list = _names(conn, calls.c.site, site_list, where)
        if unknown_outcome:
            outcome_list = _names(conn, calls.c.outcome, outcome_list, where)


# --- the copies -------------------------------------------------------------------------


def count_rows(conn: sa.Connection, first: dt.date, last: dt.date) -> int:
    """How many calls read_rows would return for every site (to size arrays beforehand)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(calls)
                            .where(*_rows_where(first, last, None))).scalar_one())


def valid_copies(conn: sa.Connection, first: str, last: str) -> dict[str, Copy]:
    """The copies of the months first … last (YYYY-MM) that no write has touched since."""
    return _valid_copies(conn.connection.dbapi_connection, conn.dialect.name, first, last)


def read_copy(conn: sa.Connection, copy: Copy) -> MonthColumns:
    return _read_copy(conn.connection.dbapi_connection, conn.dialect.name, copy)


def _save(conn: sa.Connection, month: str, part: MonthColumns) -> None:
    from sqlalchemy.dialects import postgresql, sqlite  # 0.05 s: only when saving a copy

    dialect = conn.dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(call_columns)
    values = {"month": month, "format": FORMAT, "calls": len(part),
              "sites": "\n".join(part.sites), "outcomes": "\n".join(part.outcomes),
              "data": part.to_bytes(), "built_at": time.time()}
    conn.execute(insert.values(values).on_conflict_do_update(
        index_elements=["month"], set_={k: v for k, v in values.items() if k != "month"}))
    conn.execute(sa.delete(call_changes).where(call_changes.c.month == month))


def build_copy(engine: sa.Engine, month: str, first: dt.date, last: dt.date,
               site_names: Sequence[str]) -> MonthColumns:
    """Read a whole month from the rows and save it as the month's copy when the store lets
    us do so safely (see the module's docstring); the columns either way."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            try:
                conn.execute(sa.text("LOCK TABLE calls IN SHARE MODE NOWAIT"))
            except sa.exc.DBAPIError as exc:  # a writer at work, or no right to lock
                log.debug("no copy of %s saved: %s", month, exc)
                conn.rollback()
                return read_rows(conn, first, last, site_names=site_names)
        else:
            conn.exec_driver_sql("BEGIN")  # the read and the save: one SQLite transaction
        part = read_rows(conn, first, last, site_names=site_names)
        try:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 100")
            _save(conn, month, part)
            conn.commit()
        except sa.exc.DBAPIError as exc:  # written since the read began, locked, read-only
            log.debug("no copy of %s saved: %s", month, exc)
            conn.rollback()
        finally:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return part


@contextmanager
def bulk_write(conn: sa.Connection, staged: str) -> Iterator[None]:
    """For a bulk write into `calls` of the rows of table `staged` (columns of calls, at least
    pbx, call_key and local_date), inside the caller's transaction. On SQLite a row trigger
    costs ~3 µs for every row written (about half the time of a bare insert, bench/README):
    this marks at once the months of the staged rows and of the stored calls they replace,
    lifts the row triggers while the body runs, and puts them back (DDL is transactional in
    SQLite: a rollback restores them too). On PostgreSQL the statement triggers are cheap:
    nothing is done. Rows the body writes that are not in `staged` are not marked."""
    if conn.dialect.name != "sqlite":
        yield
        return
    month = "substr({}.local_date, 1, 7)"
    conn.exec_driver_sql(
        f"INSERT INTO call_changes (month) SELECT DISTINCT m FROM ("
        f"SELECT {month.format('s')} AS m FROM {staged} s UNION "
        f"SELECT {month.format('c')} FROM calls c JOIN {staged} s "
        f"ON c.pbx = s.pbx AND c.call_key = s.call_key) "
        f"WHERE m NOT IN (SELECT month FROM call_changes)")
    triggers = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'calls' "
        "AND name LIKE 'calls_changed_%'").all()
    for name, _ in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for _, sql in triggers:
        conn.exec_driver_sql(sql)
