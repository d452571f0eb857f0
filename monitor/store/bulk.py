"""Write an import's calls as one set: stage them in a table, then merge them with SQL.

`write_frame` stores what `monitor.store.writer.write_rows` stores for the same rows in the same
order, with the same counts, refusals (by row index), calls stored apart and contributions,
inside the caller's transaction (an import is recorded completely or not at all); only the
work is done by the database over whole columns instead of per row in Python:

* the rows the store would refuse are found over columns (`writer.row_problem` words the
  reason); the others are staged with their rank and contribution digest — SQLite: ADBC (Arrow,
  in C) into a scratch file attached to the connection, or `executemany` into a temporary table
  for an in-memory store; PostgreSQL: `COPY … FROM STDIN`;
* one join finds the staged calls already stored; a call whose key is stored for another call
  (`writer.another_call`) gets its `apart_key` in the stage;
* contributions and their links to the batch are inserted from the stage, then one
  `INSERT … SELECT … ON CONFLICT DO UPDATE` merges the calls with `writer.merge_values`.

A key found more than once among the rows (a call given twice by one file), and a key stored
apart that would meet another row's key, go through `write_rows` itself, chunk by chunk as the
line-by-line import cuts them (the `chunk` column): where `write_rows` keeps the first of two
rows of one chunk and merges a later chunk's, so does this.
"""

from __future__ import annotations

import io
import itertools
import logging
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store import month_columns
from monitor.store.contributions import digests
from monitor.store.models import call_contributions, calls
from monitor.store.writer import (
    _FLOATS,
    _TEXT,
    OTHER_SOURCE_SECONDS,
    ROW_KEYS,
    SAME_SOURCE_SECONDS,
    WriteCounts,
    apart_key,
    merge_values,
    row_problem,
    write_rows,
)

log = logging.getLogger(__name__)
STAGE = "qp_stage_calls"
_attached = itertools.count()
_STAGED = (*ROW_KEYS, "rank", "digest")
_KINDS = {sa.String: pl.String(), sa.Float: pl.Float64(), sa.Boolean: pl.Boolean(),
          sa.Integer: pl.Int64()}
_SCHEMA = {name: next(kind for base, kind in _KINDS.items()
                      if isinstance(calls.c[name].type, base)) for name in ROW_KEYS}


def write_frame(connection: sa.Connection, frame: pl.DataFrame,
                batch_id: int | None = None) -> WriteCounts:
    """Upsert the rows of `frame` (the `ROW_KEYS` columns in write order, and `chunk`: the
    line-by-line import's write chunk of each row, non-decreasing; without it, one chunk) as
    `write_rows` would; `refused_at` and `split_at` give row indexes of `frame`."""
    counts = WriteCounts()
    if frame.is_empty():
        return counts
    if "chunk" not in frame.columns:
        frame = frame.with_columns(chunk=pl.lit(0, pl.Int64))
    frame = frame.select(*(pl.col(name).cast(kind) for name, kind in _SCHEMA.items()), "chunk") \
        .with_row_index("rank").with_columns(pl.col("rank").cast(pl.Int64))
    frame, counts.refused_at = _refused(frame)
    repeated = frame.select(pl.len().over("pbx", "call_key") > 1).to_series()
    single, by_rows = frame.filter(~repeated), frame.filter(repeated)
    if not single.is_empty():
        later = _write_single(connection, single, set(by_rows["call_key"].to_list()),
                              batch_id, counts)
        by_rows = pl.concat([by_rows, later]).sort("rank")
    for _, part in by_rows.group_by("chunk", maintain_order=True):
        ranks = part["rank"].to_list()
        done = write_rows(connection, part.select(ROW_KEYS).to_dicts(), batch_id)
        done.refused_at = [(ranks[i], why) for i, why in done.refused_at]
        done.split_at = [(ranks[i], key, new) for i, key, new in done.split_at]
        counts.add(done)
    counts.refused_at.sort()
    counts.split_at.sort()
    return counts


