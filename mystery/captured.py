"""The monitor's side of a mystery call: the captured call record and the monitor's own figure.

`match_captured_call` finds the call the PBX captured for a mystery call (same site, arrival
within ±2 minutes of the call time, test-marked calls first, then the closest in time); its
`time_to_answer` becomes the PBX-measured pickup time of the mystery call.

`monitor_pickup_share` is the monitor's share of calls answered within the target for some
sites and days, by a small SQL count; kept in one function so that the full core of
`monitor.metrics` can replace it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import sqlalchemy as sa

from monitor.store import Store
from monitor.store.models import calls
from mystery.models import mystery_planned_calls, mystery_results

WINDOW_SECONDS = 120.0


class MysteryCallRef(Protocol):
    """What matching needs to know of a mystery call."""

    @property
    def site(self) -> str: ...

    @property
    def called_at(self) -> float: ...


def match_captured_call(store: Store, call: MysteryCallRef,
                        window: float = WINDOW_SECONDS) -> sa.Row | None:
    """The captured `calls` row of this mystery call, or None when none is near enough."""
    distance = sa.func.abs(calls.c.arrival - call.called_at)
    query = (
        sa.select(calls)
        .where(calls.c.site == call.site,
               calls.c.arrival.between(call.called_at - window, call.called_at + window))
        .order_by(sa.case((calls.c.is_test, 0), else_=1), distance, calls.c.id)
        .limit(1)
    )
    with store.engine.connect() as conn:
        return conn.execute(query).first()


class _Ref:
    def __init__(self, site: str, called_at: float) -> None:
        self.site, self.called_at = site, called_at


def match_campaign(store: Store, campaign_id: str, *, rematch: bool = False) -> tuple[int, int]:
    """Fill pbx_ring_seconds of the campaign's results from their captured calls.

    Results placed through AMI (`pbx_channel_id` set) keep their own measure. Returns
    (results looked at, results matched).
    """
    query = (
        sa.select(mystery_results.c.id, mystery_results.c.called_at, mystery_planned_calls.c.site,
                  mystery_planned_calls.c.start_utc)
        .join(mystery_planned_calls)
        .where(mystery_planned_calls.c.campaign_id == campaign_id,
               mystery_results.c.outcome != "not_made",
               mystery_results.c.pbx_channel_id.is_(None))
    )
    if not rematch:
        query = query.where(mystery_results.c.captured_call_id.is_(None))
    with store.engine.connect() as conn:
        todo = conn.execute(query).all()
    matched = 0
    for row in todo:
        found = match_captured_call(store, _Ref(row.site, row.called_at or row.start_utc))
        if found is None:
            continue
        matched += 1
        with store.engine.begin() as conn:
            conn.execute(sa.update(mystery_results).where(mystery_results.c.id == row.id).values(
                captured_call_id=found.id, pbx_ring_seconds=found.time_to_answer,
                pbx_linkedid=found.linkedid))
    return len(todo), matched


def monitor_pickup_share(store: Store, sites: list[str], first: dt.date, last: dt.date,
                         threshold: float = 25.0) -> tuple[int, int]:
    """(answered within `threshold`, offered calls less short abandons), in hours, not tests.

    Counts the captured calls of `sites` whose local date is from `first` to `last` inclusive.
    """
    base = sa.and_(calls.c.site.in_(sites), calls.c.in_hours, sa.not_(calls.c.is_test),
                   calls.c.local_date.between(first.isoformat(), last.isoformat()))
    within = sa.func.sum(sa.case((sa.and_(calls.c.outcome == "answered",
                                          calls.c.time_to_answer < threshold), 1), else_=0))
    short = sa.func.sum(sa.case((calls.c.outcome == "short_abandon", 1), else_=0))
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(within, sa.func.count(), short).where(base)).one()
    answered, offered, shorts = (int(v or 0) for v in row)
    return answered, offered - shorts
