"""`qualiphone demo`: the whole job on the embedded default (SQLite + the built-in simulator)."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import click

from qualiphone.context import AppContext, pass_app
from simulator.month import CDR_FILE, CEL_FILE, QUEUE_LOG_FILE


@click.command()
@click.option("--month", default="2026-10", show_default=True, metavar="YYYY-MM",
              help="Month to simulate.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Where the simulated PBX files go.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-cel", is_flag=True, help="Skip the CEL file (the largest; a faster demo).")
@click.pass_context
@pass_app
def demo(app: AppContext, ctx: click.Context, month: str, out: Path, seed: int, no_cel: bool) -> None:
    """Simulate a month of the 17 switchboards, import it, print its pickup rates, write reports.

    \b
    Example:
      qualiphone --db sqlite:///demo/demo.db demo --month 2026-10
    """
    from ingest.cli import cdr, cel, queue_log
    from monitor.stats_cli import stats
    from reports.cli import monthly
    from simulator.cli import month as simulate_month

    click.secho(f"1. Simulating {month} for the 17 sites into {out}/", bold=True)
    ctx.invoke(simulate_month, month=month, out=out, seed=seed, days=None)
    click.secho("2. Importing what the PBX wrote (CDR, queue_log, CEL)", bold=True)
    ctx.invoke(cdr, paths=(out / CDR_FILE,), pbx=None, layout=None, usegmtime=None)
    ctx.invoke(queue_log, paths=(out / QUEUE_LOG_FILE,), pbx=None)
    if not no_cel:
        ctx.invoke(cel, paths=(out / CEL_FILE,), pbx=None)
    year, mon = (int(p) for p in month.split("-"))
    last = calendar.monthrange(year, mon)[1]
    click.secho(f"3. Pickup within 25 s per site, {month}, opening hours", bold=True)
    ctx.invoke(stats, start=dt.date(year, mon, 1), end=dt.date(year, mon, last), by="site")
    click.secho(f"4. Monthly statements and synthesis into {out / 'rapports'}/", bold=True)
    ctx.invoke(monthly, month=month, out=out / "rapports", formats=("pdf", "html", "xlsx"))
