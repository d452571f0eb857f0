"""What a parser yields besides calls: a rejected record, kept with its line and reason, and a
skipped call (not a call of a configured switchboard), counted with its reason. Both carry the
identifiers that matched no site (`Miss`), so that directory gaps can be listed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Miss:
    """The PBX identifiers of a call that matched no site of the directory."""

    dialed: str | None = None
    queue: str | None = None
    context: str | None = None
    arrival: float | None = None
    outbound: bool = False  # placed from an internal device or dialed out through a trunk:
    # kept as a reject, but nothing the directory lacks


@dataclass(frozen=True, slots=True)
class Reject:
    line: int | None
    reason: str
    raw: str
    miss: Miss | None = None  # set when the record was refused as "unknown site"
    call: bool = False  # a call read whole but kept apart (e.g. still in progress), not a bad line

    def __reduce__(self) -> tuple[type[Reject], tuple[object, ...]]:
        return Reject, (self.line, self.reason, self.raw, self.miss, self.call)  # quick to spool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A call the parser left out as no configured switchboard's (internal, outbound, another
    service's queue): one per skipped call, not per line. Counted, never stored as a call."""

    line: int | None
    reason: str
    miss: Miss | None = None  # set when it was left out because nothing matched a site

    @classmethod
    def no_site(cls, line: int | None, dialed: str | None, queue: str | None = None,
                context: str | None = None, arrival: float | None = None) -> Skipped:
        return cls(line, no_site_reason(dialed, queue, context),
                   Miss(dialed or None, queue or None, context or None, arrival))


def no_site_reason(dialed: str | None, queue: str | None = None, context: str | None = None) -> str:
    """The Skipped reason of a call whose dialed number, queue and context match no site, e.g.
    `dialed "0612" / context "from-trunk" of no configured site` (absent parts left out)."""
    parts = [f'{name} "{value}"' for name, value in
             (("dialed", dialed), ("queue", queue), ("context", context)) if value]
    return " / ".join(parts or ["nothing dialed"]) + " of no configured site"


def unexpected(exc: BaseException) -> str:
    """The reject reason of a record that raised an error no parser foresaw: the record is kept
    and the batch goes on; the error is a defect of qualiphone to report."""
    return (f"could not be read: unexpected {type(exc).__name__} ({str(exc)[:200]}); please "
            "report this line to the qualiphone maintainers")


class RecordError(ValueError):
    """A record that cannot become a call; the message is the reason kept with it."""


class UnknownSiteError(RecordError):
    """A call that looks inbound (a real dialed number) but whose identifiers match no site."""

    def __init__(self, message: str, miss: Miss) -> None:
        super().__init__(message)
        self.miss = miss
