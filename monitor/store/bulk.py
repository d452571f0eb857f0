"""Write a whole import's calls at once: stage them in a temporary table, count, then upsert.

`write_frame` gives the same stored rows and the same `WriteCounts` as
`monitor.store.writer.write_calls` over the same calls in the same order, inside the caller's
transaction (an import is recorded completely or not at all):

* the calls are staged in a temporary table — SQLite: `executemany` of plain tuples;
  PostgreSQL: `COPY … FROM STDIN (FORMAT csv)` fed by polars' CSV writer;
* one query counts, against the stored calls, the new ones (imported), the ones stored from
  another source (merged) and from the same source (duplicates);
* one `INSERT … SELECT … ON CONFLICT DO UPDATE` merges them with the expressions of
  `writer.merge_values` (complete beats incomplete, then the more precise source).

A call key that occurs more than once in the frame is written as `write_calls` writes it: in
chunks of `writer.CHUNK` calls, where a key seen again in the same chunk counts as a duplicate
and is not written, and a later chunk merges into what an earlier one stored.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.call import Call, Outcome, Source
from monitor.store.models import calls
from monitor.store.writer import CHUNK, WriteCounts, merge_values, write_calls

STAGE = "qp_stage_calls"
COLUMNS = tuple(c.name for c in calls.columns if c.name != "id")
_attached = itertools.count()


def _stage_table(dialect: str, names: list[str], schema: str | None = None) -> sa.Table:
    columns = [sa.Column(c.name, c.type) for c in calls.columns if c.name in names]
    options: dict[str, Any] = {"postgresql_on_commit": "DROP"} if dialect == "postgresql" else {}
    prefixes = ["TEMPORARY"] if schema is None else []
    return sa.Table(STAGE, sa.MetaData(), *columns, prefixes=prefixes, schema=schema, **options)


def write_frame(connection: sa.Connection, frame: pl.DataFrame) -> WriteCounts:
    """Upsert the calls of `frame` (the stored columns, and `order`: their write order)."""
    counts = WriteCounts()
    if frame.is_empty():
        return counts
    frame = frame.sort("order", maintain_order=True).with_row_index("rank")
    seen = frame.select(pl.len().over("pbx", "call_key") > 1).to_series()
    repeated, single = frame.filter(seen), frame.filter(~seen)
    if not single.is_empty():
        counts.add(_write_unique(connection, single.select(COLUMNS)))
    if not repeated.is_empty():
        counts.add(_write_repeated(connection, repeated))
    return counts


def _constants(frame: pl.DataFrame) -> dict[str, Any]:
    """Columns holding one value in every row (the PBX, the source…): not staged."""
    found = {}
    for name in frame.columns:
        column, first = frame[name], frame[name][0]
        if name in ("pbx", "call_key"):
            continue
        if column.null_count() == len(column) if first is None else \
                column.null_count() == 0 and bool((column == first).all()):
            found[name] = first
    return found


def _write_unique(connection: sa.Connection, frame: pl.DataFrame) -> WriteCounts:
    dialect = connection.dialect.name
    constants = _constants(frame)
    staged = frame.drop(list(constants))
    if dialect == "postgresql":
        stage = _stage_table(dialect, staged.columns)
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {STAGE}"))
        stage.create(connection)
        _copy_rows(connection, stage, staged)
    else:
        stage = _stage_sqlite(connection, staged)
    columns = [stage.c[name] if name in stage.c else
               sa.literal(constants[name], calls.c[name].type).label(name) for name in COLUMNS]
    counts = _counts(connection, stage, len(frame), columns[COLUMNS.index("sources")])
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(calls).from_select(list(COLUMNS), sa.select(*columns).where(sa.true()))
    connection.execute(stmt.on_conflict_do_update(
        index_elements=["pbx", "call_key"], set_=merge_values(stmt.excluded, dialect)))
    if stage.schema is None and dialect != "postgresql":
        stage.drop(connection)
    return counts


def _stage_sqlite(connection: sa.Connection, frame: pl.DataFrame) -> sa.Table:
    """The rows in a table of their own: written by ADBC (Arrow, in C) into a scratch file
    attached to the connection when the driver is there and the store is a file, else by
    `executemany` into a temporary table."""
    database = connection.engine.url.database
    try:  # the driver's low-level API: its DB-API module imports pyarrow.dataset and pandas
        import adbc_driver_manager
        import adbc_driver_sqlite
        adbc = True
    except ImportError:
        adbc = False
    if not adbc or not database or database == ":memory:":
        stage = _stage_table("sqlite", frame.columns)
        connection.execute(sa.text(f"DROP TABLE IF EXISTS temp.{STAGE}"))
        stage.create(connection)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        marks = ", ".join("?" * len(frame.columns))
        cursor.executemany(f"INSERT INTO temp.{STAGE} ({', '.join(frame.columns)}) "
                           f"VALUES ({marks})", frame.iter_rows())
        cursor.close()
        return stage
    scratch = Path(tempfile.mkdtemp(prefix="qualiphone-stage-")) / "stage.db"
    try:
        _adbc_ingest(adbc_driver_manager, adbc_driver_sqlite.connect(str(scratch)), frame)
        schema = f"qp_stage_{next(_attached)}"
        connection.exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (str(scratch),))
        _detach_after(connection, schema)
    finally:
        scratch.unlink(missing_ok=True)  # the attachment keeps it open until it is detached
        scratch.parent.rmdir()
    return _stage_table("sqlite", frame.columns, schema)


def _adbc_ingest(manager: Any, database: Any, frame: pl.DataFrame) -> None:
    """Create the stage table in a scratch database and bind the frame's Arrow batches to it."""
    connection = manager.AdbcConnection(database)
    try:
        for pragma in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"):
            with manager.AdbcStatement(connection) as statement:
                statement.set_sql_query(pragma)
                statement.execute_update()
        with manager.AdbcStatement(connection) as statement:
            statement.set_options(**{"adbc.ingest.target_table": STAGE,
                                     "adbc.ingest.mode": "adbc.ingest.mode.create"})
            statement.bind_stream(frame.to_arrow().to_reader())
            statement.execute_update()
    finally:
        connection.close()
        database.close()


