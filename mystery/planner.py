"""Plan a campaign: stratified by site × weekday × hour band, random within strata, reproducible.

Times are local wall-clock minutes of the day on a 5-minute grid. A call may start in an opening
interval of the site (holidays and planned closures removed by `SiteCalendar`) up to
`closing_margin_minutes` before its end; the caller's slot (`slot_minutes`) must fit in one of the
caller's availability intervals, overlap none of the caller's other slots, and respect the
caller's daily and campaign capacity; two calls to one site are `min_gap_minutes` apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from config import Config, Site
from monitor.calendar import SiteCalendar
from monitor.timeutil import local_to_epoch, zone
from mystery.campaign import Caller, Campaign

STEP = 5  # minutes between two candidate start times
Stratum = tuple[int, str]  # (weekday, band id)
Slot = tuple[dt.date, int]  # (local date, minute of the day)
K = TypeVar("K")


class PlanningError(Exception):
    """No slot satisfies the constraints for a call of a site."""

    def __init__(self, site: str, reason: str) -> None:
        self.site, self.reason = site, reason
        super().__init__(f'cannot place every call of site "{site}": {reason}')


@dataclass(frozen=True)
class PlannedCall:
    call_id: str
    site: str
    start: dt.datetime  # local wall-clock time of the site, naive
    epoch: float  # the same instant, UTC epoch seconds
    band: str
    caller: str
    scenario: str
    double: bool = False  # scored by a second person too

    @property
    def weekday(self) -> int:
        return self.start.weekday()


@dataclass
class Plan:
    campaign: Campaign
    seed: int
    calls: list[PlannedCall]
    moved: list[str] = field(default_factory=list)  # calls placed outside their drawn stratum


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _grid(start: int, last: int) -> range:
    """Minutes on the 5-minute grid from `start` to `last` inclusive."""
    return range(-(-start // STEP) * STEP, last + 1, STEP)


def day_candidates(campaign: Campaign, site: Site, calendar: SiteCalendar,
                   day: dt.date) -> dict[str, list[int]]:
    """Start minutes of each band on `day` (empty bands left out)."""
    margin = max(campaign.closing_margin_minutes, 1)  # a call starts before the closing time
    intervals = [(_minutes(a), _minutes(b)) for a, b in calendar.opening_intervals(site, day)]
    bands = [b for b in campaign.bands if day.weekday() in b.days]
    closing: dict[str, set[int]] = {}
    for band in bands:
        if band.before_closing is not None:
            n = band.before_closing
            closing[band.id] = {m for a, b in intervals for m in _grid(max(a, b - n), b - margin)}
    taken = set().union(*closing.values()) if closing else set()
    result = {band_id: sorted(ms) for band_id, ms in closing.items() if ms}
    for band in (b for b in bands if b.hours is not None):
        lo, hi = (_minutes(t) for t in band.hours)  # type: ignore[union-attr]
        starts = [m for a, b in intervals for m in _grid(max(a, lo), min(hi - 1, b - margin))
                  if m not in taken]
        if starts:
            result[band.id] = starts
    return result


def site_strata(campaign: Campaign, site: Site, calendar: SiteCalendar) -> dict[Stratum, list[Slot]]:
    """Every candidate slot of the campaign period for `site`, grouped by stratum."""
    strata: dict[Stratum, list[Slot]] = defaultdict(list)
    day = campaign.start
    while day <= campaign.end:
        for band_id, minutes in day_candidates(campaign, site, calendar, day).items():
            strata[(day.weekday(), band_id)].extend((day, m) for m in minutes)
        day += dt.timedelta(days=1)
    order = {b.id: i for i, b in enumerate(campaign.bands)}
    return dict(sorted(strata.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])))


def stratum_weight(campaign: Campaign, stratum: Stratum) -> float:
    band = next(b for b in campaign.bands if b.id == stratum[1])
    return campaign.weekday_weights[stratum[0]] * band.weight


def apportion(weights: dict[K, float], n: int, carry: dict[K, float], rng: random.Random) -> Counter[K]:
    """n calls shared in proportion to weights: each key gets the floor or the ceiling of n·w/W.

    The extra calls go to the keys with the largest remainder plus `carry`, the shortfall left
    by earlier sites (updated here), so that the whole plan stays balanced too.
    """
    total = sum(weights.values())
    quotas = {k: n * w / total for k, w in weights.items()}
    counts = Counter({k: int(q) for k, q in quotas.items()})
    extra = n - sum(counts.values())
    ranked = sorted(quotas, key=lambda k: quotas[k] - counts[k] + carry.get(k, 0.0) + rng.random() * 1e-6,
                    reverse=True)
    for k in ranked[:extra]:
        counts[k] += 1
    for k, q in quotas.items():
        carry[k] = carry.get(k, 0.0) + q - counts[k]
    return counts


def _marginal(keys: list[Stratum], campaign: Campaign, part: int) -> dict[Any, float]:
    weights: dict[Any, float] = defaultdict(float)
    for key in keys:
        weights[key[part]] += stratum_weight(campaign, key)
    return weights


def allocate(campaign: Campaign, keys: list[Stratum], carry: list[dict[Any, float]],
             rng: random.Random) -> list[Stratum]:
    """The strata of a site's calls: weekdays and bands apportioned apart, then paired at random."""
    n = campaign.calls_per_site
    days = sorted(apportion(_marginal(keys, campaign, 0), n, carry[0], rng).elements())
    bands = list(apportion(_marginal(keys, campaign, 1), n, carry[1], rng).elements())
    available = set(keys)
    for _ in range(200):
        rng.shuffle(bands)
        if all((d, b) in available for d, b in zip(days, bands, strict=True)):
            return list(zip(days, bands, strict=True))
    # no pairing fits (a band missing on some weekday): keep the weekdays, draw bands by weight
    result = []
    for day in days:
        options = [k for k in keys if k[0] == day]
        result.append(rng.choices(options, [stratum_weight(campaign, k) for k in options])[0])
    return result


