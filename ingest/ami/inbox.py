"""The bounded queue between the AMI read loop and the listener's consumer (backpressure).

The read loop puts every event frame here and, after each read, awaits `room()`: while the
queue holds `max_frames` frames (or `max_bytes` of them), the read loop stops reading, so the
kernel's socket buffers and then Asterisk's own buffer hold what comes next. Asterisk drops a
session it cannot write to within `writetimeout`: that is a disconnection, recorded as a gap
like any other, and followed by a resync. The gap starts when the reading first fell behind
(`behind_since`: a read left more waiting), not at the last frame read, since what was still in
the buffers when the session dropped is lost too.

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
        # since when the reading has been held back (what arrives is that much behind the PBX):
        # a gap that follows starts here, not at the last frame read
        self.behind_since: float | None = None
        self._was_drained = True
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

    async def room(self, drained: bool = True) -> None:
        """Awaited by the read loop after each read (`drained`: that read took all that was
        waiting, so the stream is current; else more was waiting and we are behind): returns
        once there is room, or sheds."""
        if self._was_drained:  # the previous read took all there was, and more came since
            self.behind_since = None
        self._was_drained = drained  # (the last read before a drop always takes all there is)
        if (not drained or self.full) and self.behind_since is None:
            self.behind_since = self.clock()
        if self._shedding is not None or not self.full:
            return
        try:
            await asyncio.wait_for(self._room.wait(), self.stall_limit)
        except TimeoutError:
            if self.full and self._shedding is None:
                self._shedding = (self.behind_since or self.clock(), 0)

    def gap_start(self, at: float) -> float:
        """When a gap that begins at `at` really began: earlier when the reading was behind.
        Forgets the lag: what follows (a new session, a stop) starts current."""
        start = min(at, self.behind_since) if self.behind_since is not None else at
        self.behind_since, self._was_drained = None, True
        return start

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
        self._shedding = self.behind_since = None
        self.mark(Shed(since, self.clock(), dropped))
