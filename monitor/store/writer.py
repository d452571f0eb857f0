"""Write canonical calls: one row per (PBX, call key), merged across sources.

When a call is already stored, its timing (arrival, answer, end, outcome, answering device,
precision) is taken from a complete record before an incomplete one, then from the more precise
source (AMI > CEL > queue_log > CDR > generic CSV), then from the newer write — except that an
abandon of a source that cannot tell who hung up (all but CEL) never replaces `no_answer` (the
PBX ended the call), nor is kept over it; identity fields
(site, dialed number, caller) are kept when known and filled when missing. The merge is one SQL
upsert, so several importers or listeners can write to one PostgreSQL at the same time without
creating duplicates.

Two calls can share a key (a PBX restarted without a systemname reuses a uniqueid; an export's
id column may not be unique): a call whose key is stored for a call of another arrival (more
than SAME_SOURCE_SECONDS apart from the same source, OTHER_SOURCE_SECONDS from another) is
another call, stored apart under `KEY@ARRIVAL` (`apart_key`) and counted in `split`, never
merged into the first.

What the database would refuse (a NUL byte, a value longer than its column, a time that is not a
finite number) is found per call before the write (`row_problem`): such a call is refused with
the reason and the others are written, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.call import Call, Outcome, Source
from monitor.store.contributions import record
from monitor.store.lookup import rows_by_key
from monitor.store.models import calls

log = logging.getLogger(__name__)
Row = dict[str, object]  # a row of `calls`, as call_row makes it

CHUNK = 2000
SAME_SOURCE_SECONDS = 2.0  # one source, one call: arrivals further apart are two calls
OTHER_SOURCE_SECONDS = 3600.0  # two sources of one call: arrivals further apart are two calls
TIMING = (
    "arrival", "first_ring", "queue_entry", "answer", "end_time", "time_to_answer", "outcome",
    "answered_by", "in_hours", "incomplete", "resolution", "local_date", "local_hour",
    "local_weekday",
)
IDENTITY = ("site", "linkedid", "dialed", "caller_hash", "caller_raw")


@dataclass
class WriteCounts:
    imported: int = 0  # new calls
    merged: int = 0  # calls already stored from another source, now completed
    duplicates: int = 0  # calls already stored from the same source
    split: int = 0  # calls that had the key of another call: stored apart (`apart_key`)
    refused: list[tuple[Call, str]] = field(default_factory=list)  # not written, with why
    refused_at: list[tuple[int, str]] = field(default_factory=list)  # the same, by row index
    split_at: list[tuple[int, str, str]] = field(default_factory=list)  # index, key, new key

    def add(self, other: WriteCounts) -> None:
        self.imported += other.imported
        self.merged += other.merged
        self.duplicates += other.duplicates
        self.split += other.split
        self.refused.extend(other.refused)
        self.refused_at.extend(other.refused_at)
        self.split_at.extend(other.split_at)


# The text columns of `calls` with their length limits, its float columns, and what a reason
# calls a column.
_TEXT = tuple((c.name, getattr(c.type, "length", None)) for c in calls.columns
              if isinstance(c.type, sa.String))
_FLOATS = tuple(c.name for c in calls.columns if isinstance(c.type, sa.Float))
LIMITS_KEY = int(calls.c.call_key.type.length)  # type: ignore[attr-defined]
LABELS = {"call_key": "call key (uniqueid)", "dialed": "dialed number",
          "answered_by": "answering device", "caller_raw": "caller number",
          "caller_hash": "caller pseudonym", "local_date": "local date", "end_time": "end"}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL text holds no NUL nor surrogate


def row_problem(row: Row) -> str | None:
    """Why the database would refuse this row of `calls`, or None when it can be stored."""
    for name, limit in _TEXT:
        value = row[name]
        if value is None:
            continue
        text = str(value)
        if limit is not None and len(text) > limit:
            return (f"{_label(name)} is {len(text)} characters long, more than the {limit} the "
                    f'store keeps: "{text[:40]}…"')
        if _UNSTORABLE.search(text):
            shown = _UNSTORABLE.sub("\ufffd", text)[:40]
            return f'{_label(name)} holds a NUL byte or an invalid character: "{shown}"'
    for name in _FLOATS:
        number = row[name]
        if number is not None and not math.isfinite(number):  # type: ignore[arg-type]
            return f'{_label(name)} is not a finite number: "{number}"'
    return None


def _label(column: str) -> str:
    return LABELS.get(column, column.replace("_", " "))


def storable(text: str) -> str:
    """`text` with what PostgreSQL cannot store in a text column (NUL, lone surrogates) shown as
    U+FFFD: for rejected records and directory misses, kept as they were read."""
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def call_problem(call: Call) -> str | None:
    """Why `call` cannot be stored as it is, or None."""
    return row_problem(call_row(call))


def call_row(call: Call) -> Row:
    return {
        "pbx": call.pbx,
        "call_key": call.call_key,
        "site": call.site,
        "linkedid": call.linkedid,
        "dialed": call.dialed,
        "caller_hash": call.caller_hash,
        "caller_raw": call.caller_raw,
        "caller_withheld": call.caller_withheld,
        "arrival": call.arrival,
        "first_ring": call.first_ring,
        "queue_entry": call.queue_entry,
        "answer": call.answer,
        "end_time": call.end,
        "time_to_answer": call.time_to_answer,
        "outcome": call.outcome.value,
        "answered_by": call.answered_by,
        "in_hours": call.in_hours,
        "is_test": call.is_test,
        "incomplete": call.incomplete,
        "sources": int(call.source),
        "time_source": call.source.rank,
        "resolution": call.resolution,
        "local_date": call.local_date,
        "local_hour": call.local_hour,
        "local_weekday": call.local_weekday,
    }


ROW_KEYS = tuple(call_row(Call(pbx="", call_key="", site="", arrival=0.0,
                                outcome=Outcome.ANSWERED, source=Source.CSV)))


def upsert_statement(dialect: str) -> sa.Insert:
    """The merge of a row into `calls` (also used to rebuild calls from their contributions)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(calls)
    return stmt.on_conflict_do_update(index_elements=["pbx", "call_key"],
                                      set_=merge_values(stmt.excluded, dialect))


