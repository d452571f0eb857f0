"""The mechanics of building one call's timeline: channels, events, bridges, hang-ups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.call import Outcome
from simulator.engine import BUSY, Plan, Ring
from simulator.profiles import TEST_ACCOUNTCODE, TRUNK, SiteSetup
from simulator.timeline import Channel, Event, Kind, Role, SimCall, us

STEP = 0.00021  # seconds between causally ordered events of one moment
DIALPLAN_HANGUP = "dialplan/builtin"


class Tick:
    """Successive event times from t on, STEP apart; moves the flow's cursor along."""

    def __init__(self, flow: Flow, t: float) -> None:
        self.flow, self.t = flow, max(t, flow.cursor)

    def __call__(self) -> float:
        t = self.t
        self.t += STEP
        self.flow.cursor = max(self.flow.cursor, self.t)
        return t


@dataclass(eq=False, slots=True)
class Leg:
    """One phone rung for the caller: directly (ring group) or through a Local pair (queue)."""

    ring: Ring
    phone: Channel
    l1: Channel | None = None
    l2: Channel | None = None

    @property
    def side(self) -> Channel:
        """The channel bridged with the caller when this leg wins."""
        return self.l1 or self.phone


class Flow:
    """Builds one call's channels and events."""

    def __init__(self, setup: SiteSetup, plan: Plan, rng: np.random.Generator) -> None:
        self.setup, self.plan, self.rng = setup, plan, rng
        self.cursor = 0.0
        self.account = TEST_ACCOUNTCODE if plan.is_test else ""
        self.bridges: dict[Channel, str] = {}
        self.up = False
        self.dialstatus = ""
        self.where: dict[Channel, tuple[str, str]] = {}
        num = plan.caller_num
        self.cid = (num, "Anonymous" if num == "anonymous" else "", num)  # number, name, ANI
        self.caller = Channel(Role.CALLER, TRUNK, us(plan.arrival), setup.did, setup.context,
                              *self.cid, dnid=setup.did, accountcode=self.account)
        self.call = SimCall(setup.site.id, plan.arrival, self.caller, is_test=plan.is_test,
                            channels=[self.caller])
        self.emit(plan.arrival, Kind.NEWCHANNEL, self.caller)

    def tick(self, t: float) -> Tick:
        return Tick(self, t)

    def channel(self, t: float, role: Role, tech: str, exten: str, context: str,
                cid: tuple[str, str, str] = ("", "", ""), pair: Channel | None = None) -> Channel:
        """A new channel of the call (caller id: number, name, ANI)."""
        chan = Channel(role, tech, us(t), exten, context, *cid, accountcode=self.account,
                       pair=pair)
        self.call.channels.append(chan)
        self.emit(t, Kind.NEWCHANNEL, chan)
        return chan

    def emit(self, t: float, kind: Kind, chan: Channel, **fields: Any) -> None:
        self.call.events.append(Event(us(t), kind, chan, **fields))

    def app(self, t: float, chan: Channel, app: str, data: str, exten: str = "",
            context: str = "") -> None:
        """The channel runs an application, at exten@context (default: where it already is)."""
        here = self.where.get(chan, (chan.exten, chan.context))
        where = (exten or here[0], context or here[1])
        self.where[chan] = where
        self.emit(t, Kind.APP, chan, app=app, data=data, exten=where[0], context=where[1])

    def answer(self, t: float, chan: Channel) -> None:
        if chan is self.caller:
            self.up = True
        self.emit(t, Kind.ANSWER, chan)

    def enter(self, t: float, chan: Channel, bridge: str) -> None:
        self.bridges[chan] = bridge
        self.emit(t, Kind.BRIDGE_ENTER, chan, bridge=bridge)

    def leave(self, t: float, chan: Channel) -> None:
        self.emit(t, Kind.BRIDGE_EXIT, chan, bridge=self.bridges.pop(chan))

    def hangup(self, t: float, chan: Channel, cause: int = 16, origin: Channel | None = None,
               status: str = "", source: str = "") -> None:
        """The channel is destroyed; `origin` hung up first (else `source` names who did)."""
        status = self.dialstatus if chan is self.caller else status
        self.emit(t, Kind.HANGUP, chan, cause=cause, origin=origin, status=status, data=source)

    def new_bridge(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def ringing(self, legs: list[Leg]) -> None:
        for leg in legs:
            r = leg.ring
            if r.result != BUSY and r.end - r.start > 0.1:
                self.emit(r.start + self.rng.uniform(0.03, min(0.4, (r.end - r.start) / 2)),
                          Kind.RINGING, leg.phone)

    def finish(self, short_abandon: float) -> SimCall:
        call = self.call
        call.events.sort(key=lambda e: e.time)
        call.end = next(e.time for e in call.events
                        if e.kind is Kind.HANGUP and e.chan is self.caller)
        first = next((e for e in call.events
                      if e.kind is Kind.ANSWER and e.chan.role is Role.PHONE), None)
        if first is not None:
            call.answer, call.answered_by = first.time, first.chan.device
        call.outcome = _outcome(self.plan.exit, call.end - call.arrival, short_abandon)
        return call


def _outcome(exit: str, length: float, short_abandon: float) -> Outcome:
    fixed = {"connect": Outcome.ANSWERED, "message": Outcome.MESSAGE,
             "message_early": Outcome.MESSAGE, "exitempty": Outcome.VOICEMAIL,
             "noanswer": Outcome.VOICEMAIL, "full": Outcome.BUSY, "busy": Outcome.BUSY,
             "failed": Outcome.FAILED}
    if exit in fixed:
        return fixed[exit]
    return Outcome.SHORT_ABANDON if length < short_abandon else Outcome.ABANDONED
