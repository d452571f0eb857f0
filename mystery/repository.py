"""Reading and writing campaigns, planned calls and results in the store."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from config import Config
from monitor.store import Store
from mystery.campaign import Campaign, parse_campaign
from mystery.models import (
    mystery_answers,
    mystery_campaigns,
    mystery_planned_calls,
    mystery_results,
)
from mystery.planner import Plan
from mystery.scoring import Answer, Outcome


class UnknownCampaign(Exception):
    def __init__(self, campaign_id: str, known: list[str]) -> None:
        self.campaign_id = campaign_id
        shown = ", ".join(known) or "none yet"
        super().__init__(f'campaign "{campaign_id}" has no plan in the store (planned campaigns: '
                         f"{shown}); plan it first: qualiphone mystery plan {campaign_id}")


class PlanExists(Exception):
    def __init__(self, campaign_id: str, results: int) -> None:
        self.campaign_id, self.results = campaign_id, results
        if results:
            super().__init__(f'campaign "{campaign_id}" already has a plan with {results} recorded '
                             "results; it cannot be replaced (plan a new campaign id instead)")
        else:
            super().__init__(f'campaign "{campaign_id}" already has a plan; use --replace to '
                             "plan it again (no results are recorded yet)")


class UnknownCall(Exception):
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        super().__init__(f'call "{call_id}" is not a planned mystery call; '
                         "list them with: qualiphone mystery calls CAMPAIGN")


@dataclass(frozen=True)
class Result:
    """A stored result: what one scorer recorded for one call."""

    id: int
    call_id: str
    role: str
    scorer: str
    outcome: Outcome
    attempts: int
    called_at: float | None
    status: str
    source: str
    comment: str
    pbx_ring_seconds: float | None
    answers: dict[str, Answer] = field(default_factory=dict)


def save_plan(store: Store, plan: Plan, config: Config, *, replace: bool = False) -> None:
    """Store the campaign's definition and its planned calls, in one transaction."""
    campaign = plan.campaign
    with store.engine.begin() as conn:
        exists = conn.execute(sa.select(mystery_campaigns.c.id)
                              .where(mystery_campaigns.c.id == campaign.id)).first()
        if exists:
            results = conn.execute(
                sa.select(sa.func.count()).select_from(mystery_results.join(mystery_planned_calls))
                .where(mystery_planned_calls.c.campaign_id == campaign.id)).scalar_one()
            if results or not replace:
                raise PlanExists(campaign.id, results)
            conn.execute(sa.delete(mystery_planned_calls)
                         .where(mystery_planned_calls.c.campaign_id == campaign.id))
            conn.execute(sa.delete(mystery_campaigns).where(mystery_campaigns.c.id == campaign.id))
        conn.execute(sa.insert(mystery_campaigns).values(
            id=campaign.id, name=campaign.name, year=campaign.year, code=campaign.code,
            path=str(campaign.path), definition=campaign.source, seed=plan.seed,
            planned_at=time.time()))
        if plan.calls:
            conn.execute(sa.insert(mystery_planned_calls), [
                {"call_id": c.call_id, "campaign_id": campaign.id, "site": c.site,
                 "number": (config.site(c.site).numbers or ("",))[0], "start_utc": c.epoch,
                 "local_start": c.start.strftime("%Y-%m-%d %H:%M"), "band": c.band,
                 "caller": c.caller, "scenario": c.scenario, "double_scored": c.double}
                for c in plan.calls])


def campaign_ids(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(mystery_campaigns.c.id)
                                 .order_by(mystery_campaigns.c.id)).scalars())


