"""cdr_csv `Master.csv` as Asterisk 12+ writes it (21 columns, local time, unanswered=yes).

`cdr_records` replays a call's events through a reduced copy of the CDR engine of main/cdr.c:
one record per Party A while it can be reused, a new record per further dial attempt (its start
and, when Party A is already Up, its answer are the dial's time), a new record when Party A runs
dialplan again after a dial or a bridge ended, answer set at Party A's first Up, dispositions from
the dial status or the hang-up cause, records of dialed channels without a Party B dropped.
Every record takes a number from the global sequence when it is created, and all records of a
Party A are written when that channel is gone, so the file is not chronological.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import time
from dataclasses import dataclass
from typing import TextIO
from zoneinfo import ZoneInfo

from simulator.timeline import Channel, Event, Kind, Role, SimCall
from simulator.writers import TimeOrdered, csv_quote

SINGLE, DIAL, BRIDGE, DONE = range(4)
_DIAL_DISPOSITION = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "NOANSWER": "NO ANSWER",
                     "CANCEL": "NO ANSWER", "CONGESTION": "FAILED"}
_CAUSE_DISPOSITION = {17: "BUSY", 34: "FAILED", 3: "FAILED", 20: "FAILED"}  # else NO ANSWER


@dataclass(eq=False, slots=True)
class CdrRecord:
    party_a: Channel
    alloc: float  # when the record was created (it takes its sequence number then)
    start: float
    context: str
    exten: str
    app: str = ""
    data: str = ""
    answer: float | None = None
    end: float = 0.0
    party_b: Channel | None = None
    disposition: str = ""
    state: int = SINGLE
    locked: bool = False  # lastapp/lastdata no longer change (two parties, or Dial)
    sequence: int = -1
    dispatch: float = 0.0  # Party A hung up: the record is written then

    @property
    def written(self) -> bool:
        """Records of dialed channels (Local;1, phones) without a Party B are discarded."""
        return self.party_b is not None or self.party_a.role in (Role.CALLER, Role.LOCAL2)


class _Chain:
    """The records of one Party A channel."""

    def __init__(self, chan: Channel) -> None:
        self.chan, self.up = chan, False
        self.records = [CdrRecord(chan, chan.created, chan.created, chan.context, chan.exten)]

    def _append(self, t: float) -> CdrRecord:
        last = self.records[-1]
        rec = CdrRecord(self.chan, t, t, last.context, last.exten, last.app, last.data,
                        answer=t if self.up else None)
        self.records.append(rec)
        return rec

    def _open(self) -> list[CdrRecord]:
        return [r for r in self.records if r.state != DONE]

    @staticmethod
    def _finalize(rec: CdrRecord, t: float, cause: int = 0) -> None:
        rec.state, rec.end = DONE, t
        if not rec.disposition:
            rec.disposition = ("ANSWERED" if rec.answer is not None
                               else _CAUSE_DISPOSITION.get(cause, "NO ANSWER"))

    def app(self, ev: Event) -> None:
        records = self._open() or [self._append(ev.time)]
        for rec in records:
            rec.context, rec.exten = ev.context, ev.exten
            if not rec.locked:
                rec.app, rec.data, rec.locked = ev.app, ev.data, ev.app == "Dial"

    def dial_begin(self, ev: Event) -> None:
        rec = next((r for r in self.records if r.state == SINGLE), None) or self._append(ev.time)
        rec.party_b, rec.state, rec.locked = ev.peer, DIAL, True

    def dial_end(self, ev: Event) -> None:
        for rec in self.records:
            if rec.state == DIAL and rec.party_b is ev.peer:
                rec.disposition = _DIAL_DISPOSITION.get(ev.status, "FAILED")
                if ev.status == "ANSWER":
                    rec.state = BRIDGE
                else:
                    self._finalize(rec, ev.time)
                return

    def answer(self, t: float) -> None:
        self.up = True
        for rec in self._open():
            if rec.answer is None:
                rec.answer = t

    def bridge_exit(self, ev: Event) -> None:
        for rec in self.records:
            if rec.state == BRIDGE and ev.chan in (self.chan, rec.party_b):
                self._finalize(rec, ev.time)

    def hangup(self, ev: Event) -> None:
        for rec in self._open():
            self._finalize(rec, ev.time, ev.cause)
        for rec in self.records:
            rec.dispatch = ev.time


def cdr_records(call: SimCall) -> list[CdrRecord]:
    """Every CDR record the engine creates for the call, written or not, in creation order."""
    chains = {chan: _Chain(chan) for chan in call.channels}
    for ev in call.events:
        kind = ev.kind
        if kind is Kind.APP:
            chains[ev.chan].app(ev)
        elif kind is Kind.DIAL_BEGIN:
            chains[ev.chan].dial_begin(ev)
        elif kind is Kind.DIAL_END:
            chains[ev.chan].dial_end(ev)
        elif kind is Kind.ANSWER:
            chains[ev.chan].answer(ev.time)
        elif kind is Kind.BRIDGE_EXIT:
            for chain in chains.values():
                chain.bridge_exit(ev)
        elif kind is Kind.HANGUP:
            chains[ev.chan].hangup(ev)
    return sorted((r for c in chains.values() for r in c.records), key=lambda r: r.alloc)


class LocalClock:
    """`YYYY-MM-DD HH:MM:SS` in a zone, fast (offsets cached per UTC hour)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[int, tuple[int, int]] = {}

    def _offset(self, sec: int) -> int:
        off = dt.datetime.fromtimestamp(sec, self.tz).utcoffset()
        return int(off.total_seconds()) if off else 0

    def __call__(self, sec: int) -> str:
        hour = sec // 3600
        if hour not in self._hours:
            self._hours[hour] = (self._offset(hour * 3600), self._offset(hour * 3600 + 3599))
        first, last = self._hours[hour]
        offset = first if first == last else self._offset(sec)
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec + offset))


