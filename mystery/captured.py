"""The monitor's side of a mystery call: the captured call record and the monitor's own figure.

A mystery call is matched only with a captured call the campaign can prove is its own: one
whose caller is one of the campaign's caller lines (`[[caller]] lines` and `caller_lines` of the
campaign file, compared through the same pseudonym as the capture), or that the PBX marked as a
test (`test_accountcodes`). Among those, at the same site, the closest in time within
`WINDOW_SECONDS` wins; the clock only breaks ties. A citizen's call at the same site in the same
minute is never attached. Every mystery call left unmatched or ambiguous is reported with the
reason; a matched call's `time_to_answer` is the PBX-measured pickup time of the mystery call.

`monitor_pickup_share` is the monitor's share of calls answered within the target for some
sites and days, from the answer-time core (`monitor.query.store_stats`, as `stats`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

import sqlalchemy as sa

from config import Config
from monitor.pseudonym import normalize_number, pseudonymizer_for
from monitor.store import Store
from monitor.store.models import calls
from mystery.models import mystery_planned_calls, mystery_results

WINDOW_SECONDS = 30 * 60.0  # a caller's noted time may be off by some minutes
TIE_SECONDS = 60.0  # two candidates this close to each other in distance: ambiguous


class MysteryCallRef(Protocol):
    """What matching needs to know of a mystery call."""

    @property
    def site(self) -> str: ...

    @property
    def called_at(self) -> float: ...


@dataclass(frozen=True)
class CampaignLines:
    """The campaign's caller lines as the store holds callers: hashed, or in clear."""

    hashes: frozenset[str] = frozenset()
    raw: frozenset[str] = frozenset()

    @classmethod
    def of(cls, numbers: Collection[str], config: Config) -> CampaignLines:
        normalized = {n for n in (normalize_number(x, config.capture.default_region)
                                  for x in numbers) if n}
        pseudo = pseudonymizer_for(config.capture)
        hashes = {h for n in normalized if (h := pseudo.caller_hash(n))} if pseudo else set()
        return cls(frozenset(hashes), frozenset(normalized))


@dataclass
class Match:
    row: sa.Row | None
    reason: str = ""  # why there is no match (unmatched or ambiguous)
    ambiguous: bool = False


def match_captured_call(store: Store, call: MysteryCallRef, lines: CampaignLines,
                        window: float = WINDOW_SECONDS, taken: Collection[int] = ()) -> Match:
    """The captured `calls` row of this mystery call among the campaign's own calls."""
    distance = sa.func.abs(calls.c.arrival - call.called_at)
    own: list[sa.ColumnElement[bool]] = [calls.c.is_test]
    if lines.hashes:
        own.append(calls.c.caller_hash.in_(sorted(lines.hashes)))
    if lines.raw:
        own.append(calls.c.caller_raw.in_(sorted(lines.raw)))
    near = sa.and_(calls.c.site == call.site,
                   calls.c.arrival.between(call.called_at - window, call.called_at + window))
    query = sa.select(calls, distance.label("distance")).where(near, sa.or_(*own))
    if taken:
        query = query.where(calls.c.id.not_in(list(taken)))
    with store.engine.connect() as conn:
        found = conn.execute(query.order_by(distance, calls.c.id).limit(2)).all()
        if not found:
            others = conn.execute(sa.select(sa.func.count()).where(near)).scalar() or 0
    when = dt.datetime.fromtimestamp(call.called_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if not found:
        also = (f"; {others} other calls then are not from its lines nor marked as tests, so they "
                "are not attached") if others else ""
        return Match(None, f"no call from the campaign's caller lines nor marked as a test at "
                           f"{call.site} within {window / 60:.0f} min of {when}{also}")
    if len(found) == 2 and found[1].distance - found[0].distance < TIE_SECONDS:
        return Match(None, f"{len(found)} calls from the campaign's lines at {call.site} near "
                           f"{when} are as close to the noted time; check the time and match "
                           "it by hand", ambiguous=True)
    return Match(found[0])


@dataclass
class MatchReport:
    looked: int = 0
    matched: int = 0
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (call id, reason)
    ambiguous: list[tuple[str, str]] = field(default_factory=list)


def match_campaign(store: Store, config: Config, campaign_id: str, *, rematch: bool = False,
                   lines: Collection[str] | None = None) -> MatchReport:
    """Fill pbx_ring_seconds of the campaign's results from their own captured calls.

    `lines` default to the campaign file's caller lines. Results placed through AMI
    (`pbx_channel_id` set) keep their own measure.
    """
    if lines is None:  # the campaign as it was planned (its definition is kept with the plan)
        from mystery.repository import stored_campaign

        lines = stored_campaign(store, campaign_id, config)[0].lines
    own = CampaignLines.of(lines, config)
    query = (
        sa.select(mystery_results.c.id, mystery_results.c.called_at, mystery_results.c.captured_call_id,
                  mystery_planned_calls.c.site, mystery_planned_calls.c.start_utc,
                  mystery_planned_calls.c.call_id)
        .join(mystery_planned_calls)
        .where(mystery_planned_calls.c.campaign_id == campaign_id,
               mystery_results.c.outcome != "not_made",
               mystery_results.c.pbx_channel_id.is_(None))
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    taken = {r.captured_call_id for r in rows if r.captured_call_id is not None and not rematch}
    todo = [r for r in rows if rematch or r.captured_call_id is None]
    report = MatchReport(looked=len(todo))
    for row in todo:
        found = match_captured_call(store, _Ref(row.site, row.called_at or row.start_utc), own,
                                    taken=taken)
        if found.row is None:
            (report.ambiguous if found.ambiguous else report.unmatched).append(
                (row.call_id, found.reason))
            if row.captured_call_id is not None:  # --rematch: an earlier match no longer holds
                with store.engine.begin() as conn:
                    conn.execute(sa.update(mystery_results).where(mystery_results.c.id == row.id)
                                 .values(captured_call_id=None, pbx_ring_seconds=None,
                                         pbx_linkedid=None))
            continue
        report.matched += 1
        taken.add(found.row.id)
        with store.engine.begin() as conn:
            conn.execute(sa.update(mystery_results).where(mystery_results.c.id == row.id).values(
                captured_call_id=found.row.id, pbx_ring_seconds=found.row.time_to_answer,
                pbx_linkedid=found.row.linkedid))
    return report


class _Ref:
    def __init__(self, site: str, called_at: float) -> None:
        self.site, self.called_at = site, called_at


def monitor_pickup_share(store: Store, sites: list[str], first: dt.date, last: dt.date,
                         threshold: float = 25.0) -> tuple[int, int]:
    """(answered within `threshold`, the pickup rate's denominator) of the captured calls of
    `sites` from `first` to `last`, as `qualiphone stats` counts them (the core's definition:
    in hours, test calls left out, short abandons and unclassified calls out of the
    denominator)."""
    from monitor.query import StatsRequest, store_stats

    request = StatsRequest(start=first, end=last, sites=tuple(sites), by="site",
                           merge_sites=True, threshold=threshold)
    cells = store_stats(store.engine, request)["site"]
    return int(cells.answered_within.sum()), int(cells.pickup_rate.n.sum())
