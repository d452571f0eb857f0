"""Observations from a cdr_csv Master.csv: the rows of each call, grouped as the importer groups
them (`ingest.cdr`), read without any site directory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from ingest.call_direction import dialed_as_extension_at, dialed_out_through
from ingest.cdr import _SELF_ANSWERING, _grouped, reached_person
from ingest.cdr_layout import CdrRow, CdrStats, Clock, LayoutChooser, RowReader
from ingest.learn.observation import Observation
from ingest.site_map import device_of


def observe_cdr(lines: Iterable[tuple[int, str]], path: str, tz: ZoneInfo, *,
                usegmtime: bool = False, layout: str = "auto") -> Iterator[Observation]:
    reader = RowReader(LayoutChooser(layout), Clock(None if usegmtime else tz), CdrStats())
    reader.read(lines)
    for key, rows in _grouped(reader.rows):
        observation = _observe(key, rows, path)
        if observation is not None:
            yield observation


def _caller(rows: list[CdrRow]) -> str | None:
    linkedid = rows[0].linkedid
    if linkedid:
        for r in rows:
            if r.uniqueid == linkedid:
                return r.channel
    return next((r.channel for r in rows if not r.channel.startswith("Local/")), None)


def _observe(key: str, rows: list[CdrRow], path: str) -> Observation | None:
    caller = _caller(rows)
    if caller is None:
        return None  # originated by the PBX (Local channels only)
    mine = [r for r in rows if r.channel == caller]
    first = mine[0]
    o = Observation(
        kind="cdr", path=path, line=min(r.line for r in rows),
        key=first.uniqueid or first.linkedid or key, arrival=first.start,
        caller_device=device_of(caller), dialed=first.dst or None,
        contexts=list(dict.fromkeys(r.dcontext for r in mine if r.dcontext)),
        queues=list(dict.fromkeys(r.lastdata.split(",", 1)[0].strip() for r in mine
                                  if r.lastapp.lower() == "queue" and r.lastdata)),
        example=first.raw,
    )
    o.rang = list(dict.fromkeys(device_of(r.dstchannel) for r in rows
                                if r.dstchannel and not r.dstchannel.startswith("Local/")))
    o.dialed_out = list(dict.fromkeys(d for r in rows if r.lastapp.lower() == "dial"
                                      for d in dialed_out_through(r.lastdata)))
    o.via_peer = list(dict.fromkeys(d for r in rows if r.lastapp.lower() == "dial"
                                    for d in dialed_as_extension_at(r.lastdata)))
    o.answered = _answered(rows, first.start)
    o.reached_person_path = reached_person(rows)
    last = max(mine, key=lambda r: (r.end, r.start, r.sequence, r.line))
    if last.answer is not None and not o.reached_person_path and \
            last.lastapp.lower() not in ("voicemail", "voicemailmain"):
        o.machine = (last.lastapp, last.dcontext)
    o.voicemail = next((r.dcontext for r in rows if r.lastapp.lower() == "voicemail"), None)
    return o


def _answered(rows: list[CdrRow], arrival: float) -> list[tuple[str, float | None]]:
    """Devices an ANSWERED row connected (not an application answering by itself): real
    devices first; a Local channel only when no real device shows."""
    real: dict[str, float] = {}
    local: dict[str, float] = {}
    for r in rows:
        if r.disposition != "ANSWERED" or r.answer is None or not r.dstchannel \
                or r.lastapp.lower() in _SELF_ANSWERING:
            continue
        target = local if r.dstchannel.startswith("Local/") else real
        device = device_of(r.dstchannel)
        target.setdefault(device, r.answer - arrival)
    found = real or local
    return sorted(found.items(), key=lambda kv: kv[1] or 0.0)
