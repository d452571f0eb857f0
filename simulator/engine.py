"""Who rings when: a discrete-event model of one site's queue (or ring group) over one day.

The engine decides, for every call that reaches the switchboard, which phones rang when, who
picked up or why nobody did, and how the conversation ended. `simulator.flows` then turns each
decision (a `Plan`) into the channels and events Asterisk would produce.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.profiles import RETRY, RING_TIMEOUT, RINGGROUP_TIMEOUT, SiteProfile
from simulator.staff import Agent
from simulator.timeline import us

ANSWER, NOANSWER, LOST, CANCEL, BUSY = "ANSWER", "NOANSWER", "LOST", "CANCEL", "BUSY"


@dataclass(eq=False, slots=True)
class Ring:
    """One phone rung for the caller, from `start` to `end`, and how that ended."""

    agent: Agent
    start: float
    end: float
    result: str  # ANSWER, NOANSWER (rang out), LOST (another phone won), CANCEL (caller left), BUSY


@dataclass(eq=False, slots=True)
class Transfer:
    time: float  # the agent blind-transfers the caller
    ext: str  # the colleague's extension
    answer: float  # the colleague picks up


@dataclass(eq=False, slots=True)
class Plan:
    """What happens to one call; filled in by the model and the engine."""

    arrival: float
    patience_end: float  # the caller hangs up then if nobody has answered
    caller_num: str
    is_test: bool = False
    route: str = "queue"  # queue, ringgroup, message, failed
    up: float | None = None  # the dialplan answered the caller leg (welcome, message)
    vm_up: float | None = None  # the voicemail answered the caller leg
    queue_entry: float | None = None
    origposition: int = 0
    rings: list[list[Ring]] = field(default_factory=list)  # ring passes, in order
    exit: str = ""  # connect, abandon, exitempty, full, noanswer, busy, message, hangup
    exit_time: float = 0.0
    exit_position: int = 0
    winner: Ring | None = None
    release: float = 0.0  # the first agent leaves the conversation (hang-up or transfer)
    hangup_by: str = "caller"
    transfer: Transfer | None = None
    end: float = 0.0  # the caller's channel hangs up
    next_try: float = 0.0
    ringing: bool = False
    done: bool = False


def converse(plan: Plan, ring: Ring, rng: np.random.Generator, profile: SiteProfile) -> float:
    """Talk after a person answered: maybe a blind transfer; returns when the agent is free."""
    plan.winner, start = ring, ring.end
    plan.exit, plan.exit_time = "connect", ring.end
    if plan.is_test:  # the probe hangs up a few seconds after the answer
        plan.release = plan.end = us(start + rng.uniform(5.0, 10.0))
        return plan.release + rng.uniform(3.0, 8.0)
    talk = float(np.clip(profile.talk_median * rng.lognormal(0.0, 0.6), 15.0, 1800.0))
    plan.hangup_by = "caller" if rng.random() < 0.55 else "agent"
    if rng.random() < profile.p_transfer:
        when = us(start + rng.uniform(20.0, 90.0))
        pickup = float(np.clip(5.0 * rng.lognormal(0.0, 0.5), 1.5, 20.0))
        plan.transfer = Transfer(when, str(rng.integers(301, 310)), us(when + 0.3 + pickup))
        plan.release, plan.end = when, us(plan.transfer.answer + talk)
    else:
        plan.release = plan.end = us(start + talk)
    return plan.release + rng.uniform(5.0, 25.0)


def voicemail(plan: Plan, t: float, rng: np.random.Generator) -> None:
    """The caller reaches the voicemail at t: leaves a message or hangs up on the greeting."""
    plan.vm_up = us(t + 0.06)
    length = rng.uniform(12.0, 60.0) if rng.random() < 0.55 else rng.uniform(2.0, 8.0)
    plan.end = us(plan.vm_up + length)


def _outcome(agents: list[Agent], start: float, limit: float, plan: Plan,
             rng: np.random.Generator) -> tuple[float, list[str]]:
    """End time and per-phone result of ringing `agents` from `start` for up to `limit` s."""
    delays = [a.pickup_delay(rng, start) for a in agents]
    best = int(np.argmin(delays))
    answered = delays[best] < limit
    natural = start + (delays[best] if answered else limit + rng.uniform(0.001, 0.02))
    if plan.patience_end < natural:
        return plan.patience_end, [CANCEL] * len(agents)
    if answered:
        return natural, [ANSWER if i == best else LOST for i in range(len(agents))]
    return natural, [NOANSWER] * len(agents)


class QueueEngine:
    """app_queue with rrmemory or ringall, autofill, retry, leavewhenempty and maxlen."""

    def __init__(self, agents: list[Agent], profile: SiteProfile, rng: np.random.Generator):
        self.agents, self.profile, self.rng = agents, profile, rng
        self.waiting: list[Plan] = []
        self.heap: list[tuple[float, int, str, Any]] = []
        self.seq = 0
        self.last = -1  # rrmemory: index of the member rung last
        self.maxlen = profile.max_waiting or len(agents) + 1  # then QUEUESTATUS=FULL

    def push(self, t: float, kind: str, obj: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, obj))

    def run(self, plans: list[Plan]) -> None:
        for plan in plans:
            assert plan.queue_entry is not None
            self.push(plan.queue_entry, "join", plan)
        for agent in self.agents:
            for t in agent.boundaries():
                self.push(t, "staff")
        while self.heap:
            t, _, kind, obj = heapq.heappop(self.heap)
            getattr(self, f"_on_{kind}")(t, obj)

    def _on_join(self, t: float, plan: Plan) -> None:
        if len(self.waiting) >= self.maxlen:  # QUEUESTATUS=FULL: the dialplan plays Busy
            plan.exit, plan.exit_time, plan.done = "full", t, True
            plan.end = us(t + self.rng.uniform(2.0, 6.0))
            return
        self.waiting.append(plan)
        plan.origposition = len(self.waiting)
        self.push(plan.patience_end, "giveup", plan)
        self._dispatch(t)

    def _on_giveup(self, t: float, plan: Plan) -> None:
        if not plan.done and not plan.ringing:
            self._leave(plan, t, "abandon")
            plan.end = t

    def _on_retry(self, t: float, plan: Plan) -> None:
        self._dispatch(t)

    def _on_staff(self, t: float, _: object) -> None:
        self._dispatch(t)

    def _on_free(self, t: float, _: object) -> None:
        self._dispatch(t)

    def _leave(self, plan: Plan, t: float, how: str) -> None:
        plan.exit, plan.exit_time, plan.done = how, t, True
        plan.exit_position = self.waiting.index(plan) + 1
        self.waiting.remove(plan)

    def _dispatch(self, t: float) -> None:
        if not self.waiting:
            return
        if not any(a.is_present(t) for a in self.agents):  # leavewhenempty
            for plan in [p for p in self.waiting if not p.ringing]:
                self._leave(plan, t, "exitempty")
                voicemail(plan, t, self.rng)
            return
        for plan in list(self.waiting):
            if plan.ringing or plan.next_try > t:
                continue
            free = [a for a in self.agents if a.available(t)]
            if not free:
                return
            self._ring(plan, free if self.profile.strategy == "ringall" else [self._next(free)], t)

    def _next(self, free: list[Agent]) -> Agent:
        n = len(self.agents)
        for k in range(1, n + 1):
            agent = self.agents[(self.last + k) % n]
            if agent in free:
                self.last = self.agents.index(agent)
                return agent
        raise AssertionError("no free agent")

    def _ring(self, plan: Plan, agents: list[Agent], t: float) -> None:
        start = us(t + self.rng.uniform(0.02, 0.12))
        if plan.patience_end <= start:
            return
        end, results = _outcome(agents, start, RING_TIMEOUT, plan, self.rng)
        end = us(end)
        rings = [Ring(a, start, end, r) for a, r in zip(agents, results, strict=True)]
        for agent in agents:
            agent.ringing_until = end
        plan.ringing = True
        plan.rings.append(rings)
        self.push(end, "ring_end", (plan, rings))

    def _on_ring_end(self, t: float, item: tuple[Plan, list[Ring]]) -> None:
        plan, rings = item
        plan.ringing = False
        winner = next((r for r in rings if r.result == ANSWER), None)
        if winner is not None:
            self._leave(plan, t, "connect")
            free = converse(plan, winner, self.rng, self.profile)
            winner.agent.free_at = free
            self.push(free, "free")
        elif rings[0].result == CANCEL or plan.patience_end <= t:
            self._leave(plan, t, "abandon")
            plan.end = t
        else:
            plan.next_try = t + RETRY
            self.push(plan.next_try, "retry", plan)
        self._dispatch(t)


def run_ringgroup(agents: list[Agent], profile: SiteProfile, rng: np.random.Generator,
                  plans: list[Plan]) -> None:
    """Dial(PJSIP/a&PJSIP/b,40): every phone rings at once; busy phones answer 486."""
    for plan in plans:
        start = us(plan.arrival + rng.uniform(0.05, 0.15))
        busy = [a for a in agents if a.in_use(start)]
        free = [a for a in agents if not a.in_use(start)]
        rings = [Ring(a, start, us(start + 0.02), BUSY) for a in busy]
        if not free:
            plan.rings.append(rings)
            plan.exit, plan.exit_time = "busy", us(start + 0.03)
            plan.end = us(plan.exit_time + rng.uniform(2.0, 6.0))
            continue
        end, results = _outcome(free, start, RINGGROUP_TIMEOUT, plan, rng)
        end = us(end)
        rung = [Ring(a, start, end, r) for a, r in zip(free, results, strict=True)]
        plan.rings.append(sorted(rings + rung, key=lambda r: agents.index(r.agent)))
        for agent in free:
            agent.ringing_until = end
        winner = next((r for r in rung if r.result == ANSWER), None)
        if winner is not None:
            winner.agent.free_at = converse(plan, winner, rng, profile)
        elif results[0] == CANCEL:
            plan.exit, plan.exit_time, plan.end = "abandon", end, end
        else:
            plan.exit, plan.exit_time = "noanswer", end
            voicemail(plan, end, rng)


def patience(rng: np.random.Generator, is_test: bool) -> float:
    """Seconds the caller waits for a person: a few hang up at once, most wait about a minute."""
    if is_test:
        return 90.0
    if rng.random() < 0.03:
        return float(rng.uniform(0.8, 5.0))
    return float(min(10.0 + rng.exponential(65.0), 590.0))

