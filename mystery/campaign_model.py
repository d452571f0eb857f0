"""The campaign's data: hour bands, callers, scenarios, commitments and the scoring grid."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from pathlib import Path

from config.loader import Interval


class CriterionType(enum.StrEnum):
    YESNO = "yesno"
    SCALE = "scale"  # 1 to 4
    SECONDS = "seconds"


@dataclass(frozen=True)
class Commitment:
    id: str
    label: str


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    question: str
    type: CriterionType
    weight: float
    critical: bool
    commitment: str
    na_allowed: bool = False
    scenarios: tuple[str, ...] = ()  # empty: every scenario
    target_seconds: float | None = None
    pickup: bool = False  # the criterion that measures the pickup time
    levels: tuple[str, ...] = ()
    help: str = ""
    action: str = ""

    def applies_to(self, scenario: str) -> bool:
        return not self.scenarios or scenario in self.scenarios


@dataclass(frozen=True)
class Band:
    id: str
    label: str
    days: tuple[int, ...]
    hours: Interval | None  # absolute band, or …
    before_closing: int | None  # … the last N minutes of each opening interval
    weight: float


@dataclass(frozen=True)
class Caller:
    id: str
    name: str
    phone: str  # the caller's own device, rung first by `qualiphone mystery call`
    availability: dict[int, tuple[Interval, ...]]
    unavailable: tuple[dt.date, ...] = ()
    max_calls: int | None = None
    max_per_day: int | None = None
    lines: tuple[str, ...] = ()  # numbers the switchboard sees as this caller's caller id


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    persona: str
    script: str
    expected: str
    weight: float = 1.0


@dataclass(frozen=True)
class Campaign:
    path: Path
    id: str
    name: str
    year: int
    code: str
    sites: tuple[str, ...]
    start: dt.date
    end: dt.date
    calls_per_site: int
    required_score: float  # out of 10
    min_gap_minutes: int
    slot_minutes: int
    closing_margin_minutes: int
    weekday_weights: dict[int, float]
    bands: tuple[Band, ...]
    callers: tuple[Caller, ...]
    scenarios: tuple[Scenario, ...]
    commitments: tuple[Commitment, ...]
    criteria: tuple[Criterion, ...]
    caller_lines: tuple[str, ...] = ()  # other numbers the campaign's calls come from
    ring_limit_seconds: int = 60
    max_attempts: int = 3
    retry_minutes: int = 15
    double_share: float = 0.15
    min_agreement: float = 0.8
    min_kappa: float = 0.6
    pickup_tolerance_seconds: float = 3.0
    source: str = field(default="", repr=False)

    def scenario(self, scenario_id: str) -> Scenario:
        return next(s for s in self.scenarios if s.id == scenario_id)

    def criterion(self, criterion_id: str) -> Criterion:
        return next(c for c in self.criteria if c.id == criterion_id)

    def commitment(self, commitment_id: str) -> Commitment:
        return next(c for c in self.commitments if c.id == commitment_id)

    @property
    def lines(self) -> tuple[str, ...]:
        """Every caller id the campaign's calls come from (callers' lines, then shared ones)."""
        return tuple(dict.fromkeys([*(n for c in self.callers for n in c.lines),
                                    *self.caller_lines]))

    @property
    def pickup_criterion(self) -> Criterion | None:
        return next((c for c in self.criteria if c.pickup), None)

    def criteria_for(self, scenario: str) -> list[Criterion]:
        return [c for c in self.criteria if c.applies_to(scenario)]
