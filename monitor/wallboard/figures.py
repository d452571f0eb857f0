"""Today's and the last hour's figures per site, from the answer-time core (same as `stats`).

The calls come from the store through `monitor.query.load_call_arrays` (the loader `stats`
uses), plus the calls a listener has finished but not yet committed, turned into the same
columns with the same definitions (times rounded to the microsecond; the clock starts at the
arrival, or at the queue entry with targets.clock_start = "queue_entry"). A call already in the
store is never counted twice. Like `stats` by default: opening hours only, test calls left out;
pickup rate = answered by a person in under 25 s / (offered − short abandons).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from monitor.call import Call, Outcome
from monitor.metrics.arrays import OUTCOME_CODE, CallArrays
from monitor.metrics.cells import make_cells
from monitor.metrics.records import records
from monitor.metrics.summary import cell_stats
from monitor.query import load_call_arrays
from monitor.store.models import calls as calls_table

HOUR = 3600.0


def _micro(x: float) -> float:
    return float(np.round(x * 1e6) / 1e6)


def counted(call: Call, day: str) -> bool:
    """Whether `stats` for `day` (defaults: in hours, no tests) counts this call."""
    return call.local_date == day and call.in_hours and not call.is_test


def call_arrays(found: Sequence[Call], sites: Sequence[str], clock_start: str = "arrival") -> CallArrays:
    """Finished calls as the core's columns, defined as monitor.query defines them."""
    code = {s: i for i, s in enumerate(sites)}
    rows = [c for c in found if c.site in code]
    tta, hangup, handle = [], [], []
    for c in rows:
        start = c.queue_entry if clock_start == "queue_entry" and c.queue_entry is not None \
            else c.arrival
        stop = c.answer if c.answer is not None else c.end
        t = np.nan if stop is None else _micro(stop - start)
        answered = c.outcome is Outcome.ANSWERED
        tta.append(t if answered else np.nan)
        hangup.append(np.nan if answered else t)
        done = answered and c.end is not None and c.answer is not None
        handle.append(_micro(c.end - c.answer) if done else np.nan)  # type: ignore[operator]
    return CallArrays.from_columns(
        sites, site=[code[c.site] for c in rows], outcome=[OUTCOME_CODE[c.outcome] for c in rows],
        arrival=[c.arrival for c in rows], tta=tta, hangup=hangup, handle=handle,
        in_hours=[c.in_hours for c in rows], is_test=[c.is_test for c in rows])


def stored_keys(engine: sa.Engine, found: Sequence[Call]) -> set[tuple[str, str]]:
    """(pbx, call key) of those calls that the store already holds."""
    keys: set[tuple[str, str]] = set()
    by_pbx: dict[str, list[str]] = {}
    for c in found:
        by_pbx.setdefault(c.pbx, []).append(c.call_key)
    with engine.connect() as conn:
        for pbx, names in by_pbx.items():
            for i in range(0, len(names), 500):
                rows = conn.execute(sa.select(calls_table.c.call_key).where(
                    calls_table.c.pbx == pbx, calls_table.c.call_key.in_(names[i:i + 500])))
                keys.update((pbx, key) for (key,) in rows)
    return keys


def load_today(engine: sa.Engine, day: dt.date, sites: Sequence[str], unwritten: Sequence[Call],
               clock_start: str = "arrival") -> CallArrays:
    """The day's calls in the store and those finished since (not yet stored), as arrays."""
    stored = load_call_arrays(engine, start=day, end=day, sites=sites, in_hours_only=True,
                              clock_start=clock_start)
    extra = [c for c in unwritten if counted(c, day.isoformat())]
    if extra:
        known = stored_keys(engine, extra)
        extra = [c for c in extra if (c.pbx, c.call_key) not in known]
    return CallArrays.concat([stored, call_arrays(extra, sites, clock_start)])


@dataclass(frozen=True)
class Figures:
    """Per site and city-wide: today's core records, and the last hour's."""

    day: dt.date
    sites: dict[str, dict[str, Any]]
    city: dict[str, Any]
    hour_sites: dict[str, dict[str, Any]]
    hour_city: dict[str, Any]


def figures(arrays: CallArrays, day: dt.date, now: float, sites: Sequence[str], tz: ZoneInfo,
            threshold: float = 25.0, ring_period: float = 5.0) -> Figures:
    """The core's records (stats' field names) for today and for calls that arrived in the last
    hour, per site and all sites merged."""
    recent = arrays.arrival >= now - HOUR

    def cells(merge: bool, mask: np.ndarray | None) -> list[dict[str, Any]]:
        grouping = make_cells(arrays, "site", start=day, end=day, tz=tz, sites=sites,
                              merge_sites=merge, mask=mask)
        return records(cell_stats(arrays, grouping, threshold=threshold, ring_period=ring_period))

    return Figures(day, {r["site"]: r for r in cells(False, None)}, cells(True, None)[0],
                   {r["site"]: r for r in cells(False, recent)}, cells(True, recent)[0])
