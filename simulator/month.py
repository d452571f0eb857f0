"""Simulate a month for every site and write the PBX files, the truth and a summary."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from config import Config
from monitor.calendar import SiteCalendar
from monitor.call import Outcome
from simulator.arrivals import day_bounds
from simulator.ids import IdAssigner
from simulator.model import month_days, simulate_day
from simulator.timeline import SimCall
from simulator.truth import TruthFile
from simulator.writers.cdr import CdrFile
from simulator.writers.cel import CelFile
from simulator.writers.queue_log import QueueLogFile

CDR_FILE, QUEUE_LOG_FILE, CEL_FILE, TRUTH_FILE = (
    "Master.csv", "queue_log", "cel-custom/Master.csv", "truth.csv")


@dataclass
class SiteCounts:
    calls: int = 0
    closed: int = 0  # arrived outside opening hours (message)
    tests: int = 0
    answered: int = 0
    within: int = 0  # answered by a person within the target
    abandoned: int = 0
    other: int = 0  # busy, failed, voicemail


@dataclass
class MonthSummary:
    month: str
    out: Path
    threshold: float
    sites: dict[str, SiteCounts] = field(default_factory=dict)
    cdr_rows: int = 0
    queue_log_lines: int = 0
    cel_rows: int = 0

    def add(self, call: SimCall) -> None:
        c = self.sites.setdefault(call.site, SiteCounts())
        c.calls += 1
        if call.is_test:
            c.tests += 1
        elif call.outcome is Outcome.MESSAGE:
            c.closed += 1
        elif call.outcome is Outcome.ANSWERED:
            c.answered += 1
            c.within += call.answer is not None and call.answer - call.arrival < self.threshold
        elif call.outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDON):
            c.abandoned += 1
        else:
            c.other += 1

    @property
    def total(self) -> SiteCounts:
        total = SiteCounts()
        for counts in self.sites.values():
            for name in total.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(counts, name))
        return total


class Sinks:
    """The four files of a simulation, fed call by call in arrival order."""

    def __init__(self, outs: Sequence[TextIO], tz: ZoneInfo, start: float) -> None:
        """outs: the CDR, queue_log, CEL and truth streams; start: the queue_log's QUEUESTART."""
        cdr, queue_log, cel, truth = outs
        self.cdr, self.queue_log = CdrFile(cdr, tz), QueueLogFile(queue_log, start)
        self.cel, self.truth = CelFile(cel), TruthFile(truth)
        self._all = (self.cdr, self.queue_log, self.cel, self.truth)

    def feed(self, call: SimCall) -> None:
        for sink in self._all:
            sink.feed(call)

    def close(self) -> None:
        for sink in self._all:
            sink.close()


@dataclass
class Rendered:
    cdr: str
    queue_log: str
    cel: str
    truth: str


def render(calls: list[SimCall], tz: ZoneInfo) -> Rendered:
    """The four files, in memory, for calls whose ids are assigned (in arrival order)."""
    outs = [io.StringIO() for _ in range(4)]
    sinks = Sinks(outs, tz, calls[0].arrival if calls else 0.0)
    for call in calls:
        sinks.feed(call)
    sinks.close()
    return Rendered(*(out.getvalue() for out in outs))


def _named_calls(config: Config, dates: list[dt.date], seed: int, sites: list[str],
                 progress: Callable[[dt.date], None] | None) -> Iterator[SimCall]:
    """The calls of every day, ids assigned, in arrival order."""
    calendar, ids = SiteCalendar(config), IdAssigner()
    for day in dates:
        if progress:
            progress(day)
        yield from ids.feed(simulate_day(config, day, seed, sites, calendar))
    yield from ids.drain()


def write_month(config: Config, month: str, out: Path, seed: int = 0,
                days: int | None = None, pbx: str | None = None,
                progress: Callable[[dt.date], None] | None = None) -> MonthSummary:
    """Write Master.csv, queue_log, cel-custom/Master.csv and truth.csv in `out` for the month
    (its first `days` days) and the sites of one PBX (default: the first of settings.toml)."""
    dates = month_days(month)[:days]
    pbx = pbx or next(iter(config.pbxs))
    sites = [site.id for site in config.sites if site.pbx == pbx]
    tz = config.pbxs[pbx].tz
    summary = MonthSummary(month, out, config.targets.threshold_seconds,
                           {site_id: SiteCounts() for site_id in sites})
    (out / "cel-custom").mkdir(parents=True, exist_ok=True)
    names = (CDR_FILE, QUEUE_LOG_FILE, CEL_FILE, TRUTH_FILE)
    with ExitStack() as stack:
        files = [stack.enter_context((out / n).open("w", encoding="utf-8", newline=""))
                 for n in names]
        sinks = Sinks(files, tz, day_bounds(dates[0], tz)[0])
        for call in _named_calls(config, dates, seed, sites, progress):
            sinks.feed(call)
            summary.add(call)
            call.events.clear()  # keep memory flat over a month
        sinks.close()
    summary.cdr_rows, summary.cel_rows = sinks.cdr.rows.written, sinks.cel.rows.written
    summary.queue_log_lines = sinks.queue_log.lines.written + 1
    return summary
