"""`queue_log` as app_queue writes it: `<epoch>|<callid>|<queue>|<agent>|<event>|<data>...`.

callid is the caller channel's Uniqueid; the agent is the member name (here the phone device,
`member => Local/201@eps05-agents/n,0,PJSIP/eps05-201`); RINGNOANSWER and RINGCANCELED are in
milliseconds, the other durations in whole seconds. Calls that never reach a queue (ring groups,
closed-hours messages, congestion, a full queue) write nothing.
"""

from __future__ import annotations

from typing import TextIO

from simulator.timeline import Event, Kind, SimCall
from simulator.writers import TimeOrdered


def _data(ev: Event, call: SimCall) -> tuple[str, str] | None:
    """(agent, event|data...) of one queue event, or None for events queue_log ignores."""
    n = ev.numbers
    kind = ev.kind
    if kind is Kind.QUEUE_JOIN:
        caller = call.caller.cid_num
        return "NONE", f"ENTERQUEUE||{'' if caller == 'anonymous' else caller}|{n[0]}"
    if kind is Kind.AGENT_RING_NO_ANSWER:
        return ev.member, f"RINGNOANSWER|{n[0]}"
    if kind is Kind.AGENT_RING_CANCELED:
        return ev.member, f"RINGCANCELED|{n[0]}"
    if kind is Kind.AGENT_CONNECT:
        assert ev.peer is not None
        return ev.member, f"CONNECT|{n[0]}|{ev.peer.uniqueid}|{n[1]}"
    if kind is Kind.AGENT_COMPLETE:
        name = "COMPLETECALLER" if ev.status == "caller" else "COMPLETEAGENT"
        return ev.member, f"{name}|{n[0]}|{n[1]}|{n[2]}"
    if kind is Kind.BLIND_TRANSFER and ev.queue:
        return ev.member, f"BLINDTRANSFER|{ev.exten}|{ev.context}|{n[0]}|{n[1]}|{n[2]}"
    if kind is Kind.QUEUE_ABANDON:
        return "NONE", f"ABANDON|{n[0]}|{n[1]}|{n[2]}"
    if kind is Kind.QUEUE_EXIT_EMPTY:
        return "NONE", f"EXITEMPTY|{n[0]}|{n[1]}|{n[2]}"
    return None


def queue_log_lines(call: SimCall) -> list[tuple[float, str]]:
    """(event time, line) of every queue_log line of one call."""
    lines = []
    for ev in call.events:
        if ev.queue or ev.kind is Kind.QUEUE_JOIN:
            data = _data(ev, call)
            if data is not None:
                agent, rest = data
                lines.append((ev.time, f"{int(ev.time)}|{call.key}|{ev.queue}|{agent}|{rest}"))
    return lines


class QueueLogFile:
    """The queue_log file: a QUEUESTART marker, then every queue line in time order."""

    def __init__(self, out: TextIO, start: float) -> None:
        out.write(f"{int(start)}|NONE|NONE|NONE|QUEUESTART|\n")
        self.lines = TimeOrdered(out)

    def feed(self, call: SimCall) -> None:
        self.lines.flush_before(call.arrival)
        for t, line in queue_log_lines(call):
            self.lines.push(t, line)

    def close(self) -> None:
        self.lines.close()
