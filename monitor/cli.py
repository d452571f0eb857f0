"""`qualiphone sites` and `qualiphone store …`: the site directory and store upkeep."""

from __future__ import annotations

import datetime as dt
import json
import time

import click
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from config.loader import WEEKDAYS
from monitor.store.contributions import purge_contributions
from monitor.store.models import calls, import_batches, rejected_records
from qualiphone.context import AppContext, format_option, pass_app


def _hours_text(intervals: tuple[tuple[dt.time, dt.time], ...]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in intervals) or "fermé"


@click.command()
@format_option("table", "json")
@pass_app
def sites(app: AppContext, fmt: str) -> None:
    """List the site directory (the 17 EPS) with numbers, PBX identifiers and hours.

    \b
    Example:
      qualiphone sites --format json
    """
    config = app.config
    if fmt == "json":
        out = [
            {
                "id": s.id, "name": s.name, "area": s.area, "address": s.address,
                "placeholder": s.placeholder, "numbers": list(s.numbers), "pbx": s.pbx,
                "dids": list(s.dids), "queues": list(s.queues), "contexts": list(s.contexts),
                "staff_devices": list(s.staff_devices),
                "message_contexts": list(s.message_contexts),
                "message_seconds": s.message_seconds,
                "voicemail_contexts": list(s.voicemail_contexts),
                "hours": {WEEKDAYS[d]: [f"{a:%H:%M}-{b:%H:%M}" for a, b in iv]
                          for d, iv in s.hours.items()},
            }
            for s in config.sites
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Sites ({len(config.sites)}) — {config.directory / 'sites.toml'}")
    for col in ("id", "nom", "numéro", "file", "lun–ven", "sam"):
        table.add_column(col)
    for s in config.sites:
        week = {_hours_text(s.hours[d]) for d in range(5)}
        table.add_row(
            s.id, s.name, ", ".join(s.numbers) + (" *" if s.placeholder else ""),
            ", ".join(s.queues), " / ".join(sorted(week)), _hours_text(s.hours[5]),
        )
    console = Console(width=140)
    console.print(table)
    if any(s.placeholder for s in config.sites):
        console.print("* numéro provisoire (placeholder) : à remplacer par le numéro réel")


@click.group()
def store() -> None:
    """Store upkeep: retention purge and import history."""


@store.command()
@click.option("--older-than", "days", type=int, default=None,
              help="Days to keep [default: capture.retention_days of settings.toml].")
@click.option("--dry-run", is_flag=True, help="Count what would be removed, remove nothing.")
@pass_app
def purge(app: AppContext, days: int | None, dry_run: bool) -> None:
    """Remove calls and rejected records older than the retention period.

    \b
    Example:
      qualiphone store purge --older-than 400 --dry-run
    """
    keep = days if days is not None else app.config.capture.retention_days
    cutoff = time.time() - keep * 86400
    with app.store.engine.begin() as conn:
        n_calls = conn.execute(sa.select(sa.func.count()).where(calls.c.arrival < cutoff)).scalar()
        n_rej = conn.execute(
            sa.select(sa.func.count()).where(rejected_records.c.created_at < cutoff)
        ).scalar()
        if not dry_run:
            conn.execute(sa.delete(calls).where(calls.c.arrival < cutoff))
            purge_contributions(conn, cutoff)  # what each batch gave them: personal data too
            conn.execute(sa.delete(rejected_records).where(rejected_records.c.created_at < cutoff))
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {n_calls} calls and {n_rej} rejected records older than {keep} days")


@store.command()
@pass_app
def batches(app: AppContext) -> None:
    """List import batches (file, checksum, counts, when).

    \b
    Example:
      qualiphone store batches
    """
    table = Table()
    for col in ("batch", "kind", "file", "when", "read", "imported", "merged", "dupl.", "rejected",
                "status"):
        table.add_column(col)
    with app.store.engine.connect() as conn:
        for row in conn.execute(sa.select(import_batches).order_by(import_batches.c.id)):
            when = dt.datetime.fromtimestamp(row.started_at).strftime("%Y-%m-%d %H:%M")
            table.add_row(str(row.id), row.kind, row.path, when, str(row.rows_read),
                          str(row.imported), str(row.merged), str(row.duplicates), str(row.rejected),
                          row.status)
    Console(width=160).print(table)
