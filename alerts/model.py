"""What rules find and what the dispatcher sends: findings, evaluations, notices, deliveries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from alerts.settings import Rule


@dataclass(frozen=True)
class Finding:
    """One firing condition: `subject` names what it is about, unique within its rule (a site,
    "site/2026-10", a PBX, a directory entry). `summary` is English (logs); `title` and
    `detail` are French (e-mails, webhook); `data` holds the figures for machines."""

    rule: Rule
    subject: str
    site: str | None
    summary: str
    title: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """A rule's verdicts at one moment. `findings` fire; `checked` maps each subject found fine
    to what was seen (French, the clearing text); a subject in neither is left as it is (not
    judged: too few calls, a closed site, a disconnected PBX). With `complete_text`, the
    findings are the whole truth: every other open alert of the rule clears with that text.
    `note` (English) says why a rule was not evaluated at all."""

    rule: Rule
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)
    complete_text: str | None = None
    note: str = ""


class NoticeKind(enum.StrEnum):
    FIRED = "fired"  # the alert starts
    REPEAT = "repeat"  # still firing, the cooldown has passed
    CLEARED = "cleared"  # the condition is gone
    TEST = "test"  # `qualiphone alerts test`


@dataclass(frozen=True)
class Notice:
    """One message about one alert, sent through every channel."""

    kind: NoticeKind
    rule: str
    subject: str
    site: str | None
    summary: str  # English
    title: str  # French
    text: str  # French
    at: float  # UTC epoch
    fired_at: float
    data: dict[str, Any] = field(default_factory=dict)
    alert_id: int | None = None
    cooldown_minutes: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """What one channel did with one notice. `target` never holds a secret."""

    channel: str  # email | webhook | log
    target: str
    ok: bool
    detail: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class Sent:
    notice: Notice
    deliveries: list[Delivery]
