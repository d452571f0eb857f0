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

Every call is looked at, in and outside opening hours (a message context missing from the
directory only shows after hours). The pickup rate is the published figure of opening hours, so
a gap's `rate_impact` counts its calls in hours only. After hours the published figure is the
share of the site's after-hours calls answered by the message (`afterhours.passive`: calls of a
closed site, test calls left out): a machine answer outside the message contexts after hours
is left out of it ("à classer"), so its `after_hours_impact` is its share of the site's
after-hours calls, in points. An unknown device after hours is a person's answer or a machine's,
never a failure of the message: it moves neither figure. A gap's `impact` is the larger of the
two.

A report `fails` when a gap changes a published figure by more than `points` (1 point by
default) or a site is silent: `qualiphone sites check` then exits non-zero for a timer. A report
with no call at all (`empty`) checked nothing: the imports or the listener may have stopped.
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
    impact: float | None = None  # points of a published figure (see the module docstring)
    after_hours: int = 0  # of `calls`, those that arrived while the site was closed
    rate_impact: float | None = None  # points of the pickup rate (opening hours)
    after_hours_impact: float | None = None  # points of the after-hours message share


@dataclass
class SiteCounts:
    """What a site's published pickup rate is made of, and the unclassified calls by value."""

    offered: int = 0
    excluded: int = 0  # short abandons and unclassified calls: out of the denominator
    within: int = 0
    devices: dict[str, list[int]] = field(default_factory=dict)  # device -> [calls, within 25 s]
    machines: dict[str, int] = field(default_factory=dict)  # App@context -> calls
    closed: int = 0  # calls that arrived while the site was closed (after hours)
    closed_devices: dict[str, int] = field(default_factory=dict)  # device -> after-hours calls
    closed_machines: dict[str, int] = field(default_factory=dict)  # App@context -> after-hours calls

    @property
    def calls(self) -> int:
        """Every call of the site, in and outside opening hours."""
        return self.offered + self.closed

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
    calls: int = 0  # calls of the checked sites in the period, every hour
    misses: int = 0  # calls that matched no site
    last_call: float | None = None  # the last stored call of the checked sites (empty reports)

    @property
    def empty(self) -> bool:
        """No call at all in the period: nothing was checked."""
        return not self.calls and not self.misses

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
    """Device and machine gaps per site, each with its effect on the site's published figures."""
    out: list[Gap] = []
    for site, c in sorted(counts.items()):
        published = c.rate()
        for device in _by_calls({d: v[0] for d, v in c.devices.items()}, c.closed_devices):
            n, within = c.devices.get(device, [0, 0])
            # read as a person's answer: back in the denominator, within if under 25 s
            rate = _points(c.rate(within, n), published) if n else 0.0
            out.append(_gap("device", device, site, n, c.closed_devices.get(device, 0), rate, None))
        for machine in _by_calls(c.machines, c.closed_machines):
            n, late = c.machines.get(machine, 0), c.closed_machines.get(machine, 0)
            # in hours read as not picked up (a message in hours, an abandon): back in the
            # denominator; after hours left out of the message share, which it may change
            rate = _points(c.rate(0, n), published) if n else 0.0
            share = 100.0 * late / c.closed if late else None
            out.append(_gap("machine", machine, site, n, late, rate, share))
    return out


def _by_calls(in_hours: dict[str, int], after_hours: dict[str, int]) -> list[str]:
    """The values of both, most calls first."""
    def calls(v: str) -> int:
        return in_hours.get(v, 0) + after_hours.get(v, 0)

    return sorted(in_hours.keys() | after_hours.keys(), key=lambda v: (-calls(v), v))


def _gap(kind: str, value: str, site: str, in_hours: int, after_hours: int,
         rate: float | None, share: float | None) -> Gap:
    known = [p for p in (rate, share) if p is not None]
    return Gap(kind, value, site, in_hours + after_hours, impact=max(known) if known else None,
               after_hours=after_hours, rate_impact=rate, after_hours_impact=share)


