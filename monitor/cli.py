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


def _days(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise click.BadParameter(f'"{value}" is not a whole number of days >= 1; e.g. --older-than 400')
    return int(value)


@store.command()
@click.option("--older-than", "days", callback=_days, default=None, metavar="DAYS",
              help="Days to keep, >= 1 [default: capture.retention_days of settings.toml].")
@click.option("--dry-run", is_flag=True, help="Count what would be removed, remove nothing.")
@click.option("--yes", "-y", is_flag=True, help="Remove without asking (for timers and scripts).")
@pass_app
def purge(app: AppContext, days: int | None, dry_run: bool, yes: bool) -> None:
    """Remove calls and rejected records older than the retention period.

    Asks for confirmation, showing how many calls and rejected records would go, unless --yes.

    \b
    Example:
      qualiphone store purge --older-than 400 --dry-run
      qualiphone store purge --yes            # from a timer: capture.retention_days
    """
    keep = days if days is not None else app.config.capture.retention_days
    cutoff = time.time() - keep * 86400
    old_calls, old_rejects = calls.c.arrival < cutoff, rejected_records.c.created_at < cutoff
    with app.store.engine.connect() as conn:
        n_calls = conn.execute(sa.select(sa.func.count()).where(old_calls)).scalar_one()
        n_rej = conn.execute(sa.select(sa.func.count()).where(old_rejects)).scalar_one()
    what = f"{n_calls} calls and {n_rej} rejected records"
    if dry_run or not (n_calls or n_rej):
        click.echo(f"would remove {what} older than {keep} days" if dry_run else
                   f"nothing is older than {keep} days: no call or rejected record removed")
        return
    if not yes and not click.confirm(f"{what} are older than {keep} days; remove them?", default=False):
        click.echo("nothing removed")
        raise SystemExit(1)
    with app.store.engine.begin() as conn:
        n_calls = conn.execute(sa.delete(calls).where(old_calls)).rowcount
        purge_contributions(conn, cutoff)  # what each batch gave them: personal data too
        n_rej = conn.execute(sa.delete(rejected_records).where(old_rejects)).rowcount
    click.echo(f"removed {n_calls} calls and {n_rej} rejected records older than {keep} days")


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
