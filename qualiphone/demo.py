"""`qualiphone demo`: the whole job on the embedded default (SQLite + the built-in simulator)."""

from __future__ import annotations

import calendar
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
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
@click.option("--live", "live_for", type=click.IntRange(0), default=0, metavar="SECONDS",
              help="Then run the live wall for SECONDS: the AMI simulator plays the first working day "
                   "after the month (never imported, so today's figures are the live ones) at 60x "
                   "and the listener serves the wallboard on 127.0.0.1:8025.")
@click.pass_context
@pass_app
def demo(app: AppContext, ctx: click.Context, month: str, out: Path, seed: int, no_cel: bool,
         live_for: int) -> None:
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
    if live_for:
        _live_wall(app, live_day(year, mon), seed, live_for, out / "rapports")
    else:
        click.echo("For the live wall: qualiphone demo --live 600 (or see README, 'Wallboard').")


def live_day(year: int, month: int) -> dt.date:
    """The day the live part plays: the first working day after the imported month, so that the
    wallboard's "today" and "last hour" hold only what the listener captures live."""
    from monitor.calendar import holiday_name

    day = dt.date(year + month // 12, month % 12 + 1, 1)
    while day.weekday() >= 5 or holiday_name(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _live_wall(app: AppContext, day: dt.date, seed: int, seconds: int, reports: Path) -> None:
    """The AMI simulator, the listener with its wallboard, and the web console (web.demo)."""
    from web.demo import start_console

    env = dict(os.environ, QUALIPHONE_AMI_SECRET=secrets.token_urlsafe(16))  # never on argv
    base = [sys.executable, "-m", "qualiphone"]
    if app.db_url:
        base += ["--db", app.db_url]
    if app.config_dir:
        base += ["--config", app.config_dir]
    click.secho(f"5. Live wall for {seconds} s: {day} from 08:30 at 60x — open http://127.0.0.1:8025/",
                bold=True)
    pbx = subprocess.Popen([*base, "simulate", "ami", "--listen", "127.0.0.1:5038", "--speed", "60",
                            "--date", day.isoformat(), "--start", "08:30", "--seed", str(seed),
                            "--for", str(seconds + 5)], env=env)
    time.sleep(1.5)
    listener = subprocess.Popen([*base, "listen", "--ami", "127.0.0.1:5038", "--ami-user", "demo",
                                 "--wallboard", "127.0.0.1:8025", "--for", str(seconds)], env=env)
    time.sleep(1.0)
    console = start_console(app, base, env, seconds, reports)
    try:
        listener.wait()
    except KeyboardInterrupt:
        listener.terminate()
    finally:
        for child in (console, pbx):
            child.terminate()
            child.wait()
