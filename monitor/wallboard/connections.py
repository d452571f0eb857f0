"""Bounds on the wallboard's connections, and warnings that cannot flood a log.

A wall screen needs one connection; a flood of slow or idle connections must neither use up the
process's file handles (the listener shares them) nor crowd out the screens. So: at most
`max_total` connections, at most `max_per_ip` from one address, and when a cap is reached the
oldest connection still waiting for its request head is dropped to make room (an authorised
event stream never is). What goes wrong is logged as one line per kind and interval, with the
count of what was left out, never as a traceback per connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Connection:
    ip: str
    task: asyncio.Task[None] | None = None
    streaming: bool = False  # an authorised event stream: never dropped to make room
    answering: bool = False  # its head is read: it is being answered
    dropped: bool = False


class Connections:
    """The open connections, oldest first, and the caps they live under."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self.max_total, self.max_per_ip = max_total, max_per_ip
        self.live: dict[int, Connection] = {}  # id -> connection, in order of arrival
        self.per_ip: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.live)

    def admit(self, ip: str) -> Connection | None:
        """A place for a new connection from `ip`, dropping an idle one if needed; None if full."""
        if self.per_ip[ip] >= self.max_per_ip and not self._drop(lambda c: c.ip == ip):
            return None
        if len(self.live) >= self.max_total and not self._drop(lambda c: True):
            return None
        conn = Connection(ip)
        self.live[id(conn)] = conn
        self.per_ip[ip] += 1
        return conn

    def release(self, conn: Connection) -> None:
        if self.live.pop(id(conn), None) is not None:
            self.per_ip[conn.ip] -= 1
            if not self.per_ip[conn.ip]:
                del self.per_ip[conn.ip]

    def drop_idle(self) -> bool:
        """Drop the oldest connection waiting for its head (to free a file handle)."""
        return self._drop(lambda c: True)

    def _drop(self, which: Callable[[Connection], bool]) -> bool:
        """Drop the oldest connection still waiting for its head among `which`."""
        for conn in self.live.values():
            if which(conn) and not conn.streaming and not conn.answering and conn.task is not None:
                conn.dropped = True
                conn.task.cancel()
                self.release(conn)
                return True
        return False

    def abort_all(self) -> list[asyncio.Task[None]]:
        """Cancel every connection; their tasks."""
        tasks = [c.task for c in self.live.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        return tasks


class QuietLog:
    """At most one warning line per kind every `interval` seconds; the others are counted and
    the count is given with the next line of that kind."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger, self.interval = logger, interval
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, kind: str, message: str) -> None:
        now = time.monotonic()
        last, left_out = self._last.get(kind, (-math.inf, 0))
        if now - last < self.interval:
            self._last[kind] = (last, left_out + 1)
            return
        more = f" ({left_out} more like it in the last {now - last:.0f} s)" if left_out else ""
        self.logger.warning("%s%s", message, more)
        self._last[kind] = (now, 0)
