"""Originate on the simulated PBX: a test call placed into one of the switchboards.

The request's `Channel` names the number to call (`PJSIP/0199000105@trunk-paris`,
`Local/0199000105@probe-out`, or the number alone); the site is the one whose DID it is. The
call then goes through the site's dialplan like any other call (simulator.model's routing):
after hours the message context answers it, in hours it queues (or rings the ring group) and
one of the day's agents present at that moment answers it, rings out, or the probe gives up
after `Timeout` ms. The caller leg is the originated channel: its Uniqueid is the request's
`ChannelId` (Asterisk 12+), its account code the request's `Account`, so the test-call rules
(`test_accountcodes`) apply. It does not compete with the day's calls for agents (the day was
computed in advance), a simplification of the model.

`OriginateResponse` (to every session, with the request's ActionID) says when the attempt
ended: `Success`/Reason 4 when the far end answered (an agent, the welcome or after-hours
message, the voicemail), `Failure` with 5 (busy), 8 (congestion), 3 (no answer within the
timeout), 0 (no such number).

The broken site of config/simulation.toml is honoured: with a "missing" message, an after-hours
Originate to it meets congestion (Reason 8). When the attempt is answered, `record_probe` writes
what the PBX's MixMonitor would record (`<ChannelId>.wav` and its `.done` marker, see
simulator.messages), which `qualiphone afterhours probe` reads.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from config import Config
from ingest.ami.protocol import Message
from ingest.site_map import SiteMap
from monitor.calendar import SiteCalendar
from monitor.timeutil import epoch_to_local
from simulator import model
from simulator.ami_frames import CALL, Frame, head, render_call
from simulator.engine import Plan, QueueEngine, run_ringgroup
from simulator.flows import build_call
from simulator.ids import assign_ids
from simulator.messages import message_missing, simulated_probe, write_probe_recording
from simulator.profiles import site_setup
from simulator.staff import Agent
from simulator.timeline import Kind, SimCall, us

DEFAULT_TIMEOUT_MS = 30000
_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


class OriginateError(Exception):
    """The request cannot be accepted (the message is sent back as `Message:`)."""


@dataclass
class OriginateRequest:
    action_id: str
    channel: str
    number: str
    timeout: float  # seconds
    caller_num: str = ""
    caller_name: str = ""
    account: str = ""
    channel_id: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    data: str = ""
    variables: list[str] = field(default_factory=list)

    @classmethod
    def from_message(cls, msg: Message) -> OriginateRequest:
        channel = msg.get("Channel") or ""
        if not channel:
            raise OriginateError("Channel not specified")
        if (msg.get("Async") or "").lower() not in ("true", "yes", "1", "on"):
            raise OriginateError("Originate failed: the simulator only runs Async: true "
                                 "(a synchronous Originate blocks the whole session)")
        if not (msg.get("Exten") or msg.get("Application")):
            raise OriginateError("Exten or Application not specified")
        timeout = msg.get("Timeout") or str(DEFAULT_TIMEOUT_MS)
        if not timeout.isdigit():
            raise OriginateError(f"Invalid timeout: {timeout}")
        match = _CALLERID.match(msg.get("CallerID") or "")
        name, num = (match.group(1), match.group(2)) if match else ("", msg.get("CallerID") or "")
        number = channel.split("/", 1)[-1].split("@", 1)[0]
        exten = msg.get("Exten") or ""
        if not number.lstrip("+").isdigit() and exten.lstrip("+").isdigit():
            # Channel is a phone (a mystery caller's own device): once it answers, the
            # dialplan at Context/Exten dials that number, which comes back to the switchboard
            number = exten
        return cls(msg.action_id or "", channel, number, int(timeout) / 1000.0, num, name,
                   msg.get("Account") or "", msg.get("ChannelId") or "", msg.get("Context") or "",
                   msg.get("Exten") or "", msg.get("Application") or "", msg.get("Data") or "",
                   msg.getall("Variable"))


def _fresh(agents: list[Agent]) -> list[Agent]:
    """The day's agents with their presence, free of the day's calls."""
    return [Agent(a.ext, a.device, a.present, a.away, a.pickup_median) for a in agents]


def place_call(config: Config, request: OriginateRequest, now: float,
               agents: dict[str, list[Agent]], serial: int, seed: int = 0) -> SimCall | None:
    """The originated call, starting at `now`; None when the number is no site's."""
    pbx = next(iter(config.pbxs))
    site_id = SiteMap.build(config, pbx).site_for(dialed=request.number)
    if site_id is None:
        return None
    site = config.site(site_id)
    setup = site_setup(site)
    tz = config.pbxs[site.pbx].tz
    rng = np.random.default_rng([seed, zlib.crc32(request.channel_id.encode() or b"-"), serial])
    arrival = us(now + 0.02)
    plan = Plan(arrival, arrival + request.timeout, request.caller_num or "anonymous",
                is_test=bool(request.account))
    is_open = SiteCalendar(config).is_open(site, epoch_to_local(arrival, tz))
    model.route(plan, setup, is_open, rng, message_missing(config, site_id))
    team = _fresh(agents.get(site_id, []))
    if plan.route == "ringgroup":
        run_ringgroup(team, setup.profile, rng, [plan])
    elif plan.route == "queue" and plan.queue_entry is not None:
        QueueEngine(team, setup.profile, rng).run([plan])
    call = build_call(setup, plan, rng, config.targets.short_abandon_seconds)
    call = assign_ids([call], first=serial)[0]
    caller = call.caller
    if request.channel_id:
        caller.uniqueid = request.channel_id
    caller.cid_name = request.caller_name
    for chan in call.channels:
        chan.linkedid = caller.uniqueid
        chan.accountcode = request.account
    return call


