"""The canonical call record: one per inbound switchboard call, whatever the source."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields


class Outcome(enum.StrEnum):
    """How an inbound call ended, from the caller's point of view."""

    ANSWERED = "answered"  # a person's device was connected to the caller
    ABANDONED = "abandoned"  # the caller hung up before anyone answered
    SHORT_ABANDON = "short_abandon"  # ... within the short-abandon threshold
    BUSY = "busy"
    FAILED = "failed"
    CONGESTION = "congestion"
    MESSAGE = "message"  # answered by the site's after-hours or closure message
    VOICEMAIL = "voicemail"
    # Not classified: the directory (sites.toml) is incomplete. Never an abandon, never picked up.
    UNKNOWN_DEVICE = "unknown_device"  # connected to a device that is no staff_devices pattern
    MACHINE = "machine"  # answered by a machine application outside the message/voicemail contexts
    # (Last, so that the integer codes of the outcomes above never change: monitor.metrics.arrays.)
    NO_ANSWER = "no_answer"  # nobody answered and the PBX ended the call (a ring time-out, or
    # the dialplan hung up): not an abandon, the caller did not hang up


UNCLASSIFIED = frozenset({Outcome.UNKNOWN_DEVICE, Outcome.MACHINE})


class Source(enum.IntFlag):
    """Capture sources, ordered from the least to the most precise for times."""

    CSV = 1
    CDR = 2
    QUEUE_LOG = 4
    CEL = 8
    AMI = 16

    @property
    def rank(self) -> int:
        """Precision rank of a single source (higher wins when sources disagree)."""
        return int(self).bit_length()

    @classmethod
    def parse_names(cls, mask: int) -> list[str]:
        return [s.name.lower() for s in cls if s & mask and s.name]


@dataclass(frozen=True, slots=True)
class Call:
    """One inbound switchboard call. Times are UTC epoch seconds (float)."""

    pbx: str
    call_key: str
    site: str
    arrival: float
    outcome: Outcome
    source: Source
    linkedid: str | None = None
    dialed: str | None = None  # E.164 where it parses, else as written by the PBX
    caller_hash: str | None = None
    caller_raw: str | None = None
    caller_withheld: bool = False
    first_ring: float | None = None
    queue_entry: float | None = None
    # a person answered; for UNKNOWN_DEVICE the unknown device's connection, for MACHINE the
    # machine's answer (kept so that a corrected directory can reclassify the call)
    answer: float | None = None
    end: float | None = None
    answered_by: str | None = None  # the device; for MACHINE "Application@context"
    in_hours: bool = True
    is_test: bool = False
    incomplete: bool = False
    resolution: float = 1.0  # seconds: 1.0 for CDR/queue_log, 1e-6 for CEL/AMI
    local_date: str = ""  # YYYY-MM-DD in the site's time zone
    local_hour: int = 0
    local_weekday: int = 0  # 0 = Monday

    def __reduce__(self) -> tuple[type[Call], tuple[object, ...]]:
        """Pickled as its fields in order (an importer spools its calls to disk; the dataclass
        default, field by field through dataclasses.fields, took a second per month)."""
        return Call, tuple(getattr(self, name) for name in _CALL_FIELDS)

    @property
    def time_to_answer(self) -> float | None:
        """Seconds from arrival to a person's answer; None unless a person answered."""
        if self.answer is None or self.outcome is not Outcome.ANSWERED:
            return None
        return self.answer - self.arrival


_CALL_FIELDS = tuple(f.name for f in fields(Call))


@dataclass(slots=True)
class CallBuilder:
    """The facts one source gives about a call, filled in mutably by a parser.

    `ingest.finalize.finalize()` turns it into a validated `Call`: site, in-hours flag,
    caller pseudonym, local buckets and outcome refinements are decided there, once, for
    every source.
    """

    pbx: str
    call_key: str
    source: Source
    linkedid: str | None = None
    dialed: str | None = None
    queue: str | None = None
    context: str | None = None
    site: str | None = None  # when the source names it directly
    caller: str | None = None
    arrival: float | None = None
    first_ring: float | None = None
    queue_entry: float | None = None
    answer: float | None = None
    end: float | None = None
    answered_by: str | None = None
    # Connections the directory cannot classify, kept so that finalize never reads them as an
    # abandon: a device that is no staff phone of the site connected to the caller, and the
    # caller leg answered by a machine application (Playback, an IVR…) in a context that is
    # none of the site's message, voicemail or inbound contexts.
    other_answer: float | None = None
    other_device: str | None = None
    machine_answer: float | None = None
    machine: str | None = None  # "Application@context", e.g. "Playback@accueil-nuit"
    outcome: Outcome | None = None  # None: decided from answer/end
    is_test: bool = False
    incomplete: bool = False
    resolution: float = 1.0
    line: int | None = None  # first line of the source file this call came from
    raw: list[str] = field(default_factory=list)
    # the caller's device, and a trunk an outside number was dialed through: only to word the
    # reason of a call of no site (an internal or outbound call needs no DID)
    caller_device: str | None = None
    dialed_out: str | None = None
