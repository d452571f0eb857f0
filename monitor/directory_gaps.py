"""Directory gaps: what the site directory (sites.toml) does not place, and how much each gap
can move a published figure.

Kinds of gap:

* `device`  — a caller connected to a device no `staff_devices` pattern matches (outcome
  unknown_device); read as a person's answer (its time known), the site's pickup rate would
  change by the gap's `impact` points;
* `machine` — a caller answered by the dialplan outside the message/voicemail/inbound contexts
  (outcome machine); read as not picked up, the rate would change by `impact` points;
* `did`, `queue`, `context` — identifiers of calls that matched no site (kept as rejects when
  they looked inbound, else skipped); their site is unknown, so `impact` is their share of all
  the period's calls (up to that many points on any site's figure; `None` for skipped ones,
  which may be other services' calls);
* `silent_site` — a site with no call at all in the period while others had calls: no figure
  can be published for it.

A report `fails` when a gap changes a published figure by more than `points` (1 point by
default) or a site is silent: `qualiphone sites check` then exits non-zero for a timer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from monitor.call import Call, Outcome
from monitor.store.models import calls, directory_misses, import_batches

KINDS = ("device", "machine", "did", "queue", "context", "silent_site")
UNCLASSIFIED_VALUES = (Outcome.UNKNOWN_DEVICE.value, Outcome.MACHINE.value)


@dataclass(frozen=True)
class Gap:
    kind: str
    value: str
    site: str | None
    calls: int
    rejected: bool = False
    impact: float | None = None  # points of the pickup rate (see the module docstring)


@dataclass
class SiteCounts:
    """What a site's published pickup rate is made of, and the unclassified calls by value."""

    offered: int = 0
    excluded: int = 0  # short abandons and unclassified calls: out of the denominator
    within: int = 0
    devices: dict[str, list[int]] = field(default_factory=dict)  # device -> [calls, within 25 s]
    machines: dict[str, int] = field(default_factory=dict)  # App@context -> calls

    @property
    def denominator(self) -> int:
        return self.offered - self.excluded

    def rate(self, within: int = 0, extra: int = 0) -> float | None:
        n = self.denominator + extra
        return None if n <= 0 else (self.within + within) / n


@dataclass
class GapReport:
    start: dt.date
    end: dt.date
    gaps: list[Gap]
    threshold_points: float = 1.0

    def failing(self) -> list[Gap]:
        return [g for g in self.gaps if g.kind == "silent_site" or
                (g.impact is not None and g.impact > self.threshold_points)]

    @property
    def fails(self) -> bool:
        return bool(self.failing())


def _points(new: float | None, old: float | None) -> float | None:
    if new is None:
        return None
    return abs(new - (old or 0.0)) * 100


def site_gaps(counts: dict[str, SiteCounts]) -> list[Gap]:
    """Device and machine gaps per site, each with its effect on the site's pickup rate."""
    out: list[Gap] = []
    for site, c in sorted(counts.items()):
        published = c.rate()
        for device, (n, within) in sorted(c.devices.items(), key=lambda kv: -kv[1][0]):
            # read as a person's answer: back in the denominator, within if under 25 s
            out.append(Gap("device", device, site, n, impact=_points(c.rate(within, n), published)))
        for machine, n in sorted(c.machines.items(), key=lambda kv: -kv[1]):
            # read as not picked up (a message in hours, an abandon): back in the denominator
            out.append(Gap("machine", machine, site, n, impact=_points(c.rate(0, n), published)))
    return out


def counts_from_calls(found: Iterable[Call], threshold: float = 25.0) -> dict[str, SiteCounts]:
    """SiteCounts of calls in hand (as `stats` counts them: in hours, test calls left out)."""
    out: dict[str, SiteCounts] = {}
    for call in found:
        if not call.in_hours or call.is_test:
            continue
        c = out.setdefault(call.site, SiteCounts())
        c.offered += 1
        if call.outcome is Outcome.ANSWERED and call.answer is not None:
            c.within += round((call.answer - call.arrival) * 1e6) < round(threshold * 1e6)
        elif call.outcome is Outcome.SHORT_ABANDON:
            c.excluded += 1
        elif call.outcome is Outcome.UNKNOWN_DEVICE:
            c.excluded += 1
            entry = c.devices.setdefault(call.answered_by or "?", [0, 0])
            entry[0] += 1
            if call.answer is not None:
                entry[1] += round((call.answer - call.arrival) * 1e6) < round(threshold * 1e6)
        elif call.outcome is Outcome.MACHINE:
            c.excluded += 1
            key = call.answered_by or "?"
            c.machines[key] = c.machines.get(key, 0) + 1
    return out


