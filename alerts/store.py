"""Reading and writing alerts, their notices and deliveries in the store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from alerts.model import Delivery, Notice, NoticeKind, Sent
from alerts.models import alert_deliveries, alert_notices, alerts
from monitor.store import Store

FIRING, CLEARED = "firing", "cleared"


@dataclass(frozen=True)
class OpenAlert:
    id: int
    rule: str
    subject: str
    site: str | None
    fired_at: float
    last_sent_at: float
    title: str


@dataclass(frozen=True)
class HistoryRow:
    """A notice and what each channel did with it."""

    id: int
    at: float
    kind: str
    rule: str
    subject: str
    site: str | None
    summary: str
    title: str
    alert_id: int | None
    deliveries: list[Delivery] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(),
                "kind": self.kind, "rule": self.rule, "subject": self.subject, "site": self.site,
                "summary": self.summary, "title": self.title, "alert_id": self.alert_id,
                "deliveries": [{"channel": d.channel, "target": d.target, "ok": d.ok,
                                "attempts": d.attempts, "detail": d.detail} for d in self.deliveries]}


def open_alerts(store: Store, rules: Iterable[str]) -> dict[tuple[str, str], OpenAlert]:
    """The firing alerts of `rules`, by (rule, subject)."""
    query = sa.select(alerts).where(alerts.c.state == FIRING, alerts.c.rule.in_(list(rules)))
    with store.engine.connect() as conn:
        return {(r.rule, r.subject): OpenAlert(r.id, r.rule, r.subject, r.site, r.fired_at,
                                               r.last_sent_at, r.title)
                for r in conn.execute(query.order_by(alerts.c.id))}


def _alert_id(conn: sa.Connection, notice: Notice) -> int | None:
    """Open, refresh or close the notice's alert row; its id."""
    if notice.kind is NoticeKind.TEST:
        return None
    if notice.kind is NoticeKind.FIRED:
        return int(conn.execute(sa.insert(alerts).values(
            rule=notice.rule, subject=notice.subject, site=notice.site, state=FIRING,
            fired_at=notice.fired_at, last_sent_at=notice.at, title=notice.title,
        ).returning(alerts.c.id)).scalar_one())
    values: dict[str, Any] = {"last_sent_at": notice.at}
    if notice.kind is NoticeKind.CLEARED:
        values.update(state=CLEARED, cleared_at=notice.at)
    else:
        values["title"] = notice.title
    conn.execute(sa.update(alerts).where(alerts.c.id == notice.alert_id).values(**values))
    return notice.alert_id


def save_sent(store: Store, sent: Sent) -> int:
    """Record a notice, the change of its alert and its deliveries in one transaction."""
    n = sent.notice
    with store.engine.begin() as conn:
        alert_id = _alert_id(conn, n)
        notice_id = int(conn.execute(sa.insert(alert_notices).values(
            alert_id=alert_id, kind=n.kind.value, rule=n.rule, subject=n.subject, site=n.site,
            at=n.at, summary=n.summary, title=n.title, text=n.text,
            data=json.dumps(n.data, sort_keys=True, default=str),
        ).returning(alert_notices.c.id)).scalar_one())
        if sent.deliveries:
            conn.execute(sa.insert(alert_deliveries), [
                {"notice_id": notice_id, "channel": d.channel, "target": d.target[:500], "ok": d.ok,
                 "attempts": d.attempts, "detail": d.detail[:500]} for d in sent.deliveries])
    return notice_id


def history(store: Store, *, since: float | None = None, site: str | None = None,
            rule: str | None = None, limit: int = 50) -> list[HistoryRow]:
    """The latest notices (newest first) with their deliveries."""
    query = sa.select(alert_notices)
    if since is not None:
        query = query.where(alert_notices.c.at >= since)
    if site is not None:
        query = query.where(alert_notices.c.site == site)
    if rule is not None:
        query = query.where(alert_notices.c.rule == rule)
    query = query.order_by(alert_notices.c.at.desc(), alert_notices.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = list(conn.execute(query))
        found: dict[int, list[Delivery]] = {r.id: [] for r in rows}
        if found:
            for d in conn.execute(sa.select(alert_deliveries)
                                  .where(alert_deliveries.c.notice_id.in_(list(found)))
                                  .order_by(alert_deliveries.c.id)):
                found[d.notice_id].append(Delivery(d.channel, d.target, d.ok, d.detail, d.attempts))
    return [HistoryRow(r.id, r.at, r.kind, r.rule, r.subject, r.site, r.summary, r.title,
                       r.alert_id, found[r.id]) for r in rows]
