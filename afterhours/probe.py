"""Active probes: call each closed site through AMI Originate and check what answers.

For every site closed at the probe time (and with a reference registered): an `Originate`
(Async, ChannelId = the probe id, Account and caller id of the probe, variables PROBE_ID,
PROBE_SITE, PROBE_LISTEN) on the probe's own AMI connection; the `OriginateResponse` with the
same ActionID says whether something answered (and when); the PBX's MixMonitor writes
`<probe id>.wav` in the recordings directory; the recording is compared with the site's
references (`similarity.assess`); the probe is stored and, after the run, two failures in a
row for a site raise an alert (`alerts`).

An Originate is never re-sent (reference §9): if the connection drops after it went out, its
fate is unknown, and the recording, if one appears, still decides; otherwise the verdict is
`error`, which does not count against the site.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterhours import references as refs_mod
from afterhours.alerts import raise_alerts
from afterhours.audio import AudioError, Features, features, read_wav
from afterhours.repository import AlertRecord, ProbeRecord, save_probe
from afterhours.settings import AfterHoursSettings
from afterhours.similarity import Assessment, RefKey, Verdict, assess
from config import Config
from ingest.ami.actions import LoginTimeout, originate_once, wait_logged_in
from ingest.ami.client import ActionFailed, AmiClient, Backoff, ConnectionLost
from ingest.ami.protocol import Message
from monitor.calendar import SiteCalendar
from monitor.store import Store

log = logging.getLogger(__name__)

REASONS = {0: "no route or channel unavailable", 1: "hung up", 3: "rang out, no answer",
           4: "answered", 5: "busy", 8: "congestion"}
CONNECT_WAIT = 15.0  # seconds to reach and log in to the AMI before giving up


class ProbeError(Exception):
    """The probes cannot run at all (AMI unreachable, login refused, nothing to probe)."""


@dataclass(frozen=True)
class Target:
    site: str
    pbx: str
    number: str  # national format
    expected: RefKey
    local: dt.datetime  # aware, the site's time zone


@dataclass
class ProbeRun:
    probes: list[ProbeRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (site, why)
    alerts: list[AlertRecord] = field(default_factory=list)


def national(number: str) -> str:
    """"+33199000109" → "0199000109" (other numbers: digits only)."""
    digits = re.sub(r"[^\d+]", "", number)
    return "0" + digits[3:] if digits.startswith("+33") else digits.lstrip("+")


def plan_targets(config: Config, sites: list[str], when: dt.datetime,
                 registered: set[RefKey]) -> tuple[list[Target], list[tuple[str, str]]]:
    """The sites to call at `when` (aware), with the message expected; the others and why."""
    calendar, targets, skipped = SiteCalendar(config), [], []
    for site_id in sites:
        site = config.site(site_id)
        local = when.astimezone(config.pbxs[site.pbx].tz)
        if calendar.is_open(site, local.replace(tzinfo=None)):
            skipped.append((site_id, f"open at {local:%a %H:%M}: probes call closed sites only"))
            continue
        closure = calendar.closure_at(site_id, local.replace(tzinfo=None)) is not None
        kind = "closure" if closure and RefKey(site_id, "closure") in registered else "closed"
        if RefKey(site_id, kind) not in registered:
            skipped.append((site_id, f'no "{kind}" reference: register one with '
                                     f"qualiphone afterhours reference --site {site_id} FILE"))
        elif not site.numbers:
            skipped.append((site_id, "no public number in sites.toml"))
        else:
            targets.append(Target(site_id, site.pbx, national(site.numbers[0]), RefKey(site_id, kind), local))
    return targets, skipped


def new_probe_id(target: Target) -> str:
    return f"probe-{target.site}-{target.local:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def originate_headers(target: Target, settings: AfterHoursSettings,
                      probe_id: str) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """The Originate's repeated Variable headers and its other fields (reference §1.8)."""
    p = settings.probe
    e164 = "+33" + target.number[1:] if target.number.startswith("0") else target.number
    pairs = [("Variable", f"PROBE_ID={probe_id}"), ("Variable", f"PROBE_SITE={target.site}"),
             ("Variable", f"PROBE_LISTEN={int(p.listen_seconds)}")]
    fields: dict[str, object] = {
        "Channel": p.channel.format(number=target.number, e164=e164), "Context": p.context,
        "Exten": p.exten, "Priority": p.priority, "Timeout": int(p.ring_timeout_seconds * 1000),
        "CallerID": p.caller_id, "Account": p.account, "ChannelId": probe_id,
        "OtherChannelId": f"{probe_id}-2", "Async": "true",
    }
    return pairs, fields


