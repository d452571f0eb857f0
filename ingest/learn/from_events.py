"""Observations from CEL (cel_custom CSV, or a psql dump of a CEL table) and queue_log, read
without any site directory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from ingest.call_direction import dialed_out_through
from ingest.cel import ANSWER_EVENTS, _caller_uniqueid, _connected_channels
from ingest.cel_read import CelRecord, read_cel_any
from ingest.learn.observation import Observation
from ingest.queue_log import _IGNORED as QUEUE_LOG_IGNORED
from ingest.queue_log import parse_queue_log_line
from ingest.records import RecordError, Reject
from ingest.site_map import device_of


def observe_cel(lines: Iterable[tuple[int, str]], path: str, tz: ZoneInfo) -> Iterator[Observation]:
    groups: dict[str, list[CelRecord]] = {}
    for item in read_cel_any(list(lines), tz):
        if isinstance(item, Reject):
            continue
        key = item.linkedid or item.uniqueid
        groups.setdefault(key, []).append(item)
        if item.eventtype == "LINKEDID_END":
            yield _cel_call(groups.pop(key), path)
    for group in groups.values():
        yield _cel_call(group, path)


def _cel_call(group: list[CelRecord], path: str) -> Observation:
    caller = _caller_uniqueid(group)
    legs = [r for r in group if r.uniqueid == caller]
    start = next((r for r in legs if r.eventtype == "CHAN_START"), legs[0] if legs else group[0])
    dialed = start.exten if start.exten not in ("", "s") else (start.cid_dnid or None)
    o = Observation(
        kind="cel", path=path, line=min((r.line for r in group if r.line), default=None),
        key=caller, arrival=start.eventtime, caller_device=device_of(start.channel),
        dialed=dialed, example=start.raw,
        contexts=list(dict.fromkeys(r.context for r in legs if r.context)),
        queues=list(dict.fromkeys(r.appdata.split(",")[0].strip() for r in group
                                  if r.eventtype == "APP_START" and r.appname.lower() == "queue")),
    )
    o.rang = list(dict.fromkeys(device_of(r.channel) for r in group if r.eventtype == "CHAN_START"
                                and r.uniqueid != caller and not r.channel.startswith("Local/")))
    o.dialed_out = list(dict.fromkeys(d for r in group if r.eventtype == "APP_START"
                                      and r.appname.lower() == "dial"
                                      for d in dialed_out_through(r.appdata)))
    o.answered = _cel_answered(group, caller, start.eventtime)
    apps = [r for r in legs if r.eventtype == "APP_START"]
    o.reached_person_path = any(r.eventtype == "APP_START" and r.appname.lower() in ("dial", "queue")
                                for r in group)
    answered = next((r for r in legs if r.eventtype == "ANSWER"), None)
    if answered is not None and not o.reached_person_path and \
            not (apps and apps[-1].appname.lower() == "voicemail"):
        o.machine = (apps[-1].appname, apps[-1].context) if apps else ("Answer", answered.context)
    o.voicemail = next((r.context for r in group if r.eventtype == "APP_START"
                        and r.appname.lower() == "voicemail"), None)
    return o


def _cel_answered(group: list[CelRecord], caller: str,
                  arrival: float) -> list[tuple[str, float | None]]:
    real: dict[str, float] = {}
    local: dict[str, float] = {}
    for r in group:
        if r.eventtype not in ANSWER_EVENTS:
            continue
        for channel in _connected_channels(r, caller):
            target = local if channel.startswith("Local/") else real
            target.setdefault(device_of(channel), r.eventtime - arrival)
    return sorted((real or local).items(), key=lambda kv: kv[1] or 0.0)


def observe_queue_log(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Observation]:
    """queue_log knows queues, members (by name) and the DID FreePBX logs: one observation per
    caller (callid)."""
    calls: dict[str, Observation] = {}
    for number, text in lines:
        if not text.strip():
            continue
        try:
            e = parse_queue_log_line(text)
        except RecordError:
            continue
        if e.callid == "NONE" or e.event in QUEUE_LOG_IGNORED:  # the importer's rule
            continue
        o = calls.get(e.callid)
        if o is None:
            o = calls[e.callid] = Observation(kind="queue_log", path=path, line=number,
                                              key=e.callid, arrival=float(e.time),
                                              caller_device="", dialed=None, example=text)
        if e.queue and e.queue != "NONE" and e.queue not in o.queues:
            o.queues.append(e.queue)
        if e.event == "DID":
            o.dialed = o.dialed or e.arg(0) or None
        elif e.event == "ENTERQUEUE":
            o.reached_person_path = True
        elif e.event == "CONNECT" and not o.answered:
            o.answered.append((e.agent, float(e.time) - (o.arrival or e.time)))
    yield from calls.values()