def merge_values(new: sa.ColumnCollection[str, sa.ColumnElement[object]],
                 dialect: str) -> dict[str, object]:
    """The SET of the upsert: each stored column from the row being written (`new`, the
    statement's `excluded`) and the stored row."""
    old = calls.c
    # A complete record beats an incomplete one (an AMI call cut by a connection gap must be
    # filled by the batch import); then the more precise source wins; on a tie, the newer write.
    wins = sa.or_(
        sa.and_(~new.incomplete, old.incomplete),
        sa.and_(new.incomplete == old.incomplete, new.time_source >= old.time_source),
    )
    values: dict[str, object] = {}
    for name in TIMING:
        winner = sa.case((wins, new[name]), else_=old[name])
        loser = sa.case((wins, old[name]), else_=new[name])
        values[name] = winner if name not in ("end_time", "first_ring", "queue_entry") else (
            sa.func.coalesce(winner, loser)
        )
    # "The PBX ended it" (no_answer: CDR, CEL) is evidence where an abandon is a default (the
    # listener cannot tell who hung up, nor can the CDR): between those two, no_answer stays,
    # in either order; a CEL abandon (its HANGUP names who hung up) is not overridden.
    def text(outcome: Outcome) -> sa.ColumnElement[str]:  # inline: no bound parameter in SET
        return sa.literal_column(f"'{outcome.value}'", sa.String)

    gone = (text(Outcome.ABANDONED), text(Outcome.SHORT_ABANDON))
    ended = text(Outcome.NO_ANSWER)
    cel = sa.literal_column(str(Source.CEL.rank), sa.Integer)  # (inline, as above): CEL writes
    # who hung up, so a CEL abandon is evidence
    values["outcome"] = sa.case(
        (sa.and_(new.outcome == ended, old.outcome.in_(gone), old.time_source != cel),
         new.outcome),
        (sa.and_(old.outcome == ended, new.outcome.in_(gone), new.time_source != cel),
         old.outcome),
        else_=values["outcome"])
    for name in IDENTITY:
        values[name] = sa.func.coalesce(old[name], new[name])
    values["caller_withheld"] = sa.and_(old.caller_withheld, new.caller_withheld)
    values["is_test"] = sa.or_(old.is_test, new.is_test)
    values["sources"] = old.sources.op("|")(new.sources)
    values["time_source"] = sa.func.max(old.time_source, new.time_source) if dialect == "sqlite" \
        else sa.func.greatest(old.time_source, new.time_source)
    return values


def write_calls(connection: sa.Connection, batch: Iterable[Call],
                batch_id: int | None = None) -> WriteCounts:
    """Upsert calls in chunks inside the caller's transaction; count new/merged/duplicate; the
    calls the store cannot take are in `refused` with the reason. What each call was given is
    kept as a contribution of `batch_id` (None: the live capture), for `ingest drop`."""
    found = list(batch)
    counts = write_rows(connection, [call_row(call) for call in found], batch_id)
    counts.refused = [(found[index], reason) for index, reason in counts.refused_at]
    return counts


def write_rows(connection: sa.Connection, rows: Sequence[Row],
               batch_id: int | None = None) -> WriteCounts:
    """`write_calls` for calls already turned into rows (`call_row`); the rows refused are in
    `refused_at`, by their index in `rows`."""
    counts = WriteCounts()
    stmt = upsert_statement(connection.dialect.name)
    for start in range(0, len(rows), CHUNK):
        counts.add(_write_chunk(connection, stmt, rows[start:start + CHUNK], start, batch_id))
    return counts


Stored = tuple[int, float]  # sources, arrival of a stored call