class Prober:
    """Runs the probes of one invocation on one AMI connection."""

    def __init__(self, config: Config, store: Store, settings: AfterHoursSettings,
                 references: dict[RefKey, Features], reference_seconds: dict[RefKey, float],
                 pretend: bool = False) -> None:
        self.config, self.store, self.settings, self.pretend = config, store, settings, pretend
        self.references, self.reference_seconds = references, reference_seconds
        self.recordings = settings.probe.recordings()
        self._responses: dict[str, asyncio.Future[Message]] = {}
        self._lost = asyncio.Event()  # set when the connection drops; replaced for later waiters

    def _future(self, action_id: str) -> asyncio.Future[Message]:
        if action_id not in self._responses:
            self._responses[action_id] = asyncio.get_running_loop().create_future()
        return self._responses[action_id]

    def on_disconnect(self, reason: str, last_received: float) -> None:
        """Originates still waiting for their response now have an unknown fate."""
        self._lost.set()
        self._lost = asyncio.Event()

    async def narrow_events(self, client: AmiClient) -> None:
        """Ask the PBX to send this session OriginateResponse events only (best effort).

        Needs Asterisk's `Filter` action (write = system); without it every call event of the
        PBX reaches the probe's session, and OriginateResponse is still picked by ActionID.
        """
        try:
            await client.send_action("Filter", timeout=5.0, Operation="Add",
                                     Filter="Event: OriginateResponse")
        except (ActionFailed, TimeoutError, ConnectionLost) as exc:
            log.debug("AMI %s: no event filter (%s); OriginateResponse picked by ActionID",
                      client.address, exc or type(exc).__name__)

    def on_message(self, msg: Message) -> None:
        """Keep OriginateResponse events by ActionID; every other event is ignored."""
        if msg.kind == "event" and msg.name.lower() == "originateresponse" and msg.action_id:
            future = self._future(msg.action_id)
            if not future.done():
                future.set_result(msg)

    async def run(self, client: AmiClient, targets: list[Target],
                  done: Callable[[ProbeRecord], None] | None = None) -> list[ProbeRecord]:
        """Probe every target (`concurrency` at once); `done` hears of each probe judged."""
        task = asyncio.create_task(client.run())
        try:
            try:
                await wait_logged_in(client, CONNECT_WAIT)
            except LoginTimeout as exc:
                raise ProbeError(str(exc)) from None
            gate = asyncio.Semaphore(self.settings.probe.concurrency)

            async def one(target: Target) -> ProbeRecord:
                async with gate:
                    record = await self.probe(client, target)
                if done is not None:
                    done(record)
                return record

            return list(await asyncio.gather(*(one(t) for t in targets)))
        finally:
            client.stop()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5.0)

    async def probe(self, client: AmiClient, target: Target) -> ProbeRecord:
        """Place one probe, wait for its fate and its recording, judge and store it."""
        pid = new_probe_id(target)
        local = target.local if self.pretend else dt.datetime.now(target.local.tzinfo)
        record = ProbeRecord(pid, target.site, target.pbx, target.expected.kind, local.timestamp(),
                             local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S"), target.number,
                             Verdict.ERROR.value)
        sent = time.time()
        response, went_out = await self._originate(client, target, pid, record)
        p = self.settings.probe
        listen = p.listen_seconds + p.settle_seconds + p.recording_grace_seconds
        if response is not None:
            record.response, record.reason = response.get("Response") or "", _reason(response)
            if record.response.lower() != "success":
                record.verdict = Verdict.NO_ANSWER.value
                record.detail = REASONS.get(record.reason or 0, f"reason {record.reason}")
                return self._save(record)
            record.time_to_answer = round((response.received or time.time()) - sent, 3)
            deadline = time.time() + listen
        elif went_out:  # fate unknown: a recording may still tell
            deadline = sent + self.settings.probe.ring_timeout_seconds + listen
        else:
            return self._save(record)
        path = await self._wait_recording(pid, deadline)
        if path is None:
            record.detail = "; ".join(filter(None, (
                record.detail, f"no recording {self.recordings / (pid + '.wav')}: check "
                "recordings_dir and the probe-listen context (README)")))
            return self._save(record)
        await asyncio.to_thread(self._judge, record, path, target.expected)
        return self._save(record)

    async def _originate(self, client: AmiClient, target: Target, pid: str,
                         record: ProbeRecord) -> tuple[Message | None, bool]:
        """Send the Originate: (its OriginateResponse or None, whether it went out).

        When there is no response, record.detail says why.
        """
        try:
            await asyncio.wait_for(client.connected.wait(), CONNECT_WAIT)
        except TimeoutError:
            record.detail = "not sent: the AMI connection is down"
            return None, False
        dropped = self._lost  # set if this connection drops from now on
        pairs, fields = originate_headers(target, self.settings, pid)
        sent = await originate_once(client, pairs, fields)
        if sent.action_id is None:
            record.detail = sent.detail
            return None, sent.went_out
        return await self._await_response(sent.action_id, dropped, record), True

    async def _await_response(self, action_id: str, dropped: asyncio.Event,
                              record: ProbeRecord) -> Message | None:
        """The OriginateResponse, or None when the connection dropped or it never came."""
        wait = self.settings.probe.ring_timeout_seconds + 30.0
        response = self._future(action_id)
        lost: asyncio.Future[Any] = asyncio.ensure_future(dropped.wait())
        waiters: list[asyncio.Future[Any]] = [response, lost]
        try:
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if response.done():
            return response.result()
        why = "the AMI connection was lost after the Originate" if dropped.is_set() else \
            f"no OriginateResponse within {wait:.0f} s"
        record.detail = f"fate unknown: {why} (not re-sent)"
        return None

    async def _wait_recording(self, pid: str, deadline: float) -> Path | None:
        """`<pid>.wav` once complete: `<pid>.done` exists or the file stopped changing."""
        wav, done = self.recordings / f"{pid}.wav", self.recordings / f"{pid}.done"
        settle = self.settings.probe.settle_seconds
        while time.time() < deadline:
            if wav.exists() and (done.exists() or time.time() - wav.stat().st_mtime >= settle):
                return wav
            await asyncio.sleep(0.1)
        return wav if wav.exists() and wav.stat().st_size > 44 else None

    def _judge(self, record: ProbeRecord, path: Path, expected: RefKey) -> None:
        record.recording = str(path)
        try:
            audio = read_wav(path)
        except AudioError as exc:
            record.detail = str(exc)
            return
        result = assess(features(audio), self.references, expected)
        fill_assessment(record, result, audio.seconds, self.reference_seconds.get(expected))

    def _save(self, record: ProbeRecord) -> ProbeRecord:
        save_probe(self.store, record)
        log.info("probe %s %s: %s %s", record.id, record.site, record.verdict, record.detail)
        return record


