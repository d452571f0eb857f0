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

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from monitor.timeutil import local_candidates

FIRST_YEAR, LAST_YEAR = 2000, 2099  # outside: left to the reference importer
# Month 01-12, day 01-31 (the day of the month is checked by the parser), 00:00:00-23:59:59.
_DATE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"


def naive_seconds(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since the epoch read as UTC, ok) of `YYYY-MM-DD HH:MM:SS` texts; ok is False for
    any other text, an impossible date or a year outside the plausible window."""
    parsed = series.str.contains(_DATE).fill_null(False)
    moment = pl.when(parsed).then(
        series.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"))
    frame = series.to_frame("t").select(
        seconds=moment.dt.epoch("s").fill_null(0),
        ok=moment.is_not_null() & moment.dt.year().is_between(FIRST_YEAR, LAST_YEAR))
    return frame["seconds"].to_numpy(), frame["ok"].fill_null(False).to_numpy()


def hour_offsets(hours: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """(UTC offset in seconds, ok) of local hours given as naive epoch hours: ok when the
    offset is one and the same at minutes 0 and 59 (not ambiguous, not skipped)."""
    offsets = np.zeros(len(hours), dtype=np.int64)
    ok = np.zeros(len(hours), dtype=bool)
    for i, hour in enumerate(hours.tolist()):
        found = {_single_offset(hour * 3600 + minute * 60, tz) for minute in (0, 59)}
        if len(found) == 1 and None not in found:
            offsets[i], ok[i] = int(found.pop() or 0), True
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
