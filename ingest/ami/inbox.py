"""The bounded queue between the AMI read loop and the listener's consumer (backpressure).

The read loop puts every event frame here and, after each read, awaits `room()`: while the
queue holds `max_frames` frames (or `max_bytes` of them), the read loop stops reading, so the
kernel's socket buffers and then Asterisk's own buffer hold what comes next. Asterisk drops a
session it cannot write to within `writetimeout`: that is a disconnection, recorded as a gap
like any other, and followed by a resync.

When the consumer has not made room for `stall_limit` seconds, the queue **sheds**: the read loop
goes on reading (so replies to Ping and CoreShowChannels still reach their actions and the
connection stays healthy) but every event frame is dropped, whole, until the consumer has
brought the queue down to `low_water`. The shed interval is then handed to the consumer as a
`Shed` marker, in order with the frames around it: the listener records it as a capture gap,
marks the calls in progress incomplete (the batch import completes them) and resyncs with
CoreShowChannels. Markers (connections, resyncs, stop) are never dropped nor counted.

Memory is bounded by design: at most `max_frames` parsed frames (a few KB each) or `max_bytes`
of raw frames, plus one read (64 KiB) of overshoot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ingest.ami.protocol import Message

MAX_FRAMES = 5000  # ~6 KB each once parsed: ~30 MB
MAX_BYTES = 8 << 20  # raw bytes of the frames queued (a flood of big frames)
STALL_LIMIT = 1.0  # seconds the read loop waits for room before the queue sheds


@dataclass(frozen=True)
class Shed:
    """Frames dropped between `start` and `end` (our clock) because the consumer lagged."""

    start: float
    end: float
    frames: int


class Inbox:
    """A FIFO of frames and markers with a bound on frames, shedding when stalled (module doc)."""

    def __init__(self, max_frames: int = MAX_FRAMES, max_bytes: int = MAX_BYTES,
                 stall_limit: float = STALL_LIMIT, low_water: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_frames, self.max_bytes, self.stall_limit = max_frames, max_bytes, stall_limit
        self.low_water = max_frames // 2 if low_water is None else low_water
        self.clock = clock
        self._items: deque[object] = deque()
        self.frames = 0  # event frames queued (markers not counted)
        self.bytes = 0
        self.peak = 0  # most frames ever queued
        self.shed_total = 0  # frames dropped over the run
        self._shedding: tuple[float, int] | None = None  # (since, frames dropped)
        self._room = asyncio.Event()
        self._room.set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return self.frames >= self.max_frames or self.bytes >= self.max_bytes

    @property
    def shedding(self) -> bool:
        return self._shedding is not None

    # ---- the read loop's side ---------------------------------------------------------------

    def put(self, msg: Message) -> None:
        """Queue an event frame (or drop it while shedding)."""
        if self._shedding is not None:
            since, dropped = self._shedding
            self._shedding = (since, dropped + 1)
            self.shed_total += 1
            return
        self._items.append(msg)
        self.frames += 1
        self.bytes += len(msg.raw)
        self.peak = max(self.peak, self.frames)
        if self.full:
            self._room.clear()
        self._ready.set()

    def mark(self, item: object) -> None:
        """Queue a marker: never dropped, never counted against the bound."""
        self._items.append(item)
        self._ready.set()

    async def room(self) -> None:
        """Awaited by the read loop after each read: returns once there is room, or sheds."""
        if self._shedding is not None or not self.full:
            return
        try:
            await asyncio.wait_for(self._room.wait(), self.stall_limit)
        except TimeoutError:
            if self.full and self._shedding is None:
                self._shedding = (self.clock(), 0)

    # ---- the consumer's side ----------------------------------------------------------------

    def get_nowait(self) -> object | None:
        """The next item, or None when empty."""
        if not self._items:
            self._ready.clear()
            return None
        item = self._items.popleft()
        if isinstance(item, Message):
            self.frames -= 1
            self.bytes -= len(item.raw)
            if self.frames <= self.low_water and self.bytes <= self.max_bytes // 2:
                self._room.set()
                if self._shedding is not None:
                    self._end_shed()
        return item

    async def get(self, timeout: float) -> object | None:
        """The next item, waiting up to `timeout` seconds; None when none came."""
        item = self.get_nowait()
        if item is not None:
            return item
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return None
        return self.get_nowait()

    def _end_shed(self) -> None:
        """The consumer caught up: what was dropped becomes a marker after what was kept."""
        assert self._shedding is not None
        since, dropped = self._shedding
        self._shedding = None
        self.mark(Shed(since, self.clock(), dropped))
