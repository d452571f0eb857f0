"""How balanced a plan is: calls per site, weekday, band and caller against their targets."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from config import Config
from monitor.calendar import SiteCalendar
from mystery.planner import Plan, site_strata, stratum_weight


@dataclass(frozen=True)
class Balance:
    per_site: Counter[str]
    per_weekday: Counter[int]
    per_band: Counter[str]
    per_caller: Counter[str]
    weekday_target: dict[int, float]
    band_target: dict[str, float]
    min_site_gap_minutes: float | None  # smallest gap between two calls to one site

    @property
    def max_deviation(self) -> float:
        """Largest gap, in calls, between a weekday's or a band's count and its target."""
        pairs = [(self.per_weekday[k], v) for k, v in self.weekday_target.items()]
        pairs += [(self.per_band[k], v) for k, v in self.band_target.items()]
        return max((abs(a - b) for a, b in pairs), default=0.0)


def targets(plan: Plan, config: Config) -> tuple[dict[int, float], dict[str, float]]:
    """Expected calls per weekday and per band: each site's calls shared by stratum weight."""
    calendar = SiteCalendar(config)
    by_day: dict[int, float] = {}
    by_band: dict[str, float] = {b.id: 0.0 for b in plan.campaign.bands}
    n = plan.campaign.calls_per_site
    for site_id in plan.campaign.sites:
        keys = list(site_strata(plan.campaign, config.site(site_id), calendar))
        weights = {k: stratum_weight(plan.campaign, k) for k in keys}
        total = sum(weights.values())
        for (day, band), w in weights.items():
            by_day[day] = by_day.get(day, 0.0) + n * w / total
            by_band[band] += n * w / total
    return dict(sorted(by_day.items())), by_band


def balance(plan: Plan, config: Config) -> Balance:
    by_day, by_band = targets(plan, config)
    gaps = []
    for site_id in plan.campaign.sites:
        times = sorted(c.epoch for c in plan.calls if c.site == site_id)
        gaps += [(b - a) / 60 for a, b in itertools.pairwise(times)]
    return Balance(
        per_site=Counter(c.site for c in plan.calls),
        per_weekday=Counter(c.weekday for c in plan.calls),
        per_band=Counter(c.band for c in plan.calls),
        per_caller=Counter(c.caller for c in plan.calls),
        weekday_target=by_day, band_target=by_band,
        min_site_gap_minutes=min(gaps) if gaps else None,
    )