class _Book:
    """Who is booked when: the constraints shared by every site of the plan."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.site_calls: dict[str, list[Slot]] = defaultdict(list)
        self.caller_calls: dict[str, list[Slot]] = defaultdict(list)
        self.caller_sites: Counter[tuple[str, str]] = Counter()

    def site_free(self, site: str, slot: Slot) -> bool:
        gap = self.campaign.min_gap_minutes
        return all(abs((slot[0] - d).days * 1440 + slot[1] - m) >= gap for d, m in self.site_calls[site])

    def caller_free(self, caller: Caller, slot: Slot) -> bool:
        day, start = slot
        end = start + self.campaign.slot_minutes
        if day in caller.unavailable or not any(
            _minutes(a) <= start and end <= _minutes(b) for a, b in caller.availability[day.weekday()]
        ):
            return False
        booked = self.caller_calls[caller.id]
        same_day = [m for d, m in booked if d == day]
        if caller.max_calls is not None and len(booked) >= caller.max_calls:
            return False
        if caller.max_per_day is not None and len(same_day) >= caller.max_per_day:
            return False
        return all(abs(start - m) >= self.campaign.slot_minutes for m in same_day)

    def callers_for(self, slot: Slot) -> list[Caller]:
        return [c for c in self.campaign.callers if self.caller_free(c, slot)]

    def book(self, site: str, caller: str, slot: Slot) -> None:
        self.site_calls[site].append(slot)
        self.caller_calls[caller].append(slot)
        self.caller_sites[(caller, site)] += 1


def _pick(book: _Book, site: str, slots: list[Slot], rng: random.Random) -> tuple[Slot, Caller] | None:
    """A random feasible slot, preferring a date the site has no call on yet, and its caller."""
    used = {d for d, _ in book.site_calls[site]}
    feasible = [s for s in slots if book.site_free(site, s)]
    fresh = [s for s in feasible if s[0] not in used]
    for pool in (fresh, feasible):
        pool = pool[:]
        rng.shuffle(pool)
        for slot in pool:
            callers = book.callers_for(slot)
            if callers:
                caller = min(callers, key=lambda c: (book.caller_sites[(c.id, site)],
                                                     len(book.caller_calls[c.id]), c.id))
                return slot, caller
    return None


def plan_campaign(campaign: Campaign, config: Config, seed: int) -> Plan:
    """The campaign's plan for `seed`; raises PlanningError when a call cannot be placed."""
    rng = random.Random(seed)
    calendar = SiteCalendar(config)
    book = _Book(campaign)
    wanted: dict[str, list[Stratum]] = {}
    strata: dict[str, dict[Stratum, list[Slot]]] = {}
    carry: list[dict[Any, float]] = [{}, {}]
    for site_id in campaign.sites:
        strata[site_id] = site_strata(campaign, config.site(site_id), calendar)
        keys = list(strata[site_id])
        if not keys:
            raise PlanningError(site_id, "the site is never open in the campaign's bands and period")
        wanted[site_id] = allocate(campaign, keys, carry, rng)
    placed: list[tuple[str, Slot, str, str]] = []
    moved: list[str] = []
    order = list(campaign.sites)
    for k in range(campaign.calls_per_site):
        rng.shuffle(order)
        for site_id in order:
            placed.append(_place(book, site_id, wanted[site_id][k], strata[site_id], rng, moved))
    return _finish(campaign, config, seed, placed, moved, rng)