def _refused(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """The rows the store can take, and (rank, reason) of the others (`row_problem`)."""
    checks = []
    for name, limit in _TEXT:
        column = pl.col(name)
        check = column.str.contains("\x00", literal=True)
        if limit is not None:
            check = check | (column.str.len_chars() > limit)
        checks.append(check.fill_null(False))
    checks.extend((~pl.col(name).is_finite()).fill_null(False) for name in _FLOATS)
    suspect = frame.select(pl.any_horizontal(checks)).to_series()
    if not suspect.any():
        return frame, []
    refused = [(row["rank"], problem) for row in frame.filter(suspect).iter_rows(named=True)
               if (problem := row_problem(row)) is not None]
    gone = pl.Series([rank for rank, _ in refused], dtype=pl.Int64)
    return frame.filter(~pl.col("rank").is_in(gone.implode())), refused


def _write_single(connection: sa.Connection, frame: pl.DataFrame, other_keys: set[str],
                  batch_id: int | None, counts: WriteCounts) -> pl.DataFrame:
    """Stage and merge the rows whose key no other row has; give back the rows left to
    `write_rows` (stored apart under a key another row has)."""
    dialect = connection.dialect.name
    staged = frame.select(*ROW_KEYS, "rank").with_columns(digest=digests(frame))
    stage = _stage(connection, staged)
    name = _name(stage)
    stored = connection.exec_driver_sql(
        f"SELECT s.rank, c.sources, c.arrival FROM {name} s JOIN calls c "
        "ON c.call_key = s.call_key AND c.pbx = s.pbx").all()
    found = pl.DataFrame(stored, schema={"rank": pl.Int64, "stored_sources": pl.Int64,
                                         "stored_arrival": pl.Float64}, orient="row")
    seen = frame.select("rank", "pbx", "call_key", "arrival", "sources").join(
        found, on="rank", how="left")
    same = (pl.col("sources") & pl.col("stored_sources")) != 0
    apart = seen.filter((pl.col("arrival") - pl.col("stored_arrival")).abs() > pl.when(same)
                        .then(SAME_SOURCE_SECONDS).otherwise(OTHER_SOURCE_SECONDS))
    left = pl.Series("rank", [], pl.Int64)
    if not apart.is_empty():
        apart, left = _apart(connection, stage, frame, apart, other_keys)
        seen = seen.filter(~pl.col("rank").is_in(left.implode())).update(
            apart.select("rank", "stored_sources"), on="rank", include_nulls=True)
        for rank, key, new in apart.select("rank", "call_key", "new_key").iter_rows():
            counts.split += 1
            counts.split_at.append((rank, key, new))
    known = seen.filter(pl.col("stored_sources").is_not_null())
    duplicates = known.filter((pl.col("sources") & pl.col("stored_sources")) != 0).height
    counts.imported += seen.height - known.height
    counts.merged += known.height - duplicates
    counts.duplicates += duplicates
    _merge(connection, stage, dialect, batch_id)
    if dialect == "sqlite" and stage.schema is None:
        stage.drop(connection)
    return frame.filter(pl.col("rank").is_in(left.implode()))


def _apart(connection: sa.Connection, stage: sa.Table, frame: pl.DataFrame,
           apart: pl.DataFrame, other_keys: set[str]) -> tuple[pl.DataFrame, pl.Series]:
    """The rows to store apart (with `new_key` and the stored sources of that key, looked up),
    and the ranks of the rows left to `write_rows`: those whose new key is another row's key
    or the new key of another of them, and the rows that have that key."""
    from monitor.store.lookup import rows_by_key

    keys = [apart_key(key, arrival) for key, arrival in
            apart.select("call_key", "arrival").iter_rows()]
    apart = apart.with_columns(new_key=pl.Series(keys, dtype=pl.String))
    taken = set(frame["call_key"].to_list()) | other_keys
    clash = pl.col("new_key").is_in(pl.Series(list(taken), dtype=pl.String).implode()) \
        | (pl.len().over("new_key") > 1)
    clashing = apart.filter(clash)
    met = frame.filter(pl.col("call_key").is_in(clashing["new_key"].implode()))["rank"]
    left = pl.concat([clashing["rank"], met]).unique().sort()  # all of them, in their order
    apart = apart.filter(~clash)
    stored: dict[str, int] = {}
    for pbx, part in apart.group_by("pbx"):
        for key, sources in rows_by_key(connection, calls, ("call_key", "sources"), str(pbx[0]),
                                        part["new_key"].to_list()):
            stored[str(key)] = int(sources)  # type: ignore[call-overload]
    apart = apart.with_columns(stored_sources=pl.col("new_key").replace_strict(
        stored, default=None, return_dtype=pl.Int64))
    name = _name(stage)
    rows = frame.filter(pl.col("rank").is_in(apart["rank"].implode())).sort("rank") \
        .join(apart.select("rank", "new_key"), on="rank").with_columns(call_key=pl.col("new_key"))
    changed = rows.select("rank", "call_key").with_columns(digest=digests(rows)).rows()
    if changed:
        connection.exec_driver_sql(f"UPDATE {name} SET call_key = ?, digest = ? WHERE rank = ?"
                                   if connection.dialect.name == "sqlite" else
                                   f"UPDATE {name} SET call_key = %s, digest = %s WHERE rank = %s",
                                   [(key, dig, rank) for rank, key, dig in changed])
    if len(left):
        marks = ", ".join(str(int(rank)) for rank in left.to_list())
        connection.exec_driver_sql(f"DELETE FROM {name} WHERE rank IN ({marks})")
    return apart, left


def _merge(connection: sa.Connection, stage: sa.Table, dialect: str, batch_id: int | None) -> None:
    """Contributions, their links to the batch, then the calls, from the stage."""
    name = _name(stage)
    columns = ", ".join(ROW_KEYS)
    batch = "NULL" if batch_id is None else str(int(batch_id))
    on = "ON CONFLICT (call_key, pbx, digest) DO NOTHING"
    # PostgreSQL: every import takes its keys in one order (two files giving the same calls in
    # other orders, imported at once, would wait for each other in a cycle: a deadlock)
    order = " ORDER BY call_key, pbx" if dialect == "postgresql" else ""
    connection.exec_driver_sql(
        f"INSERT INTO call_contributions ({columns}, digest, batch_id) "
        f"SELECT {columns}, digest, {batch} FROM {name} WHERE true{order} {on}")
    if batch_id is not None:  # content this batch gives again: linked (contributions.record)
        connection.exec_driver_sql(
            "INSERT INTO contribution_batches (contribution_id, batch_id) "
            f"SELECT cc.id, {batch} FROM {name} s JOIN call_contributions cc "
            "ON cc.call_key = s.call_key AND cc.pbx = s.pbx AND cc.digest = s.digest "
            f"WHERE (cc.batch_id IS NULL OR cc.batch_id <> {batch}) AND EXISTS (SELECT 1 FROM "
            "calls c WHERE c.call_key = s.call_key AND c.pbx = s.pbx)")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    select = sa.select(*(stage.c[name] for name in ROW_KEYS)).where(sa.true())
    if order:
        select = select.order_by(stage.c.call_key, stage.c.pbx)
    stmt = insert(calls).from_select(list(ROW_KEYS), select)
    with month_columns.bulk_write(connection, name):
        connection.execute(stmt.on_conflict_do_update(
            index_elements=["call_key", "pbx"], set_=merge_values(stmt.excluded, dialect)))


def _name(stage: sa.Table) -> str:
    return f"{stage.schema}.{stage.name}" if stage.schema else stage.name


def _stage_table(dialect: str, schema: str | None = None) -> sa.Table:
    types = {c.name: c.type for c in call_contributions.columns}
    columns = [sa.Column(name, sa.BigInteger if name == "rank" else types[name])
               for name in _STAGED]
    options: dict[str, Any] = {"postgresql_on_commit": "DROP"} if dialect == "postgresql" else {}
    prefixes = ["TEMPORARY"] if schema is None else []
    return sa.Table(STAGE, sa.MetaData(), *columns, prefixes=prefixes, schema=schema, **options)


def _stage(connection: sa.Connection, frame: pl.DataFrame) -> sa.Table:
    frame = frame.select(_STAGED)
    if connection.dialect.name == "postgresql":
        stage = _stage_table("postgresql")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        stage.create(connection)
        _copy_rows(connection, stage, frame)
        connection.exec_driver_sql(f"CREATE INDEX ON {STAGE} (rank)")
        connection.exec_driver_sql(f"ANALYZE {STAGE}")  # no autovacuum for temporary tables
        return stage
    return _stage_sqlite(connection, frame)


def _stage_sqlite(connection: sa.Connection, frame: pl.DataFrame) -> sa.Table:
    """The rows in a table of their own: written by ADBC (Arrow, in C) into a scratch file
    attached to the connection when the store is a file, else — or when that fails: no driver,
    no room for the scratch file, too many databases attached — by `executemany` into a
    temporary table."""
    database = connection.engine.url.database
    if database and database != ":memory:":
        try:
            return _stage_attached(connection, frame)
        except Exception as exc:  # the connection is untouched: ADBC wrote with its own
            log.warning("rows staged by executemany: the ADBC stage failed (%s)", exc)
    stage = _stage_table("sqlite")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
    stage.create(connection)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    marks = ", ".join("?" * len(frame.columns))
    cursor.executemany(f"INSERT INTO temp.{STAGE} ({', '.join(frame.columns)}) "
                       f"VALUES ({marks})", frame.iter_rows())
    cursor.close()
    connection.exec_driver_sql(f"CREATE UNIQUE INDEX temp.ix_{STAGE}_rank ON {STAGE} (rank)")
    return stage


def _stage_attached(connection: sa.Connection, frame: pl.DataFrame) -> sa.Table:
    # the driver's low-level API: its DB-API module imports pyarrow.dataset and pandas
    import adbc_driver_manager
    import adbc_driver_sqlite

    scratch = Path(tempfile.mkdtemp(prefix="qualiphone-stage-")) / "stage.db"
    schema = f"qp_stage_{next(_attached)}"
    try:
        _adbc_ingest(adbc_driver_manager, adbc_driver_sqlite.connect(str(scratch)), frame)
        connection.exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (str(scratch),))
    except BaseException:
        _remove(scratch)
        raise
    _detach_after(connection, schema, scratch)  # SQLite writes no file it sees unlinked
    return _stage_table("sqlite", schema)


