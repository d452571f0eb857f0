"""`qualiphone simulate …`: the built-in PBX simulator."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import click

from qualiphone.context import AppContext, pass_app
from simulator.month import CDR_FILE, CEL_FILE, QUEUE_LOG_FILE, TRUTH_FILE, MonthSummary
from simulator.profiles import SimulationError


@click.group()
def simulate() -> None:
    """Simulate the 17 EPS switchboards (batch files now; live AMI later)."""


def _month(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f'"{value}" is not a month; use YYYY-MM, e.g. 2026-10')
    return value


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    – "


def _summary(s: MonthSummary, seconds: float) -> None:
    head = (f"{'site':<11}{'calls':>7}{'closed':>8}{'answered':>10}{'< ' + str(int(s.threshold)) + ' s':>8}"
            f"{'rate':>9}{'abandoned':>11}{'other':>7}{'tests':>7}")
    click.echo(f"Simulated {s.month}: {s.total.calls} calls to {len(s.sites)} sites "
               f"({seconds:.1f} s).")
    click.echo(head)
    rows = [*s.sites.items(), ("total", s.total)]
    for site, c in rows:
        reached = c.calls - c.closed - c.tests
        click.echo(f"{site:<11}{c.calls:>7}{c.closed:>8}{c.answered:>10}{c.within:>8}"
                   f"{_percent(c.within, reached):>9}{c.abandoned:>11}{c.other:>7}{c.tests:>7}")
    click.echo("rate: answered by a person within the target / calls in opening hours "
               "(tests excluded); other: busy, failed, voicemail.")
    click.echo(f"Wrote {s.out / CDR_FILE} ({s.cdr_rows} rows), {s.out / QUEUE_LOG_FILE} "
               f"({s.queue_log_lines} lines), {s.out / CEL_FILE} ({s.cel_rows} rows), "
               f"{s.out / TRUTH_FILE} ({s.total.calls} calls).")
    click.echo("Import them with:")
    for kind, name in (("cdr", CDR_FILE), ("queue-log", QUEUE_LOG_FILE), ("cel", CEL_FILE)):
        click.echo(f"  qualiphone ingest {kind} {s.out / name}")


@simulate.command()
@click.option("--month", required=True, callback=_month, metavar="YYYY-MM",
              help="Month to simulate, in the PBX's local time.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write into (created if missing; its files are replaced).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed gives the same files.")
@click.option("--days", type=click.IntRange(1, 31), default=None, hidden=True,
              help="Only the first N days (tests).")
@pass_app
def month(app: AppContext, month: str, out: Path, seed: int, days: int | None) -> None:
    """Write a month of Asterisk files (CDR, queue_log, CEL) for every site, plus the truth.

    \b
    Example:
      qualiphone simulate month --month 2026-10 --out demo/ --seed 1
    """
    from simulator.month import write_month

    config = app.config
    started = time.perf_counter()
    try:
        summary = write_month(config, month, out, seed, days, progress=_progress)
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f'cannot write in "{out}": {exc.strerror or exc}; choose another --out') from None
    _summary(summary, time.perf_counter() - started)


def _progress(day: dt.date) -> None:
    if day.day == 1 or day.day % 10 == 0:
        click.echo(f"  {day.isoformat()} …", err=True)
