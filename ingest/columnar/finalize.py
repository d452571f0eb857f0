"""`CaptureContext.finalize` over columns: builder columns in, stored call columns out.

The frame given holds one row per call with the fields of a `CallBuilder` (same names; `end`
for the end). Rows `finalize` would refuse (no site: "unknown site"; times out of order) are not
finalized here: they are returned as a mask so that the caller hands their calls to the
reference path, which keeps them as rejects with its own reason and raw lines.

Per-value work is done once per distinct value: sites per (dialed, queue, context), caller
numbers and pseudonyms per number, UTC offsets per UTC hour, opening hours per (site, local
date) through the reference `SiteCalendar.is_open` at each point where its answer can change.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from config.loader import NOON
from ingest.columnar.lookup import caller_hashes, normalized_callers, sites_for
from ingest.finalize import _EPSILON, CaptureContext
from monitor.call import Outcome

US = 1_000_000
DAY_US = 86_400 * US
CALL_COLUMNS = (
    "pbx", "call_key", "site", "linkedid", "dialed", "caller_hash", "caller_raw",
    "caller_withheld", "arrival", "first_ring", "queue_entry", "answer", "end_time",
    "time_to_answer", "outcome", "answered_by", "in_hours", "is_test", "incomplete", "sources",
    "time_source", "resolution", "local_date", "local_hour", "local_weekday",
)
BUILDER_SCHEMA: dict[str, pl.DataType] = {
    "order": pl.Int64(), "call_key": pl.String(), "linkedid": pl.String(),
    "dialed": pl.String(), "queue": pl.String(), "context": pl.String(), "site": pl.String(),
    "caller": pl.String(), "arrival": pl.Float64(), "first_ring": pl.Float64(),
    "queue_entry": pl.Float64(), "answer": pl.Float64(), "end": pl.Float64(),
    "answered_by": pl.String(), "other_answer": pl.Float64(), "other_device": pl.String(),
    "machine_answer": pl.Float64(), "machine": pl.String(), "outcome": pl.String(),
    "is_test": pl.Boolean(), "incomplete": pl.Boolean(), "resolution": pl.Float64(),
    "line": pl.Int64(),
}


def complete_builders(frame: pl.DataFrame) -> pl.DataFrame:
    """The builder columns of a frame, in BUILDER_SCHEMA's types, the absent ones null; other
    columns (e.g. `group`) are kept after them."""
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in BUILDER_SCHEMA.items()
               if name not in frame.columns]
    frame = frame.with_columns(missing).cast(BUILDER_SCHEMA)  # type: ignore[arg-type]
    extra = [c for c in frame.columns if c not in BUILDER_SCHEMA]
    return frame.select(*BUILDER_SCHEMA, *extra)


def refused(b: pl.DataFrame, ctx: CaptureContext) -> tuple[pl.Series, pl.Series]:
    """(site of each builder, mask of builders finalize would refuse)."""
    site = b["site"].fill_null(sites_for(b, ctx.sites))
    arrival = pl.col("arrival")
    early = [pl.col(c) < arrival - _EPSILON for c in ("answer", "end", "first_ring", "queue_entry")]
    bad = b.select(
        arrival.is_null()
        | pl.any_horizontal(e.fill_null(False) for e in early)
        | (pl.col("end") < pl.col("answer") - _EPSILON).fill_null(False)
        | ((pl.col("outcome") == Outcome.ANSWERED.value) & pl.col("answer").is_null())
        .fill_null(False)
        | _outside(ctx)
    ).to_series()
    return site, bad | site.is_null()


def _outside(ctx: CaptureContext) -> pl.Expr:
    """A time `finalize` finds outside the plausible window (`ingest.plausible`)."""
    window = ctx.window
    names = [name for name in ("arrival", "answer", "end", "first_ring", "queue_entry",
                               "other_answer", "machine_answer")]
    return pl.any_horizontal(
        (~pl.col(name).is_between(window.earliest, window.latest)).fill_null(False)
        for name in names)


def store_problems(calls: pl.DataFrame) -> pl.Series:
    """Mask of the finalized calls `monitor.store.writer.row_problem` would refuse: a text
    longer than its column, a NUL or a lone surrogate, a time that is not a finite number."""
    from monitor.store.writer import _FLOATS, _TEXT

    checks = []
    for name, limit in _TEXT:
        if name not in calls.columns:
            continue
        column = pl.col(name)
        if limit is not None:
            checks.append((column.str.len_chars() > limit).fill_null(False))
        checks.append(column.str.contains("\x00", literal=True).fill_null(False))
    checks += [(~pl.col(name).is_finite()).fill_null(False) for name in _FLOATS
               if name in calls.columns]
    if not checks or calls.is_empty():
        return pl.Series("problem", [False] * len(calls), dtype=pl.Boolean())
    return calls.select(pl.any_horizontal(checks)).to_series()


def _outcome(short: float) -> pl.Expr:
    """`CaptureContext._outcome` as one expression."""
    o = pl.col("outcome")
    open_ = o.is_null() | o.is_in([Outcome.ABANDONED.value, Outcome.SHORT_ABANDON.value])
    unclassifiable = open_ | (o == Outcome.NO_ANSWER.value)  # a device or machine comes first
    abandon = (pl.when(pl.col("end").is_null()).then(pl.lit(Outcome.ABANDONED.value))
               .when(pl.col("end") - pl.col("arrival") < short)
               .then(pl.lit(Outcome.SHORT_ABANDON.value))
               .otherwise(pl.lit(Outcome.ABANDONED.value)))
    return (pl.when(o.is_null() & pl.col("answer").is_not_null()).then(pl.lit(Outcome.ANSWERED.value))
            .when(unclassifiable & pl.col("other_device").is_not_null())
            .then(pl.lit(Outcome.UNKNOWN_DEVICE.value))
            .when(unclassifiable & pl.col("machine").is_not_null())
            .then(pl.lit(Outcome.MACHINE.value))
            .when(open_).then(abandon)
            .otherwise(o))


def _kept_answer(outcome: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """`CaptureContext._answer`: the answer (time, device) kept for each outcome."""
    def pick(answered: str, unknown: str, machine: str) -> pl.Expr:
        return (pl.when(outcome == Outcome.ANSWERED.value).then(pl.col(answered))
                .when(outcome == Outcome.UNKNOWN_DEVICE.value).then(pl.col(unknown))
                .when(outcome == Outcome.MACHINE.value).then(pl.col(machine))
                .otherwise(None))
    return pick("answer", "other_answer", "machine_answer"), \
        pick("answered_by", "other_device", "machine")


def finalize_frame(b: pl.DataFrame, site: pl.Series, ctx: CaptureContext,
                   source: int) -> pl.DataFrame:
    """Stored call columns (CALL_COLUMNS, plus `order`) of builders finalize accepts."""
    capture = ctx.config.capture
    b = b.with_columns(site=site, outcome=_outcome(ctx.config.targets.short_abandon_seconds))
    answer, answered_by = _kept_answer(pl.col("outcome"))
    b = b.with_columns(answer=answer, answered_by=answered_by)
    caller = normalized_callers(b["caller"], capture.default_region)
    dialed = normalized_callers(b["dialed"].fill_null(""), "FR")
    hashed = caller_hashes(caller, ctx.pseudonymizer) if ctx.pseudonymizer else \
        pl.repeat(None, len(b), dtype=pl.String(), eager=True)
    raw = caller if capture.store_raw_caller or not ctx.pseudonymizer else \
        pl.repeat(None, len(b), dtype=pl.String(), eager=True)
    local = local_columns(b["arrival"].to_numpy(), b["site"], ctx)
    return b.select(
        pl.col("order"), pl.lit(ctx.pbx.name).alias("pbx"), "call_key", "site", "linkedid",
        pl.when(pl.col("dialed").fill_null("") != "").then(dialed).otherwise(None).alias("dialed"),
        hashed.alias("caller_hash"), raw.alias("caller_raw"),
        caller.is_null().alias("caller_withheld"), "arrival", "first_ring", "queue_entry",
        "answer", pl.col("end").alias("end_time"),
        pl.when(pl.col("outcome") == Outcome.ANSWERED.value)
        .then(pl.col("answer") - pl.col("arrival")).otherwise(None).alias("time_to_answer"),
        "outcome", "answered_by", local["in_hours"], "is_test", "incomplete",
        pl.lit(source, pl.Int64()).alias("sources"),
        pl.lit(source.bit_length(), pl.Int64()).alias("time_source"), "resolution",
        local["local_date"], local["local_hour"], local["local_weekday"], "line",
    )


def _utc_offsets(seconds: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC offset (s) at each UTC second: per UTC hour when constant over it, else per second."""
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    offsets = np.empty(len(hours), dtype=np.int64)
    constant = np.ones(len(hours), dtype=bool)
    for i, hour in enumerate(hours.tolist()):
        first = _offset(hour * 3600, tz)
        offsets[i] = first
        constant[i] = first == _offset(hour * 3600 + 3599, tz)
    result = offsets[inverse]
    for i in np.flatnonzero(~constant[inverse]).tolist():
        result[i] = _offset(int(seconds[i]), tz)
    return result


