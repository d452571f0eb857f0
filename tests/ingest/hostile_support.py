"""Files for the hardening tests: Master.csv rows rendered like cdr_csv, written as bytes so that
NUL bytes, a BOM, a cut last line or gzip can be put exactly where a test wants them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from ingest.batch import BatchResult, run_batch
from ingest.cdr import parse_cdr
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from tests.ingest.test_cdr import A1, A2, BASE, T0, Row, leg, render

__all__ = ["A1", "A2", "BASE", "T0", "call_rows", "cdr_import", "leg", "rejects", "stored",
           "write_lines"]


def call_rows(n: int, *, start: int = 0, step: int = 300, **fields: object) -> list[Row]:
    """`n` answered one-leg calls `step` seconds apart, uniqueids `<T0+start+i*step>.<i>`."""
    rows = []
    for i in range(n):
        at = start + i * step
        uid = f"{int(T0) + at}.{i}"
        rows.append(leg(A2, start=at, answer=at + 10, end=at + 60, uid=uid, **fields))
    return rows


def write_lines(path: Path, lines: Sequence[Row | str | bytes], *, end: bytes = b"\n") -> Path:
    """Write rows (rendered in the 21-column layout), text or raw bytes, one per line."""
    data = [x if isinstance(x, bytes) else (x if isinstance(x, str) else render(x)).encode()
            for x in lines]
    path.write_bytes(b"\n".join(data) + end)
    return path


def cdr_import(store: Store, ctx: CaptureContext, path: Path) -> BatchResult:
    return run_batch(store, "cdr", path, functools.partial(parse_cdr, layout="auto",
                                                           usegmtime=False), ctx)


def stored(store: Store) -> dict[str, sa.Row]:
    with store.engine.connect() as conn:
        return {r.call_key: r for r in conn.execute(sa.select(calls))}


def rejects(store: Store) -> list[tuple[int | None, str, str]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.select(rejected_records.c.line, rejected_records.c.reason, rejected_records.c.raw)
            .order_by(rejected_records.c.line))]
