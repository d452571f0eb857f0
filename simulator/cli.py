"""`qualiphone simulate …`: the built-in PBX simulator."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path

import click

from qualiphone.context import AppContext, FiniteFloatRange, pass_app
from qualiphone.progress import Bar, progress_bar
from simulator.month import CDR_FILE, CEL_FILE, QUEUE_LOG_FILE, TRUTH_FILE, MonthSummary
from simulator.profiles import SimulationError


@click.group()
def simulate() -> None:
    """Simulate the 17 EPS switchboards: a month of PBX files, or a live PBX on AMI."""


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
    from simulator.model import month_days
    from simulator.month import write_month

    config = app.config
    started = time.perf_counter()
    dates = month_days(month)[:days]
    try:
        with progress_bar(f"simulate {month}", total=len(dates), unit="days") as bar:
            summary = write_month(config, month, out, seed, days, progress=_progress(bar))
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f'cannot write in "{out}": {exc.strerror or exc}; choose another --out') from None
    _summary(summary, time.perf_counter() - started)


def _progress(bar: Bar) -> Callable[[dt.date], None]:
    """Each day as it starts: on the bar, or (stderr not a terminal) a line every ten days."""
    def tell(day: dt.date) -> None:
        if bar.shown:
            bar.at(day.day - 1, f"simulate {day.isoformat()}")
        elif day.day == 1 or day.day % 10 == 0:
            click.echo(f"  {day.isoformat()} …", err=True)
    return tell


def _time_of_day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.time | None:
    if value is None:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a time of day; use HH:MM, e.g. 08:30') from None


def _loopback(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    import ipaddress

    from ingest.ami.cli import parse_address

    host, port = parse_address(value)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise click.BadParameter(f'"{value}" is not a loopback address; the simulator only '
                                 "listens on 127.0.0.1 (or ::1), e.g. 127.0.0.1:5038")
    return host, port


@simulate.command()
@click.option("--listen", "address", default="127.0.0.1:5038", show_default=True,
              callback=_loopback, metavar="HOST:PORT", help="Loopback address to listen on.")
@click.option("--speed", type=FiniteFloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Simulated seconds per real second (60: an hour a minute).")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Day to simulate, YYYY-MM-DD [default: today].")
@click.option("--start", callback=_time_of_day, default=None, metavar="HH:MM",
              help="Time of day to start at [default: now for today, else 08:00].")
@click.option("--site", "sites", multiple=True, metavar="ID",
              help="Only this site's calls (repeat for several) [default: every site].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same calls (and uniqueids) as `simulate month`.")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Replay a recorded capture instead (gaps between Timestamps "
              "kept, divided by --speed), from the first login on.")
@click.option("--drop-every", type=FiniteFloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Fault: drop the connections at random moments, this "
              "many seconds apart on average.")
@click.option("--refuse-logins", type=FiniteFloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Fault: refuse logins for SECONDS once (from the first drop, else at once).")
@click.option("--ami-user", default=None, metavar="NAME",
              help="The only user name accepted [default: any].")
@click.option("--ami-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the secret, mode 600 [default: env QUALIPHONE_AMI_SECRET].")
@click.option("--writetimeout", type=click.IntRange(min=1), default=100, show_default=True,
              metavar="MS", help="Disconnect a session that cannot take its events this long.")
@click.option("--for", "duration", type=FiniteFloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after SECONDS [default: run until stopped].")
@click.option("--recordings", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Where answered Originates leave <ChannelId>.wav, as MixMonitor "
              "does [default: afterhours.toml probe.recordings_dir].")
@pass_app
def ami(app: AppContext, address: tuple[str, int], speed: float, day: dt.datetime | None,
        start: dt.time | None, sites: tuple[str, ...], seed: int, replay: Path | None,
        drop_every: float | None, refuse_logins: float, ami_user: str | None,
        ami_secret_file: Path | None, writetimeout: int, duration: float | None,
        recordings: Path | None) -> None:
    """Run a live PBX on loopback: the model's calls as Asterisk 22 AMI events, in real time.

    The secret is read from $QUALIPHONE_AMI_SECRET or a private file, never the command line.
    Uniqueids are those `simulate month` writes in the CDR for the same month and seed.
    Originates are answered as the sites' dialplans would; an answered one leaves its recording
    in --recordings, where `qualiphone afterhours probe` looks for it.

    \b
    Example:
      QUALIPHONE_AMI_SECRET=demo qualiphone simulate ami --speed 60 --date 2026-10-05
      QUALIPHONE_AMI_SECRET=demo qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon
    """
    import asyncio

    from afterhours.settings import load_settings
    from config import ConfigError
    from ingest.ami.cli import read_secret
    from simulator.ami_server import Faults, build_simulator

    secret = read_secret(ami_secret_file)
    config = app.config
    for site in sites:
        try:
            config.site(site)
        except Exception as exc:  # UnknownSite
            raise click.BadParameter(str(exc), param_hint="--site") from None
    if replay is None and recordings is None:
        try:
            recordings = load_settings(config).probe.recordings()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    if replay is None:
        click.echo("Preparing the day's calls …", err=True)
    sim = build_simulator(config, address, secret, speed=speed, day=day.date() if day else None,
                          start=start, sites=sites, seed=seed, replay=replay,
                          faults=Faults(drop_every, refuse_logins), username=ami_user,
                          write_timeout=writetimeout / 1000, recordings=recordings)
    try:
        asyncio.run(sim.run(duration, on_ready=lambda s: click.echo(s.describe())))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {address[0]}:{address[1]}: "
                                   f"{exc.strerror or exc}; choose another --listen") from None
    except KeyboardInterrupt:
        pass
    click.echo(f"Stopped: {sim.server.sent} events sent.")