def _offset(second: int, tz: ZoneInfo) -> int:
    delta = dt.datetime.fromtimestamp(second, tz).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def local_columns(arrival: np.ndarray, site: pl.Series, ctx: CaptureContext) -> pl.DataFrame:
    """local_date, local_hour, local_weekday and in_hours of UTC arrivals, as
    `datetime.fromtimestamp(arrival, tz)` reads them (microseconds rounded half to even)."""
    whole = np.trunc(arrival)
    micros = np.round((arrival - whole) * US).astype(np.int64)
    seconds = whole.astype(np.int64) + (micros >= US)
    micros = np.where(micros >= US, micros - US, micros)
    local = seconds + _utc_offsets(seconds, ctx.pbx.tz)
    days, second_of_day = np.divmod(local, 86_400)
    dates = pl.Series("d", days.astype(np.int32)).cast(pl.Date())
    frame = pl.DataFrame({
        "local_date": dates.dt.to_string("%Y-%m-%d"),
        "local_hour": second_of_day // 3600,
        "local_weekday": (days + 3) % 7,
    })
    in_hours = open_at(site, days, second_of_day * US + micros, ctx)
    return frame.with_columns(in_hours=pl.Series(in_hours))


def open_at(site: pl.Series, days: np.ndarray, micro_of_day: np.ndarray,
            ctx: CaptureContext) -> np.ndarray:
    """`SiteCalendar.is_open(site, local time)` for each row; the reference is asked once per
    (site, date) at each instant where its answer can change (interval bounds, NOON)."""
    pairs = pl.DataFrame({"site": site, "day": days}).with_row_index("row")
    distinct = pairs.select("site", "day").unique().sort("site", "day").with_row_index("p")
    index = pairs.join(distinct, on=["site", "day"], how="left").sort("row")["p"].to_numpy()
    index = index.astype(np.int64)
    keys: list[int] = []
    values: list[bool] = []
    for p, site_id, day in distinct.iter_rows():
        date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
        config_site = ctx.config.site(site_id)
        bounds = {dt.time(0), NOON}
        for start, end in config_site.hours.get(date.weekday(), ()):
            bounds.update((start, end))
        for moment in sorted(bounds):
            keys.append(p * DAY_US + _micro(moment))
            values.append(ctx.calendar.is_open(config_site, dt.datetime.combine(date, moment)))
    key_array = np.array(keys, dtype=np.int64)
    at = np.searchsorted(key_array, index * DAY_US + micro_of_day, side="right") - 1
    return np.array(values, dtype=bool)[at]


def _micro(moment: dt.time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * US + moment.microsecond
