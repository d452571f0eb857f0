"""Stored calls the directory could not classify, read again with the current sites.toml.

After `qualiphone sites apply`, a call kept as `unknown_device` whose device is now a staff
device becomes `answered` (its answer time was kept), and a `machine` call whose context is now
a message, voicemail or inbound context becomes `message`, `voicemail` or an abandon, exactly as
the importers would classify it with that directory. Nothing else is touched; calls of numbers
that had no site were never stored: import their files again with `--again`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from config import Config
from ingest.site_map import SiteMap
from monitor.call import Outcome
from monitor.store.models import call_contributions, calls

_FIELDS = (calls.c.id, calls.c.pbx, calls.c.call_key, calls.c.site, calls.c.outcome,
           calls.c.answered_by, calls.c.answer, calls.c.arrival, calls.c.end_time)


@dataclass(frozen=True)
class Change:
    id: int
    pbx: str
    call_key: str
    before: str
    outcome: Outcome
    values: dict[str, Any]


def reclassify(engine: sa.Engine, config: Config, *,
               dry_run: bool = False) -> Counter[tuple[str, str]]:
    """Reclassify every stored unclassified call; (old outcome, new outcome) -> calls."""
    maps = {name: SiteMap.build(config, name) for name in config.pbxs}
    short = config.targets.short_abandon_seconds
    query = sa.select(*_FIELDS).where(calls.c.outcome.in_(
        [Outcome.UNKNOWN_DEVICE.value, Outcome.MACHINE.value]))
    with engine.begin() as conn:
        changes = [c for row in conn.execute(query)
                   if (c := _change(row, maps.get(row.pbx), short)) is not None]
        if not dry_run:
            for change in changes:
                conn.execute(sa.update(calls).where(calls.c.id == change.id).values(
                    outcome=change.outcome.value, **change.values))
                _reclassify_contributions(conn, change)
    return Counter((c.before, c.outcome.value) for c in changes)


def _reclassify_contributions(conn: sa.Connection, change: Change) -> None:
    """What the batches gave the call changes with it, so that dropping a batch (which rebuilds
    the call from them) keeps the new outcome. Only the contributions of the same unclassified
    outcome change: the time to answer is computed from each one's own times."""
    c = call_contributions.c
    values = dict(change.values)
    if "time_to_answer" in values and values["time_to_answer"] is not None:
        values["time_to_answer"] = c.answer - c.arrival
    conn.execute(sa.update(call_contributions).where(
        c.pbx == change.pbx, c.call_key == change.call_key, c.outcome == change.before,
    ).values(outcome=change.outcome.value, **values))


def _change(row: Any, sites: SiteMap | None, short: float) -> Change | None:
    if sites is None:
        return None
    if row.outcome == Outcome.UNKNOWN_DEVICE.value:
        if row.answered_by and row.answer is not None and sites.is_staff(row.answered_by):
            return Change(row.id, row.pbx, row.call_key, row.outcome, Outcome.ANSWERED,
                          {"time_to_answer": row.answer - row.arrival})
        return None
    app, _, context = (row.answered_by or "").rpartition("@")
    if context in sites.message_contexts:
        outcome = Outcome.MESSAGE
    elif context in sites.voicemail_contexts:
        outcome = Outcome.VOICEMAIL
    elif context in sites.by_context and app.lower() == "hangup":
        outcome = Outcome.NO_ANSWER  # the dialplan hung up: the PBX ended it (ingest.cdr.pbx_ended)
    elif context in sites.by_context:
        ended = row.end_time is not None and row.end_time - row.arrival < short
        outcome = Outcome.SHORT_ABANDON if ended else Outcome.ABANDONED
    else:
        return None
    return Change(row.id, row.pbx, row.call_key, row.outcome, outcome,
                  {"answer": None, "answered_by": None, "time_to_answer": None})
