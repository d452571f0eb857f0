"""Local wall-clock times to UTC, with one documented rule for DST changes.

Rule (README, "Time and DST"):
* an *ambiguous* local time (it happens twice when clocks go back, e.g. 02:30 on the last Sunday
  of October in Paris) is taken at its first occurrence (summer time), unless a hint says
  otherwise: `prefer_after` picks the first occurrence that is not before the hint (used for the
  answer and end times of a call, which cannot precede its start), and `near` picks the occurrence
  closest to an independent UTC timestamp (the epoch in an Asterisk uniqueid);
* a *missing* local time (skipped when clocks go forward, e.g. 02:30 on the last Sunday of
  March) is read with the offset in force before the change (standard time), i.e. as if the clock
  had not yet been moved; such times cannot be written by Asterisk and only come from hand-made
  exports.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = dt.UTC


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_candidates(naive: dt.datetime, tz: ZoneInfo) -> list[float]:
    """The UTC epochs a naive local time can mean: one, or two when it is ambiguous."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    a, b = first.timestamp(), second.timestamp()
    if a == b:
        return [a]
    # fold=0 and fold=1 differ: either ambiguous (both round-trip) or missing (neither does).
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return sorted((a, b))
    return [a]  # missing: fold=0 applies the offset in force before the change


def local_to_epoch(
    naive: dt.datetime,
    tz: ZoneInfo,
    *,
    prefer_after: float | None = None,
    near: float | None = None,
) -> float:
    """Resolve a naive local time to UTC epoch seconds by the module's DST rule."""
    options = local_candidates(naive, tz)
    if len(options) == 1:
        return options[0]
    if near is not None:
        return min(options, key=lambda t: abs(t - near))
    if prefer_after is not None:
        for t in options:
            if t >= prefer_after:
                return t
    return options[0]


def is_ambiguous(naive: dt.datetime, tz: ZoneInfo) -> bool:
    return len(local_candidates(naive, tz)) == 2


def local_parts(epoch: float, tz: ZoneInfo) -> tuple[str, int, int]:
    """(YYYY-MM-DD, hour, weekday) of an epoch in a zone."""
    local = dt.datetime.fromtimestamp(epoch, tz)
    return local.strftime("%Y-%m-%d"), local.hour, local.weekday()


def epoch_to_local(epoch: float, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz)
