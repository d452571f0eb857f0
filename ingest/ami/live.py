"""What is happening now, for a wallboard: calls in progress per site, callers in queue.

The call tracker (`ingest.ami.calls`) keeps one `LiveCall` per inbound call in progress and
updates it in place; `LiveState` is the read side. It is plain in-memory data owned by the
listener's event loop: read it from that loop (an SSE handler, a rich refresh task) and use
`version` to tell whether anything changed since the last look. Times are PBX epoch seconds.

A call is *ringing* from the caller's point of view from its arrival until a person answers
(reference §8), whether the caller hears ringback or queue music; calls in the site's message
or voicemail contexts are not ringing any more.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from monitor.call import Call


@dataclass(slots=True)
class LiveCall:
    pbx: str
    call_key: str
    site: str | None
    arrival: float
    queue: str | None = None
    in_queue_since: float | None = None  # set while the caller waits in a queue
    first_ring: float | None = None
    answer: float | None = None
    devices_ringing: int = 0  # staff phones / members ringing now
    diverted: bool = False  # in the message or voicemail context
    unclassified: bool = False  # connected to a device the site directory does not know
    incomplete: bool = False

    @property
    def ringing(self) -> bool:
        return self.answer is None and not self.diverted and not self.unclassified

    def ring_seconds(self, now: float) -> float:
        return max(0.0, now - self.arrival)


@dataclass(slots=True)
class SiteNow:
    site: str
    ringing: int = 0
    longest_ring: float = 0.0  # seconds, 0 when nothing rings
    longest_ring_since: float | None = None
    waiting: int = 0  # callers in a queue now
    in_progress: int = 0


@dataclass
class LiveState:
    """Calls in progress (all PBXs of this process) and the recently finished ones."""

    calls: dict[tuple[str, str], LiveCall] = field(default_factory=dict)
    recent: deque[Call] = field(default_factory=lambda: deque(maxlen=5000))
    connected: dict[str, bool] = field(default_factory=dict)  # pbx -> AMI session up
    last_event: dict[str, float] = field(default_factory=dict)  # pbx -> PBX time of last event
    version: int = 0

    # ---- written by the tracker and the listener -------------------------------------------

    def add(self, call: LiveCall) -> None:
        self.calls[(call.pbx, call.call_key)] = call
        self.version += 1

    def remove(self, pbx: str, call_key: str) -> None:
        if self.calls.pop((pbx, call_key), None) is not None:
            self.version += 1

    def finished(self, call: Call) -> None:
        self.recent.append(call)
        self.version += 1

    def touch(self) -> None:
        self.version += 1

    # ---- read by a wallboard ----------------------------------------------------------------

    def ringing(self, site: str | None = None) -> list[LiveCall]:
        """Unanswered calls in progress, oldest first."""
        found = [c for c in self.calls.values() if c.ringing and (site is None or c.site == site)]
        return sorted(found, key=lambda c: c.arrival)

    def waiting(self, site: str | None = None) -> list[LiveCall]:
        """Callers waiting in a queue now."""
        return [c for c in self.calls.values()
                if c.in_queue_since is not None and (site is None or c.site == site)]

    def by_site(self, now: float, sites: list[str] | None = None) -> dict[str, SiteNow]:
        """Per site: calls ringing now, the longest current ring, callers in queue."""
        out = {s: SiteNow(s) for s in sites or ()}
        for call in self.calls.values():
            if call.site is None:
                continue
            row = out.setdefault(call.site, SiteNow(call.site))
            row.in_progress += 1
            if call.in_queue_since is not None:
                row.waiting += 1
            if call.ringing:
                row.ringing += 1
                seconds = call.ring_seconds(now)
                if seconds >= row.longest_ring:
                    row.longest_ring, row.longest_ring_since = seconds, call.arrival
        return out
