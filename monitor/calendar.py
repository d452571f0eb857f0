"""Opening hours, planned closures and French public holidays of a site."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from config import Closure, Config, Site
from config.loader import NOON


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> dict[dt.date, str]:
    return dict(holidays.France(years=year, language="fr"))


def holiday_name(day: dt.date) -> str | None:
    return _french_holidays(day.year).get(day)


class SiteCalendar:
    """Answers "was this site open at this local time?" for one configuration."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._closures: dict[tuple[str, dt.date], list[Closure]] = {}
        for closure in config.closures:
            targets = config.site_ids if closure.site == "all" else [closure.site]
            for site_id in targets:
                self._closures.setdefault((site_id, closure.date), []).append(closure)

    def closures(self, site_id: str, day: dt.date) -> list[Closure]:
        return self._closures.get((site_id, day), [])

    def closure_at(self, site_id: str, local: dt.datetime) -> Closure | None:
        for closure in self.closures(site_id, local.date()):
            if closure.part == "day":
                return closure
            if (closure.part == "am") == (local.time() < NOON):
                return closure
        return None

    def is_open(self, site: Site, local: dt.datetime) -> bool:
        """Open at `local` (a naive or aware local wall-clock time of the site)."""
        day = local.date()
        if holiday_name(day) is not None or self.closure_at(site.id, local) is not None:
            return False
        moment = local.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in site.hours.get(day.weekday(), ()))

    def opening_intervals(self, site: Site, day: dt.date) -> list[tuple[dt.time, dt.time]]:
        """The day's opening intervals after holidays and closures."""
        if holiday_name(day) is not None:
            return []
        result = []
        for start, end in site.hours.get(day.weekday(), ()):
            pieces = [(start, end)]
            for closure in self.closures(site.id, day):
                cut = []
                for a, b in pieces:
                    if closure.part == "day":
                        continue
                    if closure.part == "am":
                        if b > NOON:
                            cut.append((max(a, NOON), b))
                    elif a < NOON:
                        cut.append((a, min(b, NOON)))
                pieces = cut
            result.extend(pieces)
        return result