def stored_campaign(store: Store, campaign_id: str, config: Config) -> tuple[Campaign, sa.Row]:
    """The campaign as it was planned (its stored TOML) and its campaign row."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(mystery_campaigns)
                           .where(mystery_campaigns.c.id == campaign_id)).first()
    if row is None:
        raise UnknownCampaign(campaign_id, campaign_ids(store))
    return parse_campaign(row.definition, Path(row.path), config), row


def planned_calls(store: Store, campaign_id: str) -> list[sa.Row]:
    with store.engine.connect() as conn:
        return list(conn.execute(
            sa.select(mystery_planned_calls)
            .where(mystery_planned_calls.c.campaign_id == campaign_id)
            .order_by(mystery_planned_calls.c.start_utc, mystery_planned_calls.c.call_id)))


def planned_call(conn: sa.Connection, call_id: str) -> sa.Row | None:
    return conn.execute(sa.select(mystery_planned_calls)
                        .where(mystery_planned_calls.c.call_id == call_id)).first()


def load_results(conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[Result]:
    """Results (with their answers) matching a condition on mystery_results."""
    rows = conn.execute(sa.select(mystery_results).where(where).order_by(mystery_results.c.id)).all()
    answers: dict[int, dict[str, Answer]] = {r.id: {} for r in rows}
    if rows:
        for a in conn.execute(sa.select(mystery_answers)
                              .where(mystery_answers.c.result_id.in_(list(answers)))):
            answers[a.result_id][a.criterion] = Answer(a.value, a.na)
    return [Result(r.id, r.call_id, r.role, r.scorer, Outcome(r.outcome), r.attempts, r.called_at,
                   r.status, r.source, r.comment, r.pbx_ring_seconds, answers[r.id]) for r in rows]


def campaign_results(store: Store, campaign_id: str) -> list[Result]:
    calls = sa.select(mystery_planned_calls.c.call_id).where(
        mystery_planned_calls.c.campaign_id == campaign_id)
    with store.engine.connect() as conn:
        return load_results(conn, mystery_results.c.call_id.in_(calls))


def find_result(conn: sa.Connection, call_id: str, role: str) -> Result | None:
    found = load_results(conn, sa.and_(mystery_results.c.call_id == call_id,
                                       mystery_results.c.role == role))
    return found[0] if found else None


@dataclass
class ResultInput:
    """A result to write: one call, one scorer."""

    call_id: str
    role: str
    scorer: str
    outcome: Outcome
    attempts: int
    called_at: float | None
    source: str
    answers: dict[str, Answer] = field(default_factory=dict)
    comment: str = ""
    status: str = "complete"


def write_result(conn: sa.Connection, item: ResultInput) -> int:
    """Insert or replace the (call, role) result and all its answers; returns its id."""
    now = time.time()
    values = {"scorer": item.scorer, "outcome": str(item.outcome), "attempts": item.attempts,
              "called_at": item.called_at, "status": item.status, "source": item.source,
              "comment": item.comment, "updated_at": now}
    existing = find_result(conn, item.call_id, item.role)
    if existing is None:
        result_id = conn.execute(sa.insert(mystery_results).values(
            call_id=item.call_id, role=item.role, created_at=now, **values)
            .returning(mystery_results.c.id)).scalar_one()
    else:
        result_id = existing.id
        conn.execute(sa.update(mystery_results).where(mystery_results.c.id == result_id).values(**values))
        conn.execute(sa.delete(mystery_answers).where(mystery_answers.c.result_id == result_id))
    for criterion, answer in item.answers.items():
        save_answer(conn, result_id, criterion, answer)
    return result_id


def save_answer(conn: sa.Connection, result_id: int, criterion: str, answer: Answer) -> None:
    """Store (or replace) one answer of a result."""
    conn.execute(sa.delete(mystery_answers).where(sa.and_(
        mystery_answers.c.result_id == result_id, mystery_answers.c.criterion == criterion)))
    conn.execute(sa.insert(mystery_answers).values(
        result_id=result_id, criterion=criterion, value=answer.value, na=answer.na))
    conn.execute(sa.update(mystery_results).where(mystery_results.c.id == result_id)
                 .values(updated_at=time.time()))


def set_status(conn: sa.Connection, result_id: int, status: str, comment: str | None = None) -> None:
    values: dict[str, object] = {"status": status, "updated_at": time.time()}
    if comment is not None:
        values["comment"] = comment
    conn.execute(sa.update(mystery_results).where(mystery_results.c.id == result_id).values(**values))


def start_result(conn: sa.Connection, item: ResultInput, asked: set[str]) -> int:
    """Create or update a result's header, keep its answers to the criteria still asked."""
    now = time.time()
    values = {"scorer": item.scorer, "outcome": str(item.outcome), "attempts": item.attempts,
              "called_at": item.called_at, "status": item.status, "source": item.source,
              "updated_at": now}
    existing = find_result(conn, item.call_id, item.role)
    if existing is None:
        return conn.execute(sa.insert(mystery_results).values(
            call_id=item.call_id, role=item.role, created_at=now, comment="", **values)
            .returning(mystery_results.c.id)).scalar_one()
    conn.execute(sa.update(mystery_results).where(mystery_results.c.id == existing.id).values(**values))
    conn.execute(sa.delete(mystery_answers).where(sa.and_(
        mystery_answers.c.result_id == existing.id, mystery_answers.c.criterion.not_in(sorted(asked)))))
    return existing.id


def stored_plan(store: Store, config: Config, campaign_id: str) -> Plan:
    """The stored plan of a campaign, to export it again."""
    from mystery.planner import PlannedCall

    campaign, row = stored_campaign(store, campaign_id, config)
    calls = [
        PlannedCall(call_id=p.call_id, site=p.site, epoch=p.start_utc,
                    start=dt.datetime.strptime(p.local_start, "%Y-%m-%d %H:%M"), band=p.band,
                    caller=p.caller, scenario=p.scenario, double=bool(p.double_scored))
        for p in planned_calls(store, campaign_id)
    ]
    return Plan(campaign, row.seed, sorted(calls, key=lambda c: (c.site, c.call_id)))
