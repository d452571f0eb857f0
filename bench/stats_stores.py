"""Synthetic stores for bench/bench_stats.py: the 17 sites over 1 month, 1 year or 3 years,
with the real schema (Alembic migrations), in SQLite files cached in the temporary directory,
and copied row for row into a PostgreSQL schema when one is given.

About 2 million calls a year (1.8 million in opening hours), mostly weekdays 08:30–17:00
Paris time; half the times at microsecond resolution (AMI/CEL), half in whole seconds (CDR);
local dates and hours from the UTC arrival with the real DST rules.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from config import load_config

CALLS_PER_YEAR = 2_000_000
PARIS = ZoneInfo("Europe/Paris")
PROBS = {"answered": 0.78, "abandoned": 0.10, "short_abandon": 0.04, "busy": 0.01,
         "failed": 0.005, "congestion": 0.005, "voicemail": 0.02, "message": 0.04}
COLUMNS = ("pbx", "call_key", "site", "linkedid", "dialed", "caller_hash", "caller_raw",
           "caller_withheld", "arrival", "first_ring", "queue_entry", "answer", "end_time",
           "time_to_answer", "outcome", "answered_by", "in_hours", "is_test", "incomplete",
           "sources", "time_source", "resolution", "local_date", "local_hour", "local_weekday")


@dataclass(frozen=True)
class Span:
    name: str  # month, year, 3years
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def calls(self) -> int:
        return round(CALLS_PER_YEAR * self.days / 365)


SPANS = {
    "month": Span("month", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    "year": Span("year", dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    "3years": Span("3years", dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
}


def _offset(day: int, hour: int) -> int:
    moment = dt.datetime.combine(dt.date(1970, 1, 1) + dt.timedelta(day), dt.time(hour), PARIS)
    return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]


def _utc(day: np.ndarray, second: np.ndarray) -> np.ndarray:
    """UTC epochs of local (day number, second of the day) in Paris; a local time that does
    not exist (spring forward) is read with the winter offset."""
    days = np.unique(day)
    lookup = np.searchsorted(days, day)
    before = np.array([_offset(int(d), 0) for d in days])[lookup]
    after = np.array([_offset(int(d), 4) for d in days])[lookup]
    offset = np.where(second < 2 * 3600, before, after)
    return day * 86400.0 + second - offset


def _local_parts(arrival: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local day number and hour of each arrival (Paris)."""
    hours = np.floor(arrival / 3600).astype(np.int64)
    first, last = int(hours.min()), int(hours.max())
    offsets = np.array([int(dt.datetime.fromtimestamp(h * 3600, dt.UTC).astimezone(PARIS)
                            .utcoffset().total_seconds())  # type: ignore[union-attr]
                        for h in range(first, last + 1)])
    local = arrival + offsets[hours - first]
    day = np.floor(local / 86400).astype(np.int64)
    return day, ((local - day * 86400) // 3600).astype(np.int64)


def synthetic(span: Span, sites: list[str], seed: int = 11,
              chunk_days: int = 61) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of the calls table, in chunks of about `chunk_days` days."""
    rng = np.random.default_rng(seed)
    first = (span.start - dt.date(1970, 1, 1)).days
    key = 0
    for d0 in range(0, span.days, chunk_days):
        d1 = min(d0 + chunk_days, span.days)
        n = round(span.calls * d1 / span.days) - round(span.calls * d0 / span.days)
        day = first + rng.integers(d0, d1, n)
        weekday = (day + 3) % 7
        weekend = (weekday >= 5) & (rng.random(n) < 0.9) & (day - 2 >= first + d0)
        day, weekday = np.where(weekend, day - 2, day), np.where(weekend, weekday - 2, weekday)
        in_hours = (weekday < 5) & (rng.random(n) < 0.93)
        second = np.where(in_hours, rng.uniform(8.5 * 3600, 17 * 3600, n),
                          rng.uniform(0, 86400, n))
        fine = rng.random(n) < 0.5
        arrival = np.where(fine, np.round(_utc(day, second), 6), np.floor(_utc(day, second)))
        order = np.argsort(arrival, kind="stable")
        yield _rows(rng, sites, arrival[order], in_hours[order], fine[order], key)
        key += n


def _rows(rng: np.random.Generator, sites: list[str], arrival: np.ndarray,
          in_hours: np.ndarray, fine: np.ndarray, key: int) -> list[tuple[Any, ...]]:
    n = len(arrival)
    names = list(PROBS)
    outcome = rng.choice(len(names), n, p=list(PROBS.values()))
    message, answered = names.index("message"), names.index("answered")
    outcome = np.where(~in_hours & (rng.random(n) < 0.9), message, outcome)
    outcome = np.where(in_hours & (outcome == message), answered, outcome)
    tta = rng.gamma(2.2, 6.0, n)
    tta = np.where(fine, np.round(tta, 6), np.floor(tta))
    wait = np.where(outcome == names.index("short_abandon"), rng.uniform(0, 4.99, n),
                    rng.exponential(35, n) + 5)
    wait = np.where(fine, np.round(wait, 6), np.floor(wait))
    handle = np.where(fine, np.round(rng.exponential(180, n), 6),
                      np.floor(rng.exponential(180, n)))
    is_answered = outcome == answered
    answer = np.where(is_answered, arrival + tta, np.nan)
    end = np.where(is_answered, answer + handle, arrival + wait)
    queue = np.where(rng.random(n) < 0.7, arrival + np.floor(rng.uniform(0, 8, n)), np.nan)
    queue = np.where(queue > np.where(is_answered, answer, end), np.nan, queue)
    day, hour = _local_parts(arrival)
    dates = np.datetime_as_string(day.astype("datetime64[D]")).tolist()
    site = rng.integers(0, len(sites), n).tolist()
    is_test = (rng.random(n) < 0.002).tolist()
    cols = [x.tolist() for x in (arrival, answer, end, queue)]
    weekday = ((day + 3) % 7).tolist()
    hour_l, in_l, fine_l, out_l = hour.tolist(), in_hours.tolist(), fine.tolist(), outcome.tolist()
    rows = []
    for i in range(n):
        a = cols[1][i]
        a = None if a != a else a
        q = cols[3][i]
        k = f"{1700000000 + key + i}.{i % 997}"
        rows.append((
            "paris-eps", k, sites[site[i]], k, "+33199000100", f"{key + i:064x}", None, False,
            cols[0][i], None, None if q != q else q, a, cols[2][i],
            None if a is None else a - cols[0][i], names[out_l[i]],
            "PJSIP/eps-agent-1" if a is not None else None, in_l[i], is_test[i], False,
            8 if fine_l[i] else 2, 4 if fine_l[i] else 2, 1e-6 if fine_l[i] else 1.0,
            dates[i], hour_l[i], weekday[i]))
    return rows


def build_sqlite(path: Path, span: Span) -> None:
    """Create the store at `path` with the span's calls, unless it already holds them."""
    from monitor.store import open_store

    if path.exists():
        try:
            with sqlite3.connect(path) as con:
                kept = con.execute("SELECT count(*) FROM calls").fetchone()[0] == span.calls
            if kept:  # built by an earlier version: brought to the current schema
                started = time.perf_counter()
                open_store(f"sqlite:///{path}").dispose()
                print(f"{path}: schema current ({time.perf_counter() - started:.0f} s)",
                      flush=True)
                return
        except Exception as exc:  # a damaged or foreign file: built again
            print(f"{path}: rebuilt ({exc})", flush=True)
        path.unlink()
    started = time.perf_counter()
    open_store(f"sqlite:///{path}").dispose()  # the real schema, by the migrations
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1000000")
    sql = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for rows in synthetic(span, list(load_config(None).site_ids)):
        con.executemany(sql, rows)
    con.commit()
    con.execute("ANALYZE")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    print(f"built {path}: {span.calls:,} calls in {time.perf_counter() - started:.0f} s",
          flush=True)


def _pg_copy_chunks(sqlite_path: Path, chunk: int = 200_000) -> Iterator[bytes]:
    """The calls of the SQLite store as CSV text for COPY, made by SQLite itself (doubles
    with 17 significant digits, so PostgreSQL gets the same bits)."""
    def text(name: str) -> str:
        if name in ("arrival", "first_ring", "queue_entry", "answer", "end_time",
                    "time_to_answer", "resolution"):
            return f"CASE WHEN {name} IS NULL THEN '' ELSE printf('%!.17g', {name}) END"
        if name in ("caller_withheld", "in_hours", "is_test", "incomplete"):
            return f"CASE {name} WHEN 1 THEN 't' ELSE 'f' END"
        return f"coalesce({name}, '')"

    line = " || ',' || ".join(text(c) for c in COLUMNS)
    con = sqlite3.connect(sqlite_path)
    (low, high), = con.execute("SELECT min(id), max(id) FROM calls")
    for a in range(low, high + 1, chunk):
        (csv,), = con.execute(f"SELECT group_concat({line}, char(10)) FROM calls "
                              "WHERE id BETWEEN ? AND ?", (a, a + chunk - 1))
        if csv:
            yield (csv + "\n").encode()
    con.close()


def build_pg(url: str, schema: str, sqlite_path: Path) -> str:
    """A PostgreSQL schema `schema` (dropped first) with the real tables holding the same
    calls as the SQLite store; returns the store URL that selects it."""
    import psycopg
    import sqlalchemy as sa

    from monitor.store import open_store

    started = time.perf_counter()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    store_url = f"{url}{sep}options=-csearch_path%3D{schema}"
    open_store(store_url).dispose()
    plain = sa.make_url(store_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False)) as con:
        with con.cursor() as cur, cur.copy(
                f"COPY calls ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in _pg_copy_chunks(sqlite_path):
                copy.write(chunk)
        con.execute("ANALYZE calls")
    print(f"copied {sqlite_path.name} to PostgreSQL schema {schema} in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return store_url


def drop_pg(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
