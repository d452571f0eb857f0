"""Phones ringing, a person answering, the conversation and how it ends (hang-up or transfer)."""

from __future__ import annotations

from simulator.engine import ANSWER, CANCEL, NOANSWER, Ring
from simulator.flow import Flow, Leg, Tick
from simulator.timeline import Channel, Kind, Role


def queue_legs(f: Flow, group: list[Ring]) -> list[Leg]:
    """app_queue rings members: a Local pair per member, its ;2 half dials the phone."""
    s, c = f.setup, f.caller
    tick = f.tick(group[0].start)
    legs = []
    for r in group:
        ext, device = r.agent.ext, r.agent.device
        tech = f"Local/{ext}@{s.agents_context}"
        l1 = f.channel(tick(), Role.LOCAL1, tech, ext, s.agents_context, f.cid)
        l2 = f.channel(tick(), Role.LOCAL2, tech, ext, s.agents_context, f.cid, pair=l1)
        f.emit(tick(), Kind.AGENT_CALLED, c, peer=l1, queue=s.queue, member=device)
        f.emit(tick(), Kind.DIAL_BEGIN, c, peer=l1)
        f.app(tick(), l2, "Dial", f"{device},30")
        phone = f.channel(tick(), Role.PHONE, device, ext, s.agents_context, (ext, "", ""))
        f.emit(tick(), Kind.DIAL_BEGIN, l2, peer=phone)
        legs.append(Leg(r, phone, l1, l2))
    f.ringing(legs)
    return legs


def _drop_leg(f: Flow, tick: Tick, leg: Leg, status: str, cause: int) -> None:
    """One leg stops ringing: rang out, lost to another phone, or the caller left."""
    c, s, r = f.caller, f.setup, leg.ring
    ms = int((r.end - r.start) * 1000)
    origin = c if status == CANCEL and r.result == CANCEL else None
    if leg.l1 is None:
        f.emit(tick(), Kind.DIAL_END, c, peer=leg.phone, status=status)
        f.hangup(tick(), leg.phone, cause=cause, origin=origin)
        return
    assert leg.l2 is not None
    if r.result == NOANSWER:
        f.emit(tick(), Kind.AGENT_RING_NO_ANSWER, c, peer=leg.l1, queue=s.queue,
               member=r.agent.device, numbers=(ms,))
    elif r.result == CANCEL:
        f.emit(tick(), Kind.AGENT_RING_CANCELED, c, peer=leg.l1, queue=s.queue,
               member=r.agent.device, numbers=(ms,))
    f.emit(tick(), Kind.DIAL_END, c, peer=leg.l1, status=status)
    f.hangup(tick(), leg.l1, cause=cause, origin=origin)
    f.emit(tick(), Kind.DIAL_END, leg.l2, peer=leg.phone, status=CANCEL)
    f.hangup(tick(), leg.phone, cause=cause, origin=origin)
    f.hangup(tick(), leg.l2, origin=origin, status=CANCEL)


def resolve_unanswered(f: Flow, legs: list[Leg]) -> None:
    """Every leg rang out (NOANSWER) or the caller hung up while they rang (CANCEL)."""
    tick = f.tick(legs[0].ring.end)
    for leg in legs:
        if leg.ring.result == NOANSWER:
            _drop_leg(f, tick, leg, NOANSWER, 19)
        else:
            _drop_leg(f, tick, leg, CANCEL, 16)
    if legs[0].l1 is None:
        f.dialstatus = legs[0].ring.result


