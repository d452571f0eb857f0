"""The stats explorer's figures: `monitor.query.store_stats` and `monitor.metrics.records`,
asked exactly as `qualiphone stats` asks them (monitor/stats_cli.py), so that a period, a choice
of sites and a grouping give the same cells as `qualiphone stats --format json`
(tests/web/test_web_figures.py compares them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sqlalchemy as sa

from config import Config
from monitor.metrics.records import columns, records
from monitor.metrics.summary import CellStats
from monitor.query import StatsRequest, store_stats

GROUPINGS = {"site": "par site", "day": "par jour", "hour": "par heure de la journée",
             "weekday-hour": "par jour de la semaine et heure"}
MAX_DAYS = 400  # a longer period is refused (a year and a month)


class ExploreError(ValueError):
    """A bad explorer request; the message is French, for the page."""


def request_for(config: Config, start: dt.date, end: dt.date, sites: Sequence[str], by: str,
                in_hours: bool = True, merge_sites: bool = False) -> StatsRequest:
    """The StatsRequest `qualiphone stats --from … --to … --site … --by …` builds."""
    chosen = tuple(dict.fromkeys(sites))
    targets = config.targets
    zones = {config.pbxs[config.site(s).pbx].timezone for s in chosen}
    return StatsRequest(
        start=start, end=end, sites=chosen, by=by, in_hours_only=in_hours, merge_sites=merge_sites,
        all_sites=set(chosen) == set(config.site_ids), clock_start=targets.clock_start,
        threshold=targets.threshold_seconds, ring_period=targets.ring_period_seconds,
        tz=zones.pop() if len(zones) == 1 else "Europe/Paris")


def drop_empty_periods(stats: CellStats) -> CellStats:
    """The periods where no shown site had a call are left out, as `stats` does by default."""
    periods = len(dict.fromkeys(stats.period))
    busy = stats.offered.reshape(-1, periods).sum(axis=0) > 0
    return stats.take(np.tile(busy, stats.n // periods))


def cells(engine: sa.Engine, request: StatsRequest) -> CellStats:
    stats = store_stats(engine, request)[request.by]
    return stats if request.by == "site" else drop_empty_periods(stats)


@dataclass
class Exploration:
    """The table's cells and the charts' series for one explorer request."""

    request: StatsRequest
    table: CellStats
    rates: list[dict[str, Any]]  # pickup rate per site (by site) or per period, sites merged
    total: dict[str, Any]  # the selected sites together over the period (ring histogram)
    heatmap: list[dict[str, Any]]  # weekday × hour, sites merged

    @property
    def records(self) -> list[dict[str, Any]]:
        return records(self.table)

    @property
    def columns(self) -> dict[str, list[Any]]:
        return columns(self.table)


def explore(engine: sa.Engine, config: Config, start: dt.date, end: dt.date,
            sites: Sequence[str], by: str, in_hours: bool = True) -> Exploration:
    if by not in GROUPINGS:
        raise ExploreError(f"Regroupement inconnu « {by} ».")
    if end < start:
        raise ExploreError("La date de fin précède la date de début.")
    if (end - start).days >= MAX_DAYS:
        raise ExploreError(f"Choisissez une période de moins de {MAX_DAYS} jours.")
    request = request_for(config, start, end, sites, by, in_hours)
    table = cells(engine, request)
    merged = replace(request, merge_sites=True)
    total = records(cells(engine, replace(merged, by="site")))[0]
    rates = records(table) if by == "site" else records(cells(engine, merged))
    heat = records(cells(engine, replace(merged, by="weekday-hour")))
    return Exploration(request, table, rates, total, heat)