def counts_from_calls(found: Iterable[Call], threshold: float = 25.0) -> dict[str, SiteCounts]:
    """SiteCounts of calls in hand (in hours as `stats` counts them, after hours apart; test
    calls left out)."""
    out: dict[str, SiteCounts] = {}
    limit = round(threshold * 1e6)
    for call in found:
        if call.is_test:
            continue
        c = out.setdefault(call.site, SiteCounts())
        within = call.answer is not None and round((call.answer - call.arrival) * 1e6) < limit
        _count(c, call.outcome, call.in_hours, call.answered_by, int(within), 1)
    return out


def _count(c: SiteCounts, outcome: str, in_hours: bool, by: str | None, within: int,
           n: int) -> None:
    """Add `n` calls of one outcome (and answering device or machine) to `c`."""
    by = by or "?"
    if not in_hours:
        c.closed += n
        if outcome == Outcome.UNKNOWN_DEVICE.value:
            c.closed_devices[by] = c.closed_devices.get(by, 0) + n
        elif outcome == Outcome.MACHINE.value:
            c.closed_machines[by] = c.closed_machines.get(by, 0) + n
        return
    c.offered += n
    if outcome == Outcome.ANSWERED.value:
        c.within += within
    elif outcome == Outcome.SHORT_ABANDON.value:
        c.excluded += n
    elif outcome == Outcome.UNKNOWN_DEVICE.value:
        c.excluded += n
        entry = c.devices.setdefault(by, [0, 0])
        entry[0] += n
        entry[1] += within
    elif outcome == Outcome.MACHINE.value:
        c.excluded += n
        c.machines[by] = c.machines.get(by, 0) + n


def counts_from_store(engine: sa.Engine, start: dt.date, end: dt.date, sites: Sequence[str],
                      threshold: float = 25.0) -> dict[str, SiteCounts]:
    """SiteCounts of the stored calls of `sites` with a local date in start … end."""
    t = calls.c
    under = sa.func.round((sa.func.coalesce(t.answer, t.end_time) - t.arrival) * 1_000_000) < \
        round(threshold * 1_000_000)
    value = sa.case((t.outcome.in_(UNCLASSIFIED_VALUES), t.answered_by), else_=None)
    query = (
        sa.select(t.site, t.outcome, t.in_hours, value,
                  sa.func.sum(sa.case((under, 1), else_=0)), sa.func.count())
        .where(t.local_date.between(start.isoformat(), end.isoformat()), t.site.in_(list(sites)),
               sa.not_(t.is_test))
        .group_by(t.site, t.outcome, t.in_hours, value)
    )
    out: dict[str, SiteCounts] = {}
    with engine.connect() as conn:
        for site, outcome, in_hours, by, within, n in conn.execute(query):
            _count(out.setdefault(site, SiteCounts()), outcome, bool(in_hours), by, within or 0, n)
    return out


def last_call(engine: sa.Engine, sites: Sequence[str]) -> float | None:
    """Arrival (UTC epoch) of the last stored call of `sites`, test calls included."""
    query = sa.select(sa.func.max(calls.c.arrival)).where(calls.c.site.in_(list(sites)))
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return None if found is None else float(found)


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
    if not misses and not any(c.calls for c in counts.values()):
        return []
    return [Gap("silent_site", s, s, 0) for s in sites if not counts.get(s, SiteCounts()).calls]


def report_of(start: dt.date, end: dt.date, counts: dict[str, SiteCounts],
              misses: list[MissRow], sites: Sequence[str], points: float = 1.0) -> GapReport:
    """The report of a period's counts (of `sites`) and misses, from the store or files."""
    total = sum(c.calls for c in counts.values())
    missed = sum(m.calls for m in misses)
    gaps = site_gaps(counts) + miss_gaps(misses, total) + silent_sites(counts, sites, missed)
    return GapReport(start, end, gaps, points, calls=total, misses=missed)


def check_store(engine: sa.Engine, start: dt.date, end: dt.date, sites: Sequence[str],
                threshold: float = 25.0, points: float = 1.0) -> GapReport:
    """Every directory gap the store shows for the period."""
    counts = counts_from_store(engine, start, end, sites, threshold)
    misses = misses_from_store(engine, start, end)
    report = report_of(start, end, counts, misses, sites, points)
    if report.empty:
        report.last_call = last_call(engine, sites)
    return report
