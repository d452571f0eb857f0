"""Fold AMI events into one `CallBuilder` per inbound call (reference §2, §4 and §8).

Calls are gathered by Linkedid and keyed by the Uniqueid of the caller leg (the first channel of
the Linkedid), the same call key as the batch importers use, so writes merge. Events are
dispatched through a `{event name: handler}` table; events that carry an `ActionID` (list items
of Status/QueueStatus/CoreShowChannels, action output) are snapshots, not live changes, and are
ignored here.

* arrival: the caller leg's `Newchannel`;
* first ring: the first `DialBegin` of the call (any leg, so Local-channel members count);
* queue entry and queue: the first `QueueCallerJoin` (`Join` in Asterisk 11);
* answer: the earliest `DialEnd ANSWER`, `AgentConnect` or `BridgeEnter` of a *staff device*
  (`ctx.sites.is_staff`); the caller leg going Up (an announcement, an IVR) is never an answer,
  and `QueueCallerAbandon` is not a hang-up; after a (re)connection, a staff device Up or
  bridged in the CoreShowChannels snapshot answered while we were away (estimated from its age);
* end: the caller's `Hangup`; the call is finished when the last channel of the Linkedid hangs up.

Times come from the PBX's `Timestamp` header, never from the arrival order (order is guaranteed
per channel only, so every time is a minimum over candidates). Without `Timestamp` the receive
time is used; a recorded capture without either falls back on each channel's Uniqueid epoch and
on Asterisk's own durations (AgentConnect RingTime/HoldTime, AgentComplete TalkTime), with a
resolution of 1 s. Asterisk 11 and 12–13.4 (no Linkedid) are followed through `Dial`, `Bridge`,
`LocalBridge` and `DialBegin` Uniqueid pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.ami.live import LiveCall, LiveState
from ingest.ami.protocol import Message, Uniqueid
from ingest.finalize import CaptureContext
from ingest.site_map import device_of, looks_like_did
from monitor.call import CallBuilder, Outcome, Source

Handler = Callable[[Message, "float | None"], None]
_CAUSE_OUTCOMES = {"17": Outcome.BUSY, "34": Outcome.CONGESTION, "38": Outcome.CONGESTION,
                   "42": Outcome.CONGESTION}
_UNKNOWN = ("", "<unknown>", "<null>")


def uniqueid_epoch(uid: str | None) -> float | None:
    parsed = Uniqueid.parse(uid) if uid else None
    return float(parsed.epoch) if parsed else None


def _seconds(text: str | None) -> int | None:
    """An integer field (HoldTime) or an `HH:MM:SS` Duration, else None."""
    if not text:
        return None
    if ":" in text:
        parts = text.split(":")
        if all(p.isdigit() for p in parts):
            total = 0
            for p in parts:
                total = total * 60 + int(p)
            return total
        return None
    return int(text) if text.isdigit() else None


def _set_queue_entry(b: CallBuilder, t: float) -> None:
    """Record the queue entry; an arrival estimated after a reconnect (now − Duration, whole
    seconds, so up to 1 s late) moves back to it, since a call cannot enter a queue first."""
    b.queue_entry = t
    if b.arrival is not None and t < b.arrival:
        b.arrival = t


def _created(item: Message, uid: str, now: float) -> float:
    """When a CoreShowChannel item's channel was created: now − Duration, else its Uniqueid."""
    age = _seconds(item.get("Duration"))
    return now - age if age is not None else uniqueid_epoch(uid) or now


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    call: CallState
    staff: bool


@dataclass(slots=True)
class CallState:
    builder: CallBuilder
    caller: str  # Uniqueid of the caller leg
    caller_staff: bool
    live: LiveCall
    channels: set[str] = field(default_factory=set)
    linkedids: set[str] = field(default_factory=set)
    dial_status: dict[str, str] = field(default_factory=dict)  # first final status per dest
    ringing: set[str] = field(default_factory=set)
    diverted: Outcome | None = None  # MESSAGE / VOICEMAIL context reached
    cause: str | None = None
    caller_up: tuple[float, str] | None = None  # the caller leg answered (time, its context)


