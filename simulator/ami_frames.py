"""A simulated call's timeline as the frames Asterisk 20/22 sends on AMI (`timestampevents=yes`).

Field by field the frames follow the Asterisk 22.9 capture (shared/data/real/ami/verbara) and
the 22.1 `manager set debug` dumps (ispbx): `Event`, `Privilege`, `Timestamp`, then the standard
channel block (`Channel` … `Linkedid`, unknown caller ids as `<unknown>`), a `Dest`-prefixed
second block for two-channel events, bridge fields before the channel block on bridge events.

From one timeline event (`simulator.timeline.Kind`) come one or more frames, all stamped with
the event's time:

* Newchannel; Newexten (class `dialplan`) when a channel starts an application, and for a
  dialed channel (`AppDial`/`AppQueue`, `(Outgoing Line)`), so a PBX can answer
  CoreShowChannels; a listener that logs in with `call,agent,system` never receives them;
* DialBegin; Newstate `Ringing` + DialState `RINGING` when a phone rings (and the Local `;1`
  half it stands for); DialEnd;
* Newstate `Up` when a channel answers. A phone's answer also ends its dial: Asterisk publishes
  `DialEnd ANSWER` from the same pass of the dial loop (about 100 µs later in the ispbx dump),
  so it carries the phone's answer time, and the timeline's own DialEnd for it is not repeated;
* BridgeCreate before the first BridgeEnter, BridgeLeave, BridgeDestroy after the last leave;
* Hangup with `Cause` and `Cause-txt`; BlindTransfer (and AgentComplete `Reason: transfer`
  when the transfer ends a queue call);
* QueueCallerJoin; AgentCalled; AgentRingNoAnswer (`RingTime` in ms); QueueCallerLeave before
  AgentConnect (the order of the capture) and after QueueCallerAbandon (raised for a caller who
  hangs up and for the leave-when-empty exit alike); AgentComplete. The timeline's
  AgentRingCanceled has no AMI event (queue_log RINGCANCELED only).

`Count` of the queue events is the caller's position (the model keeps no live queue length).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.timeline import Channel, Event, Kind, Role, SimCall

CALL, AGENT, DIALPLAN, SYSTEM = "call", "agent", "dialplan", "system"
LANGUAGE = "fr"
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
CAUSE_TEXT = {
    0: "Unknown", 16: "Normal Clearing", 17: "User busy", 18: "No user responding",
    19: "User alerting, no answer", 21: "Call Rejected", 26: "Answered elsewhere",
    34: "Circuit/channel congestion", 38: "Network out of order",
    42: "Switching equipment congestion",
}
BRIDGE_HEAD = ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"), \
    ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>")

Headers = list[tuple[str, str]]


@dataclass(slots=True)
class Frame:
    """One AMI event to send at `time`; `uid`/`block`: the channel it describes and its fields."""

    time: float
    cls: str  # the event class a session must read to receive it
    headers: Headers
    uid: str = ""
    block: Headers | None = None

    @property
    def name(self) -> str:
        return self.headers[0][1]

    def get(self, key: str) -> str | None:
        for k, v in self.headers:
            if k == key:
                return v
        return None


def _v(value: str) -> str:
    return value or "<unknown>"


def head(name: str, cls: str, t: float) -> Headers:
    return [("Event", name), ("Privilege", f"{cls},all"), ("Timestamp", f"{t:.6f}")]


def dial_string(peer: Channel) -> str:
    """What Dial/Queue was given for this destination."""
    if peer.role is Role.LOCAL1:
        return f"{peer.tech}/n"
    return peer.tech.removeprefix("PJSIP/")


@dataclass(slots=True)
class _Snap:
    """What a channel looks like now (the mutable parts of its standard block)."""

    state: int
    context: str
    exten: str
    priority: int = 1
    connected: tuple[str, str] = ("", "")
    app: str = ""


@dataclass
class CallRenderer:
    """Renders one call (ids assigned) event by event; `frames` holds the result in order."""

    call: SimCall
    frames: list[Frame] = field(default_factory=list)
    snaps: dict[Channel, _Snap] = field(default_factory=dict)
    dialer: dict[Channel, Channel] = field(default_factory=dict)  # dialed channel -> dialer
    answered: set[Channel] = field(default_factory=set)  # DialEnd ANSWER already sent
    bridges: dict[str, int] = field(default_factory=dict)
    queued: bool = False

    def block(self, chan: Channel, prefix: str = "") -> Headers:
        s = self.snaps[chan]
        p = prefix
        return [
            (p + "Channel", chan.name), (p + "ChannelState", str(s.state)),
            (p + "ChannelStateDesc", STATE_DESC[s.state]), (p + "CallerIDNum", _v(chan.cid_num)),
            (p + "CallerIDName", _v(chan.cid_name)), (p + "ConnectedLineNum", _v(s.connected[0])),
            (p + "ConnectedLineName", _v(s.connected[1])), (p + "Language", LANGUAGE),
            (p + "AccountCode", chan.accountcode), (p + "Context", s.context),
            (p + "Exten", s.exten), (p + "Priority", str(s.priority)),
            (p + "Uniqueid", chan.uniqueid), (p + "Linkedid", chan.linkedid),
        ]

    def emit(self, t: float, name: str, cls: str, chan: Channel | None, *rest: Headers) -> None:
        headers = head(name, cls, t)
        block = None
        if chan is not None:
            block = self.block(chan)
            headers += block
        for part in rest:
            headers += part
        self.frames.append(Frame(t, cls, headers, chan.uniqueid if chan else "", block))

    def two(self, t: float, name: str, cls: str, chan: Channel, peer: Channel, *rest: Headers) -> None:
        self.emit(t, name, cls, chan, self.block(peer, "Dest"), *rest)

    def render(self) -> list[Frame]:
        for ev in self.call.events:
            HANDLERS[ev.kind](self, ev)
        return self.frames

    # ---- channels ---------------------------------------------------------------------------

    def newchannel(self, ev: Event) -> None:
        c, caller = ev.chan, self.call.caller
        state = 4 if c.role in (Role.CALLER, Role.LOCAL2) else 0
        connected = ("", "") if c is caller else (caller.cid_num, caller.cid_name)
        self.snaps[c] = _Snap(state, c.context, c.exten, connected=connected)
        self.emit(ev.time, "Newchannel", CALL, c)

    def app(self, ev: Event) -> None:
        s = self.snaps[ev.chan]
        moved = (ev.exten, ev.context) != (s.exten, s.context)
        s.exten, s.context = ev.exten, ev.context
        s.priority = 1 if moved else s.priority + 1
        s.app = ev.app
        self.emit(ev.time, "Newexten", DIALPLAN, ev.chan,
                  [("Extension", ev.exten), ("Application", ev.app), ("AppData", ev.data)])

    def state(self, t: float, chan: Channel, state: int) -> None:
        self.snaps[chan].state = state
        self.emit(t, "Newstate", CALL, chan)

    def answer(self, ev: Event) -> None:
        chan = ev.chan
        self.state(ev.time, chan, 6)
        dialer = self.dialer.get(chan)
        if chan.role is Role.PHONE and dialer is not None and chan not in self.answered:
            self.answered.add(chan)
            self.snaps[self.call.caller].connected = (chan.cid_num, chan.cid_name)
            self.two(ev.time, "DialEnd", CALL, dialer, chan, [("DialStatus", "ANSWER")])

    def hangup(self, ev: Event) -> None:
        self.emit(ev.time, "Hangup", CALL, ev.chan,
                  [("Cause", str(ev.cause)), ("Cause-txt", CAUSE_TEXT.get(ev.cause, "Unknown"))])

    # ---- dialing ----------------------------------------------------------------------------

    def dial_begin(self, ev: Event) -> None:
        peer = ev.peer
        assert peer is not None
        self.dialer[peer] = ev.chan
        app = "AppQueue" if self.snaps[ev.chan].app == "Queue" else "AppDial"
        self.snaps[peer].app = app
        self.emit(ev.time, "Newexten", DIALPLAN, peer,
                  [("Extension", peer.exten), ("Application", app), ("AppData", "(Outgoing Line)")])
        self.two(ev.time, "DialBegin", CALL, ev.chan, peer, [("DialString", dial_string(peer))])

    def ringing(self, ev: Event) -> None:
        chan: Channel | None = ev.chan
        while chan is not None and self.snaps[chan].state < 5:
            self.state(ev.time, chan, 5)
            dialer = self.dialer.get(chan)
            if dialer is None:
                return
            self.two(ev.time, "DialState", CALL, dialer, chan, [("DialStatus", "RINGING")])
            chan = dialer.pair if dialer.role is Role.LOCAL2 else None  # its Local ;1 half

    def dial_end(self, ev: Event) -> None:
        peer = ev.peer
        assert peer is not None
        if ev.status == "ANSWER" and peer in self.answered:
            return
        self.two(ev.time, "DialEnd", CALL, ev.chan, peer, [("DialStatus", ev.status)])

    # ---- bridges and transfers --------------------------------------------------------------

    def _bridge(self, bridge: str, n: int) -> Headers:
        return [("BridgeUniqueid", bridge), *BRIDGE_HEAD, ("BridgeNumChannels", str(n)),
                ("BridgeVideoSourceMode", "none")]

    def bridge_enter(self, ev: Event) -> None:
        n = self.bridges.get(ev.bridge, 0)
        if n == 0:
            self.frames.append(Frame(ev.time, CALL, head("BridgeCreate", CALL, ev.time)
                                     + self._bridge(ev.bridge, 0)))
        self.bridges[ev.bridge] = n + 1
        self.emit(ev.time, "BridgeEnter", CALL, None, self._bridge(ev.bridge, n + 1))
        self.frames[-1].headers += self.block(ev.chan)
        self.frames[-1].uid, self.frames[-1].block = ev.chan.uniqueid, self.block(ev.chan)

    def bridge_leave(self, ev: Event) -> None:
        n = self.bridges[ev.bridge] - 1
        self.bridges[ev.bridge] = n
        self.emit(ev.time, "BridgeLeave", CALL, None, self._bridge(ev.bridge, n))
        self.frames[-1].headers += self.block(ev.chan)
        self.frames[-1].uid, self.frames[-1].block = ev.chan.uniqueid, self.block(ev.chan)
        if n == 0:
            self.frames.append(Frame(ev.time, CALL, head("BridgeDestroy", CALL, ev.time)
                                     + self._bridge(ev.bridge, 0)))

    def blind_transfer(self, ev: Event) -> None:
        side, caller = ev.chan, ev.peer
        assert caller is not None
        self.frames.append(Frame(ev.time, CALL, [
            *head("BlindTransfer", CALL, ev.time), ("Result", "Success"),
            *self.block(side, "Transferer"), *self.block(caller, "Transferee"),
            *self._bridge(ev.bridge, self.bridges.get(ev.bridge, 0)), ("IsExternal", "No"),
            ("Context", ev.context), ("Extension", ev.exten)]))
        if ev.queue:
            hold, talk, _ = ev.numbers
            member = [("Queue", ev.queue), ("Interface", dial_string(side)), ("MemberName", ev.member)]
            self.two(ev.time, "AgentComplete", AGENT, caller, side, member,
                     [("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", "transfer")])

    # ---- queue ------------------------------------------------------------------------------

    def member(self, ev: Event) -> Headers:
        assert ev.peer is not None
        return [("Queue", ev.queue), ("Interface", dial_string(ev.peer)), ("MemberName", ev.member)]

    def queue_join(self, ev: Event) -> None:
        self.queued = True
        position = str(ev.numbers[0])
        self.emit(ev.time, "QueueCallerJoin", AGENT, ev.chan,
                  [("Queue", ev.queue), ("Position", position), ("Count", position)])

    def queue_leave(self, t: float, chan: Channel, queue: str, position: int) -> None:
        if self.queued:
            self.queued = False
            self.emit(t, "QueueCallerLeave", AGENT, chan,
                      [("Queue", queue), ("Position", str(position)), ("Count", str(position - 1))])

    def agent_called(self, ev: Event) -> None:
        assert ev.peer is not None
        self.two(ev.time, "AgentCalled", AGENT, ev.chan, ev.peer, self.member(ev))

    def agent_ring_no_answer(self, ev: Event) -> None:
        assert ev.peer is not None
        self.two(ev.time, "AgentRingNoAnswer", AGENT, ev.chan, ev.peer, self.member(ev),
                 [("RingTime", str(ev.numbers[0]))])

    def agent_connect(self, ev: Event) -> None:
        assert ev.peer is not None
        self.queue_leave(ev.time, ev.chan, ev.queue, 1)
        hold, ring = ev.numbers
        self.two(ev.time, "AgentConnect", AGENT, ev.chan, ev.peer, self.member(ev),
                 [("HoldTime", str(hold)), ("RingTime", str(ring))])

    def agent_complete(self, ev: Event) -> None:
        assert ev.peer is not None
        hold, talk, _ = ev.numbers
        self.two(ev.time, "AgentComplete", AGENT, ev.chan, ev.peer, self.member(ev),
                 [("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", ev.status)])

    def queue_exit(self, ev: Event) -> None:
        position, original, wait = ev.numbers
        self.emit(ev.time, "QueueCallerAbandon", AGENT, ev.chan,
                  [("Queue", ev.queue), ("Position", str(position)),
                   ("OriginalPosition", str(original)), ("HoldTime", str(wait))])
        self.queue_leave(ev.time, ev.chan, ev.queue, position)

    def ignore(self, ev: Event) -> None:
        pass


HANDLERS = {
    Kind.NEWCHANNEL: CallRenderer.newchannel, Kind.APP: CallRenderer.app,
    Kind.DIAL_BEGIN: CallRenderer.dial_begin, Kind.RINGING: CallRenderer.ringing,
    Kind.DIAL_END: CallRenderer.dial_end, Kind.ANSWER: CallRenderer.answer,
    Kind.BRIDGE_ENTER: CallRenderer.bridge_enter, Kind.BRIDGE_EXIT: CallRenderer.bridge_leave,
    Kind.HANGUP: CallRenderer.hangup, Kind.BLIND_TRANSFER: CallRenderer.blind_transfer,
    Kind.QUEUE_JOIN: CallRenderer.queue_join, Kind.AGENT_CALLED: CallRenderer.agent_called,
    Kind.AGENT_RING_NO_ANSWER: CallRenderer.agent_ring_no_answer,
    Kind.AGENT_RING_CANCELED: CallRenderer.ignore, Kind.AGENT_CONNECT: CallRenderer.agent_connect,
    Kind.AGENT_COMPLETE: CallRenderer.agent_complete, Kind.QUEUE_ABANDON: CallRenderer.queue_exit,
    Kind.QUEUE_EXIT_EMPTY: CallRenderer.queue_exit,
}


def render_call(call: SimCall) -> list[Frame]:
    """Every frame of one call (channel ids assigned), in time order."""
    return CallRenderer(call).render()


def render_calls(calls: list[SimCall]) -> list[Frame]:
    """The frames of several calls merged in time order (stable within a call)."""
    frames = [f for call in calls for f in render_call(call)]
    frames.sort(key=lambda f: f.time)
    return frames
