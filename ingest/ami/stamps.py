"""Is an event's `Timestamp` plausible? Checked against the receive time before any call uses it.

A PBX writes its own clock (`timestampevents = yes`); a broken or hostile one can write `nan`,
`inf`, `1e20` or a date decades away, which would crash the date arithmetic downstream or store a
call in the wrong year. The rule, per frame:

* the value must be a finite number between 2000-01-01 and 2100-01-01 (UTC);
* its offset from our receive time must be within `max_skew` seconds of the PBX's usual offset
  (the median of the last `window` offsets seen in this session). The PBX's clock may differ
  from ours (a simulator replaying another day, a clock never synchronised): only a jump away
  from what the other events show is implausible. The first events of a session (until
  `SETTLED` offsets are known) are only held to the first rule, so that one odd first event
  cannot make the good ones after it look wrong.

An implausible Timestamp is replaced by the receive time corrected by the usual offset (the
receive time itself while none is known, or for a PBX on the same clock as ours), and counted.
Offsets of implausible values within the date bounds still enter the window, so that a real
step of the PBX's clock is followed after a few events instead of being refused forever.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque

from ingest.ami.protocol import Message

log = logging.getLogger(__name__)

EARLIEST = 946_684_800.0  # 2000-01-01T00:00:00Z
LATEST = 4_102_444_800.0  # 2100-01-01T00:00:00Z
MAX_SKEW = 86_400.0  # seconds away from the PBX's usual clock offset
WINDOW = 15
SETTLED = 3  # offsets seen before a jump away from them is judged (one odd first event is not)


class StampCheck:
    """Checks and, when implausible, replaces the `Timestamp` of each event (see module doc)."""

    def __init__(self, max_skew: float = MAX_SKEW, window: int = WINDOW) -> None:
        self.max_skew = max_skew
        self._offsets: deque[float] = deque(maxlen=window)
        self.replaced = 0  # implausible Timestamps replaced by the receive time

    def reset(self) -> None:
        """A new session: the PBX may have restarted on another clock."""
        self._offsets.clear()

    def usual_offset(self) -> float | None:
        """The PBX's clock minus ours, as the recent events show it (None before any)."""
        return statistics.median(self._offsets) if self._offsets else None

    def check(self, msg: Message) -> str | None:
        """Retime `msg` when its Timestamp is implausible; returns why, else None."""
        text = msg.get("Timestamp")
        if msg.received is None or not text:
            return None  # a recorded frame, or no Timestamp at all (the untimed path)
        why = self._problem(text, msg.time, msg.received)
        if why is None:
            return None
        self.replaced += 1
        msg.retime(msg.received + (self.usual_offset() or 0.0))
        return why

    def _problem(self, text: str, t: float | None, received: float) -> str | None:
        if t is None:
            return f'Timestamp "{text[:40]}" is not a finite number'
        if not EARLIEST <= t < LATEST:
            return f'Timestamp "{text[:40]}" is outside 2000-2099'
        offset = t - received
        usual = self.usual_offset() if len(self._offsets) >= SETTLED else None
        self._offsets.append(offset)
        if usual is not None and abs(offset - usual) > self.max_skew:
            return (f'Timestamp "{text[:40]}" is {abs(offset - usual) / 3600:.0f} h away from the '
                    "PBX clock the other events show")
        return None
