"""The simulated PBX behind the AMI server: the calls of the day, what exists now, list answers.

* `DayStream` gives the calls of successive days with the channel names and uniqueids that
  `qualiphone simulate month` writes for the same seed (numbering starts on the 1st of the
  month), so a CDR written by the batch simulator merges with what the live simulator sent;
  it also keeps each site's agents, for QueueStatus and for Originate.
* `Schedule` holds the frames to send, in time order, rendering a call only when its arrival
  comes (a day of 17 sites is about 90,000 frames).
* `PbxState` is what the PBX knows now, kept up to date from every frame sent: the channels
  alive (CoreShowChannels), the callers waiting and the members of each queue (QueueStatus).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from config import Config
from ingest.ami.protocol import Message
from ingest.site_map import device_of
from monitor.calendar import SiteCalendar
from monitor.timeutil import epoch_to_local
from simulator import model
from simulator.ami_frames import CALL, Frame, Headers, render_call
from simulator.ids import IdAssigner
from simulator.model import month_days, simulate_day
from simulator.profiles import SiteSetup, site_setup
from simulator.staff import Agent
from simulator.timeline import SimCall

STANDARD = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
            "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
            "Exten", "Priority", "Uniqueid", "Linkedid")


@contextlib.contextmanager
def _agents_of_the_day(found: dict[str, list[Agent]]) -> Iterator[None]:
    """Keep the agents simulate_site_day draws for each site (it does not return them).

    A stop-gap until simulator.model exposes them: wraps model.day_agents for the duration."""
    original = model.day_agents

    def spy(setup: SiteSetup, *args: object) -> list[Agent]:
        agents = original(setup, *args)  # type: ignore[arg-type]
        found[setup.site.id] = agents
        return agents

    model.day_agents = spy  # type: ignore[assignment]
    try:
        yield
    finally:
        model.day_agents = original  # type: ignore[assignment]


@dataclass
class Day:
    date: dt.date
    calls: list[SimCall]
    agents: dict[str, list[Agent]]


class DayStream:
    """The simulated days of one PBX from `first` on, numbered as `simulate month` numbers them
    (a day's late channels are named once the next day is known, as in the month's files)."""

    def __init__(self, config: Config, first: dt.date, seed: int = 0, pbx: str | None = None,
                 sites: Iterable[str] | None = None) -> None:
        self.config, self.seed = config, seed
        self.pbx = pbx or next(iter(config.pbxs))
        self.tz = config.pbxs[self.pbx].tz
        self.all_sites = [s.id for s in config.sites if s.pbx == self.pbx]
        self.shown = set(sites or self.all_sites)
        self.calendar = SiteCalendar(config)
        self.next_day = first
        self._ids = IdAssigner()
        self._fed: dt.date | None = None
        self._ready: dict[dt.date, list[SimCall]] = {}
        self._agents: dict[dt.date, dict[str, list[Agent]]] = {}

    def _feed(self, day: dt.date) -> None:
        if self._fed is not None and day.month != self._fed.month:
            self._collect(self._ids.drain())
            self._ids = IdAssigner()
        found: dict[str, list[Agent]] = {}
        with _agents_of_the_day(found):
            calls = simulate_day(self.config, day, self.seed, self.all_sites, self.calendar)
        self._agents[day] = found
        self._collect(self._ids.feed(calls))
        self._fed = day

    def _collect(self, calls: Iterable[SimCall]) -> None:
        for call in calls:
            self._ready.setdefault(epoch_to_local(call.arrival, self.tz).date(), []).append(call)

    def day(self, day: dt.date) -> Day:
        """The calls (of the shown sites) and agents of `day`; days only move forward."""
        days = month_days(day.strftime("%Y-%m"))
        last = min(day + dt.timedelta(days=1), days[-1])  # the next day names late channels
        d = days[0] if self._fed is None or self._fed < days[0] else self._fed + dt.timedelta(1)
        while d <= last:
            self._feed(d)
            d += dt.timedelta(days=1)
            if self._fed == days[-1]:
                self._collect(self._ids.drain())  # as write_month does at the month's end
        calls = [c for c in self._ready.pop(day, []) if c.site in self.shown]
        agents = self._agents.pop(day, {})
        for store in (self._ready, self._agents):
            for old in [k for k in store if k < day]:
                del store[old]  # type: ignore[attr-defined]
        return Day(day, calls, agents)

    def __next__(self) -> Day:
        day, self.next_day = self.next_day, self.next_day + dt.timedelta(days=1)
        return self.day(day)


class Schedule:
    """Frames waiting to be sent, in time order; calls are rendered when their arrival comes."""

    def __init__(self) -> None:
        self._calls: deque[SimCall] = deque()
        self._heap: list[tuple[float, int, Frame]] = []
        self._seq = 0

    def add_calls(self, calls: Iterable[SimCall]) -> None:
        """Calls in arrival order (and after the calls already added)."""
        self._calls.extend(calls)

    def add_frames(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            self._seq += 1
            heapq.heappush(self._heap, (frame.time, self._seq, frame))

    def next_time(self) -> float | None:
        while self._calls and (not self._heap or self._calls[0].arrival <= self._heap[0][0]):
            self.add_frames(render_call(self._calls.popleft()))
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int = 5000) -> list[Frame]:
        out: list[Frame] = []
        while len(out) < limit:
            t = self.next_time()
            if t is None or t > now:
                break
            out.append(heapq.heappop(self._heap)[2])
        return out

    def __len__(self) -> int:
        return len(self._calls) + len(self._heap)


@dataclass(slots=True)
class LiveChannel:
    block: Headers
    created: float
    app: str = ""
    data: str = ""
    bridge: str = ""


@dataclass
class QueueCounters:
    completed: int = 0
    abandoned: int = 0
    hold_total: int = 0
    talk_total: int = 0
    taken: dict[str, int] = field(default_factory=dict)  # member -> calls taken
    last_call: dict[str, int] = field(default_factory=dict)


def block_of(frame: Frame) -> Headers:
    """The standard channel fields of a frame (a replayed one has no `block`)."""
    if frame.block is not None:
        return frame.block
    values = dict(frame.headers)
    return [(k, values.get(k, "")) for k in STANDARD]


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class PbxState:
    """What the PBX knows now; `apply` every frame as it is sent."""

    def __init__(self, config: Config | None = None) -> None:
        self.channels: dict[str, LiveChannel] = {}
        self.waiting: dict[str, dict[str, tuple[float, Headers]]] = {}
        self.counters: dict[str, QueueCounters] = {}
        self.setups: dict[str, SiteSetup] = {}  # queue name -> site, for queue-shaped sites
        self.agents: dict[str, list[Agent]] = {}  # site id -> the day's agents
        if config is not None:
            for site in config.sites:
                setup = site_setup(site)
                if setup.profile.shape == "queue":
                    self.setups[setup.queue] = setup

    def apply(self, f: Frame) -> None:
        uid = f.uid or f.get("Uniqueid") or ""
        name = f.name
        if name == "Newchannel":
            self.channels[uid] = LiveChannel(block_of(f), f.time)
            return
        if name == "Hangup":
            self.channels.pop(uid, None)
            return
        live = self.channels.get(uid)
        if live is not None:
            live.block = block_of(f)
            if name == "Newexten":
                live.app, live.data = f.get("Application") or "", f.get("AppData") or ""
            elif name in ("BridgeEnter", "BridgeLeave"):
                live.bridge = f.get("BridgeUniqueid") or "" if name == "BridgeEnter" else ""
        if name.startswith("Queue") or name.startswith("Agent"):
            self._queue_event(f, name, uid)

    def _queue_event(self, f: Frame, name: str, uid: str) -> None:
        queue = f.get("Queue") or ""
        counters = self.counters.setdefault(queue, QueueCounters())
        if name == "QueueCallerJoin":
            self.waiting.setdefault(queue, {})[uid] = (f.time, block_of(f))
        elif name == "QueueCallerLeave":
            self.waiting.get(queue, {}).pop(uid, None)
        elif name == "QueueCallerAbandon":
            counters.abandoned += 1
        elif name == "AgentConnect":
            counters.hold_total += int(f.get("HoldTime") or 0)
            member = f.get("MemberName") or ""
            counters.taken[member] = counters.taken.get(member, 0) + 1
        elif name == "AgentComplete":
            counters.completed += 1
            counters.talk_total += int(f.get("TalkTime") or 0)
            counters.last_call[f.get("MemberName") or ""] = int(f.time)

    # ---- list answers -----------------------------------------------------------------------

    def core_show_channels(self, now: float) -> list[Headers]:
        return [[("Event", "CoreShowChannel"), *c.block, ("Application", c.app),
                 ("ApplicationData", c.data), ("Duration", _hms(now - c.created)),
                 ("BridgeId", c.bridge)]
                for c in sorted(self.channels.values(), key=lambda c: c.created)]

    def _device_states(self) -> dict[str, int]:
        states: dict[str, int] = {}
        for c in self.channels.values():
            device = device_of(c.block[0][1])
            states[device] = max(states.get(device, 0), int(c.block[1][1] or 0))
        return states

    def queue_status(self, now: float, queue: str | None = None) -> list[Headers]:
        items: list[Headers] = []
        states = self._device_states()
        for name, setup in self.setups.items():
            if queue and name != queue:
                continue
            items.append(self._params(name, setup))
            for agent in self.agents.get(setup.site.id, []):
                member = _member(setup, agent, now, states, self.counters.get(name))
                if member is not None:
                    items.append(member)
            items.extend(self._entries(name, now))
        return items

    def _params(self, name: str, setup: SiteSetup) -> Headers:
        c = self.counters.get(name, QueueCounters())
        return [("Event", "QueueParams"), ("Queue", name), ("Max", "0"),
                ("Strategy", setup.profile.strategy), ("Calls", str(len(self.waiting.get(name, {})))),
                ("Holdtime", str(c.hold_total // max(1, sum(c.taken.values())))),
                ("TalkTime", str(c.talk_total // max(1, c.completed))), ("Completed", str(c.completed)),
                ("Abandoned", str(c.abandoned)), ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"), ("Weight", "0")]

    def _entries(self, name: str, now: float) -> list[Headers]:
        waiting = sorted(self.waiting.get(name, {}).values(), key=lambda w: w[0])
        out = []
        for position, (joined, block) in enumerate(waiting, start=1):
            b = dict(block)
            out.append([("Event", "QueueEntry"), ("Queue", name), ("Position", str(position)),
                        ("Channel", b["Channel"]), ("Uniqueid", b["Uniqueid"]),
                        ("CallerIDNum", b["CallerIDNum"]), ("CallerIDName", b["CallerIDName"]),
                        ("ConnectedLineNum", "unknown"), ("ConnectedLineName", "unknown"),
                        ("Wait", str(int(now - joined))), ("Priority", "0")])
        return out


def _member(setup: SiteSetup, agent: Agent, now: float, states: dict[str, int],
            counters: QueueCounters | None) -> Headers | None:
    """A QueueMember item for an agent logged in now (dynamic member), else None."""
    if not agent.present:
        return None
    login, logout = agent.present[0][0], agent.present[-1][1]
    if not login <= now < logout:
        return None
    state = states.get(agent.device, -1)
    status = {6: "2", 5: "6", 0: "6"}.get(state, "1")  # INUSE, RINGING, NOT_INUSE
    paused = not agent.is_present(now)
    c = counters or QueueCounters()
    interface = f"Local/{agent.ext}@{setup.agents_context}/n"
    return [("Event", "QueueMember"), ("Queue", setup.queue), ("Name", agent.device),
            ("Location", interface), ("StateInterface", agent.device), ("Membership", "dynamic"),
            ("Penalty", "0"), ("CallsTaken", str(c.taken.get(agent.device, 0))),
            ("LastCall", str(c.last_call.get(agent.device, 0))), ("LastPause", "0"),
            ("LoginTime", str(int(login))), ("InCall", "1" if state == 6 else "0"),
            ("Status", status), ("Paused", "1" if paused else "0"),
            ("PausedReason", "pause" if paused else ""), ("Wrapuptime", "0")]


def frames_from_capture(messages: list[Message]) -> list[Frame]:
    """A recorded capture's events as frames to replay (its responses to another client are
    left out); an event without Timestamp keeps the time of the one before it."""
    frames: list[Frame] = []
    t = next((m.time for m in messages if m.time is not None), 0.0)
    for msg in messages:
        if msg.kind != "event":
            continue
        t = msg.time if msg.time is not None else t
        cls = (msg.get("Privilege") or CALL).split(",")[0].strip().lower() or CALL
        frames.append(Frame(t, cls, list(msg.headers), msg.get("Uniqueid") or ""))
    return frames
