"""The dispatcher: from the rules' evaluations to notices, sent once when an alert fires, again at
most every cooldown while it keeps firing, and once more when it clears; every notice and each
channel's delivery is stored. Also `check` (the scheduled rules) and `send_test`.

A channel that fails is logged and stored with its reason; the alert still counts as sent, so
the next reminder (after the cooldown) is the next try.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from alerts.delivery import Channel
from alerts.directory import GapLike, directory_gap_evaluation
from alerts.model import Delivery, Evaluation, Finding, Notice, NoticeKind, Sent
from alerts.rules_batch import afterhours_evaluation, month_evaluation
from alerts.settings import AlertsSettings, Rule
from alerts.store import OpenAlert, open_alerts, save_sent
from config import Config
from monitor.store import Store

log = logging.getLogger(__name__)

DIRECTORY_NOT_WIRED = ("not evaluated: the directory check (qualiphone sites check) is not "
                       "wired to the alerts yet")


@dataclass
class Outcome:
    """What one pass found and did."""

    firing: list[Finding] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    held: list[Finding] = field(default_factory=list)  # firing, already sent within the cooldown
    notes: dict[str, str] = field(default_factory=dict)  # rule -> why it was not evaluated

    @property
    def cleared(self) -> list[Sent]:
        return [s for s in self.sent if s.notice.kind is NoticeKind.CLEARED]


class Dispatcher:
    def __init__(self, store: Store, settings: AlertsSettings, channels: Sequence[Channel],
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.settings, self.channels, self.clock = store, settings, list(channels), clock

    def process(self, evaluations: Iterable[Evaluation], dry_run: bool = False) -> Outcome:
        """Apply the evaluations to the stored alerts; send and store the notices due (none
        with `dry_run`, which only reports what fires)."""
        evaluations = list(evaluations)
        now, out = self.clock(), Outcome()
        current = open_alerts(self.store, [e.rule.value for e in evaluations])
        for ev in evaluations:
            if ev.note:
                out.notes[ev.rule.value] = ev.note
            out.firing += ev.findings
            notices = self._notices(ev, current, now, out)
            if not dry_run:
                out.sent += [self.deliver(n) for n in notices]
        return out

    def _notices(self, ev: Evaluation, current: dict[tuple[str, str], OpenAlert], now: float,
                 out: Outcome) -> list[Notice]:
        cooldown = self.settings.rule(ev.rule).cooldown_minutes
        notices, firing = [], set()
        for f in ev.findings:
            firing.add(f.subject)
            alert = current.get((ev.rule.value, f.subject))
            if alert is not None and now - alert.last_sent_at < cooldown * 60:
                out.held.append(f)
                continue
            kind = NoticeKind.FIRED if alert is None else NoticeKind.REPEAT
            notices.append(Notice(kind, f.rule.value, f.subject, f.site, f.summary, f.title, f.detail,
                                  now, alert.fired_at if alert else now, f.data,
                                  alert.id if alert else None, cooldown))
        clears = dict(ev.checked)
        if ev.complete_text is not None:
            for (rule, subject) in current:
                if rule == ev.rule.value:
                    clears.setdefault(subject, ev.complete_text)
        for subject, seen in clears.items():
            alert = current.get((ev.rule.value, subject))
            if alert is None or subject in firing:
                continue
            notices.append(Notice(NoticeKind.CLEARED, alert.rule, subject, alert.site,
                                  f"{subject}: back to normal", alert.title, seen, now,
                                  alert.fired_at, {}, alert.id, cooldown))
        return notices

    def deliver(self, notice: Notice) -> Sent:
        """Send through every channel (one failing never stops the others) and store it all."""
        deliveries = []
        for channel in self.channels:
            try:
                done = channel.send(notice)
            except Exception as exc:  # a channel bug must not lose the other channels
                log.exception("alert channel %s failed", channel.name)
                done = Delivery(channel.name, "?", False, f"{type(exc).__name__}")
            if not done.ok:
                log.warning("alert %s %s/%s: %s delivery to %s failed: %s", notice.kind.value,
                            notice.rule, notice.subject, done.channel, done.target, done.detail)
            elif done.channel != "log":
                log.info("alert %s %s/%s: sent by %s to %s", notice.kind.value, notice.rule,
                         notice.subject, done.channel, done.target)
            deliveries.append(done)
        sent = Sent(notice, deliveries)
        save_sent(self.store, sent)
        return sent

    def send_test(self, site: str | None = None, site_name: str = "") -> Sent:
        """A test message through every channel (stored in the history as kind "test")."""
        now = self.clock()
        where = f" (destinataires de {site_name or site})" if site else ""
        notice = Notice(NoticeKind.TEST, "test", site or "all", site,
                        "test message from qualiphone alerts test",
                        f"message de test des alertes qualiphone{where}",
                        "Les alertes de qualiphone (e-mail, webhook, journal) sont configurées et "
                        "parviennent à ce destinataire.", now, now)
        return self.deliver(notice)


def scheduled_evaluations(store: Store, config: Config, settings: AlertsSettings, month: str,
                          directory_gaps: Callable[[], Iterable[GapLike]] | None = None) -> list[Evaluation]:
    """The rules of `qualiphone alerts check` that are enabled: the month below target, the
    after-hours probes, the directory gaps (only when a detection is given)."""
    found = []
    if settings.enabled(Rule.MONTH_BELOW_TARGET):
        found.append(month_evaluation(store, config, settings.rule(Rule.MONTH_BELOW_TARGET), month))
    if settings.enabled(Rule.AFTERHOURS_PROBE):
        found.append(afterhours_evaluation(store, config))
    if settings.enabled(Rule.DIRECTORY_GAP):
        if directory_gaps is None:
            found.append(Evaluation(Rule.DIRECTORY_GAP, note=DIRECTORY_NOT_WIRED))
        else:
            found.append(directory_gap_evaluation(directory_gaps(), settings.rule(Rule.DIRECTORY_GAP),
                                                  config))
    return found
