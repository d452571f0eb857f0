"""Reading and writing probes and alerts in the store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from afterhours.models import afterhours_alerts, afterhours_probes
from afterhours.similarity import Verdict
from monitor.store import Store


@dataclass
class ProbeRecord:
    """One probe: what was called, what happened, what was heard."""

    id: str
    site: str
    pbx: str
    expected_kind: str
    started_at: float
    local_date: str
    local_time: str
    number: str
    verdict: str
    response: str = ""
    reason: int | None = None
    time_to_answer: float | None = None
    recording: str | None = None
    recording_seconds: float | None = None
    message_seconds: float | None = None
    reference_seconds: float | None = None
    matched: str | None = None
    similarity: float | None = None
    worst: float | None = None
    coverage: float | None = None
    expected_similarity: float | None = None
    expected_worst: float | None = None
    scores: dict[str, list[float]] = field(default_factory=dict)
    detail: str = ""

    @property
    def failed(self) -> bool:
        return Verdict(self.verdict).is_failure


@dataclass(frozen=True)
class AlertRecord:
    site: str
    raised_at: float
    probes: list[str]
    message: str
    hook: str = ""


def save_probe(store: Store, probe: ProbeRecord) -> None:
    row = asdict(probe)
    row["scores"] = json.dumps(probe.scores, sort_keys=True)
    row["is_test"] = True
    with store.engine.begin() as conn:
        conn.execute(afterhours_probes.insert().values(**row))


def _probe(row: sa.Row) -> ProbeRecord:
    data = dict(row._mapping)
    data.pop("is_test", None)
    data["scores"] = json.loads(data["scores"] or "{}")
    return ProbeRecord(**data)


def probes_between(store: Store, first: dt.date, last: dt.date,
                   sites: Sequence[str] | None = None) -> list[ProbeRecord]:
    """Probes whose local date is in [first, last], by site then time."""
    query = sa.select(afterhours_probes).where(
        afterhours_probes.c.local_date.between(first.isoformat(), last.isoformat()))
    if sites is not None:
        query = query.where(afterhours_probes.c.site.in_(list(sites)))
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(afterhours_probes.c.site, afterhours_probes.c.started_at))
        return [_probe(r) for r in rows]


def last_probes(store: Store, site: str, count: int) -> list[ProbeRecord]:
    """The site's `count` latest probes whose fate is known (errors skipped), newest first."""
    query = (sa.select(afterhours_probes)
             .where(afterhours_probes.c.site == site, afterhours_probes.c.verdict != Verdict.ERROR.value)
             .order_by(afterhours_probes.c.started_at.desc()).limit(count))
    with store.engine.connect() as conn:
        return [_probe(r) for r in conn.execute(query)]


def save_alert(store: Store, alert: AlertRecord) -> None:
    with store.engine.begin() as conn:
        conn.execute(afterhours_alerts.insert().values(
            site=alert.site, raised_at=alert.raised_at, probes=",".join(alert.probes),
            message=alert.message, hook=alert.hook[:200]))


def alerts_between(store: Store, start: float, end: float,
                   sites: Sequence[str] | None = None) -> list[AlertRecord]:
    query = sa.select(afterhours_alerts).where(afterhours_alerts.c.raised_at.between(start, end))
    if sites is not None:
        query = query.where(afterhours_alerts.c.site.in_(list(sites)))
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(afterhours_alerts.c.raised_at))
        return [AlertRecord(r.site, r.raised_at, r.probes.split(","), r.message, r.hook) for r in rows]
