"""The action follow-up table ("tableau de suivi des actions") that follows a campaign.

Actions are proposed from the failing criteria of each site — a criterion whose achieved rate at
the site is under the required level (required_score out of 10, as a percentage: 7/10 → 70 %) —
then edited by the team: owner, due date, status, dated comments.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from monitor.store import Store
from mystery.campaign import Campaign
from mystery.models import mystery_actions

if TYPE_CHECKING:
    import pandas as pd


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


STATUS_LABELS = {
    ActionStatus.OPEN: "à faire",
    ActionStatus.IN_PROGRESS: "en cours",
    ActionStatus.DONE: "réalisée",
    ActionStatus.CANCELLED: "abandonnée",
}
OPEN_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
GENERIC_ACTION = "Analyser les appels concernés avec l'équipe du standard et rappeler la règle."


class UnknownAction(Exception):
    def __init__(self, action_id: int) -> None:
        self.action_id = action_id
        super().__init__(f'action "{action_id}" does not exist; list them with: '
                         "qualiphone mystery actions list")


def _finding(label: str, values: pd.Series, required: float) -> str:
    ok = int((values >= 0.5).sum())
    return (f"« {label} » : {ok} appel{'s' if ok > 1 else ''} conforme{'s' if ok > 1 else ''} "
            f"sur {len(values)} ({100 * values.mean():.0f} %) ; niveau requis {required:.0f} %.")


def propose(store: Store, campaign: Campaign, calls: pd.DataFrame) -> tuple[int, int]:
    """Add an action per failing (site, criterion); existing ones are kept. (added, kept)."""
    required = campaign.required_score * 10
    added = kept = 0
    now = time.time()
    with store.engine.begin() as conn:
        existing = {(r.site, r.criterion) for r in conn.execute(
            sa.select(mystery_actions).where(mystery_actions.c.campaign_id == campaign.id))}
        for site_id in campaign.sites:
            mine = calls[calls["site"] == site_id]
            for criterion in campaign.criteria:
                values = mine[f"c:{criterion.id}"].dropna()
                if not len(values) or 100 * values.mean() >= required - 1e-9:
                    continue
                if (site_id, criterion.id) in existing:
                    kept += 1
                    continue
                conn.execute(sa.insert(mystery_actions).values(
                    campaign_id=campaign.id, site=site_id, criterion=criterion.id,
                    finding=_finding(criterion.label, values, required),
                    action=criterion.action or GENERIC_ACTION, owner="", due="",
                    status=ActionStatus.OPEN.value, comment="", created_at=now, updated_at=now))
                added += 1
    return added, kept


def list_actions(store: Store, campaign_id: str | None = None, site: str | None = None,
                 statuses: tuple[str, ...] = ()) -> list[sa.Row]:
    query = sa.select(mystery_actions).order_by(mystery_actions.c.id)
    if campaign_id:
        query = query.where(mystery_actions.c.campaign_id == campaign_id)
    if site:
        query = query.where(mystery_actions.c.site == site)
    if statuses:
        query = query.where(mystery_actions.c.status.in_(statuses))
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def update_action(store: Store, action_id: int, *, owner: str | None = None, due: dt.date | None = None,
                  status: ActionStatus | None = None, comment: str | None = None,
                  today: dt.date | None = None) -> sa.Row:
    """Change some fields of an action; a comment is appended, dated."""
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(mystery_actions).where(mystery_actions.c.id == action_id)).first()
        if row is None:
            raise UnknownAction(action_id)
        values: dict[str, object] = {"updated_at": time.time()}
        if owner is not None:
            values["owner"] = owner
        if due is not None:
            values["due"] = due.isoformat()
        if status is not None:
            values["status"] = status.value
            values["closed_at"] = None if status in OPEN_STATUSES else time.time()
        if comment:
            day = (today or dt.date.today()).isoformat()
            values["comment"] = "\n".join(filter(None, [row.comment, f"{day} : {comment}"]))
        conn.execute(sa.update(mystery_actions).where(mystery_actions.c.id == action_id).values(**values))
        return conn.execute(sa.select(mystery_actions).where(mystery_actions.c.id == action_id)).one()


ACTION_COLUMNS = {
    "id": "N°", "campaign_id": "Campagne", "site": "Site", "criterion": "Critère",
    "finding": "Constat", "action": "Action proposée", "owner": "Responsable",
    "due": "Échéance", "status": "Statut", "comment": "Commentaires",
}


def actions_frame(store: Store, campaign_id: str | None = None, *, open_only: bool = False) -> pd.DataFrame:
    """Actions as a table with French headers and status labels, for reports and exports."""
    import pandas as pd

    statuses = tuple(s.value for s in OPEN_STATUSES) if open_only else ()
    rows = list_actions(store, campaign_id, statuses=statuses)
    frame = pd.DataFrame([{k: getattr(r, k) for k in ACTION_COLUMNS} for r in rows],
                         columns=list(ACTION_COLUMNS))
    frame["status"] = frame["status"].map(lambda s: STATUS_LABELS[ActionStatus(s)])
    return frame.rename(columns=ACTION_COLUMNS)