def _place(book: _Book, site: str, stratum: Stratum, strata: dict[Stratum, list[Slot]],
           rng: random.Random, moved: list[str]) -> tuple[str, Slot, str, str]:
    """Place one call in its stratum, else in another band of that weekday, else anywhere."""
    fallbacks = sorted((k for k in strata if k != stratum),
                       key=lambda k: (k[0] != stratum[0], -stratum_weight(book.campaign, k)))
    for key in (stratum, *fallbacks):
        found = _pick(book, site, strata[key], rng)
        if found:
            slot, caller = found
            book.book(site, caller.id, slot)
            if key != stratum:
                moved.append(f"{site}: {stratum} → {key}")
            return site, slot, key[1], caller.id
    raise PlanningError(site, "no free caller or slot left (add callers, widen their "
                        "availability, lengthen the period or lower min_gap_minutes)")


def site_code(site_id: str) -> str:
    """The site part of a call id: "eps-05" → "05", "eps-centre" → "CENTRE"."""
    return site_id.rsplit("-", 1)[-1].upper()


def _scenarios(campaign: Campaign, n: int, offset: int, rng: random.Random) -> list[str]:
    """n scenarios in proportion to their weights (largest remainder), in random order."""
    total = sum(s.weight for s in campaign.scenarios)
    quotas = [n * s.weight / total for s in campaign.scenarios]
    counts = [int(q) for q in quotas]
    k = len(quotas)
    ranked = sorted(range(k), key=lambda i: (-(quotas[i] - counts[i]), (i - offset) % k))
    for i in ranked[: n - sum(counts)]:
        counts[i] += 1
    result = [s.id for s, c in zip(campaign.scenarios, counts, strict=True) for _ in range(c)]
    rng.shuffle(result)
    return result


def _finish(campaign: Campaign, config: Config, seed: int, placed: list[tuple[str, Slot, str, str]],
            moved: list[str], rng: random.Random) -> Plan:
    """Number the calls per site in time order, give scenarios and the double-scoring sample."""
    codes = {s: site_code(s) for s in campaign.sites}
    if len(set(codes.values())) != len(codes):
        codes = {s: s.replace("-", "").upper() for s in campaign.sites}
    calls: list[PlannedCall] = []
    for index, site_id in enumerate(campaign.sites):
        mine = sorted((p for p in placed if p[0] == site_id), key=lambda p: p[1])
        tz = zone(config.pbxs[config.site(site_id).pbx].timezone)
        scenarios = _scenarios(campaign, len(mine), index, rng)
        for number, ((_, (day, minute), band, caller), scenario) in enumerate(
                zip(mine, scenarios, strict=True), start=1):
            start = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
            calls.append(PlannedCall(
                call_id=f"{campaign.code}-{codes[site_id]}-{number:03d}", site=site_id, start=start,
                epoch=local_to_epoch(start, tz), band=band, caller=caller, scenario=scenario,
            ))
    k = round(campaign.double_share * len(calls))
    doubles = set(rng.sample([c.call_id for c in calls], k))
    calls = [dataclasses.replace(c, double=c.call_id in doubles) for c in calls]
    return Plan(campaign, seed, calls, moved)

