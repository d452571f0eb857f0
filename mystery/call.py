"""An assisted mystery call: AMI Originate, the PBX's ring time, and the result it starts.

`qualiphone mystery call` places a planned call on its own AMI connection (reference §1.8, §9):
an `Originate` (Async) rings the caller's own phone (the campaign caller's `phone` device) and,
once they pick up, continues at `Context`/`Exten` = the EPS public number (national format),
with Account "mystery" (a test account code: the canonical call the listener writes is kept out
of production figures) and a ChannelId derived from the call id. The session logs in with
`Events: call` (the class OriginateResponse and the call events belong to) and folds the PBX's
events into the monitor's own `CallTracker`, so the ring time is measured exactly as the
listener measures it: answer by a person − arrival of the switchboard leg.

The switchboard leg is the call whose Uniqueid is the ChannelId (the simulator, or a dialplan
that routes the mystery context straight into the switchboard); when the call goes out to the
public network and comes back in, it is the inbound call to the planned site from the mystery
caller id, in a window after the Originate. An Originate is never re-sent: if the connection
drops, the events missed make the measure incomplete and an unknown outcome is left to the form.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from afterhours.probe import REASONS, national
from ingest.ami.actions import LoginTimeout, originate_once, wait_logged_in
from ingest.ami.calls import CallTracker
from ingest.ami.client import ActionFailed, AmiClient, Backoff, ConnectionLost
from ingest.ami.protocol import Message
from ingest.finalize import CaptureContext
from ingest.records import RecordError
from monitor.call import Call, CallBuilder
from monitor.call import Outcome as PbxOutcome
from monitor.store import Store
from mystery.campaign import Campaign
from mystery.models import mystery_results
from mystery.repository import ResultInput, find_result, start_result
from mystery.scoring import Outcome, questions

log = logging.getLogger(__name__)

ACCOUNT = "mystery"
DEFAULT_CONTEXT = "mystery-out"
EVENTS = "call"  # OriginateResponse reaches only the sessions that read `call` (reference §1.8)
CONNECT_WAIT = 15.0  # wall seconds to reach and log in to the AMI
FAILED_GRACE = 1.0  # wall seconds to wait for the switchboard leg after a failed attempt
MATCH_WINDOW = 120.0  # PBX seconds after the Originate in which the inbound leg may arrive
POLL = 0.05

OUTCOMES = {
    PbxOutcome.ANSWERED: Outcome.ANSWERED, PbxOutcome.MESSAGE: Outcome.MESSAGE,
    PbxOutcome.VOICEMAIL: Outcome.VOICEMAIL, PbxOutcome.BUSY: Outcome.BUSY,
    PbxOutcome.FAILED: Outcome.FAILED, PbxOutcome.CONGESTION: Outcome.FAILED,
    PbxOutcome.ABANDONED: Outcome.NO_ANSWER, PbxOutcome.SHORT_ABANDON: Outcome.NO_ANSWER,
    PbxOutcome.NO_ANSWER: Outcome.NO_ANSWER,
}
REASON_OUTCOMES = {1: Outcome.NO_ANSWER, 3: Outcome.NO_ANSWER, 5: Outcome.BUSY, 0: Outcome.FAILED,
                   8: Outcome.FAILED}


class MysteryCallError(Exception):
    """The call cannot be placed (AMI unreachable, login refused, Originate refused)."""


@dataclass(frozen=True)
class CallRequest:
    """What to originate for one planned call."""

    call_id: str
    site: str
    number: str  # the EPS public number, national format
    phone: str  # the caller's own device, rung first
    channel_id: str
    context: str = DEFAULT_CONTEXT
    caller_id: str | None = None  # the number the mystery call presents to the switchboard
    ring_limit: float = 60.0  # seconds

    def fields(self) -> tuple[list[tuple[str, str]], dict[str, object]]:
        """The Originate's repeated Variable headers and its other fields (reference §1.8)."""
        pairs = [("Variable", f"MYSTERY_CALL_ID={self.call_id}"),
                 ("Variable", f"MYSTERY_SITE={self.site}"),
                 ("Variable", f"MYSTERY_RING_LIMIT={int(self.ring_limit)}")]
        fields: dict[str, object] = {
            "Channel": self.phone, "Context": self.context, "Exten": self.number, "Priority": 1,
            "Timeout": int(self.ring_limit * 1000), "Account": ACCOUNT,
            "ChannelId": self.channel_id, "Async": "true"}
        if self.caller_id:
            fields["CallerID"] = f'"Appel mystere" <{self.caller_id}>'
        if self.phone.startswith("Local/"):
            fields["OtherChannelId"] = f"{self.channel_id}-2"
        return pairs, fields


def channel_id_for(call_id: str, attempt: int) -> str:
    """The ChannelId of one try of a planned call: findable in events, CDR and CEL."""
    return f"mystery-{re.sub(r'[^A-Za-z0-9-]', '-', call_id)}-{attempt}"