def _detach_after(connection: sa.Connection, schema: str) -> None:
    """SQLite refuses to detach a database read in the open transaction: it is detached when
    the connection goes back to the pool (after the commit or the rollback)."""
    pool = connection.engine.pool
    _pending.setdefault(id(connection.connection.driver_connection), []).append(schema)
    if not sa.event.contains(pool, "checkin", _detach_pending):
        sa.event.listen(pool, "checkin", _detach_pending)


_pending: dict[int, list[str]] = {}  # id of a DBAPI connection -> schemas to detach


def _detach_pending(dbapi_connection: Any, _record: Any) -> None:
    for schema in _pending.pop(id(dbapi_connection), []):
        dbapi_connection.execute(f"DETACH DATABASE {schema}")


def _copy_rows(connection: sa.Connection, stage: sa.Table, frame: pl.DataFrame) -> None:
    """COPY in PostgreSQL's CSV format: an unquoted empty field is NULL, `""` an empty text."""
    text = io.BytesIO()
    frame.write_csv(text, include_header=False, null_value="")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {stage.name} ({', '.join(frame.columns)}) FROM STDIN "
                     "(FORMAT csv)") as copy:
        copy.write(text.getbuffer())
    cursor.close()


def _counts(connection: sa.Connection, stage: sa.Table, total: int,
            sources: sa.ColumnElement[Any]) -> WriteCounts:
    """New, merged and duplicate calls of the staged rows against the stored calls."""
    same = (calls.c.sources.op("&")(sources)) != 0
    existing, duplicates = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((same, 1), else_=0)), 0))
        .select_from(stage.join(calls, sa.and_(calls.c.pbx == stage.c.pbx,
                                               calls.c.call_key == stage.c.call_key)))
    ).one()
    return WriteCounts(imported=total - existing, merged=existing - duplicates,
                       duplicates=duplicates)


def _write_repeated(connection: sa.Connection, frame: pl.DataFrame) -> WriteCounts:
    """Keys found several times, in `write_calls`' chunk semantics (`rank`: write order)."""
    counts = WriteCounts()
    frame = frame.with_columns(chunk=pl.col("rank") // CHUNK).sort("rank")
    first = frame.unique(["pbx", "call_key", "chunk"], keep="first", maintain_order=True)
    counts.duplicates += len(frame) - len(first)
    for row in first.select(COLUMNS).iter_rows(named=True):
        counts.add(write_calls(connection, [call_of_row(row)]))
    return counts


def call_of_row(row: dict[str, Any]) -> Call:
    """The `Call` a stored row (as `writer.call_row` gives it) was made from."""
    return Call(
        pbx=row["pbx"], call_key=row["call_key"], site=row["site"], arrival=row["arrival"],
        outcome=Outcome(row["outcome"]), source=Source(row["sources"]), linkedid=row["linkedid"],
        dialed=row["dialed"], caller_hash=row["caller_hash"], caller_raw=row["caller_raw"],
        caller_withheld=bool(row["caller_withheld"]), first_ring=row["first_ring"],
        queue_entry=row["queue_entry"], answer=row["answer"], end=row["end_time"],
        answered_by=row["answered_by"], in_hours=bool(row["in_hours"]),
        is_test=bool(row["is_test"]), incomplete=bool(row["incomplete"]),
        resolution=row["resolution"], local_date=row["local_date"],
        local_hour=row["local_hour"], local_weekday=row["local_weekday"],
    )
