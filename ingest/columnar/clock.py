"""`YYYY-MM-DD HH:MM:SS` columns to UTC epochs, vectorised, by the reference's DST rule.

Digits are read from the fixed-width bytes with numpy and checked as strictly as
`ingest.cdr_layout.Clock` (and a plausible year window); the naive time is turned into UTC with
the zone's offset, looked up once per distinct local hour with `monitor.timeutil`. An hour whose
offset is not the same single value at its first and last minute (the repeated hour of October,
the skipped hour of March, a zone changing at the half hour) is not decided here: its rows are
flagged so that the caller leaves them to the reference importer, which reads them with its
uniqueid and start-time hints.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from monitor.timeutil import local_candidates

FIRST_YEAR, LAST_YEAR = 2000, 2099  # outside: left to the reference importer
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def fixed_bytes(series: pl.Series, width: int) -> np.ndarray:
    """The bytes of a string column whose values all have `width` bytes, as an (n, width) array."""
    values = series.to_arrow().cast("large_string")
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset:values.offset + len(values)]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return data[offsets[:, None] + np.arange(width)]


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def naive_seconds(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since the epoch read as UTC, ok) of `YYYY-MM-DD HH:MM:SS` texts; ok is False for
    any other text, an impossible date or a year outside the plausible window."""
    n = len(series)
    ok = series.str.contains(_DATE).fill_null(False).to_numpy()
    seconds = np.zeros(n, dtype=np.int64)
    if not ok.any():
        return seconds, ok
    index = np.flatnonzero(ok)
    b = fixed_bytes(series.gather(index), 19).astype(np.int64) - 48
    year = b[:, 0] * 1000 + b[:, 1] * 100 + b[:, 2] * 10 + b[:, 3]
    month, day = b[:, 5] * 10 + b[:, 6], b[:, 8] * 10 + b[:, 9]
    hour, minute, second = b[:, 11] * 10 + b[:, 12], b[:, 14] * 10 + b[:, 15], b[:, 17] * 10 + b[:, 18]
    good = (year >= FIRST_YEAR) & (year <= LAST_YEAR) & (month >= 1) & (month <= 12) & (day >= 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    good &= day <= _DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    good &= (hour <= 23) & (minute <= 59) & (second <= 59)
    days = days_from_civil(year, month, day)
    seconds[index] = days * 86400 + hour * 3600 + minute * 60 + second
    ok[index] = good
    return seconds, ok


def hour_offsets(hours: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """(UTC offset in seconds, ok) of local hours given as naive epoch hours: ok when the
    offset is one and the same at minutes 0 and 59 (not ambiguous, not skipped)."""
    offsets = np.zeros(len(hours), dtype=np.int64)
    ok = np.zeros(len(hours), dtype=bool)
    for i, hour in enumerate(hours.tolist()):
        found = {_single_offset(hour * 3600 + minute * 60, tz) for minute in (0, 59)}
        if len(found) == 1 and None not in found:
            offsets[i], ok[i] = found.pop(), True
    return offsets, ok


def _single_offset(naive_epoch: int, tz: ZoneInfo) -> int | None:
    """The offset of a naive local time that exists exactly once, else None."""
    naive = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=naive_epoch)
    options = local_candidates(naive, tz)
    if len(options) != 1:
        return None
    epoch = int(options[0])
    back = dt.datetime.fromtimestamp(epoch, tz).replace(tzinfo=None)
    if back != naive:  # skipped by a change of offset
        return None
    return naive_epoch - epoch


def local_to_utc(naive: np.ndarray, ok: np.ndarray, tz: ZoneInfo | None) -> tuple[np.ndarray, np.ndarray]:
    """UTC epochs of naive local seconds (`tz` None: they are UTC already); ok turns False
    where the hour is ambiguous or skipped in `tz`."""
    if tz is None or not ok.any():
        return naive, ok
    hours = naive // 3600
    distinct, inverse = np.unique(hours[ok], return_inverse=True)
    offsets, good = hour_offsets(distinct, tz)
    utc = naive.copy()
    index = np.flatnonzero(ok)
    utc[index] = naive[index] - offsets[inverse]
    ok = ok.copy()
    ok[index] = good[inverse]
    return utc, ok


def utc_epoch_of_date_text(text: str) -> float:
    """The reference's reading of one UTC `YYYY-MM-DD HH:MM:SS` (for tests)."""
    return float(calendar.timegm(dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timetuple()))