def _reason(call: SimCall) -> tuple[float, str, str]:
    """(time, Response, Reason) of the originate attempt."""
    caller = call.caller
    for ev in call.events:
        if ev.kind is Kind.ANSWER and ev.chan is caller:
            return ev.time, "Success", "4"
        if ev.kind is Kind.APP and ev.chan is caller and ev.app in ("Busy", "Congestion"):
            return ev.time, "Failure", "5" if ev.app == "Busy" else "8"
    return call.end, "Failure", "3"


def answered_at(call: SimCall | None) -> float | None:
    """The PBX time the originated call was answered, None when it was not."""
    if call is None:
        return None
    t, response, _ = _reason(call)
    return t if response == "Success" else None


def record_probe(config: Config, call: SimCall, directory: Path, *,
                 cache_dir: Path | None = None) -> Path | None:
    """Write what MixMonitor records of an answered originated call: `<ChannelId>.wav` + `.done`.

    The recording is the whole message the site plays at that moment (simulated_probe), even
    when the model's caller hangs up early; None when nothing is recorded ("missing").
    """
    when = answered_at(call)
    if when is None:
        return None
    tz = config.pbxs[config.site(call.site).pbx].tz
    kind = simulated_probe(config, call.site, dt.datetime.fromtimestamp(when, tz)).kind
    return write_probe_recording(config, call.site, call.caller.uniqueid, directory, kind=kind,
                                 cache_dir=cache_dir)


def originate_response(request: OriginateRequest, call: SimCall | None, now: float) -> Frame:
    """The OriginateResponse event of a request (its call placed, or not when None)."""
    if call is None:
        t, response, reason = us(now + 0.05), "Failure", "0"
        channel, uid, num, name = request.channel, request.channel_id or "<unknown>", "", ""
    else:
        t, response, reason = _reason(call)
        c = call.caller
        channel, uid, num, name = c.name, c.uniqueid, c.cid_num, c.cid_name
    headers = [
        *head("OriginateResponse", CALL, t), ("ActionID", request.action_id),
        ("Response", response), ("Channel", channel),
        ("Context", request.context), ("Exten", request.exten),
        ("Application", request.application), ("Data", request.data), ("Reason", reason),
        ("Uniqueid", uid), ("CallerIDNum", num or "<unknown>"),
        ("CallerIDName", name or "<unknown>")]
    return Frame(t, CALL, headers)


def originate_frames(call: SimCall | None, request: OriginateRequest, now: float) -> list[Frame]:
    """Every frame the originate produces: the call's and its OriginateResponse."""
    frames = render_call(call) if call is not None else []
    return [*frames, originate_response(request, call, now)]