class CallTracker:
    """The AMI event → call state machine for one PBX. Pure: no I/O, no clock."""

    def __init__(self, ctx: CaptureContext, live: LiveState | None = None) -> None:
        self.ctx, self.sites, self.pbx = ctx, ctx.sites, ctx.pbx.name
        self.live = live if live is not None else LiveState()
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, CallState] = {}  # by Linkedid (several ids may name one call)
        self.finished: list[CallBuilder] = []
        self.untimed_events = 0
        self.left_out = 0  # finished calls of no site and no DID (internal, outbound, stray legs)
        self._test_codes = set(ctx.pbx.test_accountcodes)
        self._since_connect: set[str] = set()  # Uniqueids created or ended since the last login
        self.handlers: dict[str, Handler] = {
            "newchannel": self._newchannel, "newstate": self._touch, "hangup": self._hangup,
            "dialbegin": self._dialbegin, "dialstate": self._dialstate, "dialend": self._dialend,
            "agentconnect": self._agentconnect, "agentcomplete": self._agentcomplete,
            "bridgeenter": self._bridgeenter, "queuecallerjoin": self._queuejoin,
            "join": self._queuejoin, "queuecallerleave": self._queueleave, "leave": self._queueleave,
            "queuecallerabandon": self._touch,  # not a hang-up (reference §4.3)
            "dial": self._dial11, "bridge": self._bridge11, "localbridge": self._localbridge,
        }

    # ---- entry points -----------------------------------------------------------------------

    def feed(self, msg: Message) -> None:
        """Fold one frame; frames that are not live call events are ignored."""
        if msg.kind != "event" or "actionid" in msg:
            return
        handler = self.handlers.get(msg.name.lower())
        if handler is None:
            return
        t = msg.time
        if t is None:
            self.untimed_events += 1
            t = msg.received
        handler(msg, t)

    def feed_all(self, frames: Iterable[Message]) -> list[CallBuilder]:
        for msg in frames:
            self.feed(msg)
        return self.pop_finished()

    def pop_finished(self) -> list[CallBuilder]:
        done, self.finished = self.finished, []
        return done

    def in_progress(self) -> list[CallState]:
        return list({id(c): c for c in self.calls.values()}.values())

    # ---- gaps and resync (driven by the listener) -------------------------------------------

    def mark_gap(self) -> None:
        """The connection is lost: every call in progress misses events."""
        for call in self.in_progress():
            call.builder.incomplete = call.live.incomplete = True

    def connected(self) -> None:
        self._since_connect = set()

    def resync(self, items: list[Message], now: float) -> None:
        """Reconcile with a CoreShowChannels snapshot taken after a (re)connection."""
        snapshot = {m["Uniqueid"]: m for m in items if "Uniqueid" in m}
        for uid in [u for u in self.channels if u not in snapshot and u not in self._since_connect]:
            self._drop(uid, None)  # it ended while we were away
        callers = sorted(snapshot.values(), key=lambda m: m.get("Uniqueid") != m.get("Linkedid"))
        for item in callers:
            uid = item["Uniqueid"]
            if uid in self._since_connect:
                continue  # its own events since the login tell its story
            if uid not in self.channels:
                self._rebuild_channel(item, uid, now)
            self._answered_while_away(self.channels[uid], item, now)

    def _rebuild_channel(self, item: Message, uid: str, now: float) -> None:
        """Add a channel first seen in the snapshot (and its call, when it is new)."""
        created = _created(item, uid, now)
        call = self.calls.get(item.get("Linkedid") or uid)
        if call is None:
            call = self._new_call(item, uid, item.get("Linkedid") or uid, created, timed=False)
            call.builder.incomplete = call.live.incomplete = True
            if (item.get("Application") or "").lower() == "queue":
                call.builder.queue = (item.get("ApplicationData") or "").split(",")[0] or None
        self._add_channel(call, uid, item.get("Channel") or "")
        if (item.get("Application") or "").lower() == "queue" and call.live.in_queue_since is None:
            call.live.in_queue_since = created

    def _answered_while_away(self, ch: Channel, item: Message, now: float) -> None:
        """A device Up (ChannelState 6) or bridged in the snapshot answered its call (a staff
        device; another one is kept as an unknown device's answer).

        The answer is estimated from the device channel's age (`Duration`, whole seconds): the
        call gets resolution 1 s and stays incomplete, so a batch import still wins the merge.
        """
        call, b = ch.call, ch.call.builder
        if ch.uniqueid == call.caller or b.answer is not None:
            return
        if (item.get("ChannelState") or "").strip() != "6" and not item.get("BridgeId"):
            return
        answer = _created(item, ch.uniqueid, now)
        if b.arrival is not None:
            answer = max(answer, b.arrival)  # both ages are rounded: never before the call
        b.resolution = max(b.resolution, 1.0)
        b.incomplete = call.live.incomplete = True
        call.live.in_queue_since = None  # talking, no longer waiting (Queue() runs on)
        if ch.staff:
            self._answer(call, answer, ch.name)
        else:  # a device the directory does not know: kept apart, never an abandon
            self._other(call, answer, ch.name)

    def close_all(self) -> list[CallBuilder]:
        """Calls still in progress when the listener stops, as incomplete builders."""
        for call in self.in_progress():
            call.builder.incomplete = True
            self._finish(call)
        return self.pop_finished()

    # ---- helpers ----------------------------------------------------------------------------

    def _new_call(self, msg: Message, uid: str, linkedid: str, t: float | None, timed: bool) -> CallState:
        name = msg.get("Channel") or ""
        arrival = t if t is not None else uniqueid_epoch(uid) or 0.0
        exten, context = msg.get("Exten"), msg.get("Context")
        caller = msg.get("CallerIDNum")
        b = CallBuilder(
            pbx=self.pbx, call_key=uid, source=Source.AMI, linkedid=linkedid,
            dialed=exten if exten not in _UNKNOWN else None, context=context, arrival=arrival,
            caller=caller if caller not in _UNKNOWN else None,
            is_test=(msg.get("AccountCode") or "") in self._test_codes,
            resolution=1e-6 if timed else 1.0, incomplete=uid != linkedid,
        )
        site = self.sites.site_for(dialed=b.dialed, context=context)
        live = LiveCall(self.pbx, uid, site, arrival, incomplete=b.incomplete)
        call = CallState(b, uid, self.sites.is_staff(name), live, linkedids={linkedid})
        self.calls[linkedid] = call
        self.live.add(live)
        return call

    def _add_channel(self, call: CallState, uid: str, name: str) -> Channel:
        ch = Channel(uid, name, call, self.sites.is_staff(name))
        self.channels[uid] = ch
        call.channels.add(uid)
        return ch

    def _call_of(self, msg: Message, *prefixes: str) -> CallState | None:
        for prefix in prefixes or ("",):
            ch = self.channels.get(msg.get(prefix + "Uniqueid") or "")
            if ch is not None:
                return ch.call
            call = self.calls.get(msg.get(prefix + "Linkedid") or "")
            if call is not None:
                return call
        return None

    def _adopt(self, call: CallState, uid: str | None) -> None:
        """Move a channel seen without Linkedid (Asterisk <= 13.4) into the call that dialed it."""
        ch = self.channels.get(uid or "")
        if ch is None or ch.call is call:
            return
        other = ch.call
        if other.caller != ch.uniqueid or other.channels != {ch.uniqueid}:
            return  # a call of its own, not a stray leg
        for linkedid in other.linkedids:
            self.calls.pop(linkedid, None)
        self.live.remove(self.pbx, other.caller)
        other.channels.clear()
        ch.call = call
        call.channels.add(ch.uniqueid)

    def _answer(self, call: CallState, t: float | None, channel: str | None) -> None:
        if t is None:
            return
        b, device = call.builder, device_of(channel)
        if b.answer is None or t < b.answer:
            b.answer = call.live.answer = t
            self.live.touch()
        if b.answered_by is None or (b.answered_by.startswith("Local/") and not device.startswith("Local/")):
            b.answered_by = device

    def _other(self, call: CallState, t: float | None, channel: str | None) -> None:
        """A device that is no staff phone connected to the caller (the real device behind a
        Local member when it shows): kept apart, so that the call is not read as an abandon."""
        name = channel or ""
        if t is None or not name or self.sites.is_staff(name):
            return
        b, device = call.builder, device_of(name)
        if b.other_answer is None or t < b.other_answer:
            b.other_answer = t
            call.live.unclassified = True
            self.live.touch()
        if b.other_device is None or (b.other_device.startswith("Local/")
                                      and not device.startswith("Local/")):
            b.other_device = device  # the real device behind a Local member, when it shows

    def _machine(self, call: CallState) -> None:
        """The caller leg was answered by the dialplan and nothing rang afterwards: a machine
        answered (a message, an IVR) in a context the site's directory does not list."""
        b = call.builder
        if call.caller_up is None or b.other_device is not None or b.first_ring is not None \
                or b.queue is not None:
            return
        t, context = call.caller_up
        if self.sites.site_for(context=context) is None:
            b.machine_answer, b.machine = t, f"Answer@{context}"

    def _first_ring(self, call: CallState, t: float | None) -> None:
        b = call.builder
        if t is not None and (b.first_ring is None or t < b.first_ring):
            b.first_ring = call.live.first_ring = t

    def _drop(self, uid: str, t: float | None) -> None:
        ch = self.channels.pop(uid, None)
        if ch is None:
            return
        call = ch.call
        call.channels.discard(uid)
        if call.ringing:
            call.ringing.discard(uid)
            call.live.devices_ringing = len(call.ringing)
        if uid == call.caller and t is not None:
            call.builder.end = t
        if not call.channels:
            self._finish(call)

    def _finish(self, call: CallState) -> None:
        for linkedid in call.linkedids:
            if self.calls.get(linkedid) is call:
                del self.calls[linkedid]
        self.live.remove(self.pbx, call.caller)
        b = call.builder
        if b.answer is None and b.outcome is None:
            b.outcome = call.diverted or _CAUSE_OUTCOMES.get(call.cause or "")
            if b.outcome is None:
                self._machine(call)
        site = self.sites.site_for(dialed=b.dialed, queue=b.queue, context=b.context)
        if site is None and (call.caller_staff or not looks_like_did(b.dialed)):
            # internal or outbound, or an extension dialed (a call between phones, a leg found
            # in progress at connection): not a switchboard call as far as this stream can tell;
            # the batch import (CDR, CEL) completes what a connection gap hid
            self.left_out += 1
            return
        self.finished.append(b)

    # ---- handlers ---------------------------------------------------------------------------

    def _newchannel(self, msg: Message, t: float | None) -> None:
        uid = msg.get("Uniqueid")
        if not uid or uid in self.channels:
            return
        self._since_connect.add(uid)
        linkedid = msg.get("Linkedid") or uid
        call = self.calls.get(linkedid)
        if call is None:
            call = self._new_call(msg, uid, linkedid, t, timed=msg.time is not None)
        self._add_channel(call, uid, msg.get("Channel") or "")

    def _touch(self, msg: Message, t: float | None) -> None:
        """Note the caller leg's dialplan context: the message or voicemail context diverts it."""
        ch = self.channels.get(msg.get("Uniqueid") or "")
        if ch is None or ch.uniqueid != ch.call.caller:
            return
        context = msg.get("Context")
        if (msg.get("ChannelState") or "").strip() == "6" and ch.call.caller_up is None \
                and t is not None:
            ch.call.caller_up = (t, context or "")
        if context in self.sites.message_contexts:
            ch.call.diverted = Outcome.MESSAGE
        elif context in self.sites.voicemail_contexts:
            ch.call.diverted = Outcome.VOICEMAIL
        else:
            return
        ch.call.live.diverted = True
        self.live.touch()

    def _hangup(self, msg: Message, t: float | None) -> None:
        uid = msg.get("Uniqueid") or ""
        ch = self.channels.get(uid)
        if ch is None:
            return
        self._since_connect.add(uid)
        if uid == ch.call.caller:
            self._touch(msg, t)
            ch.call.cause = msg.get("Cause")
        self._drop(uid, t)

    def _dialbegin(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg, "", "Dest")
        if call is None:
            return
        dest = msg.get("DestUniqueid") or ""
        self._adopt(call, dest)
        call.ringing.add(dest)
        call.live.devices_ringing = len(call.ringing)
        self._first_ring(call, t if t is not None else uniqueid_epoch(dest))

    def _dialstate(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg, "", "Dest")
        if call is not None and call.builder.first_ring is None:
            self._first_ring(call, t)

    def _dialend(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg, "", "Dest")
        dest = msg.get("DestUniqueid") or ""
        if call is None or dest in call.dial_status:
            return  # keep the first final status per destination (NOANSWER, then CANCEL)
        status = (msg.get("DialStatus") or "").upper()
        call.dial_status[dest] = status
        call.ringing.discard(dest)
        call.live.devices_ringing = len(call.ringing)
        channel = msg.get("DestChannel")
        if status == "ANSWER" and self.sites.is_staff(channel):
            self._answer(call, t, channel)
        elif status == "ANSWER":
            self._other(call, t, channel)

    def _agentconnect(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg, "", "Dest")
        if call is None:
            return
        ring, hold = _seconds(msg.get("RingTime")), _seconds(msg.get("HoldTime"))
        if t is None:  # untimed capture: the member's channel creation + its ring time
            start = uniqueid_epoch(msg.get("DestUniqueid"))
            t = start + ring if start is not None and ring is not None else None
        channel = msg.get("DestChannel")
        if self.sites.is_staff(channel):
            self._answer(call, t, channel)
        else:
            self._other(call, t, channel)
        if call.builder.queue_entry is None and t is not None and hold is not None:
            _set_queue_entry(call.builder, t - hold)

    def _agentcomplete(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg)
        talk = _seconds(msg.get("TalkTime"))
        b = call.builder if call else None
        if b is not None and t is None and b.end is None and b.answer is not None and talk is not None:
            b.end = b.answer + talk  # untimed capture only

    def _bridgeenter(self, msg: Message, t: float | None) -> None:
        ch = self.channels.get(msg.get("Uniqueid") or "")
        if ch is None or ch.uniqueid == ch.call.caller:
            return
        if ch.staff:
            self._answer(ch.call, t, ch.name)
        else:
            self._other(ch.call, t, ch.name)

    def _queuejoin(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        b = call.builder
        if b.queue is None:
            b.queue = msg.get("Queue")
            site = self.sites.site_for(dialed=b.dialed, queue=b.queue, context=b.context)
            call.live.site, call.live.queue = site or call.live.site, b.queue
        if t is not None and (b.queue_entry is None or t < b.queue_entry):
            _set_queue_entry(b, t)
        call.live.in_queue_since = t if t is not None else call.live.arrival
        self.live.touch()

    def _queueleave(self, msg: Message, t: float | None) -> None:
        call = self._call_of(msg)
        if call is not None:
            call.live.in_queue_since = None
            self.live.touch()

    # ---- Asterisk 11 ------------------------------------------------------------------------

    def _dial11(self, msg: Message, t: float | None) -> None:
        if (msg.get("SubEvent") or "").lower() != "begin":
            return  # SubEvent End arrives only after the bridge ends: no answer time in it
        call = self._call_of(msg)
        if call is not None:
            self._adopt(call, msg.get("DestUniqueID"))
            self._first_ring(call, t)

    def _bridge11(self, msg: Message, t: float | None) -> None:
        if (msg.get("Bridgestate") or "").lower() != "link":
            return
        one, two = self.channels.get(msg.get("Uniqueid1") or ""), msg.get("Uniqueid2")
        if one is None:
            return
        self._adopt(one.call, two)
        for uid_key, name_key in (("Uniqueid1", "Channel1"), ("Uniqueid2", "Channel2")):
            name = msg.get(name_key)
            if msg.get(uid_key) == one.call.caller:
                continue
            if self.sites.is_staff(name):
                self._answer(one.call, t, name)
            else:
                self._other(one.call, t, name)

    def _localbridge(self, msg: Message, t: float | None) -> None:
        one = self.channels.get(msg.get("Uniqueid1") or "")
        if one is not None:
            self._adopt(one.call, msg.get("Uniqueid2"))
