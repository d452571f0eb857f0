"""The simulated PBX's clock: PBX time running `speed` times faster than the wall clock.

`SimClock` is anchored at a PBX time (`start`) at the moment it is created; `ManualClock` only
moves when a test moves it. Both answer `now()` (PBX epoch seconds, what `Timestamp` headers
carry) and `wall_delay(t)` (wall seconds to wait before PBX time `t`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol
from zoneinfo import ZoneInfo

POLL = 0.01  # a manual clock is polled this often (wall seconds)


class Clock(Protocol):
    speed: float

    def now(self) -> float: ...

    def restart(self) -> None: ...

    def wall_delay(self, t: float) -> float: ...


class SimClock:
    """PBX time = start + (wall time elapsed) × speed."""

    def __init__(self, start: float, speed: float = 1.0,
                 wall: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.start, self.speed, self._wall = start, speed, wall
        self._wall0 = wall()

    def now(self) -> float:
        return self.start + (self._wall() - self._wall0) * self.speed

    def restart(self) -> None:
        """Start again from `start` now (a replay waits for its first client)."""
        self._wall0 = self._wall()

    def wall_delay(self, t: float) -> float:
        return (t - self.now()) / self.speed

    def wall_time_of(self, t: float) -> float:
        """The `time.time()` at which PBX time t comes (for latency measurements)."""
        return time.time() + self.wall_delay(t)


class ManualClock:
    """A clock that only moves with `set`/`advance` (tests)."""

    speed = 1.0

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def restart(self) -> None:
        pass

    def set(self, t: float) -> None:
        self.t = max(self.t, t)

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def wall_delay(self, t: float) -> float:
        return POLL if t > self.t else 0.0


def anchor(day: dt.date, at: dt.time | None, tz: ZoneInfo, now: float | None = None) -> float:
    """The PBX time a run starts at: `at` on `day`; by default the wall clock's time of day when
    `day` is today (a real-time run), else 08:00 (just before the switchboards open)."""
    now = time.time() if now is None else now
    if at is None:
        local_now = dt.datetime.fromtimestamp(now, tz)
        if local_now.date() == day:
            return now
        at = dt.time(8, 0)
    return dt.datetime.combine(day, at, tz).timestamp()
