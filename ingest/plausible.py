"""The window of plausible times: a time a PBX writes outside it is a reject, not a call.

A PBX whose clock was reset (1970), a hand-edited year (2099, 9999) or a mangled epoch must not
become a call of that date, nor crash the date arithmetic further on. The window runs from
`capture.plausible_from` (default 2000-01-01, UTC) to now + `capture.plausible_days_ahead`
(default 1 day) and is fixed when the capture context is made.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path

from config import CaptureSettings
from ingest.records import RecordError


@dataclass(frozen=True)
class TimeWindow:
    earliest: float  # UTC epoch seconds
    latest: float
    settings: Path  # the settings.toml that sets it, for the reject reason

    @classmethod
    def from_settings(cls, capture: CaptureSettings, settings: Path,
                      now: float | None = None) -> TimeWindow:
        first = dt.datetime.combine(capture.plausible_from, dt.time(), dt.UTC).timestamp()
        now = time.time() if now is None else now
        return cls(first, now + capture.plausible_days_ahead * 86400, settings)

    def problem(self, epoch: float, name: str, shown: str | None = None) -> str | None:
        """Why `epoch` (the field `name`, written `shown` in the source) is not plausible."""
        if not math.isfinite(epoch):
            return f'{name} is not a finite time: "{shown or epoch}"'
        if self.earliest <= epoch <= self.latest:
            return None
        return self.outside(name, shown or utc_text(epoch))

    def outside(self, name: str, shown: str) -> str:
        """The reason of a time outside the window, written `shown` in the source."""
        first, last = (dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat()
                       for t in (self.earliest, self.latest))
        return (f'{name} "{shown}" is outside the plausible dates {first} to {last} '
                f"(capture.plausible_from and capture.plausible_days_ahead in {self.settings}): "
                "check the PBX's clock, or widen them")

    def year_outside(self, year: int) -> bool:
        """Whether no time of `year` is in the window (for a date too odd to convert)."""
        first, last = (dt.datetime.fromtimestamp(t, dt.UTC).year
                       for t in (self.earliest, self.latest))
        return not first <= year <= last

    def check(self, epoch: float, name: str, shown: str | None = None) -> None:
        """Raise RecordError with the reason when `epoch` is not plausible."""
        problem = self.problem(epoch, name, shown)
        if problem is not None:
            raise RecordError(problem)


def utc_text(epoch: float) -> str:
    """`YYYY-MM-DD HH:MM:SS UTC`, or the number itself when no calendar date holds it."""
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{epoch:.0f}"
