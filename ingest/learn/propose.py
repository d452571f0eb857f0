"""From what the PBX wrote to a proposed site directory, with the evidence for every value.

The steps (`learn`):

1. Observations are folded into signatures (same caller device, dialed number, contexts, queues,
   answering devices, machine, voicemail), counted, with examples.
2. Each inbound call is given a site: by the current directory (dids, queues, contexts), else by
   its dialed number — the same E.164 number as a site's public number, or the last digits of
   exactly one site's number — else through a queue that only that site's calls use. A number
   none of these decide is *unassigned*: the person must say which site it is.
3. Calls from a device that answered switchboard calls (a staff phone) are internal or outbound
   and left out; so are calls from other devices to numbers that are no DID.
4. Per site: the devices that answered its calls (staff devices: one glob when they share a name
   prefix that no other device has, else the list), the queues and contexts only its calls use,
   the contexts where callers were answered by a machine with no person in reach (a message
   context when they came outside opening hours, else an inbound/IVR context: a hang-up there
   is an abandon), and the voicemail contexts.

Only what the directory lacks is proposed; what it has and the files never used is listed apart.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from config import Config, Site
from ingest.learn.direction import directions
from ingest.learn.observation import Observation
from ingest.site_map import SiteMap, device_of, looks_like_did
from monitor.calendar import SiteCalendar
from monitor.pseudonym import normalize_number

KEYS = ("dids", "queues", "contexts", "staff_devices", "message_contexts", "voicemail_contexts")
SUFFIX_DIGITS = 3  # the fewest last digits of a public number that may identify a site
PEER_NOTE = ("CHECK: dialed as EXTENSION@PEER, extensions of another PBX: a person there, or "
             "its voicemail, answers through it")
MESSAGE_OUT_OF_HOURS = 0.8  # share of machine-answered calls out of hours for a message context
SAMPLE = 400  # arrivals kept per signature to judge opening hours
NO_DID = "no switchboard call (no public number dialed, no queue: an extension or \"s\")"


@dataclass
class Evidence:
    calls: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def add(self, calls: int, example: str) -> None:
        self.calls += calls
        if example and len(self.examples) < 3 and example not in self.examples:
            self.examples.append(example)


@dataclass
class SiteProposal:
    site: str
    calls: int = 0
    adds: dict[str, dict[str, Evidence]] = field(default_factory=lambda: {k: {} for k in KEYS})
    unused: dict[str, list[str]] = field(default_factory=dict)  # in sites.toml, never seen

    def propose(self, key: str, value: str, calls: int, example: str, note: str = "") -> None:
        evidence = self.adds[key].setdefault(value, Evidence(note=note))
        evidence.add(calls, example)

    @property
    def empty(self) -> bool:
        return not any(self.adds.values())


@dataclass
class Unassigned:
    """A dialed number (or queue) of inbound calls that no site can be told for."""

    dialed: str | None
    queues: list[str]
    contexts: list[str]
    evidence: Evidence


@dataclass
class Learned:
    files: list[tuple[str, str, int]]  # (path, kind, calls observed)
    sites: dict[str, SiteProposal]
    unassigned: list[Unassigned]
    forwarded: Counter[str]  # trunk devices that answered switchboard calls (forwarded outside)
    inbound: int = 0
    internal: int = 0
    # calls that are no inbound call, by reason (direction.OUTBOUND, INTERNAL …) and caller
    set_aside: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.unassigned) or any(not p.empty for p in self.sites.values())


@dataclass
class _Sig:
    calls: int = 0
    example: str = ""
    arrivals: list[float] = field(default_factory=list)


# (caller, dialed, contexts, queues, answered, machine, voicemail, reached a person, rang,
#  trunks an outside number was dialed through)
Signature = tuple[str, str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...],
                  tuple[str, str] | None, str | None, bool, tuple[str, ...], tuple[str, ...]]


def learn(observations: Iterable[Observation], config: Config, pbx: str,
          files: list[tuple[str, str, int]] | None = None) -> Learned:
    sigs: dict[Signature, _Sig] = {}
    peers: set[str] = set()  # devices dialed as EXTENSION@PEER: another PBX behind them
    for o in observations:
        peers.update(o.via_peer)
        key: Signature = (o.caller_device, o.dialed, tuple(o.contexts), tuple(o.queues),
                          tuple(d for d, _ in o.answered), o.machine, o.voicemail,
                          o.reached_person_path, tuple(o.rang), tuple(o.dialed_out))
        s = sigs.setdefault(key, _Sig(example=_example(o)))
        s.calls += 1
        if o.arrival is not None and len(s.arrivals) < SAMPLE:
            s.arrivals.append(o.arrival)
    return _Proposer(config, pbx, sigs, peers).run(files or [])


def _example(o: Observation) -> str:
    where = f"{o.path}:{o.line}" if o.line else o.path
    return f"{where} {o.key}"


class _Proposer:
    def __init__(self, config: Config, pbx: str, sigs: dict[Signature, _Sig],
                 peers: set[str] | None = None) -> None:
        self.config, self.pbx, self.sigs = config, pbx, sigs
        self.peers = peers or set()
        self.all_sigs = dict(sigs)  # self.sigs loses the calls set aside as no inbound call
        self.map = SiteMap.build(config, pbx)
        self.sites = [s for s in config.sites if s.pbx == pbx]
        self.calendar = SiteCalendar(config)
        self.tz = ZoneInfo(config.pbxs[pbx].timezone)
        self.numbers = {s.id: {_digits(n) for n in (*s.numbers, *s.dids) if _digits(n)}
                        for s in self.sites}

    def run(self, files: list[tuple[str, str, int]]) -> Learned:
        out = Learned(files, {s.id: SiteProposal(s.id) for s in self.sites}, [], Counter())
        ways = directions(((sig[0], sig[2], (*sig[4], *sig[8]), sig[9]) for sig in self.sigs),
                          self.map.is_staff, {c for s in self.sites for c in s.contexts})
        for sig, s in list(self.sigs.items()):
            why = ways.set_aside(sig[0], (*sig[4], *sig[8]), sig[9])
            if why is not None:
                out.internal += s.calls
                out.set_aside.setdefault(why, Counter())[sig[0] or "?"] += s.calls
                del self.sigs[sig]
        site_of = self._assign()
        trunks = {sig[0] for sig in site_of if sig[0]} | ways.trunks
        staff = self._staff_devices(site_of, trunks)
        for sig, s in self.sigs.items():
            site = site_of.get(sig)
            if site is not None:
                out.inbound += s.calls
                self._observe_site(out.sites[site], sig, s, trunks, out.forwarded)
            elif self._internal(sig, staff, trunks):
                out.internal += s.calls
                out.set_aside.setdefault(NO_DID, Counter())[sig[0] or "?"] += s.calls
            else:
                out.inbound += s.calls
                self._unassigned(out, sig, s)
        self._shared_out(out, site_of)
        self._no_inbound_message(out, site_of)
        self._one_site_per_device(out)
        self._compress_devices(out, staff)
        self._unused(out)
        for p in out.sites.values():  # the values that cover most calls first
            p.adds = {k: dict(sorted(v.items(), key=lambda kv: (-kv[1].calls, kv[0])))
                      for k, v in p.adds.items()}
        return out

    # ---- which site each call is ----------------------------------------------------------

    def _assign(self) -> dict[Signature, str]:
        site_of: dict[Signature, str] = {}
        for sig in self.sigs:
            site = self._known(sig) or self._by_number(sig[1])
            if site is not None:
                site_of[sig] = site
        queue_sites: dict[str, set[str]] = {}
        for sig, site in site_of.items():
            for q in sig[3]:
                queue_sites.setdefault(q, set()).add(site)
        for sig in self.sigs:
            if sig in site_of:
                continue
            owners = {next(iter(queue_sites[q])) for q in sig[3]
                      if len(queue_sites.get(q, ())) == 1}
            if len(owners) == 1:
                site_of[sig] = owners.pop()
        return site_of

    def _known(self, sig: Signature) -> str | None:
        queues = sig[3] or (None,)
        for q in queues:
            site = self.map.site_for(dialed=sig[1], queue=q)
            if site:
                return site
        for c in sig[2]:
            site = self.map.site_for(context=c)
            if site:
                return site
        return None

    def _by_number(self, dialed: str | None) -> str | None:
        digits = _digits(dialed)
        if len(digits) < SUFFIX_DIGITS:
            return None
        e164 = _digits(normalize_number(dialed))
        exact = [sid for sid, nums in self.numbers.items() if digits in nums or e164 in nums]
        if len(exact) == 1:
            return exact[0]
        ends = [sid for sid, nums in self.numbers.items() if any(n.endswith(digits) for n in nums)]
        return ends[0] if len(ends) == 1 else None

    def _staff_devices(self, site_of: dict[Signature, str],
                       trunks: set[str]) -> dict[str, set[str]]:
        """Devices that answered each site's calls (the trunks excepted)."""
        out: dict[str, set[str]] = {}
        for sig, site in site_of.items():
            out.setdefault(site, set()).update(d for d in sig[4] if d not in trunks)
        return out

    def _internal(self, sig: Signature, staff: dict[str, set[str]], trunks: set[str]) -> bool:
        caller = sig[0]
        if caller and (self.map.is_staff(caller) or any(caller in d for d in staff.values())):
            return True
        if caller.startswith("Local/"):
            return True
        return not looks_like_did(sig[1]) and not sig[3]

    # ---- what each site's calls show ---------------------------------------------------------

    def _observe_site(self, p: SiteProposal, sig: Signature, s: _Sig, trunks: set[str],
                      forwarded: Counter[str]) -> None:
        _, dialed, contexts, queues, answered, machine, voicemail, person, _, _ = sig
        site = self.config.site(p.site)
        p.calls += s.calls
        if dialed and self.map.site_for(dialed=dialed) is None:
            p.propose("dids", dialed, s.calls, s.example, self._did_note(dialed, queues))
        for q in queues:
            if self.map.site_for(queue=q) is None:
                p.propose("queues", q, s.calls, s.example)
        for device in answered:
            if device in trunks:
                forwarded[device] += s.calls
            elif not self.map.is_staff(device):
                p.propose("staff_devices", device, s.calls, s.example, PEER_NOTE
                          if device in self.peers else "")
        if voicemail and voicemail not in site.voicemail_contexts:
            p.propose("voicemail_contexts", voicemail, s.calls, s.example)
        if machine and not answered and not person and self.map.site_for(context=machine[1]) is None:
            key = "message_contexts" if self._out_of_hours(site, s.arrivals) else "contexts"
            p.propose(key, machine[1], s.calls, s.example, f"answered by {machine[0]}")
        for c in contexts:
            if self.map.site_for(context=c) is None and c != voicemail and \
                    (machine is None or c != machine[1] or person):
                p.propose("contexts", c, s.calls, s.example)

    def _did_note(self, dialed: str, queues: tuple[str, ...]) -> str:
        e164 = _digits(normalize_number(dialed))
        if any(e164 in n or _digits(dialed) in n for n in self.numbers.values()):
            return "the site's public number"
        if self._by_number(dialed):
            return "the last digits of the site's public number"
        return f"reaches queue {', '.join(queues)}" if queues else ""

    def _out_of_hours(self, site: Site, arrivals: list[float]) -> bool:
        if not arrivals:
            return False
        closed = sum(not self.calendar.is_open(site, _local(t, self.tz)) for t in arrivals)
        return closed / len(arrivals) >= MESSAGE_OUT_OF_HOURS

    def _unassigned(self, out: Learned, sig: Signature, s: _Sig) -> None:
        for u in out.unassigned:
            if u.dialed == sig[1] and u.queues == list(sig[3]):
                u.evidence.add(s.calls, s.example)
                return
        evidence = Evidence()
        evidence.add(s.calls, s.example)
        out.unassigned.append(Unassigned(sig[1], list(sig[3]), list(sig[2]), evidence))

    def _shared_out(self, out: Learned, site_of: dict[Signature, str]) -> None:
        """A queue or context that several sites' calls use identifies none of them."""
        users: dict[tuple[str, str], set[str]] = {}
        for sig, site in site_of.items():
            for q in sig[3]:
                users.setdefault(("queues", q), set()).add(site)
            for c in sig[2]:
                users.setdefault(("contexts", c), set()).add(site)
            if sig[5]:
                users.setdefault(("contexts", sig[5][1]), set()).add(site)
                users.setdefault(("message_contexts", sig[5][1]), set()).add(site)
        for p in out.sites.values():
            for key in ("queues", "contexts", "message_contexts"):
                for value in [v for v in p.adds[key] if len(users.get((key, v), ())) > 1]:
                    del p.adds[key][value]
            for value in list(p.adds["contexts"]):
                if value in p.adds["message_contexts"] or value in p.adds["voicemail_contexts"]:
                    del p.adds["contexts"][value]
        out.unassigned.sort(key=lambda u: -u.evidence.calls)

    def _no_inbound_message(self, out: Learned, site_of: dict[Signature, str]) -> None:
        """An inbound context (any site's, in sites.toml or proposed now), or one through which
        inbound calls reached a person, is never a message or voicemail context: a
        hang-up there is an abandon."""
        inbound = {c for s in self.config.sites for c in s.contexts} | \
            {c for p in out.sites.values() for c in p.adds["contexts"]} | \
            {c for sig in site_of if sig[7] for c in sig[2]}
        for p in out.sites.values():
            for key in ("message_contexts", "voicemail_contexts"):
                for value in [v for v in p.adds[key] if v in inbound]:
                    del p.adds[key][value]

    def _one_site_per_device(self, out: Learned) -> None:
        """A phone that answered several sites' calls (a shared switchboard) is proposed for the
        site it answered most: a device may belong to one site only (the loader refuses
        overlapping patterns), and the call's site comes from its number or queue anyway."""
        owners: dict[str, list[tuple[int, str]]] = {}
        for p in out.sites.values():
            for device, ev in p.adds["staff_devices"].items():
                owners.setdefault(device, []).append((ev.calls, p.site))
        for device, sites in owners.items():
            if len(sites) < 2:
                continue
            sites.sort(reverse=True)
            keep = sites[0][1]
            others = ", ".join(f"{site} ({n} calls)" for n, site in sites[1:])
            kept = out.sites[keep].adds["staff_devices"][device]
            kept.note = (kept.note + "; " if kept.note else "") + f"also answered for {others}"
            for _, site in sites[1:]:
                del out.sites[site].adds["staff_devices"][device]

    def _compress_devices(self, out: Learned, staff: dict[str, set[str]]) -> None:
        """One glob per site when its new devices share a name prefix no other device has."""
        everyone = {d for devices in staff.values() for d in devices} | {sig[0] for sig in self.sigs}
        for p in out.sites.values():
            devices = p.adds["staff_devices"]
            pattern = _common_glob(list(devices))
            if pattern is None or len(devices) < 2:
                continue
            others = [d for d in everyone if d not in devices and fnmatch.fnmatchcase(d, pattern)]
            if others:
                continue
            merged = Evidence(note=f"{len(devices)} devices: " + ", ".join(sorted(devices)))
            for ev in devices.values():
                for example in ev.examples:
                    merged.add(0, example)
                merged.calls += ev.calls
            p.adds["staff_devices"] = {pattern: merged}

    def _unused(self, out: Learned) -> None:
        sigs = self.all_sigs
        seen_dids = {sig[1] for sig in sigs if sig[1]}
        seen_queues = {q for sig in sigs for q in sig[3]}
        seen_contexts = {c for sig in sigs for c in sig[2]} | \
            {sig[5][1] for sig in sigs if sig[5]} | {sig[6] for sig in sigs if sig[6]}
        seen_devices = {d for sig in sigs for d in sig[4]} | {sig[0] for sig in sigs}
        for site in self.sites:
            p = out.sites[site.id]
            unused = {
                "dids": [d for d in site.dids if d not in seen_dids],
                "queues": [q for q in site.queues if q not in seen_queues],
                "contexts": [c for c in site.contexts if c not in seen_contexts],
                "staff_devices": [pat for pat in site.staff_devices
                                  if not any(fnmatch.fnmatchcase(d, pat) for d in seen_devices)],
                "message_contexts": [c for c in site.message_contexts if c not in seen_contexts],
                "voicemail_contexts": [c for c in site.voicemail_contexts if c not in seen_contexts],
            }
            p.unused = {k: v for k, v in unused.items() if v}


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def _local(t: float, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, tz).replace(tzinfo=None)


def _common_glob(devices: list[str]) -> str | None:
    """`<prefix>*` for devices sharing a prefix that ends with a separator after a name
    (PJSIP/eps05-201, PJSIP/eps05-202 → PJSIP/eps05-*); None for bare numbers."""
    if not devices:
        return None
    prefix = devices[0]
    for d in devices[1:]:
        while not d.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind("-"), prefix.rfind("_"), prefix.rfind("."))
    tech = prefix.find("/")
    if cut <= tech + 1:
        return None
    stem = prefix[:cut + 1]
    if not any(ch.isalpha() for ch in stem[tech + 1:]):
        return None
    return _escape(stem) + "*"


def _escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[]" else ch for ch in text)


__all__ = ["KEYS", "Evidence", "Learned", "SiteProposal", "Unassigned", "device_of", "learn"]