def make_request(planned: Any, phone: str, attempt: int, *, context: str = DEFAULT_CONTEXT,
                 caller_id: str | None = None, ring_limit: float = 60.0) -> CallRequest:
    """The request of a planned call row (mystery_planned_calls)."""
    return CallRequest(planned.call_id, planned.site, national(planned.number), phone,
                       channel_id_for(planned.call_id, attempt), context, caller_id, ring_limit)


@dataclass
class Measure:
    """What the PBX told of one mystery call."""

    channel_id: str
    outcome: Outcome | None  # None: the PBX did not tell (the caller says, in the form)
    ring_seconds: float | None = None
    linkedid: str | None = None
    called_at: float | None = None  # PBX epoch: the switchboard leg's arrival, else the Originate
    leg: Call | None = None
    response: str = ""  # OriginateResponse Response/Reason, when it came
    detail: str = ""


def _digits(number: str | None) -> str:
    return re.sub(r"\D", "", number or "")[-9:]


def find_leg(legs: list[tuple[CallBuilder, Call]], request: CallRequest,
             sent: float) -> tuple[CallBuilder, Call] | None:
    """The switchboard leg: Uniqueid = ChannelId, else same site and caller id, after `sent`."""
    exact = [p for p in legs if p[0].call_key == request.channel_id]
    if exact:
        return exact[0]
    wanted = _digits(request.caller_id)
    near = [(b, c) for b, c in legs if c.site == request.site
            and sent - 2.0 <= c.arrival <= sent + MATCH_WINDOW
            and (not wanted or _digits(b.caller) == wanted)]
    if not wanted:
        near = [p for p in near if p[1].is_test]  # no caller id: only test-marked calls
    return min(near, key=lambda p: (not p[1].is_test, p[1].arrival), default=None)


def measure_from(request: CallRequest, pair: tuple[CallBuilder, Call] | None,
                 response: Message | None, sent: float) -> Measure:
    """The outcome and ring time from the switchboard leg, else from the OriginateResponse."""
    m = Measure(request.channel_id, None, called_at=sent)
    if response is not None:
        reason = response.get("Reason") or ""
        m.response = f"{response.get('Response') or '?'} (reason {reason or '?'})"
    if pair is not None:
        leg = pair[1]
        m.leg, m.linkedid, m.called_at = leg, leg.linkedid, leg.arrival
        m.ring_seconds = leg.time_to_answer
        if leg.incomplete and leg.answer is None:
            m.detail = "events were missed (connection lost): outcome unknown"
        else:
            m.outcome = OUTCOMES[leg.outcome]
        return m
    if response is not None and (response.get("Response") or "").lower() != "success":
        text = (response.get("Reason") or "").strip()
        code = int(text) if text.isdigit() else 0
        m.outcome = REASON_OUTCOMES.get(code, Outcome.FAILED)
        m.detail = f"no switchboard leg; the attempt ended: {REASONS.get(code, f'reason {code}')}"
    else:
        m.detail = "the switchboard leg was not found in the PBX's events"
    return m


@dataclass
class CallFollower:
    """One AMI session: the Originate, its OriginateResponse, and the calls' events."""

    ctx: CaptureContext
    request: CallRequest
    tracker: CallTracker = field(init=False)
    finished: list[tuple[CallBuilder, Call]] = field(default_factory=list)
    responses: dict[str, tuple[Message, float]] = field(default_factory=dict)  # by ActionID
    action_id: str | None = None
    lost: bool = False

    def __post_init__(self) -> None:
        self.tracker = CallTracker(self.ctx)

    def on_message(self, msg: Message) -> None:
        """Fold call events; keep our OriginateResponse (matched by ActionID)."""
        if msg.kind == "event" and msg.name.lower() == "originateresponse":
            if msg.action_id:  # kept by ActionID: it may come before the ack is handed to us
                self.responses.setdefault(msg.action_id, (msg, time.monotonic()))
            return
        self.tracker.feed(msg)
        self.finished.extend(self._keep(self.tracker.pop_finished()))

    def _keep(self, builders: list[CallBuilder]) -> list[tuple[CallBuilder, Call]]:
        """The finished calls that may be the leg: the planned site's (others are dropped)."""
        out = []
        for b in builders:
            try:
                call = self.ctx.finalize(b)
            except RecordError as exc:
                log.debug("call %s not usable: %s", b.call_key, exc)
                continue
            if call.site == self.request.site or b.call_key == self.request.channel_id:
                out.append((b, call))
        return out

    def on_disconnect(self, reason: str, last_received: float) -> None:
        """Calls in progress miss events from now on (the Originate is not re-sent)."""
        self.lost = True
        self.tracker.mark_gap()

    def legs(self, final: bool = False) -> list[tuple[CallBuilder, Call]]:
        """The calls seen (with the ones still in progress, marked incomplete, when `final`)."""
        return [*self.finished, *(self._keep(self.tracker.close_all()) if final else [])]

    @property
    def response(self) -> Message | None:
        """Our OriginateResponse, once it came."""
        found = self.responses.get(self.action_id or "")
        return found[0] if found else None

    def done(self, sent: float) -> bool:
        """The leg has ended, or the attempt failed and no leg is in progress."""
        if find_leg(self.legs(), self.request, sent) is not None:
            return True
        found = self.responses.get(self.action_id or "")
        if found is None or (found[0].get("Response") or "").lower() == "success":
            return False
        ringing = self.request.channel_id in self.tracker.channels
        return not ringing and time.monotonic() - found[1] >= FAILED_GRACE


