"""What the switchboard model produces: per call, its channels and a time-ordered event list.

The vocabulary follows Asterisk 12+ (AMI event names): writers of CDR, queue_log and CEL files,
and later a live AMI simulator, read the same timeline. Times are UTC epoch seconds rounded to the
microsecond; channel names and uniqueids are filled in by `simulator.ids` once the global order of
channel creation is known.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from monitor.call import Outcome

US = 1e-6  # one microsecond


def us(t: float) -> float:
    """A time rounded to the microsecond, as Asterisk's timeval holds it."""
    return round(t, 6)


class Role(enum.StrEnum):
    CALLER = "caller"  # the inbound trunk channel
    LOCAL1 = "local1"  # Local/...;1, dialed by Queue
    LOCAL2 = "local2"  # Local/...;2, runs Dial to the phone
    PHONE = "phone"  # a staff phone, dialed by Dial


class Kind(enum.StrEnum):
    NEWCHANNEL = "Newchannel"
    APP = "App"  # the channel starts a dialplan application (exten/context: where)
    DIAL_BEGIN = "DialBegin"  # chan dials peer
    RINGING = "Ringing"  # the dialed device rings (180)
    DIAL_END = "DialEnd"  # status: ANSWER, NOANSWER, CANCEL, BUSY
    ANSWER = "Answer"  # the channel goes Up
    BRIDGE_ENTER = "BridgeEnter"
    BRIDGE_EXIT = "BridgeLeave"
    HANGUP = "Hangup"  # cause, origin (the channel that hung up first)
    BLIND_TRANSFER = "BlindTransfer"  # chan transfers peer to exten@context
    QUEUE_JOIN = "QueueCallerJoin"  # numbers: (position,)
    AGENT_CALLED = "AgentCalled"  # peer: the member's channel
    AGENT_RING_NO_ANSWER = "AgentRingNoAnswer"  # numbers: (ring ms,)
    AGENT_RING_CANCELED = "AgentRingCanceled"  # numbers: (ring ms,)
    AGENT_CONNECT = "AgentConnect"  # peer: member channel; numbers: (holdtime, ringtime)
    AGENT_COMPLETE = "AgentComplete"  # status: caller|agent; numbers: (hold, talk, origpos)
    QUEUE_ABANDON = "QueueCallerAbandon"  # numbers: (position, origposition, waittime)
    QUEUE_EXIT_EMPTY = "QueueCallerExitEmpty"  # numbers: (position, origposition, waittime)


@dataclass(eq=False, slots=True)
class Channel:
    """One Asterisk channel of a call; `name`/`uniqueid`/`linkedid` are set by `ids`."""

    role: Role
    tech: str  # name without the -xxxxxxxx suffix: PJSIP/trunk-paris, Local/201@eps05-agents
    created: float
    exten: str
    context: str
    cid_num: str = ""
    cid_name: str = ""
    ani: str = ""
    dnid: str = ""
    accountcode: str = ""
    pair: Channel | None = None  # LOCAL2: its ;1 half
    name: str = ""
    uniqueid: str = ""
    linkedid: str = ""

    @property
    def device(self) -> str:
        return self.tech


@dataclass(eq=False, slots=True)
class Event:
    time: float
    kind: Kind
    chan: Channel
    peer: Channel | None = None
    app: str = ""  # APP: application name
    data: str = ""  # APP: its arguments
    exten: str = ""  # APP / BLIND_TRANSFER: where the channel goes
    context: str = ""
    status: str = ""  # DIAL_END: dial status; AGENT_COMPLETE: who hung up; HANGUP: DIALSTATUS
    cause: int = 0  # HANGUP: Q.850 cause
    origin: Channel | None = None  # HANGUP: the channel whose hang-up ended this one
    bridge: str = ""  # BRIDGE_* / BLIND_TRANSFER: bridge id
    queue: str = ""
    member: str = ""  # queue member name
    numbers: tuple[int, ...] = ()


@dataclass(eq=False, slots=True)
class SimCall:
    """One inbound switchboard call and the model's ground truth about it."""

    site: str
    arrival: float
    caller: Channel
    outcome: Outcome = Outcome.ABANDONED
    end: float = 0.0
    answer: float | None = None  # a person's device answered
    answered_by: str = ""  # that device
    is_test: bool = False
    channels: list[Channel] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The call key: the caller channel's Uniqueid (empty until ids are assigned)."""
        return self.caller.uniqueid