def counts_from_store(engine: sa.Engine, start: dt.date, end: dt.date, sites: Sequence[str],
                      threshold: float = 25.0) -> dict[str, SiteCounts]:
    """SiteCounts of the stored calls of `sites` with a local date in start … end."""
    t = calls.c
    under = sa.func.round((sa.func.coalesce(t.answer, t.end_time) - t.arrival) * 1_000_000) < \
        round(threshold * 1_000_000)
    value = sa.case((t.outcome.in_(UNCLASSIFIED_VALUES), t.answered_by), else_=None)
    query = (
        sa.select(t.site, t.outcome, value, sa.func.sum(sa.case((under, 1), else_=0)),
                  sa.func.count())
        .where(t.local_date.between(start.isoformat(), end.isoformat()), t.site.in_(list(sites)),
               t.in_hours, sa.not_(t.is_test))
        .group_by(t.site, t.outcome, value)
    )
    out: dict[str, SiteCounts] = {}
    with engine.connect() as conn:
        for site, outcome, by, within, n in conn.execute(query):
            c = out.setdefault(site, SiteCounts())
            c.offered += n
            if outcome == Outcome.ANSWERED.value:
                c.within += within or 0
            elif outcome == Outcome.SHORT_ABANDON.value:
                c.excluded += n
            elif outcome == Outcome.UNKNOWN_DEVICE.value:
                c.excluded += n
                entry = c.devices.setdefault(by or "?", [0, 0])
                entry[0] += n
                entry[1] += within or 0
            elif outcome == Outcome.MACHINE.value:
                c.excluded += n
                c.machines[by or "?"] = c.machines.get(by or "?", 0) + n
    return out


@dataclass(frozen=True)
class MissRow:
    dialed: str | None
    queue: str | None
    context: str | None
    rejected: bool
    calls: int
    first_arrival: float | None = None
    last_arrival: float | None = None


def miss_gaps(misses: Iterable[MissRow], total_calls: int) -> list[Gap]:
    """Gaps of identifiers that matched no site, biggest first (rejects before skipped)."""
    merged: dict[tuple[str, str, bool], int] = {}
    for m in misses:
        kind, value = ("did", m.dialed) if m.dialed else ("queue", m.queue) if m.queue else \
            ("context", m.context or "?")
        key = (kind, value or "?", m.rejected)
        merged[key] = merged.get(key, 0) + m.calls
    out = []
    for (kind, value, rejected), n in merged.items():
        impact = 100.0 * n / (total_calls + n) if rejected and total_calls + n > 0 else None
        out.append(Gap(kind, value, None, n, rejected=rejected, impact=impact))
    return sorted(out, key=lambda g: (not g.rejected, -g.calls))


def misses_from_store(engine: sa.Engine, start: dt.date, end: dt.date) -> list[MissRow]:
    """Stored misses whose calls fall in the period (or whose times are unknown), from batches
    not superseded by a later import of the same file."""
    m = directory_misses.c
    lo = dt.datetime.combine(start, dt.time(0), dt.UTC).timestamp() - 86400
    hi = dt.datetime.combine(end, dt.time(0), dt.UTC).timestamp() + 2 * 86400
    query = (
        sa.select(m.dialed, m.queue, m.context, m.rejected, m.calls)
        .join(import_batches, import_batches.c.id == m.batch_id)
        .where(import_batches.c.status.in_(("done", "live")),
               sa.or_(m.first_arrival.is_(None), sa.and_(m.last_arrival >= lo, m.first_arrival < hi)))
    )
    with engine.connect() as conn:
        return [MissRow(*row) for row in conn.execute(query)]


def silent_sites(counts: dict[str, SiteCounts], sites: Sequence[str], misses: int = 0) -> list[Gap]:
    """Sites without any call while the PBX had traffic (calls of other sites, or calls that
    matched no site at all)."""
    if not misses and not any(c.offered for c in counts.values()):
        return []
    return [Gap("silent_site", s, s, 0) for s in sites if not counts.get(s, SiteCounts()).offered]


def check_store(engine: sa.Engine, start: dt.date, end: dt.date, sites: Sequence[str],
                threshold: float = 25.0, points: float = 1.0) -> GapReport:
    """Every directory gap the store shows for the period."""
    counts = counts_from_store(engine, start, end, sites, threshold)
    total = sum(c.offered for c in counts.values())
    misses = misses_from_store(engine, start, end)
    gaps = site_gaps(counts) + miss_gaps(misses, total) + \
        silent_sites(counts, sites, sum(m.calls for m in misses))
    return GapReport(start, end, gaps, points)
