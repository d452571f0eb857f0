"""What a parser yields besides calls: a rejected record, kept with its line and reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reject:
    line: int | None
    reason: str
    raw: str


class RecordError(ValueError):
    """A record that cannot become a call; the message is the reason kept with it."""