def _whole_seconds(end: float, start: float) -> int:
    """ast_tvdiff_ms(end, start) / 1000, as cdr.c computes duration and billsec."""
    e, s = round(end * 1e6), round(start * 1e6)
    (es, eu), (ss, su) = divmod(e, 1_000_000), divmod(s, 1_000_000)
    ms = (es - ss) * 1000 + (1_000_000 + eu - su) // 1000 - 1000
    return int(ms / 1000)


def _clid(name: str, num: str) -> str:
    if name and num:
        return f'"{name}" <{num}>'
    return name or num


def cdr_line(rec: CdrRecord, local: LocalClock) -> str:
    """One Master.csv row (21 columns: loguniqueid, loguserfield, newcdrcolumns)."""
    a, b = rec.party_a, rec.party_b
    answer = rec.answer
    billsec = _whole_seconds(rec.end, answer) if answer is not None else 0
    q = csv_quote
    return ",".join((
        q(a.accountcode), q(a.cid_num), q(rec.exten), q(rec.context), q(_clid(a.cid_name, a.cid_num)),
        q(a.name), q(b.name if b else ""), q(rec.app), q(rec.data), q(local(int(rec.start))),
        q(local(int(answer))) if answer is not None else "", q(local(int(rec.end))),
        str(_whole_seconds(rec.end, rec.start)), str(billsec), q(rec.disposition),
        q("DOCUMENTATION"), q(a.uniqueid), q(""), q(b.accountcode if b else ""), q(a.linkedid),
        str(rec.sequence),
    ))


class CdrFile:
    """Master.csv: sequence numbers in creation order, rows when their Party A is gone."""

    def __init__(self, out: TextIO, tz: ZoneInfo) -> None:
        clock = LocalClock(tz)
        self.rows = TimeOrdered(out, lambda rec: cdr_line(rec, clock))
        self._alloc: list[tuple[float, int, CdrRecord]] = []
        self._n = 0
        self.sequence = 0

    def _number(self, t: float) -> None:
        while self._alloc and self._alloc[0][0] < t:
            heapq.heappop(self._alloc)[2].sequence = self.sequence
            self.sequence += 1

    def feed(self, call: SimCall) -> None:
        self._number(call.arrival)
        self.rows.flush_before(call.arrival)
        for rec in cdr_records(call):
            self._n += 1
            heapq.heappush(self._alloc, (rec.alloc, self._n, rec))
            if rec.written:
                self.rows.push(rec.dispatch, rec)

    def close(self) -> None:
        self._number(math.inf)
        self.rows.close()
