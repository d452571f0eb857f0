"""cel_custom `Master.csv` (Asterisk 12+ events, the sample's 20-column mapping, all quoted).

Columns: eventtype, eventtime (`<epoch>.<6 digits>`), CALLERID(name), CALLERID(num),
CALLERID(ANI), CALLERID(RDNIS), CALLERID(DNID), exten, context, channel, appname, appdata,
amaflags (3 = DOCUMENTATION), accountcode, uniqueid, linkedid, peer, userfield, userdeftype,
eventextra (JSON). cel.conf: events=ALL, apps=dial,queue,playback,voicemail.
"""

from __future__ import annotations

from typing import TextIO

from simulator.timeline import Channel, Event, Kind, SimCall
from simulator.writers import TimeOrdered

CEL_APPS = frozenset({"Dial", "Queue", "Playback", "VoiceMail"})
CHAN_END_DELAY = 0.000043
LINKEDID_END_DELAY = 0.000031


def _q(value: str) -> str:
    return value.replace('"', '""') if '"' in value else value


def _identity(chan: Channel) -> tuple[str, str]:
    """The quoted columns 3-7 and 13-16 of a channel, which never change during a call."""
    caller = f'"{_q(chan.cid_name)}","{_q(chan.cid_num)}","{_q(chan.ani)}","","{chan.dnid}"'
    ids = f'"3","{_q(chan.accountcode)}","{chan.uniqueid}","{chan.linkedid}"'
    return caller, ids


def _row(event: str, t: float, chan: Channel, ident: tuple[str, str], where: list[str],
         peer: str = "", extra: str = "") -> str:
    exten, context, app, data = where
    return (f'"{event}","{t:.6f}",{ident[0]},"{exten}","{context}","{chan.name}","{app}",'
            f'"{_q(data)}",{ident[1]},"{peer}","","","{_q(extra)}"')


def _bridge_extra(bridge: str) -> str:
    return f'{{"bridge_id":"{bridge}","bridge_technology":"simple_bridge"}}'


def _hangup_extra(ev: Event) -> str:
    source = ev.origin.name if ev.origin is not None else ev.data
    return f'{{"hangupcause":{ev.cause},"hangupsource":"{source}","dialstatus":"{ev.status}"}}'


def _transfer_extra(ev: Event) -> str:
    assert ev.peer is not None
    return (f'{{"extension":"{ev.exten}","context":"{ev.context}","bridge_id":"{ev.bridge}",'
            f'"transferee_channel_name":"{ev.peer.name}",'
            f'"transferee_channel_uniqueid":"{ev.peer.uniqueid}"}}')


class _Cel:
    """Turns one call's events into CEL rows, tracking where each channel is."""

    def __init__(self) -> None:
        self.where: dict[Channel, list[str]] = {}
        self.ident: dict[Channel, tuple[str, str]] = {}
        self.bridges: dict[str, list[Channel]] = {}
        self.rows: list[tuple[float, str]] = []
        self.last: tuple[float, Channel] | None = None

    def add(self, name: str, t: float, chan: Channel, peer: str = "", extra: str = "") -> None:
        self.rows.append((t, _row(name, t, chan, self.ident[chan], self.where[chan], peer, extra)))

    def event(self, ev: Event) -> None:
        chan, kind, t = ev.chan, ev.kind, ev.time
        if kind is Kind.NEWCHANNEL:
            self.where[chan] = [chan.exten, chan.context, "", ""]
            self.ident[chan] = _identity(chan)
            self.add("CHAN_START", t, chan)
        elif kind is Kind.APP:
            self.where[chan] = [ev.exten, ev.context, ev.app, ev.data]
            if ev.app in CEL_APPS:
                self.add("APP_START", t, chan)
        elif kind is Kind.DIAL_BEGIN and ev.peer is not None:
            app = "AppQueue" if self.where[chan][2] == "Queue" else "AppDial"
            self.where[ev.peer][2:] = [app, "(Outgoing Line)"]
        elif kind is Kind.ANSWER:
            self.add("ANSWER", t, chan)
        elif kind is Kind.BRIDGE_ENTER:
            members = self.bridges.setdefault(ev.bridge, [])
            self.add("BRIDGE_ENTER", t, chan, ",".join(m.name for m in members),
                     _bridge_extra(ev.bridge))
            members.append(chan)
        elif kind is Kind.BRIDGE_EXIT:
            members = self.bridges[ev.bridge]
            members.remove(chan)
            self.add("BRIDGE_EXIT", t, chan, ",".join(m.name for m in members),
                     _bridge_extra(ev.bridge))
        elif kind is Kind.BLIND_TRANSFER:
            self.add("BLINDTRANSFER", t, chan, extra=_transfer_extra(ev))
        elif kind is Kind.HANGUP:
            self.add("HANGUP", t, chan, extra=_hangup_extra(ev))
            self.add("CHAN_END", round(t + CHAN_END_DELAY, 6), chan)
            self.last = (t + CHAN_END_DELAY, chan)


def cel_rows(call: SimCall) -> list[tuple[float, str]]:
    """(event time, row) of every CEL record of one call, LINKEDID_END last."""
    cel = _Cel()
    for ev in call.events:
        cel.event(ev)
    if cel.last is not None:
        t, chan = cel.last
        last = max(t, max(row[0] for row in cel.rows))
        cel.add("LINKEDID_END", round(last + LINKEDID_END_DELAY, 6), chan)
    return cel.rows


class CelFile:
    """cel-custom/Master.csv: every record of every call in time order."""

    def __init__(self, out: TextIO) -> None:
        self.rows = TimeOrdered(out)

    def feed(self, call: SimCall) -> None:
        self.rows.flush_before(call.arrival)
        for t, row in cel_rows(call):
            self.rows.push(t, row)

    def close(self) -> None:
        self.rows.close()