def connect(f: Flow, legs: list[Leg]) -> None:
    """The winning phone answers; the other legs are cancelled; caller and agent are bridged."""
    p, s, c = f.plan, f.setup, f.caller
    win = next(leg for leg in legs if leg.ring.result == ANSWER)
    tick = f.tick(win.ring.end)
    f.answer(tick(), win.phone)  # the person's answer
    if win.l1 is not None and win.l2 is not None:
        f.emit(tick(), Kind.DIAL_END, win.l2, peer=win.phone, status=ANSWER)
        f.answer(tick(), win.l2)
        inner = f.new_bridge()
        f.enter(tick(), win.phone, inner)
        f.enter(tick(), win.l2, inner)
        f.answer(tick(), win.l1)
    f.emit(tick(), Kind.DIAL_END, c, peer=win.side, status=ANSWER)
    for leg in legs:
        if leg is not win:
            _drop_leg(f, tick, leg, CANCEL, 26)
    if win.l1 is not None:
        assert p.queue_entry is not None
        hold, ring = int(win.ring.end - p.queue_entry), int(win.ring.end - win.ring.start)
        f.emit(tick(), Kind.AGENT_CONNECT, c, peer=win.l1, queue=s.queue,
               member=win.ring.agent.device, numbers=(hold, ring))
    else:
        f.dialstatus = ANSWER
    if not f.up:
        f.answer(tick(), c)
    outer = f.new_bridge()
    f.enter(tick(), c, outer)
    f.enter(tick(), win.side, outer)
    if p.transfer is not None:
        _transfer(f, win)
    else:
        _teardown(f, win)


def _figures(f: Flow, win: Leg, until: float) -> tuple[int, int, int]:
    """(holdtime, calltime, origposition) as app_queue logs them."""
    entry = f.plan.queue_entry or win.ring.start
    return (int(win.ring.end - entry), int(until - win.ring.end), f.plan.origposition)


def _teardown(f: Flow, win: Leg) -> None:
    """The conversation ends: the caller's or the agent's side hangs up first."""
    p, c = f.plan, f.caller
    chain: list[Channel] = [c, *(x for x in (win.l1, win.l2) if x), win.phone]
    if p.hangup_by == "agent":
        chain.reverse()
    tick = f.tick(p.release)
    left = 0
    for chan in chain:
        f.leave(tick(), chan)
        if chan is c or chan is win.l1:
            left += 1
            if win.l1 is not None and left == 2:
                f.emit(tick(), Kind.AGENT_COMPLETE, c, peer=win.l1, queue=f.setup.queue,
                       member=win.ring.agent.device, status=p.hangup_by,
                       numbers=_figures(f, win, p.release))
        if chan is not c:  # the caller's channel goes last: nothing of it follows its Hangup
            f.hangup(tick(), chan, origin=chain[0], status=ANSWER if chan is win.l2 else "")
    f.hangup(tick(), c, origin=chain[0])


def _transfer(f: Flow, win: Leg) -> None:
    """The agent blind-transfers the caller to a colleague, who answers and talks."""
    p, s, c = f.plan, f.setup, f.caller
    transfer = p.transfer
    assert transfer is not None
    tick = f.tick(transfer.time)
    side = win.side
    queued = win.l1 is not None
    f.emit(tick(), Kind.BLIND_TRANSFER, side, peer=c, exten=transfer.ext,
           context=s.agents_context, bridge=f.bridges[c], queue=s.queue if queued else "",
           member=win.ring.agent.device, numbers=_figures(f, win, transfer.time))
    f.leave(tick(), c)
    for chan in (side, win.l2, win.phone) if queued else (side,):
        assert chan is not None
        f.leave(tick(), chan)
        f.hangup(tick(), chan, origin=side, status=ANSWER if chan is win.l2 else "")
    device = s.phone(transfer.ext)
    f.app(tick(), c, "Dial", f"{device},30", exten=transfer.ext, context=s.agents_context)
    colleague = f.channel(tick(), Role.PHONE, device, transfer.ext, s.agents_context,
                          (transfer.ext, "", ""))
    f.emit(tick(), Kind.DIAL_BEGIN, c, peer=colleague)
    f.emit(transfer.time + 0.2, Kind.RINGING, colleague)
    tick = f.tick(transfer.answer)
    f.answer(tick(), colleague)
    f.emit(tick(), Kind.DIAL_END, c, peer=colleague, status=ANSWER)
    f.dialstatus = ANSWER
    bridge = f.new_bridge()
    f.enter(tick(), c, bridge)
    f.enter(tick(), colleague, bridge)
    chain = [c, colleague] if p.hangup_by == "caller" else [colleague, c]
    tick = f.tick(p.end)
    for chan in chain:
        f.leave(tick(), chan)
        f.hangup(tick(), chan, origin=chain[0])
