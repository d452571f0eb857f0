"""Where the store meets the answer-time core: typed numpy arrays out, no Python object per call.

`load_call_arrays` gives one row per call (`CallArrays`, exact). It reads a local month at a
time (monitor.store.month_columns): a whole month from its columnar copy when no write has
touched it since the copy was made, otherwise from the rows (and the copy is then rebuilt);
a month the range covers only in part always from the rows. The rows are read as a handful of
integer columns (codes, times in microseconds) aggregated into one comma-separated text each
(group_concat on SQLite, string_agg on PostgreSQL) and parsed with numpy. Times are whole
microseconds, the finest resolution of any source, which also removes the noise of
subtracting two epoch doubles (25.0 s stays 25.0, not 24.99999976).

`load_binned_calls` lets the database do the grouping: one row per (site, period, outcome,
tenth-of-a-second bin), the same SQL on SQLite and PostgreSQL (`BinnedCalls`). Counts, rates
and means are exact; quantiles from it are exact only to 0.1 s (see
monitor.metrics.distribution.time_stats_from_bins).

Dates are the local dates stored at capture (`local_date`, inclusive range); test calls are
left out unless asked; `clock_start="queue_entry"` measures from the queue entry where it is
known, else from the arrival.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from monitor.call import Outcome
from monitor.metrics.arrays import ANSWERED, DTYPES, OUTCOME_CODE, BinnedCalls, CallArrays
from monitor.metrics.cells import assign, keys_from_store, make_cells, period_labels
from monitor.metrics.summary import CellStats, cell_stats, cell_stats_binned
from monitor.store import copies as cp
from monitor.store.engine import Store

if TYPE_CHECKING:  # SQLAlchemy is imported where the rows are read (not for the copies)
    import sqlalchemy as sa


_US = 1_000_000
_TIMED = (Outcome.ANSWERED, Outcome.ABANDONED, Outcome.SHORT_ABANDON)
SPLIT_IDS = 100_000  # PostgreSQL reads months from the rows on parallel connections past this


def _start_expr(clock_start: str) -> Any:
    import sqlalchemy as sa

    from monitor.store.models import calls

    if clock_start == "queue_entry":
        return sa.func.coalesce(calls.c.queue_entry, calls.c.arrival)
    return calls.c.arrival


def _micro(expr: Any) -> Any:
    """A time in seconds as whole microseconds (BIGINT)."""
    import sqlalchemy as sa

    return sa.cast(sa.func.round(expr * _US), sa.BigInteger)


def _where(start: dt.date, end: dt.date, sites: Sequence[str] | None, include_tests: bool,
           in_hours_only: bool) -> list[Any]:
    import sqlalchemy as sa

    from monitor.store.models import calls

    clauses: list[Any] = [calls.c.local_date.between(start.isoformat(), end.isoformat())]
    if sites is not None:
        clauses.append(calls.c.site.in_(list(sites)))
    if not include_tests:
        clauses.append(sa.not_(calls.c.is_test))
    if in_hours_only:
        clauses.append(calls.c.in_hours)
    return clauses


@dataclass(frozen=True)
class _Wanted:
    """Which calls load_call_arrays keeps, and how it measures their times."""

    sites: tuple[str, ...]
    include_tests: bool
    in_hours_only: bool
    clock_start: str


class _Filler:
    """CallArrays filled month after month, without an intermediate copy of the whole."""

    def __init__(self, wanted: _Wanted, capacity: int) -> None:
        self.wanted, self.n = wanted, 0
        self.code = {s: i for i, s in enumerate(wanted.sites)}
        self.columns = {name: np.empty(capacity, dtype=dtype) for name, dtype in DTYPES.items()}

    def fits(self, k: int) -> bool:
        return self.n + k <= len(self.columns["site"])

    def reserve(self, k: int) -> slice:
        """The next k rows of the arrays; they grow when more calls came than were counted
        (written meanwhile); no fill may be running then."""
        if not self.fits(k):
            grown = max(self.n + k, len(self.columns["site"]) * 3 // 2)
            for name, column in self.columns.items():
                self.columns[name] = np.concatenate([column[: self.n],
                                                     np.empty(grown - self.n, column.dtype)])
        out = slice(self.n, self.n + k)
        self.n += k
        return out

    def select(self, part: cp.MonthColumns, first_day: int = 1,
               last_day: int = 31) -> np.ndarray:
        """Which calls of `part` are wanted (local day of the month in first … last)."""
        w = self.wanted
        asked = np.array([s in self.code for s in part.sites] + [False])
        keep = asked[part.site]  # a site not asked for
        known = np.array([o in OUTCOME_CODE for o in part.outcomes] + [False])
        keep &= known[part.outcome]  # an outcome this version does not know
        if first_day > 1 or last_day < 31:
            keep &= (part.day >= first_day) & (part.day <= last_day)
        if not w.include_tests:
            keep &= (part.flags & cp.IS_TEST) == 0
        if w.in_hours_only:
            keep &= (part.flags & cp.IN_HOURS) != 0
        return keep

    def fill(self, part: cp.MonthColumns, keep: np.ndarray, out: slice) -> None:
        """Write the calls `keep` selects into the rows `out` (threads fill disjoint rows)."""
        c = {name: column[out] for name, column in self.columns.items()}
        site_of = np.array([self.code.get(s, -1) for s in part.sites] + [-1], dtype=np.int16)
        outcome_of = np.array([OUTCOME_CODE.get(o, -1) for o in part.outcomes] + [-1],
                              dtype=np.int8)
        np.take(site_of, part.site[keep], out=c["site"])
        np.take(outcome_of, part.outcome[keep], out=c["outcome"])
        np.compress(keep, part.arrival, out=c["arrival"])
        flags = part.flags[keep]
        np.not_equal(flags & cp.IN_HOURS, 0, out=c["in_hours"])
        np.not_equal(flags & cp.IS_TEST, 0, out=c["is_test"])
        t = part.t[keep]
        if self.wanted.clock_start == "queue_entry":
            t = _from_queue_entry(t, part.queue[keep])
        answered = c["outcome"] == ANSWERED
        np.maximum(t, 0.0, out=t)  # clock jitter: a negative time is 0 (NaN stays NaN)
        np.copyto(c["tta"], np.where(answered, t, np.nan))
        np.copyto(c["hangup"], np.where(answered, np.nan, t))
        handle = part.handle[keep]
        np.maximum(handle, 0.0, out=handle)
        np.copyto(c["handle"], np.where(answered, handle, np.nan))

    def add(self, part: cp.MonthColumns, first_day: int = 1, last_day: int = 31) -> None:
        keep = self.select(part, first_day, last_day)
        self.fill(part, keep, self.reserve(int(np.count_nonzero(keep))))

    def arrays(self) -> CallArrays:
        return CallArrays(self.wanted.sites, **{k: v[: self.n] for k, v in self.columns.items()})


def _from_queue_entry(t: np.ndarray, queue: np.ndarray) -> np.ndarray:
    """Times measured from the queue entry where it is known, in whole microseconds."""
    micro = np.rint(t * _US) - np.where(np.isnan(queue), 0.0, np.rint(queue * _US))
    return micro / _US


def _ordered_map(pool: ThreadPoolExecutor | None, func: Callable[[Any], Any],
                 items: list[Any], ahead: int) -> Iterator[Any]:
    """func over items, results in order, `ahead` of them computed in advance by `pool`."""
    if pool is None:
        yield from map(func, items)
        return
    pending = [pool.submit(func, item) for item in items[:ahead]]
    for i in range(len(items)):
        if i + ahead < len(items):
            pending.append(pool.submit(func, items[i + ahead]))
        result, pending[i] = pending[i].result(), None  # type: ignore[call-overload]
        yield result


def _workers(calls_in_range: int, single: bool) -> int:
    """Threads reading and converting months (numpy, sqlite3 and psycopg let go of the GIL);
    one for few calls or when `single` (an in-memory SQLite database, which other
    connections see empty; SQLite copies to save, whose saves would refuse one another)."""
    return 1 if calls_in_range <= SPLIT_IDS or single else min(os.cpu_count() or 1, 4)


Month = tuple[str, dt.date, dt.date, bool]  # YYYY-MM, first day, last day, whole month


def _fill_months(filler: _Filler, spans: list[Month], workers: int,
                 month: Callable[[Month], cp.MonthColumns]) -> CallArrays:
    """Read the months with `month` (in threads), select and fill them, in order."""
    def read(span: Month) -> tuple[cp.MonthColumns, np.ndarray]:
        part = month(span)
        return part, filler.select(part, span[1].day, span[2].day)

    with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        fills: list[Any] = []
        for part, keep in _ordered_map(pool, read, spans, workers):
            k = int(np.count_nonzero(keep))
            if not filler.fits(k):  # the arrays move: the fills under way finish first
                for f in fills:
                    f.result()
                fills = []
            out = filler.reserve(k)
            if pool is None:
                filler.fill(part, keep, out)
            else:
                fills.append(pool.submit(filler.fill, part, keep, out))
        for f in fills:
            f.result()
    return filler.arrays()


def load_from_copies(store: Store, *, start: dt.date, end: dt.date, sites: Sequence[str],
                     include_tests: bool = False, in_hours_only: bool = False,
                     clock_start: str = "arrival") -> CallArrays | None:
    """load_call_arrays through plain DB-API connections, without SQLAlchemy, when every
    month of the range is whole and has a valid copy; None otherwise (or when the store
    cannot be opened that way): then load_call_arrays."""
    spans = list(cp.months(start, end))
    if not spans or not all(whole for *_, whole in spans):
        return None
    opened: list[Any] = []
    local = threading.local()

    def connection() -> tuple[Any, str]:
        if not hasattr(local, "light"):
            local.light = store.light()
            if local.light is None:
                raise LookupError("no plain connection")
            opened.append(local.light[0])
        return local.light  # type: ignore[no-any-return]

    try:
        raw, dialect = connection()
        valid = cp.valid_copies(raw, dialect, spans[0][0], spans[-1][0])
        if any(m not in valid for m, *_ in spans):
            return None
        counted = sum(c.calls for c in valid.values())
        filler = _Filler(_Wanted(tuple(sites), include_tests, in_hours_only, clock_start),
                         counted)
        return _fill_months(filler, spans, _workers(counted, False),
                            lambda span: cp.read_copy(*connection(), valid[span[0]]))
    except Exception:  # not openable that way (e.g. LookupError): the engine's path says why
        if not opened:
            return None
        raise
    finally:
        for raw in opened:
            raw.close()


def _rows(conn: sa.Connection, first: dt.date, last: dt.date, sites: Sequence[str],
          all_sites: bool) -> cp.MonthColumns:
    from monitor.store import month_columns as mc

    return mc.read_rows(conn, first, last, sites=None if all_sites else sites, site_names=sites)


def load_call_arrays(engine: sa.Engine, *, start: dt.date, end: dt.date,
                     sites: Sequence[str], include_tests: bool = False,
                     in_hours_only: bool = False, clock_start: str = "arrival",
                     all_sites: bool = False, copies: bool = True) -> CallArrays:
    """The calls of `sites` with a local date in start … end, one row per call.

    `all_sites=True` says that `sites` is every site of the store (no site filter when a
    part of a month is read from the rows). `copies=False` reads every month from the rows
    and saves no copy (the reference the copies are tested against)."""
    from monitor.store import month_columns as mc

    spans = list(cp.months(start, end))
    if not spans:
        return CallArrays.empty(sites)
    with engine.connect() as conn:
        valid = mc.valid_copies(conn, spans[0][0], spans[-1][0]) if copies else {}
        whole = {m: mc.count_rows(conn, a, b) for m, a, b, w in spans if w and m not in valid}
        parts = {m: _rows(conn, a, b, sites, all_sites)  # parts of months: read now
                 for m, a, b, w in spans if not w and m not in valid}
    counted = (sum(c.calls for c in valid.values()) + sum(whole.values())
               + sum(len(p) for p in parts.values()))

    def month(span: Month) -> cp.MonthColumns:
        name, first, last, _ = span
        if name in valid:
            with engine.connect() as conn:
                return mc.read_copy(conn, valid[name])
        if name in whole and copies:  # read every site, and save the month's copy
            return mc.build_copy(engine, name, first, last, sites)
        if name in whole:
            with engine.connect() as conn:
                return _rows(conn, first, last, sites, all_sites)
        return parts.pop(name)

    dialect = engine.dialect.name
    in_memory = dialect == "sqlite" and engine.url.database in (None, "", ":memory:")
    single = in_memory or (dialect == "sqlite" and copies and bool(whole))
    filler = _Filler(_Wanted(tuple(sites), include_tests, in_hours_only, clock_start), counted)
    return _fill_months(filler, spans, _workers(counted, single), month)


def _period_expr(by: str, dialect: str) -> Any:
    """The period a call belongs to, as monitor.metrics.cells.keys_from_store reads it."""
    import sqlalchemy as sa

    from monitor.store.models import calls

    c = calls.c
    if by == "day-hour":  # the UTC hour number: real hours, 25 on the day clocks go back
        hours = c.arrival / 3600
        floor = sa.func.floor(hours) if dialect == "postgresql" else hours  # SQLite CAST floors
        return sa.cast(floor, sa.BigInteger)
    exprs = {
        "site": sa.literal(0), "hour": c.local_hour, "day": c.local_date,
        "weekday": c.local_weekday, "weekday-hour": c.local_weekday * 24 + c.local_hour,
        "month": sa.func.substr(c.local_date, 1, 7),
    }
    return exprs[by]


def load_binned_calls(engine: sa.Engine, *, by: str, start: dt.date, end: dt.date,
                      sites: Sequence[str], include_tests: bool = False,
                      in_hours_only: bool = False, clock_start: str = "arrival",
                      all_sites: bool = False, tz: str = "Europe/Paris") -> BinnedCalls:
    """Calls counted by the store per (site, period of `by`, outcome, 0.1 s bin of the time to
    answer or to hang up); see BinnedCalls. Same SQL on SQLite and PostgreSQL."""
    import sqlalchemy as sa

    from monitor.store.models import calls

    t = _micro(sa.func.coalesce(calls.c.answer, calls.c.end_time) - _start_expr(clock_start))
    timed = calls.c.outcome.in_([o.value for o in _TIMED]) & t.is_not(None)
    bin_ = sa.case((timed, t // (_US // 10)), else_=-1).label("bin")
    handle = _micro(calls.c.end_time - calls.c.answer)
    period = _period_expr(by, engine.dialect.name).label("period")
    query = (
        sa.select(calls.c.site, period, calls.c.outcome, bin_, sa.func.count(),
                  sa.func.sum(t), sa.func.max(t), sa.func.sum(handle), sa.func.count(handle))
        .where(*_where(start, end, None if all_sites else sites, include_tests, in_hours_only))
        .group_by(calls.c.site, period, calls.c.outcome, bin_)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return _binned(list(rows), by, start, end, sites, tz)


def _column(rows: list[Any], i: int, dtype: Any, none: float = 0.0) -> np.ndarray:
    return np.array([none if r[i] is None else r[i] for r in rows], dtype=dtype)


def _binned(rows: list[Any], by: str, start: dt.date, end: dt.date, sites: Sequence[str],
            tz: str) -> BinnedCalls:
    """Typed arrays from the grouped rows (one per site, period, outcome and bin)."""
    site_code = {s: i for i, s in enumerate(sites)}
    rows = [r for r in rows if r[0] in site_code and r[2] in OUTCOME_CODE]
    key, _ = keys_from_store(by, [r[1] for r in rows], start, end, tz)
    return BinnedCalls(
        site_ids=tuple(sites),
        site=np.array([site_code[r[0]] for r in rows], dtype=np.int16),
        period=key.astype(np.int64),
        outcome=np.array([OUTCOME_CODE[r[2]] for r in rows], dtype=np.int8),
        bin=_column(rows, 3, np.int64), count=_column(rows, 4, np.int64),
        total=_column(rows, 5, np.float64) / _US,
        maximum=_column(rows, 6, np.float64, np.nan) / _US,
        handle_total=_column(rows, 7, np.float64) / _US, handle_n=_column(rows, 8, np.int64),
    )


@dataclass(frozen=True)
class StatsRequest:
    """What `qualiphone stats` asks for (dates are local, inclusive)."""

    start: dt.date
    end: dt.date
    sites: tuple[str, ...]
    by: str = "site"
    in_hours_only: bool = True
    include_tests: bool = False
    merge_sites: bool = False
    binned: bool = False  # let the store count per 0.1 s bin (quantiles to 0.1 s)
    all_sites: bool = False  # `sites` is every site: no site filter in SQL
    clock_start: str = "arrival"
    threshold: float = 25.0
    ring_period: float = 5.0
    tz: str = "Europe/Paris"


def store_stats(store: Store | sa.Engine, request: StatsRequest,
                extra: Sequence[str] = ()) -> dict[str, CellStats]:
    """Figures per cell for request.by and for each grouping of `extra` (e.g. "hour" for the
    staffing hint), from one load of the calls (or one store-side count per grouping). Given
    a Store whose months all have valid copies, SQLAlchemy is not even imported."""
    r = request
    where: dict[str, Any] = {
        "start": r.start, "end": r.end, "sites": r.sites, "include_tests": r.include_tests,
        "in_hours_only": r.in_hours_only, "clock_start": r.clock_start,
    }
    figures: dict[str, Any] = {"threshold": r.threshold, "ring_period": r.ring_period}
    out: dict[str, CellStats] = {}
    arrays = None
    if not r.binned:
        arrays = load_from_copies(store, **where) if isinstance(store, Store) else None
        if arrays is None:
            arrays = load_call_arrays(_engine(store), all_sites=r.all_sites, **where)
    for by in dict.fromkeys([r.by, *extra]):
        merge = r.merge_sites and by == r.by
        if arrays is not None:
            cells = make_cells(arrays, by, start=r.start, end=r.end, tz=r.tz, sites=r.sites,
                               merge_sites=merge)
            out[by] = cell_stats(arrays, cells, **figures)
        else:
            rows = load_binned_calls(_engine(store), by=by, tz=r.tz, all_sites=r.all_sites,
                                     **where)
            labels = period_labels(by, r.start, r.end, ZoneInfo(r.tz))
            cells = assign(rows.site_ids, rows.site, rows.period, labels, by, sites=r.sites,
                           merge_sites=merge)
            out[by] = cell_stats_binned(rows, cells, **figures)
    return out


def _engine(store: Store | sa.Engine) -> sa.Engine:
    return store.engine if isinstance(store, Store) else store