def _existing(connection: sa.Connection, chunk: Sequence[Row]) -> dict[tuple[str, str], Stored]:
    """(sources, arrival) of the chunk's calls already stored (monitor.store.lookup)."""
    found: dict[tuple[str, str], Stored] = {}
    by_pbx: dict[str, list[str]] = {}
    for row in chunk:
        by_pbx.setdefault(str(row["pbx"]), []).append(str(row["call_key"]))
    for pbx, keys in by_pbx.items():
        for key, sources, arrival in rows_by_key(connection, calls,
                                                 ("call_key", "sources", "arrival"), pbx, keys):
            found[(pbx, str(key))] = (int(sources), float(arrival))  # type: ignore[call-overload,arg-type]
    return found


_COMPILED: dict[tuple[str, str], tuple[str, tuple[str, ...] | None]] = {}


def execute_many(connection: sa.Connection, name: str, stmt: sa.ClauseElement,
                 rows: Sequence[Row]) -> None:
    """Run `stmt` once per row straight through the driver (SQLAlchemy's per-row parameter
    processing took as long as SQLite's own work): the statement is compiled once per dialect
    and kept under `name`; the rows hold plain str, int, float, bool and None."""
    dialect = connection.dialect
    compiled = _COMPILED.get((dialect.name, name))
    if compiled is None:
        done = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
        order = getattr(done, "positiontup", None) if getattr(done, "positional", False) else None
        positions = tuple(order) if order else None
        compiled = _COMPILED[(dialect.name, name)] = (done.string, positions)
    sql, positions = compiled
    if positions:  # qmark (SQLite): tuples in the statement's order
        get = itemgetter(*positions)
        params: list[object] = [get(row) for row in rows]
    else:
        params = list(rows)
    connection.exec_driver_sql(sql, params)  # type: ignore[arg-type]


def another_call(row: Row, sources: int, arrival: float) -> bool:
    """Whether `row` is another call than the one stored with its key (`sources`, `arrival`):
    one source reads a call's arrival the same way every time (SAME_SOURCE_SECONDS), two sources
    disagree by seconds, a queue entry after an IVR by minutes (OTHER_SOURCE_SECONDS)."""
    gap = abs(row["arrival"] - arrival)  # type: ignore[operator]
    same = bool(sources & row["sources"])  # type: ignore[operator]
    return gap > (SAME_SOURCE_SECONDS if same else OTHER_SOURCE_SECONDS)


def apart_key(key: str, arrival: float) -> str:
    """The key of a call stored apart from another call that has its key: `KEY@ARRIVAL`
    (whole UTC seconds), the same at every import of the file."""
    suffix = f"@{int(arrival)}"
    return key[:LIMITS_KEY - len(suffix)] + suffix


def _write_chunk(connection: sa.Connection, stmt: sa.Insert, chunk: Sequence[Row],
                 offset: int, batch_id: int | None) -> WriteCounts:
    counts = WriteCounts()
    existing = _existing(connection, chunk)
    kept: dict[tuple[str, str], Row] = {}
    apart: list[Row] = []
    for index, row in enumerate(chunk, start=offset):
        key = (str(row["pbx"]), str(row["call_key"]))
        problem = row_problem(row)
        if problem is not None:
            # kept as a reject by the caller (import summary, `ingest rejects`): a line in the
            # log per refused call would flood it on a damaged file
            log.info("call %r of %s not stored: %s", key[1][:40], key[0], problem)
            counts.refused_at.append((index, problem))
            continue
        earlier = kept.get(key)
        seen = existing.get(key) if earlier is None else (earlier["sources"], earlier["arrival"])
        if seen is not None and another_call(row, *seen):  # type: ignore[arg-type]
            new_key = apart_key(key[1], row["arrival"])  # type: ignore[arg-type]
            counts.split += 1
            counts.split_at.append((index, key[1], new_key))
            apart.append(row | {"call_key": new_key})
            continue
        _keep(counts, kept, key, row, existing)
    known = set(existing)
    if apart:
        existing = _existing(connection, apart)
        known |= set(existing)
        for row in apart:
            _keep(counts, kept, (str(row["pbx"]), str(row["call_key"])), row, existing)
    if kept:
        execute_many(connection, "upsert", stmt, list(kept.values()))
        record(connection, list(kept.values()), batch_id, known)
    return counts


def _keep(counts: WriteCounts, kept: dict[tuple[str, str], Row], key: tuple[str, str], row: Row,
          existing: dict[tuple[str, str], Stored]) -> None:
    """Count a row as new, merged into a stored call or a duplicate, and keep it to write."""
    if key in kept:  # the same call twice in one chunk: the first is written
        counts.duplicates += 1
        return
    kept[key] = row
    if key not in existing:
        counts.imported += 1
    elif existing[key][0] & row["sources"]:  # type: ignore[operator]
        counts.duplicates += 1
    else:
        counts.merged += 1
