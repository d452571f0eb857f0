"""From a `Plan` to what Asterisk does: the channels and events of one call, in time order.

Dialplan of the simulated PBX, per site (XX = 05 … 20 or centre):

    [in-eps-XX]   DID => GotoIfTime(closed → msg-eps-XX) ; [Answer, Playback(welcome)] ;
                         Queue(std-XX,rt,,,600) (members Local/2xx@epsXX-agents/n)
                         or Dial(PJSIP/epsXX-201&PJSIP/epsXX-202,40,t) ;
                         FULL / BUSY → Busy(10) ; EXITEMPTY / NOANSWER → Goto(vm-eps-XX)
    [epsXX-agents] 2xx/3xx => Dial(PJSIP/epsXX-2xx,30)  (members, and blind transfers)
    [msg-eps-XX]  DID => Answer, Playback(eps-XX/fermeture), Hangup
    [vm-eps-XX]   DID => VoiceMail(accueil@eps-XX,u)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.conversation import connect, queue_legs, resolve_unanswered
from simulator.engine import ANSWER, BUSY, NOANSWER, Plan
from simulator.flow import DIALPLAN_HANGUP, Flow, Leg
from simulator.profiles import QUEUE_TIMEOUT, RINGGROUP_TIMEOUT, SiteSetup
from simulator.timeline import Kind, Role, SimCall


def _message(f: Flow) -> None:
    p, s, c = f.plan, f.setup, f.caller
    assert p.up is not None
    f.app(p.up - 0.0005, c, "Answer", "", context=s.message_context)
    f.answer(p.up, c)
    f.app(p.up + 0.0004, c, "Playback", s.closed_sound)
    if p.exit == "message":  # heard in full: the dialplan hangs up
        f.app(p.end - 0.0004, c, "Hangup", "")
        f.hangup(p.end, c, source=DIALPLAN_HANGUP)
    else:
        f.hangup(p.end, c, origin=c)


def _failed(f: Flow) -> None:
    f.app(f.plan.arrival + 0.03, f.caller, "Congestion", "3")
    f.hangup(f.plan.end, f.caller, cause=34, source=DIALPLAN_HANGUP)


def _voicemail(f: Flow, t: float) -> None:
    p, s, c = f.plan, f.setup, f.caller
    assert p.vm_up is not None
    f.app(f.tick(t)(), c, "VoiceMail", f"accueil@{s.site.id},u", context=s.voicemail_context)
    if not f.up:
        f.answer(p.vm_up, c)
    f.hangup(p.end, c, origin=c)


def _queue(f: Flow) -> None:
    p, s, c = f.plan, f.setup, f.caller
    if s.profile.welcome:
        assert p.up is not None
        f.app(p.up - 0.0005, c, "Answer", "")
        f.answer(p.up, c)
        f.app(p.up + 0.0004, c, "Playback", s.welcome_sound)
        if p.queue_entry is None:  # hung up during the announcement
            f.hangup(p.end, c, origin=c)
            return
    assert p.queue_entry is not None
    f.app(p.queue_entry - 0.0003, c, "Queue", f"{s.queue},rt,,,{QUEUE_TIMEOUT}")
    if p.exit == "full":
        f.app(p.queue_entry + 0.0004, c, "Busy", "10")
        f.hangup(p.end, c, cause=17, origin=c)
        return
    f.emit(p.queue_entry, Kind.QUEUE_JOIN, c, queue=s.queue, numbers=(p.origposition,))
    for group in p.rings:
        legs = queue_legs(f, group)
        if any(r.result == ANSWER for r in group):
            connect(f, legs)
        else:
            resolve_unanswered(f, legs)
    _queue_exit(f)


def _queue_exit(f: Flow) -> None:
    p, s, c = f.plan, f.setup, f.caller
    if p.exit == "connect":
        return
    assert p.queue_entry is not None
    figures = (p.exit_position, p.origposition, int(p.exit_time - p.queue_entry))
    tick = f.tick(p.exit_time)
    if p.exit == "abandon":
        f.emit(tick(), Kind.QUEUE_ABANDON, c, queue=s.queue, numbers=figures)
        f.hangup(tick(), c, origin=c)
    else:
        f.emit(tick(), Kind.QUEUE_EXIT_EMPTY, c, queue=s.queue, numbers=figures)
        _voicemail(f, tick())


def _ringgroup(f: Flow) -> None:
    p, s, c = f.plan, f.setup, f.caller
    group = p.rings[0]
    start = group[0].start
    timeout = int(RINGGROUP_TIMEOUT)
    f.app(start - 0.002, c, "Dial", "&".join(r.agent.device for r in group) + f",{timeout},t")
    tick = f.tick(start)
    legs = []
    for r in group:
        phone = f.channel(tick(), Role.PHONE, r.agent.device, r.agent.ext, s.agents_context,
                          (r.agent.ext, "", ""))
        f.emit(tick(), Kind.DIAL_BEGIN, c, peer=phone)
        legs.append(Leg(r, phone))
    for leg in legs:
        if leg.ring.result == BUSY:
            busy = f.tick(leg.ring.end)
            f.emit(busy(), Kind.DIAL_END, c, peer=leg.phone, status=BUSY)
            f.hangup(busy(), leg.phone, cause=17, origin=leg.phone)
    f.ringing(legs)
    live = [leg for leg in legs if leg.ring.result != BUSY]
    if not live:
        f.dialstatus = BUSY
        f.app(f.tick(p.exit_time)(), c, "Busy", "10")
        f.hangup(p.end, c, cause=17, origin=c)
    elif any(leg.ring.result == ANSWER for leg in live):
        connect(f, live)
    else:
        resolve_unanswered(f, live)
        if live[0].ring.result == NOANSWER:
            _voicemail(f, f.cursor)
        else:
            f.hangup(f.tick(p.exit_time)(), c, origin=c)


ROUTES: dict[str, Callable[[Flow], None]] = {
    "message": _message, "failed": _failed, "queue": _queue, "ringgroup": _ringgroup,
}


def build_call(setup: SiteSetup, plan: Plan, rng: np.random.Generator,
               short_abandon: float) -> SimCall:
    """The call's timeline, from the engine's decisions."""
    flow = Flow(setup, plan, rng)
    ROUTES[plan.route](flow)
    return flow.finish(short_abandon)