def _adbc_ingest(manager: Any, database: Any, frame: pl.DataFrame) -> None:
    """Create the stage table in a scratch database and bind the frame's Arrow batches to it
    (booleans as 0 and 1, as SQLAlchemy stores them)."""
    frame = frame.with_columns(pl.col(pl.Boolean).cast(pl.Int64))
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
        with manager.AdbcStatement(connection) as statement:
            statement.set_sql_query(f"CREATE UNIQUE INDEX ix_{STAGE}_rank ON {STAGE} (rank)")
            statement.execute_update()
    finally:
        connection.close()
        database.close()


def _detach_after(connection: sa.Connection, schema: str, scratch: Path) -> None:
    """SQLite refuses to detach a database read in the open transaction: it is detached, and
    its file removed, when the connection goes back to the pool (after the commit or the
    rollback)."""
    pool = connection.engine.pool
    _pending.setdefault(id(connection.connection.driver_connection), []).append(
        (schema, scratch))
    if not sa.event.contains(pool, "checkin", _detach_pending):
        sa.event.listen(pool, "checkin", _detach_pending)


_pending: dict[int, list[tuple[str, Path]]] = {}  # id of a DBAPI connection -> attached


def _detach_pending(dbapi_connection: Any, _record: Any) -> None:
    for schema, scratch in _pending.pop(id(dbapi_connection), []):
        try:
            dbapi_connection.execute(f"DETACH DATABASE {schema}")
        finally:
            _remove(scratch)


def _remove(scratch: Path) -> None:
    scratch.unlink(missing_ok=True)
    scratch.parent.rmdir()


def _copy_rows(connection: sa.Connection, stage: sa.Table, frame: pl.DataFrame) -> None:
    """COPY in PostgreSQL's CSV format: an unquoted empty field is NULL, `""` an empty text."""
    text = io.BytesIO()
    frame.write_csv(text, include_header=False, null_value="", float_precision=None)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {stage.name} ({', '.join(frame.columns)}) FROM STDIN "
                     "(FORMAT csv)") as copy:
        copy.write(text.getbuffer())
    cursor.close()
