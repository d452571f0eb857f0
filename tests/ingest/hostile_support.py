"""Files for the hardening tests: Master.csv rows rendered like cdr_csv, written as bytes so that
NUL bytes, a BOM, a cut last line or gzip can be put exactly where a test wants them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from config import SHIPPED_DIR
from ingest.batch import BatchResult, Parser, run_batch
from ingest.cdr import parse_cdr
from ingest.cel import parse_cel
from ingest.finalize import CaptureContext
from ingest.generic_csv import load_mapping, parse_generic
from ingest.queue_log import parse_queue_log
from monitor.store import Store
from monitor.store.models import calls, rejected_records
from tests.ingest.test_cdr import A1, A2, BASE, T0, Row, leg, render
from tests.ingest.test_cel import Scenario
from tests.ingest.test_generic_csv import HEADER as CSV_HEADER

__all__ = ["A1", "A2", "BASE", "CSV_HEADER", "T0", "call_rows", "cdr_import", "cel_call",
           "csv_row", "import_file", "leg", "parser_for", "queue_call", "rejects", "stored",
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


def queue_call(t: int, n: int) -> list[str]:
    """queue_log lines of a call to std-05 (eps-05) answered after 8 s, callid `<t>.<n>`."""
    cid = f"{t}.{n}"
    return [f"{t}|{cid}|std-05|NONE|ENTERQUEUE||0612345678|1",
            f"{t + 8}|{cid}|std-05|PJSIP/eps05-0501|CONNECT|8|{t + 1}.{n + 1}|8",
            f"{t + 90}|{cid}|std-05|PJSIP/eps05-0501|COMPLETECALLER|8|82|1"]


def cel_call(t: float, n: int) -> list[str]:
    """cel_custom lines of a call to eps-05's DID answered by PJSIP/eps05-0502 after 10 s; its
    call key is `<int(t)>.<n>`."""
    c = Scenario(t, n)
    phone, uid = f"PJSIP/eps05-0502-{n:08x}", f"{int(t) + 2}.{n + 1000}"
    c.on(1.0, "APP_START", appname="Queue", appdata="std-05,r", context="in-eps-05")
    c.leg(2.0, "CHAN_START", phone, uid)
    c.leg(10.0, "ANSWER", phone, uid, appname="AppQueue")
    c.leg(10.01, "BRIDGE_ENTER", phone, uid, peer=c.trunk)
    return c.hangup(60.0)


def csv_row(key: str, when: str = "05/10/2026 10:00:00", wait: str = "12,5",
            end: str = "05/10/2026 10:04:00") -> str:
    """A row of the shipped example-export mapping, answered after `wait` seconds."""
    return f"{key};{when};{wait};{end};0199000105;0612345678;201;Répondu"


def parser_for(kind: str) -> Parser:
    """The parser `qualiphone ingest KIND` uses (csv: the shipped example-export mapping)."""
    if kind == "cdr":
        return functools.partial(parse_cdr, layout="auto", usegmtime=False)
    if kind == "csv":
        mapping = load_mapping(SHIPPED_DIR / "csv_mappings.toml", "example-export")
        return functools.partial(parse_generic, mapping=mapping)
    return {"queue_log": parse_queue_log, "cel": parse_cel}[kind]


def import_file(store: Store, ctx: CaptureContext, kind: str, path: Path) -> BatchResult:
    return run_batch(store, kind, path, parser_for(kind), ctx)


def cdr_import(store: Store, ctx: CaptureContext, path: Path) -> BatchResult:
    return import_file(store, ctx, "cdr", path)


def stored(store: Store) -> dict[str, sa.Row]:
    with store.engine.connect() as conn:
        return {r.call_key: r for r in conn.execute(sa.select(calls))}


def rejects(store: Store) -> list[tuple[int | None, str, str]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.select(rejected_records.c.line, rejected_records.c.reason, rejected_records.c.raw)
            .order_by(rejected_records.c.line))]
