"""`qualiphone ingest drop --batch N`: remove an import batch, as if it had not been imported.

Its calls, rejected records and directory misses go; the calls it merged into are rebuilt from
what the other batches (and the live capture) gave them (`monitor.store.contributions`). The
batch stays listed with status "dropped", so the file can be imported again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from monitor.store import Store
from monitor.store.contributions import drop
from monitor.store.models import (
    call_contributions,
    contribution_batches,
    directory_misses,
    import_batches,
    rejected_records,
)


class BatchError(Exception):
    """A batch that cannot be dropped; the message says why and what to do."""


@dataclass
class DropResult:
    batch_id: int
    kind: str
    path: str
    removed: int  # calls only this batch gave
    restored: int  # calls it merged into, rebuilt from the other batches
    rejects: int
    misses: int


def describe_batch(store: Store, batch_id: int) -> sa.Row:
    """The import_batches row of a batch that can be dropped, else BatchError with why."""
    with store.engine.connect() as conn:
        batch = conn.execute(sa.select(import_batches).where(
            import_batches.c.id == batch_id)).first()
        if batch is None:
            raise BatchError(f"no import batch {batch_id}; list them: qualiphone store batches")
        if batch.status == "dropped":
            raise BatchError(f"batch {batch_id} is already dropped")
        if batch.kind == "ami":
            raise BatchError(f"batch {batch_id} is a listener session ({batch.path}), not a "
                             "file import: its calls are the live capture's and stay; its "
                             "rejected records are listed by qualiphone ingest rejects")
        kept = conn.execute(sa.select(call_contributions.c.id).where(
            call_contributions.c.batch_id == batch_id).limit(1)).first() or \
            conn.execute(sa.select(contribution_batches.c.id).where(
                contribution_batches.c.batch_id == batch_id).limit(1)).first()
    if kept is None and batch.imported + batch.merged + batch.duplicates > 0:
        raise BatchError(
            f"batch {batch_id} was imported before qualiphone kept what each batch wrote "
            "(migration 0010): its calls cannot be told apart from the other batches'; "
            "import its file again with --again after correcting it instead")
    return batch


def drop_batch(store: Store, batch_id: int) -> DropResult:
    """Drop batch `batch_id` in one transaction; BatchError when it cannot be."""
    batch = describe_batch(store, batch_id)
    with store.engine.begin() as conn:
        counts = drop(conn, batch_id)
        rejects = conn.execute(sa.delete(rejected_records).where(
            rejected_records.c.batch_id == batch_id)).rowcount
        misses = conn.execute(sa.delete(directory_misses).where(
            directory_misses.c.batch_id == batch_id)).rowcount
        conn.execute(sa.update(import_batches).where(import_batches.c.id == batch_id)
                     .values(status="dropped"))
    return DropResult(batch_id, batch.kind, batch.path, counts.removed, counts.restored,
                      rejects, misses)
