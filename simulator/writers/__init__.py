"""Writers of what Asterisk writes (cdr_csv, queue_log, cel_custom) from the model's calls.

Each writer has a pure function from one call (ids assigned) to its records, and a small file
class that puts the records of all calls in the order Asterisk writes them: calls are fed in
arrival order and every record of a call is timed at or after its arrival, so a record can be
written as soon as a call arriving later than it is fed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, TextIO


def csv_quote(value: str) -> str:
    """Asterisk's CSV quoting: always quoted, inner quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


class TimeOrdered:
    """Writes items in the order of their time key (ties: in the order they were pushed)."""

    def __init__(self, out: TextIO, render: Callable[[Any], str] = str) -> None:
        self.out, self.render = out, render
        self._heap: list[tuple[float, int, Any]] = []
        self._n = 0
        self.written = 0

    def push(self, key: float, item: Any) -> None:
        self._n += 1
        heapq.heappush(self._heap, (key, self._n, item))

    def flush_before(self, t: float) -> None:
        heap, render, lines = self._heap, self.render, []
        while heap and heap[0][0] < t:
            lines.append(render(heapq.heappop(heap)[2]))
        if lines:
            self.out.write("\n".join(lines) + "\n")
            self.written += len(lines)

    def close(self) -> None:
        self.flush_before(float("inf"))
