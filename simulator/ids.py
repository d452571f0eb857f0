"""Channel names and uniqueids, handed out in the global order of channel creation.

As in Asterisk: `Uniqueid` is `<creation epoch>.<counter>` with one counter for every channel;
PJSIP channels are `PJSIP/<endpoint>-<8 hex>` from one counter, Local pairs share a suffix from
another (`Local/201@eps05-agents-0000001a;1` and `;2`); every leg's Linkedid is the caller's
Uniqueid. Calls come in batches (a day), so numbering is streamed: a channel is numbered once no
later batch can create an earlier one.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Iterator

from simulator.timeline import Channel, Role, SimCall


class IdAssigner:
    """Numbers channels across calls in creation order and releases calls in arrival order."""

    def __init__(self, first: int = 1) -> None:
        self.uid = self.pjsip = self.local = first
        self._heap: list[tuple[float, int, Channel]] = []
        self._n = 0
        self._pending: deque[SimCall] = deque()

    def _name(self, chan: Channel) -> None:
        chan.uniqueid = f"{int(chan.created)}.{self.uid}"
        self.uid += 1
        if chan.role is Role.LOCAL1:
            chan.name = f"{chan.tech}-{self.local:08x};1"
            self.local += 1
        elif chan.role is Role.LOCAL2:
            assert chan.pair is not None and chan.pair.name
            chan.name = chan.pair.name[:-1] + "2"
        else:
            chan.name = f"{chan.tech}-{self.pjsip:08x}"
            self.pjsip += 1

    def _release(self, horizon: float) -> Iterator[SimCall]:
        while self._heap and self._heap[0][0] < horizon:
            self._name(heapq.heappop(self._heap)[2])
        while self._pending and all(ch.uniqueid for ch in self._pending[0].channels):
            call = self._pending.popleft()
            for chan in call.channels:
                chan.linkedid = call.caller.uniqueid
            yield call

    def feed(self, batch: list[SimCall]) -> Iterator[SimCall]:
        """Add a batch (in arrival order, after every earlier batch); yield calls now named."""
        if batch:
            yield from self._release(batch[0].arrival)
        for call in batch:
            self._pending.append(call)
            for chan in call.channels:
                self._n += 1
                heapq.heappush(self._heap, (chan.created, self._n, chan))

    def drain(self) -> Iterator[SimCall]:
        yield from self._release(math.inf)


def assign_ids(calls: Iterable[SimCall], first: int = 1) -> list[SimCall]:
    """Name the channels of a set of calls (e.g. one simulated day) and return the calls."""
    ordered = sorted(calls, key=lambda c: c.arrival)
    assigner = IdAssigner(first)
    return [*assigner.feed(ordered), *assigner.drain()]
