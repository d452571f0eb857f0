"""Observations from a recorded AMI capture (`listen --record`, console dumps, LF recordings),
read without any site directory. AMI does not name the dialplan application that answered the
caller (the `dialplan` event class is not read), so a machine answer is noted as "Answer"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.ami.protocol import Message
from ingest.ami.replay import read_capture
from ingest.call_direction import dialed_out_through
from ingest.learn.observation import Observation
from ingest.site_map import device_of


def observe_ami(path: Path) -> Iterator[Observation]:
    calls: dict[str, Observation] = {}
    legs: dict[str, str] = {}  # uniqueid -> linkedid of its call
    up: dict[str, tuple[float, str]] = {}  # linkedid -> caller leg answered (time, context)
    for msg in read_capture(path):
        if msg.kind != "event" or "actionid" in msg:
            continue
        _fold(msg, str(path), calls, legs, up)
    for linkedid, o in calls.items():
        if linkedid in up and not o.answered and not o.reached_person_path:
            o.machine = ("Answer", up[linkedid][1])
        yield o


def _fold(msg: Message, path: str, calls: dict[str, Observation], legs: dict[str, str],
          up: dict[str, tuple[float, str]]) -> None:
    name = msg.name.lower()
    uid = msg.get("Uniqueid") or ""
    t = msg.time if msg.time is not None else msg.received
    if name == "newchannel" and uid and uid not in legs:
        linkedid = msg.get("Linkedid") or uid
        legs[uid] = linkedid
        if linkedid not in calls:
            exten = msg.get("Exten") or ""
            calls[linkedid] = Observation(
                kind="ami", path=path, line=None, key=uid, arrival=t,
                caller_device=device_of(msg.get("Channel")),
                dialed=exten if exten not in ("", "s", "<unknown>") else None,
                contexts=[msg.get("Context") or ""], example=f"Newchannel {msg.get('Channel')}")
        return
    o = calls.get(legs.get(uid, "") or msg.get("Linkedid") or "")
    if o is None:
        return
    caller = uid == o.key
    context = msg.get("Context") or ""
    if caller and context and context not in o.contexts:
        o.contexts.append(context)
    if name == "newstate" and caller and (msg.get("ChannelState") or "") == "6" and t is not None:
        up.setdefault(legs[uid], (t, context))
    elif name in ("dialbegin", "agentcalled"):
        o.reached_person_path = True
        dest = msg.get("DestChannel") or ""
        if dest and not dest.startswith("Local/") and device_of(dest) not in o.rang:
            o.rang.append(device_of(dest))
        tech = dest.partition("/")[0]
        for trunk in dialed_out_through(f"{tech}/{msg.get('DialString') or ''}" if tech else ""):
            if trunk not in o.dialed_out:
                o.dialed_out.append(trunk)
    elif name == "queuecallerjoin" or name == "join":
        o.reached_person_path = True
        queue = msg.get("Queue") or ""
        if queue and queue not in o.queues:
            o.queues.append(queue)
    elif name == "dialend" and (msg.get("DialStatus") or "").upper() == "ANSWER":
        _connected(o, msg.get("DestChannel") or "", t)
    elif name == "bridgeenter" and not caller:
        _connected(o, msg.get("Channel") or "", t)


def _connected(o: Observation, channel: str, t: float | None) -> None:
    if not channel:
        return
    device = device_of(channel)
    seconds = None if t is None or o.arrival is None else t - o.arrival
    is_local = channel.startswith("Local/")
    if any(d == device for d, _ in o.answered):
        return
    if not is_local:
        o.answered = [(d, s) for d, s in o.answered if not d.startswith("Local/")]
        o.answered.append((device, seconds))
    elif all(d.startswith("Local/") for d, _ in o.answered):
        o.answered.append((device, seconds))
