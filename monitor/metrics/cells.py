"""Cells: which group (site × period) each call belongs to, for every grouping of `stats`.

Local buckets are made here, from the UTC arrival and the site's time zone (Europe/Paris), as
the house style asks. Every cell of the requested range exists, with or without calls, so an
empty hour or a silent site shows as an empty cell rather than a missing row.

DST: `day-hour` cells are real hours. 2026-03-29 has 23 of them in Paris (02:00–02:59 does not
exist) and 2026-10-25 has 25: the hour 02:00–02:59 happens twice, as two cells labelled
"2026-10-25T02:00+02:00" (summer time, first) and "2026-10-25T02:00+01:00" (winter time).
`hour` and `weekday-hour` cells are hours of the day: both 02:00 hours of 2026-10-25 fall
into the same "02" cell, and the missing one of 2026-03-29 simply has no calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from monitor.metrics.arrays import CallArrays

BY = ("site", "hour", "day", "weekday", "weekday-hour", "month", "day-hour")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_SITES = "all"
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class Cells:
    """A grouping of calls. Cells are site-major: site 0's periods, then site 1's…"""

    by: str
    index: np.ndarray  # int64 per call: its cell, -1 when it is in none
    site: tuple[str, ...]  # per cell: a site id, or "all" when sites are merged
    period: tuple[str, ...]  # per cell: the period label (see docs/stats-json.md)
    n_periods: int

    @property
    def n(self) -> int:
        return len(self.period)


def select(calls: CallArrays, *, in_hours_only: bool = False,
           include_tests: bool = False) -> np.ndarray:
    """Boolean mask of the calls a statistic counts: no tests unless asked, in hours if asked."""
    mask = np.ones(len(calls), dtype=bool)
    if not include_tests:
        mask &= ~calls.is_test
    if in_hours_only:
        mask &= calls.in_hours
    return mask


def _midnight(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def utc_offsets(first_hour: int, n_hours: int, tz: ZoneInfo) -> np.ndarray:
    """UTC offset (seconds) of `tz` during each UTC hour first_hour … first_hour + n_hours - 1."""
    def offset(hour: int) -> int:
        moment = dt.datetime.fromtimestamp(hour * 3600, dt.UTC).astimezone(tz)
        return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]

    out = np.empty(n_hours, dtype=np.int64)
    for start in range(0, n_hours, 24):
        stop = min(start + 24, n_hours)
        a, b = offset(first_hour + start), offset(first_hour + stop - 1)
        out[start:stop] = a if a == b else [offset(first_hour + h) for h in range(start, stop)]
    return out


def local_parts(arrival: np.ndarray, start: dt.date, end: dt.date,
                tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(local day number since 1970-01-01, local hour, UTC hour number, first UTC hour) of each
    arrival; day is -1 for arrivals outside the local dates start … end."""
    first = int(_midnight(start, tz) // 3600)
    last = int(_midnight(end + dt.timedelta(days=1), tz) // 3600)  # exclusive
    offsets = utc_offsets(first, last - first, tz)
    with np.errstate(invalid="ignore"):
        utc_hour = np.floor(arrival / 3600.0)
        inside = (utc_hour >= first) & (utc_hour < last)
    utc_hour = np.where(inside, utc_hour, first).astype(np.int64)
    local = arrival + offsets[utc_hour - first]
    day = np.floor(local / 86400.0).astype(np.int64)
    hour = ((local - day * 86400.0) // 3600).astype(np.int64)
    return np.where(inside, day, -1), hour, utc_hour, first


def _months(start: dt.date, end: dt.date) -> list[str]:
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


def _hour_labels(first: int, n: int, tz: ZoneInfo) -> list[str]:
    return [dt.datetime.fromtimestamp((first + h) * 3600, tz).isoformat(timespec="minutes")
            for h in range(n)]


def period_labels(by: str, start: dt.date, end: dt.date, tz: ZoneInfo) -> list[str]:
    """The label of every period of `by` between the local dates start and end (inclusive)."""
    if by == "site":
        return [f"{start.isoformat()}/{end.isoformat()}"]
    if by == "hour":
        return [f"{h:02d}" for h in range(24)]
    if by == "day":
        return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    if by == "weekday":
        return list(WEEKDAY_NAMES)
    if by == "weekday-hour":
        return [f"{w} {h:02d}" for w in WEEKDAY_NAMES for h in range(24)]
    if by == "month":
        return _months(start, end)
    if by == "day-hour":
        first = int(_midnight(start, tz) // 3600)
        last = int(_midnight(end + dt.timedelta(days=1), tz) // 3600)
        return _hour_labels(first, last - first, tz)
    raise ValueError(f'unknown grouping "{by}"; expected one of {", ".join(BY)}')


def _in_range(arrival: np.ndarray, start: dt.date, end: dt.date, tz: ZoneInfo) -> np.ndarray:
    """0 for an arrival on the local dates start … end, -1 otherwise (int8, by chunks)."""
    first = int(_midnight(start, tz) // 3600)
    last = int(_midnight(end + dt.timedelta(days=1), tz) // 3600)
    key = np.empty(arrival.shape[0], dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for a in range(0, arrival.shape[0], 1 << 18):
            utc_hour = np.floor(arrival[a : a + (1 << 18)] / 3600.0)
            inside = (utc_hour >= first) & (utc_hour < last)
            np.subtract(inside, 1, out=key[a : a + (1 << 18)], dtype=np.int8, casting="unsafe")
    return key


def periods(calls: CallArrays, by: str, start: dt.date, end: dt.date,
            tz: ZoneInfo) -> tuple[np.ndarray, list[str]]:
    """Per call, its period number (-1: outside start … end); and the label of every period."""
    labels = period_labels(by, start, end, tz)
    if by == "site":  # one period: only whether the call is in the range, as local_parts says
        return _in_range(calls.arrival, start, end, tz), labels
    day, hour, utc_hour, first = local_parts(calls.arrival, start, end, tz)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    if by == "day":
        key = day - (start - _EPOCH).days
    elif by in ("hour", "weekday", "weekday-hour"):
        key = {"hour": hour, "weekday": weekday, "weekday-hour": weekday * 24 + hour}[by]
    elif by == "month":
        month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        key = month - ((start.year - 1970) * 12 + start.month - 1)
    else:  # day-hour
        key = utc_hour - first
    return np.where(day >= 0, key, -1), labels


def make_cells(calls: CallArrays, by: str, *, start: dt.date, end: dt.date,
               tz: str | ZoneInfo = "Europe/Paris", sites: Sequence[str] | None = None,
               merge_sites: bool = False, mask: np.ndarray | None = None) -> Cells:
    """Cells of `by` for the local dates start … end (inclusive) and `sites` (default: the
    sites of `calls`); `merge_sites` puts all sites together in one "all" row per period.
    Calls outside the dates, of other sites, or where `mask` is False are in no cell."""
    key, labels = periods(calls, by, start, end, _zone(tz))
    return assign(calls.site_ids, calls.site, key, labels, by, sites=sites,
                  merge_sites=merge_sites, mask=mask)


def assign(site_ids: Sequence[str], site: np.ndarray, key: np.ndarray, labels: list[str],
           by: str, *, sites: Sequence[str] | None = None, merge_sites: bool = False,
           mask: np.ndarray | None = None) -> Cells:
    """Cells from per-row site codes (into site_ids) and period numbers (into labels)."""
    shown = list(site_ids if sites is None else sites)
    slot_of_code = np.full(len(site_ids) + 1, -1, dtype=np.int64)
    for position, site_id in enumerate(shown):
        if site_id in site_ids:
            slot_of_code[list(site_ids).index(site_id)] = 0 if merge_sites else position
    index = slot_of_code[site] if len(site) else np.zeros(0, dtype=np.int64)
    keep = key >= 0
    keep &= key < len(labels)
    keep &= index >= 0
    if mask is not None:
        keep &= mask
    if len(labels) > 1:  # in place: site slot * periods + period (no temporary per call)
        index *= len(labels)
        index += key
    np.putmask(index, ~keep, -1)
    rows = [ALL_SITES] if merge_sites else shown
    return Cells(by, index, tuple(s for s in rows for _ in labels), tuple(labels) * len(rows),
                 len(labels))


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def keys_from_store(by: str, raw: Sequence[object], start: dt.date, end: dt.date,
                    tz: str | ZoneInfo = "Europe/Paris") -> tuple[np.ndarray, list[str]]:
    """Period numbers and labels from the period values SQL grouped by (see monitor.query):
    local_date or its month as text for day and month, the UTC hour number for day-hour,
    whole numbers numbered as `periods` does for the others."""
    zone = _zone(tz)
    labels = period_labels(by, start, end, zone)
    if not raw:
        key = np.zeros(0, dtype=np.int64)
    elif by == "day":
        key = np.asarray(raw, dtype="datetime64[D]").astype(np.int64) - (start - _EPOCH).days
    elif by == "month":
        months = np.asarray(raw, dtype="datetime64[M]").astype(np.int64)
        key = months - ((start.year - 1970) * 12 + start.month - 1)
    elif by == "day-hour":
        key = np.asarray(raw, dtype=np.int64) - int(_midnight(start, zone) // 3600)
    else:
        key = np.asarray(raw, dtype=np.int64)
    return key, labels