def _reason(msg: Message) -> int | None:
    text = msg.get("Reason") or ""
    return int(text) if text.strip().isdigit() else None


def fill_assessment(record: ProbeRecord, result: Assessment, seconds: float,
                    reference_seconds: float | None) -> None:
    """Copy a verdict and its measurements into the probe record."""
    record.verdict = result.verdict.value
    record.recording_seconds = round(seconds, 2)
    record.message_seconds = round(result.speech_seconds, 2)
    record.reference_seconds = reference_seconds
    record.matched = str(result.best) if result.best else None
    if result.match is not None:
        record.similarity, record.worst = round(result.match.similarity, 4), round(result.match.worst, 4)
        record.coverage = round(result.match.coverage, 3)
    if result.expected is not None:
        record.expected_similarity = round(result.expected.similarity, 4)
        record.expected_worst = round(result.expected.worst, 4)
    record.scores = {k: list(v) for k, v in result.scores.items()}


def run_probes(config: Config, store: Store, settings: AfterHoursSettings, *, host: str, port: int,
               username: str, secret: str, sites: list[str] | None = None,
               when: dt.datetime | None = None, references_root: Path | None = None,
               progress: Callable[[int, ProbeRecord | None], None] | None = None) -> ProbeRun:
    """Probe the closed sites among `sites` (default: all) at `when` (default: now).
    `progress(total, None)` hears how many sites will be probed, then `progress(total, probe)`
    of each probe judged."""
    pretend = when is not None
    when = when or dt.datetime.now(dt.UTC)
    registered = refs_mod.list_references(references_root)
    keys = {r.key for r in registered}
    targets, skipped = plan_targets(config, list(sites or config.site_ids), when, keys)
    run = ProbeRun(skipped=skipped)
    if progress is not None:
        progress(len(targets), None)
    if not targets:
        return run
    prober = Prober(config, store, settings, refs_mod.load_features(registered),
                    {r.key: r.speech_seconds for r in registered}, pretend)
    client = AmiClient(host, port, username, secret, on_message=prober.on_message,
                       on_disconnect=prober.on_disconnect, on_connect=prober.narrow_events,
                       events=settings.probe.events,
                       backoff=Backoff(base=0.5, cap=5.0), connect_timeout=5.0)
    done = None if progress is None else (lambda record: progress(len(targets), record))
    run.probes = asyncio.run(prober.run(client, targets, done))
    run.alerts = raise_alerts(store, config, settings.alert, [t.site for t in targets],
                              when.timestamp() if pretend else None)
    return run
