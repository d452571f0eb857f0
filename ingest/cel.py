"""CEL records to calls: one CallBuilder per inbound switchboard call, emitted at LINKEDID_END.

Rules (reference §7 and §8; docs/CAPTURE-CONTRACT.md):
* Records are grouped by linkedid. A group is one call, complete at its LINKEDID_END; a group
  still open at the end of the input is emitted with `incomplete=True` when its outcome is
  known (answered, a message, the caller gone), else it is a reject (`RINGING_AT_END`): a
  caller still ringing when the records end is never counted as an abandon.
* The caller leg is the channel whose uniqueid is the linkedid (else the first CHAN_START);
  its uniqueid is the call key and its CHAN_START the arrival.
* The answer is the first ANSWER, BRIDGE_ENTER or BRIDGE_START of a staff device
  (`ctx.sites.is_staff`), never of the caller leg: announcements, IVRs and messages answer the
  caller leg, and that is not a person. On bridge events the peer counts too, because Asterisk
  11 writes BRIDGE_START on the caller's channel with the device as its peer.
* The end is the caller's CHAN_END, else its HANGUP, else LINKEDID_END.
* Unanswered calls that reached a site's message or voicemail context get that outcome; a
  caller's HANGUP whose hangupsource is `dialplan/builtin` (the dialplan hung up: the ring
  time-out ran out) gives NO_ANSWER; its dialstatus gives BUSY / CONGESTION / FAILED; otherwise
  finalize decides (an abandon).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from ingest.cdr import PERSON_APPS
from ingest.cel_read import (
    CelRecord,
    in_time_order,
    naive_times,
    read_cel_csv,
    read_cel_table,
)
from ingest.finalize import CaptureContext
from ingest.records import Reject, Skipped, unexpected
from ingest.site_map import device_of
from monitor.call import CallBuilder, Outcome, Source
from monitor.pseudonym import normalize_number

log = logging.getLogger(__name__)

ANSWER_EVENTS = frozenset({"ANSWER", "BRIDGE_ENTER", "BRIDGE_START"})
BRIDGE_EVENTS = frozenset({"BRIDGE_ENTER", "BRIDGE_START"})
_NOT_A_NUMBER = frozenset({"", "s"})  # "s": the dialplan's start extension, no number dialed
_DIALSTATUS_OUTCOMES = {
    "BUSY": Outcome.BUSY, "CONGESTION": Outcome.CONGESTION, "CHANUNAVAIL": Outcome.FAILED,
}
# Q.850 causes that mean the caller could not be served (reference §4.3), when no Dial ran
_CAUSE_OUTCOMES = {
    17: Outcome.BUSY, 34: Outcome.CONGESTION, 42: Outcome.CONGESTION, 38: Outcome.FAILED,
    41: Outcome.FAILED, 27: Outcome.FAILED, 1: Outcome.FAILED,
}


def parse_cel(lines: Iterable[tuple[int, str]],
              ctx: CaptureContext) -> Iterator[CallBuilder | Reject | Skipped]:
    """cel_custom CSV lines to calls; bad rows become rejects and the file goes on; a call of no
    configured switchboard becomes a Skipped with its reason."""
    return cel_to_calls(read_cel_csv(lines, ctx.pbx.tz, ctx.window), ctx)


def parse_cel_table(lines: Iterable[tuple[int, str]], ctx: CaptureContext,
                    times: str | None = None) -> Iterator[CallBuilder | Reject | Skipped]:
    """A psql dump of a CEL table to calls; its rows may come in any order. `times` (default:
    the PBX's `cel_table_times`) says how eventtimes written without an offset are read: "utc",
    "local" (the PBX's zone) or "auto", told by the rows themselves (`table_zone`)."""
    numbered = list(lines)
    records: list[CelRecord] = []
    naive_tz = table_zone(numbered, ctx, times or ctx.pbx.cel_table_times)
    for item in read_cel_table(numbered, naive_tz, window=ctx.window):
        if isinstance(item, Reject):
            yield item
        else:
            records.append(item)
    yield from cel_to_calls(in_time_order(records), ctx)


def table_zone(numbered: list[tuple[int, str]], ctx: CaptureContext, times: str) -> ZoneInfo | None:
    """The zone a table's naive eventtimes are read in (None: UTC). With "auto", the CHAN_START
    rows decide (`naive_times`); when they match neither UTC nor the PBX's zone, the times are
    read as UTC and a warning says the gap, the PBX's time zone being likely wrong."""
    if times == "local":
        return ctx.pbx.tz
    if times == "utc":
        return None
    found = naive_times(numbered, ctx.pbx.tz)
    if found.verdict == "local":
        log.info("CEL table: eventtimes without an offset read as local time in %s (%d of %d "
                 "CHAN_START rows agree with their uniqueid)", ctx.pbx.timezone, found.local,
                 found.rows)
        return ctx.pbx.tz
    if found.verdict == "unknown":
        log.warning(
            "CEL table: eventtimes written without an offset are %+.2f h from the creation "
            "second of their uniqueid (%d CHAN_START rows): neither UTC nor local time in %s "
            "(timezone of [pbx.%s] in settings.toml); read as UTC. Set the PBX's own time zone "
            "there, or cel_table_times = \"utc\" or \"local\"", (found.gap or 0.0) / 3600,
            found.rows, ctx.pbx.timezone, ctx.pbx.name)
    return None


def cel_to_calls(records: Iterable[CelRecord | Reject],
                 ctx: CaptureContext) -> Iterator[CallBuilder | Reject | Skipped]:
    """Group records by linkedid (in time order within a call; calls may interleave).

    Rejects among the records are passed through unchanged; a call that is not a switchboard
    call yields a Skipped (one per linkedid) with the reason.
    """
    open_calls: dict[str, list[CelRecord]] = {}
    for item in records:
        if isinstance(item, Reject):
            yield item
            continue
        key = item.linkedid or item.uniqueid
        group = open_calls.setdefault(key, [])
        group.append(item)
        if item.eventtype == "LINKEDID_END":
            del open_calls[key]
            yield from _guarded(group, ctx, incomplete=False)
    for group in open_calls.values():
        yield from _guarded(group, ctx, incomplete=True)


def _guarded(group: list[CelRecord], ctx: CaptureContext, *,
             incomplete: bool) -> list[CallBuilder | Reject | Skipped]:
    """The call of one group; an error nobody foresaw is that call's reject, not the file's."""
    try:
        return list(_call(group, ctx, incomplete=incomplete))
    except Exception as exc:  # one call never costs the others
        lines = [r.line for r in group if r.line is not None]
        return [Reject(min(lines, default=None), unexpected(exc), "\n".join(r.raw for r in group))]


def _call(group: list[CelRecord], ctx: CaptureContext, *,
          incomplete: bool) -> Iterator[CallBuilder | Reject | Skipped]:
    caller = _caller_uniqueid(group)
    legs = [r for r in group if r.uniqueid == caller]
    start = next((r for r in legs if r.eventtype == "CHAN_START"), None)
    lines = [r.line for r in group if r.line is not None]
    b = CallBuilder(pbx=ctx.pbx.name, call_key=caller, source=Source.CEL,
                    linkedid=group[0].linkedid or None, incomplete=incomplete,
                    resolution=max(r.resolution for r in group),
                    line=min(lines) if lines else None, raw=[r.raw for r in group])
    _identify(b, group, legs, start, ctx)
    if not _is_switchboard(b, legs, ctx):
        yield _skipped(b, legs, ctx)
        return
    if start is None:
        channel = legs[0].channel if legs else caller
        yield Reject(b.line, f'no CHAN_START for the caller channel "{channel}": the call began '
                     "before this file (import the earlier file too) or cel.conf does not log "
                     "CHAN_START (add it to events)", "\n".join(b.raw))
        return
    b.arrival = start.eventtime
    _answer(b, group, caller, ctx)
    b.end = _end(group, legs)
    if b.answer is None:
        b.outcome = _unanswered_outcome(group, legs, ctx)
        if b.outcome in (None, Outcome.NO_ANSWER):  # (finalize: a device or machine first)
            _unclassified(b, group, legs, caller, ctx)
        if incomplete and still_ringing(b, legs):
            seconds = max(r.eventtime for r in group) - b.arrival
            yield Reject(b.line, RINGING_AT_END.format(seconds=seconds), "\n".join(b.raw),
                         call=True)
            return
    yield b


RINGING_AT_END = (
    "still ringing or waiting when the records end ({seconds:.0f} s after it arrived: no answer, "
    "no hangup of the caller, no LINKEDID_END yet): how the call ended is unknown, so it is not "
    "counted (not as an abandon either); importing the CEL again once it holds the call's end "
    "(the grown file, the next export) stores it")


def still_ringing(b: CallBuilder, legs: Sequence[CelRecord]) -> bool:
    """An open call (no LINKEDID_END) whose outcome is not known: nobody answered, no message
    or voicemail reached, no unclassified answer, and the caller has not hung up."""
    return (b.answer is None and b.outcome is None and b.other_device is None
            and b.machine is None
            and not any(r.eventtype in ("HANGUP", "CHAN_END") for r in legs))


def _caller_uniqueid(group: Sequence[CelRecord]) -> str:
    linkedid = group[0].linkedid
    if linkedid and any(r.uniqueid == linkedid for r in group):
        return linkedid
    first = next((r.uniqueid for r in group if r.eventtype == "CHAN_START"), None)
    return first or linkedid or group[0].uniqueid


def _identify(b: CallBuilder, group: Sequence[CelRecord], legs: Sequence[CelRecord],
              start: CelRecord | None, ctx: CaptureContext) -> None:
    """Dialed number, caller, queue, site context and test flag."""
    if start is not None and start.exten not in _NOT_A_NUMBER:
        b.dialed = start.exten
    else:
        b.dialed = next((r.cid_dnid for r in legs if r.cid_dnid not in _NOT_A_NUMBER), None)
    b.caller = next((r.cid_num for r in legs if r.cid_num), None)
    queue = next((r for r in group if r.eventtype == "APP_START" and r.appname.lower() == "queue"),
                 None)
    if queue is not None:
        b.queue = queue.appdata.split(",")[0].strip() or None
        b.queue_entry = queue.eventtime
    b.context = next((r.context for r in (*legs, *group)
                      if r.context and ctx.sites.site_for(context=r.context)),
                     start.context if start is not None else None)
    b.is_test = any(r.accountcode in ctx.pbx.test_accountcodes for r in group if r.accountcode)


def _is_switchboard(b: CallBuilder, legs: Sequence[CelRecord], ctx: CaptureContext) -> bool:
    """A site's call, or one that looks inbound (non-staff caller, a real DID) but maps to no
    site: finalize rejects the latter as "unknown site". Other calls are skipped (`Skipped`)."""
    if ctx.sites.site_for(dialed=b.dialed, queue=b.queue, context=b.context):
        return True
    channel = legs[0].channel if legs else ""
    e164 = normalize_number(b.dialed) if b.dialed else None
    return bool(e164 and e164.startswith("+")) and not ctx.sites.is_staff(channel)


def _skipped(b: CallBuilder, legs: Sequence[CelRecord], ctx: CaptureContext) -> Skipped:
    """Why a call is not a switchboard call: a staff caller's call is internal or outbound."""
    if ctx.sites.is_staff(legs[0].channel if legs else ""):
        e164 = normalize_number(b.dialed) if b.dialed else None
        return Skipped(b.line, "outbound call" if e164 and e164.startswith("+") else
                       "internal call between staff phones")
    arrival = next((r.eventtime for r in legs if r.eventtype == "CHAN_START"), None)
    return Skipped.no_site(b.line, b.dialed, b.queue, b.context, arrival)


def _answer(b: CallBuilder, group: Sequence[CelRecord], caller: str, ctx: CaptureContext) -> None:
    """First staff device connected (answer, answered_by) and first staff device rung."""
    b.first_ring = next((r.eventtime for r in group if r.eventtype == "CHAN_START"
                         and r.uniqueid != caller and ctx.sites.is_staff(r.channel)), None)
    for r in group:
        if r.eventtype not in ANSWER_EVENTS:
            continue
        for channel in _connected_channels(r, caller):
            if ctx.sites.is_staff(channel):
                b.answer, b.answered_by = r.eventtime, device_of(channel)
                return


def _unclassified(b: CallBuilder, group: Sequence[CelRecord], legs: Sequence[CelRecord],
                  caller: str, ctx: CaptureContext) -> None:
    """Nobody the directory knows answered: note the first device that is no staff phone
    connected to the caller, else the dialplan that answered the caller leg without ever trying
    a person (no Dial, no Queue), in a context the site does not list, so that finalize does
    not read the call as an abandon."""
    for local in (False, True):  # a real device first; a Local channel when none shows
        for r in group:
            if r.eventtype not in ANSWER_EVENTS:
                continue
            for channel in _connected_channels(r, caller):
                if channel and channel.startswith("Local/") is local \
                        and not ctx.sites.is_staff(channel):
                    b.other_answer, b.other_device = r.eventtime, device_of(channel)
                    return
    answered = next((r for r in legs if r.eventtype == "ANSWER"), None)
    if answered is None or any(r.eventtype == "APP_START" and r.appname.lower() in PERSON_APPS
                               for r in group):
        return
    app = next((r for r in reversed(legs) if r.eventtype == "APP_START"), None)
    name, context = (app.appname, app.context) if app else ("Answer", answered.context)
    if ctx.sites.site_for(context=context) is None:
        b.machine_answer, b.machine = answered.eventtime, f"{name}@{context}"


def _connected_channels(r: CelRecord, caller: str) -> list[str]:
    """The channels an answer/bridge record shows connected, the caller leg excepted."""
    channels = [] if r.uniqueid == caller else [r.channel]
    if r.eventtype in BRIDGE_EVENTS and r.peer:
        channels.extend(p.strip() for p in r.peer.split(",") if p.strip())
    return channels


def _end(group: Sequence[CelRecord], legs: Sequence[CelRecord]) -> float | None:
    for kind in ("CHAN_END", "HANGUP"):
        times = [r.eventtime for r in legs if r.eventtype == kind]
        if times:
            return times[-1]
    return next((r.eventtime for r in group if r.eventtype == "LINKEDID_END"), None)


def _unanswered_outcome(group: Sequence[CelRecord], legs: Sequence[CelRecord],
                        ctx: CaptureContext) -> Outcome | None:
    """MESSAGE / VOICEMAIL (first such context reached), BUSY / CONGESTION / FAILED, or None."""
    for r in group:
        if r.context in ctx.sites.message_contexts:
            return Outcome.MESSAGE
        if r.context in ctx.sites.voicemail_contexts:
            return Outcome.VOICEMAIL
    hangup = next((r for r in reversed(legs) if r.eventtype == "HANGUP"), None)
    return None if hangup is None else hangup_outcome(hangup.extra)


def hangup_outcome(extra: str) -> Outcome | None:
    """What the caller's HANGUP says of an unanswered call: NO_ANSWER when the dialplan hung
    up (the PBX ended it), else its dial status, else (no Dial ran: Busy() or Congestion() in
    the dialplan) its Q.850 cause; None when it says nothing (finalize: an abandon)."""
    status = dialstatus(extra)
    by_dialplan = hangupsource(extra) == "dialplan/builtin"
    if status:
        if status == "NOANSWER" and by_dialplan:
            return Outcome.NO_ANSWER
        return _DIALSTATUS_OUTCOMES.get(status)
    cause = hangupcause(extra)  # (Busy() or Congestion() hang up from the dialplan too)
    found = None if cause is None else _CAUSE_OUTCOMES.get(cause)
    return Outcome.NO_ANSWER if found is None and by_dialplan else found


def hangupcause(extra: str) -> int | None:
    """hangupcause of a HANGUP's extra: JSON (12+) or `cause,source,dialstatus` (11)."""
    text = extra.strip()
    value: object = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to read
            return None
        value = data.get("hangupcause") if isinstance(data, dict) else None
    elif text:
        value = text.split(",")[0]
    try:
        return int(str(value))
    except ValueError:
        return None


def hangupsource(extra: str) -> str:
    """hangupsource of a HANGUP's extra (who hung up: a channel, or `dialplan/builtin` when
    the dialplan did): JSON (12+) or `cause,source,dialstatus` (11)."""
    text = extra.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return ""
        return str(data.get("hangupsource", "")) if isinstance(data, dict) else ""
    parts = text.split(",")
    return parts[1].strip() if len(parts) >= 3 else ""


def dialstatus(extra: str) -> str:
    """DIALSTATUS of a HANGUP's extra: JSON (12+) or `cause,source,dialstatus` (11)."""
    text = extra.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to read
            return ""
        return str(data.get("dialstatus", "")) if isinstance(data, dict) else ""
    parts = text.split(",")
    return parts[2].strip() if len(parts) >= 3 else ""
