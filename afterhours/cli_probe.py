"""`qualiphone afterhours probe` and `qualiphone afterhours report`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import click

from afterhours.probe import ProbeError, ProbeRun
from config import ConfigError, UnknownSite
from qualiphone.context import AppContext, friendly_errors, pass_app
from qualiphone.progress import progress_bar

ALERT_EXIT = 3  # `probe`: an alert was raised (a site failed N probes in a row)
NOTHING_PROBED_EXIT = 4  # `probe`: every site was skipped (open, no reference, no number)
REPORT_FORMATS = ("pdf", "html")


def _month(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f'"{value}" is not a month; use YYYY-MM, e.g. 2026-10')
    return value


month_option = click.option("--month", required=True, callback=_month, metavar="YYYY-MM",
                            help="Month, in the sites' local time.")
site_option = click.option("--site", "sites", multiple=True, metavar="SITE",
                           help="Only this site (repeat for several) [default: all].")


def _at(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a local time; use YYYY-MM-DDTHH:MM, '
                                 "e.g. 2026-10-05T20:30") from None


@click.command()
@site_option
@click.option("--ami", "address", required=True, metavar="HOST:PORT",
              help="The PBX's manager interface, e.g. 127.0.0.1:5038.")
@click.option("--ami-user", required=True, metavar="NAME",
              help="AMI user with write = originate (manager.conf section).")
@click.option("--ami-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the secret, mode 600 [default: env QUALIPHONE_AMI_SECRET].")
@click.option("--recordings", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where MixMonitor writes <probe id>.wav [default: afterhours.toml probe.recordings_dir].")
@click.option("--at", "at", callback=_at, metavar="YYYY-MM-DDTHH:MM", default=None,
              help="Judge opening hours, and date the probes, at this local time instead of now "
                   "(runs against the simulator).")
@pass_app
@friendly_errors(UnknownSite, ConfigError, ProbeError)
def probe(app: AppContext, sites: tuple[str, ...], address: str, ami_user: str,
          ami_secret_file: Path | None, recordings: Path | None, at: dt.datetime | None) -> None:
    """Call each closed site and check its after-hours (or closure) message.

    Sites open at the time are skipped. Each probe is an Originate (a test call, kept out of the
    statistics) recorded by the PBX and compared with the site's reference. Exit status 3 when
    a site failed two probes in a row (an alert: logged, stored, piped to [alert] command), 4
    when nothing was probed (every site skipped), so that a timer notices.

    \b
    Example:
      QUALIPHONE_AMI_SECRET=... qualiphone afterhours probe --ami 127.0.0.1:5038 --ami-user qualiprobe
    """
    from afterhours.probe import run_probes
    from afterhours.settings import load_settings
    from ingest.ami.cli import parse_address, read_secret

    host, port = parse_address(address)
    secret = read_secret(ami_secret_file)
    config = app.config
    for site_id in sites:
        config.site(site_id)
    settings = load_settings(config)
    if recordings is not None:
        settings = dataclasses.replace(
            settings, probe=dataclasses.replace(settings.probe, recordings_dir=str(recordings)))
    when = None
    if at is not None:
        when = at if at.tzinfo else at.replace(tzinfo=next(iter(config.pbxs.values())).tz)
    with progress_bar("probe", unit="sites") as bar:
        run = run_probes(config, app.store, settings, host=host, port=port, username=ami_user,
                         secret=secret, sites=list(sites) or None, when=when,
                         progress=lambda total, p: bar.total(total) if p is None else
                         bar.advance(description=f"probed {p.site}"))
    _print_run(run)
    if run.alerts:
        raise SystemExit(ALERT_EXIT)
    if not run.probes:
        click.echo(f"nothing probed: every site was skipped (reasons above); exit status "
                   f"{NOTHING_PROBED_EXIT}", err=True)
        raise SystemExit(NOTHING_PROBED_EXIT)


def _print_run(run: ProbeRun) -> None:
    click.echo(f"{len(run.probes)} site{'s' if len(run.probes) != 1 else ''} probed, "
               f"{len(run.skipped)} skipped.")
    if run.probes:
        click.echo(f"{'site':<11}{'time':<10}{'verdict':<14}{'answer':>8}{'message':>9}  "
                   "matched (similarity, worst)")
    for p in sorted(run.probes, key=lambda p: p.site):
        answer = "–" if p.time_to_answer is None else f"{p.time_to_answer:.1f} s"
        length = "–" if p.message_seconds is None else f"{p.message_seconds:.1f} s"
        match = f"{p.matched} ({p.similarity:.2f}, {p.worst:.2f})" if p.matched else (p.detail or "–")
        click.echo(f"{p.site:<11}{p.local_time:<10}{p.verdict:<14}{answer:>8}{length:>9}  {match}")
    for site, why in run.skipped:
        click.echo(f"skipped {site}: {why}")
    for alert in run.alerts:
        hook = f" (alert command: {alert.hook})" if alert.hook else ""
        click.echo(f"ALERT {alert.site}: {len(alert.probes)} failed probes in a row{hook}", err=True)


@click.command()
@month_option
@site_option
@click.option("--format", "formats", default="pdf,html", show_default=True, metavar="pdf,html",
              help="Comma-separated: pdf, html.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory to write afterhours-YYYY-MM.pdf/.html into.")
@pass_app
@friendly_errors(UnknownSite, ConfigError)
def report(app: AppContext, month: str, sites: tuple[str, ...], formats: str, out: Path) -> None:
    """The month's after-hours report in French: calls, probes, failures, alerts.

    \b
    Example:
      qualiphone afterhours report --month 2026-10 --out rapports/
    """
    from afterhours.report import after_hours_section
    from reports.afterhours_report import write_report

    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    wrong = [f for f in chosen if f not in REPORT_FORMATS]
    if wrong or not chosen:
        raise click.BadParameter(f'"{formats}" is not pdf, html or pdf,html', param_hint="--format")
    section = after_hours_section(app.store, app.config, month, list(sites) or None)
    for path in write_report(section, out, chosen):
        click.echo(f"Wrote {path}")