async def _login(client: AmiClient) -> None:
    try:
        await wait_logged_in(client, CONNECT_WAIT)
    except LoginTimeout as exc:
        raise MysteryCallError(str(exc)) from None


async def _pbx_now(client: AmiClient) -> float:
    """The PBX's clock (a Ping reply's Timestamp), else ours: the fallback match uses it."""
    try:
        pong = await client.send_action("Ping", timeout=5.0)
    except (ActionFailed, ConnectionLost, TimeoutError):
        return time.time()
    return pong.time if pong.time is not None else time.time()


async def _originate(client: AmiClient, follower: CallFollower) -> None:
    """Send the Originate once; a refusal or a lost connection before it went out is an error."""
    pairs, fields = follower.request.fields()
    sent = await originate_once(client, pairs, fields)
    if sent.action_id is None and not sent.went_out:
        raise MysteryCallError(sent.detail)
    follower.lost = sent.action_id is None  # it may have gone out: never re-sent
    follower.action_id = sent.action_id


async def follow_call(client: AmiClient, follower: CallFollower, max_wait: float) -> Measure:
    """Log in, place the call, follow it until its leg ends (or `max_wait` wall seconds)."""
    task = asyncio.create_task(client.run())
    try:
        await _login(client)
        sent = await _pbx_now(client)
        await _originate(client, follower)
        deadline = time.monotonic() + max_wait
        while time.monotonic() < deadline and not follower.done(sent):
            await asyncio.sleep(POLL)
        pair = find_leg(follower.legs(final=True), follower.request, sent)
        measure = measure_from(follower.request, pair, follower.response, sent)
        if follower.lost and not measure.detail:
            measure.detail = "the AMI connection was lost during the call (the call was not re-sent)"
        return measure
    finally:
        client.stop()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5.0)


def run_call(ctx: CaptureContext, request: CallRequest, *, host: str, port: int, username: str,
             secret: str, max_wait: float) -> Measure:
    """Place one mystery call through the AMI at host:port and measure it."""
    follower = CallFollower(ctx, request)
    client = AmiClient(host, port, username, secret, on_message=follower.on_message,
                       on_disconnect=follower.on_disconnect, events=EVENTS,
                       backoff=Backoff(base=0.5, cap=5.0), connect_timeout=5.0)
    return asyncio.run(follow_call(client, follower, max_wait))


def next_attempt(store: Store, campaign: Campaign, planned: Any, role: str = "primary") -> int:
    """The try this call will be: 1, or one more than a stored unanswered try."""
    with store.engine.connect() as conn:
        existing = find_result(conn, planned.call_id, role)
    if existing is None or existing.outcome is Outcome.NOT_MADE:
        return 1
    if existing.outcome is Outcome.ANSWERED:
        raise MysteryCallError(f"{planned.call_id} was already answered ({existing.source}, "
                               f"{existing.status}); to score it: qualiphone mystery record "
                               f"{planned.call_id}")
    if existing.attempts >= campaign.max_attempts:
        raise MysteryCallError(f"{planned.call_id} was already tried {existing.attempts} times "
                               f"(the campaign allows {campaign.max_attempts})")
    return existing.attempts + 1


def store_measure(store: Store, campaign: Campaign, planned: Any, measure: Measure, attempt: int,
                  scorer: str, role: str = "primary") -> int:
    """Write the PBX's view as the call's result (source "ami", in progress until scored)."""
    assert measure.outcome is not None
    item = ResultInput(planned.call_id, role, scorer, measure.outcome, attempt, measure.called_at,
                       "ami", status="in_progress")
    asked = {c.id for c in questions(campaign, planned.scenario, measure.outcome)}
    with store.engine.begin() as conn:
        result_id = start_result(conn, item, asked)
        conn.execute(sa.update(mystery_results).where(mystery_results.c.id == result_id).values(
            pbx_ring_seconds=measure.ring_seconds, pbx_channel_id=measure.channel_id,
            pbx_linkedid=measure.linkedid, captured_call_id=None))
    return result_id
