"""What a parser yields besides calls: a rejected record, kept with its line and reason, and a
skipped call (not a call of a configured switchboard), counted with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reject:
    line: int | None
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A call the parser left out as no configured switchboard's (internal, outbound, another
    service's queue): one per skipped call, not per line. Only counted, never stored."""

    line: int | None
    reason: str


def no_site_reason(dialed: str | None, queue: str | None = None, context: str | None = None) -> str:
    """The Skipped reason of a call whose dialed number, queue and context match no site, e.g.
    `dialed "0612" / context "from-trunk" of no configured site` (absent parts left out)."""
    parts = [f'{name} "{value}"' for name, value in
             (("dialed", dialed), ("queue", queue), ("context", context)) if value]
    return " / ".join(parts or ["nothing dialed"]) + " of no configured site"


class RecordError(ValueError):
    """A record that cannot become a call; the message is the reason kept with it."""
