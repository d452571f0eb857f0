"""Turn what one source knows about a call (a CallBuilder) into the canonical Call.

Every capture path goes through `CaptureContext.finalize`, so site resolution, the in-hours
flag, caller pseudonymization, local buckets and outcome rules are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Config, PbxSettings
from ingest.call_direction import internal_by_name
from ingest.plausible import TimeWindow
from ingest.records import Miss, RecordError, UnknownSiteError
from ingest.site_map import SiteMap, looks_like_did
from monitor.calendar import SiteCalendar
from monitor.call import UNCLASSIFIED, Call, CallBuilder, Outcome
from monitor.pseudonym import Pseudonymizer, normalize_number, pseudonymizer_for
from monitor.store.writer import call_problem
from monitor.timeutil import epoch_to_local, local_parts

# Tolerance for clock jitter between legs (e.g. CEL events of two channels a few µs apart).
_EPSILON = 0.001
_TIMES = ("arrival", "answer", "end", "first_ring", "queue_entry", "other_answer",
          "machine_answer")


@dataclass
class CaptureContext:
    config: Config
    pbx: PbxSettings
    sites: SiteMap
    calendar: SiteCalendar
    pseudonymizer: Pseudonymizer | None
    window: TimeWindow  # times outside it are rejects (capture.plausible_from, …)

    @classmethod
    def create(cls, config: Config, pbx_name: str | None = None) -> CaptureContext:
        if pbx_name is None:
            pbx_name = next(iter(config.pbxs))
        if pbx_name not in config.pbxs:
            raise RecordError(
                f'PBX "{pbx_name}" is not in {config.directory / "settings.toml"}; '
                f"known PBXs: {', '.join(config.pbxs)}."
            )
        window = TimeWindow.from_settings(config.capture, config.directory / "settings.toml")
        return cls(config, config.pbxs[pbx_name], SiteMap.build(config, pbx_name),
                   SiteCalendar(config), pseudonymizer_for(config.capture), window)

    def site_of(self, b: CallBuilder) -> str:
        site = b.site or self.sites.site_for(dialed=b.dialed, queue=b.queue, context=b.context)
        if site is None:
            raise UnknownSiteError(self._unknown_site(b), Miss(b.dialed, b.queue, b.context,
                                                              b.arrival, _internal_or_outbound(b)))
        return site

    def _unknown_site(self, b: CallBuilder) -> str:
        """Why no site matched, naming only what is really missing from the directory."""
        where = f'{self.config.directory / "sites.toml"} (PBX "{self.pbx.name}")'
        seen = ", ".join(f'{name} "{value}"' for name, value in
                         (("dialed number", b.dialed), ("queue", b.queue), ("context", b.context))
                         if value) or "no dialed number, queue or context"
        if _internal_or_outbound(b):
            via = f" through {b.dialed_out}" if b.dialed_out else ""
            fix = (f'it looks like an internal or outbound call (placed from "{b.caller_device}"'
                   f"{via}), not a switchboard call: nothing to add to the directory")
        elif looks_like_did(b.dialed):
            fix = (f'if it is a switchboard\'s number, add "{b.dialed}" to that site\'s dids '
                   "(`qualiphone sites learn FILE` proposes it)")
        elif b.queue:
            fix = f'if queue "{b.queue}" is a switchboard\'s, add it to that site\'s queues'
        elif b.incomplete:
            fix = ("a call already in progress when the capture started: too little is known to "
                   "tell its site; the batch import (CDR, CEL) completes it")
        else:
            fix = ("nothing here identifies a switchboard (an extension is not a DID); "
                   "`qualiphone sites learn FILE` shows what the PBX writes for each site")
        return f"unknown site: no site of {where} matches {seen}; {fix}"

    def finalize(self, b: CallBuilder, *, check_store: bool = True) -> Call:
        """Validate and complete a builder; raise RecordError with the reason when it can't (also
        for a value the store would refuse, e.g. a field longer than its column, unless
        `check_store` is False: the batch import leaves that to the writer, which refuses such
        a call alone and gives it back as a reject)."""
        if b.arrival is None:
            raise RecordError("no arrival time")
        for name in _TIMES:
            value = getattr(b, name)
            if value is not None:
                self.window.check(value, name.replace("_", " "))
        for name in ("answer", "end", "first_ring", "queue_entry"):
            value = getattr(b, name)
            if value is not None and value < b.arrival - _EPSILON:
                raise RecordError(f"{name.replace('_', ' ')} before the call's start")
        if b.answer is not None and b.end is not None and b.end < b.answer - _EPSILON:
            raise RecordError("end before answer")
        site_id = self.site_of(b)
        site = self.config.site(site_id)
        outcome = self._outcome(b)
        answer, answered_by = self._answer(b, outcome)
        tz = self.pbx.tz
        date, hour, weekday = local_parts(b.arrival, tz)
        caller = normalize_number(b.caller, self.config.capture.default_region)
        call = Call(
            pbx=b.pbx,
            call_key=b.call_key,
            site=site_id,
            arrival=b.arrival,
            outcome=outcome,
            source=b.source,
            linkedid=b.linkedid,
            dialed=normalize_number(b.dialed) if b.dialed else None,
            caller_hash=self.pseudonymizer.caller_hash(caller) if self.pseudonymizer else None,
            caller_raw=caller if self.config.capture.store_raw_caller or not self.pseudonymizer else None,
            caller_withheld=caller is None,
            first_ring=b.first_ring,
            queue_entry=b.queue_entry,
            answer=answer,
            end=b.end,
            answered_by=answered_by,
            in_hours=self.calendar.is_open(site, epoch_to_local(b.arrival, tz)),
            is_test=b.is_test,
            incomplete=b.incomplete,
            resolution=b.resolution,
            local_date=date,
            local_hour=hour,
            local_weekday=weekday,
        )
        # what the store would refuse: one reject, not a failed write
        problem = call_problem(call) if check_store else None
        if problem is not None:
            raise RecordError(problem)
        return call

    @staticmethod
    def _answer(b: CallBuilder, outcome: Outcome) -> tuple[float | None, str | None]:
        """The answer kept with the call: a person's, or the unclassified connection's."""
        if outcome is Outcome.ANSWERED:
            return b.answer, b.answered_by
        if outcome is Outcome.UNKNOWN_DEVICE:
            return b.other_answer, b.other_device
        if outcome is Outcome.MACHINE:
            return b.machine_answer, b.machine
        return None, None

    def _outcome(self, b: CallBuilder) -> Outcome:
        """The outcome; a caller connected to an unknown device or answered by an unknown
        machine is never an abandon: the directory is incomplete (`qualiphone sites check`)."""
        outcome = b.outcome
        if outcome is Outcome.ANSWERED and b.answer is None:
            raise RecordError("answered by a person but no answer time")
        if outcome is None and b.answer is not None:
            return Outcome.ANSWERED
        if outcome in (None, Outcome.ABANDONED, Outcome.SHORT_ABANDON, Outcome.NO_ANSWER):
            if b.other_device is not None:
                return Outcome.UNKNOWN_DEVICE
            if b.machine is not None:
                return Outcome.MACHINE
        if outcome in UNCLASSIFIED:
            return outcome
        if outcome is None:
            outcome = Outcome.ABANDONED
        if outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDON):
            if b.end is None or b.arrival is None:
                return Outcome.ABANDONED
            short = b.end - b.arrival < self.config.targets.short_abandon_seconds
            return Outcome.SHORT_ABANDON if short else Outcome.ABANDONED
        return outcome


def _internal_or_outbound(b: CallBuilder) -> bool:
    """A call placed from an internal device (console, extension-named phone) or dialed out
    through a trunk: never a switchboard call, whatever it dialed."""
    return bool(b.dialed_out) or (b.caller_device is not None
                                  and internal_by_name(b.caller_device))
