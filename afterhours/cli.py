"""`qualiphone afterhours …`: after-hours and closure message checks."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from afterhours.audio import AudioError
from afterhours.cli_probe import month_option, probe, report, site_option
from afterhours.passive import PassiveCheck
from afterhours.references import KINDS, ReferenceError
from config import ConfigError, UnknownSite
from monitor.export_safety import SafeWriter
from qualiphone.context import AppContext, format_option, friendly_errors, pass_app


@click.group()
def afterhours() -> None:
    """After-hours and closure messages: passive check, probe calls, reports."""


@afterhours.command()
@month_option
@site_option
@click.option("--by", type=click.Choice(["day", "site"]), default="day", show_default=True,
              help="One row per site and day, or per site.")
@format_option("table", "csv", "json")
@pass_app
@friendly_errors(UnknownSite, ConfigError)
def check(app: AppContext, month: str, sites: tuple[str, ...], by: str, fmt: str) -> None:
    """Were calls arriving while a site was closed answered by its message?

    Counts, per site and day, the calls that arrived outside opening hours, during a planned
    closure or on a public holiday: answered by the message, heard to the end (call length at
    least message_seconds), and the failures (rang out, busy, failed, voicemail…) with their
    times. A site is FLAGGED when at least 2 such calls were not answered by the message and
    less than 95 % were (afterhours.toml [check]). The exit status is 0 either way: read the
    last line, or `flagged` in --format json.

    \b
    Example:
      qualiphone afterhours check --month 2026-10
      qualiphone afterhours check --month 2026-10 --site eps-09 --format csv
    """
    from afterhours.passive import check_month
    from afterhours.settings import load_settings

    result = check_month(app.store, app.config, month, list(sites) or None,
                         load_settings(app.config).check)
    {"table": _check_table, "csv": _check_csv, "json": _check_json}[fmt](result, by)


def _check_table(result: PassiveCheck, by: str) -> None:
    click.echo(f"After-hours calls, {result.month} (arrived while the site was closed; tests excluded)")
    if by == "day":
        click.echo(f"{'site':<11}{'date':<12}{'calls':>6}{'message':>9}{'heard':>7}{'person':>8}"
                   f"{'failed':>8}  failure times")
        for d in result.days:
            times = ", ".join(f"{f.local_time:%H:%M:%S} {f.outcome}" for f in d.failures[:4])
            more = f" … (+{len(d.failures) - 4})" if len(d.failures) > 4 else ""
            click.echo(f"{d.site:<11}{d.date.isoformat():<12}{d.calls:>6}{d.by_message:>9}{d.heard:>7}"
                       f"{d.by_person:>8}{len(d.failures):>8}  {times}{more}")
        click.echo("")
    click.echo(f"{'site':<11}{'calls':>7}{'message':>9}{'share':>9}{'heard':>7}{'person':>8}{'failed':>8}")
    for s in result.sites:
        share = "–" if s.answered_share is None else f"{100 * s.answered_share:.1f} %"
        flag = "  FLAGGED: after-hours calls not answered by the message" if s.flagged else ""
        unclassified = (f"  {s.unclassified} to classify (directory incomplete: qualiphone sites "
                        "check)") if s.unclassified else ""
        click.echo(f"{s.site:<11}{s.calls:>7}{s.by_message:>9}{share:>9}{s.heard:>7}{s.by_person:>8}"
                   f"{s.failures:>8}{flag}{unclassified}")
    flagged = result.flagged
    click.echo(f"{len(flagged)} site{'s' if len(flagged) != 1 else ''} flagged: {', '.join(flagged)}."
               if flagged else "No site flagged.")


def _check_csv(result: PassiveCheck, by: str) -> None:
    out = SafeWriter(csv.writer(sys.stdout, lineterminator="\n"))
    if by == "site":
        out.writerow(["site", "calls", "by_message", "heard", "by_person", "failures", "flagged",
                      "unclassified"])
        for s in result.sites:
            out.writerow([s.site, s.calls, s.by_message, s.heard, s.by_person, s.failures, int(s.flagged),
                          s.unclassified])
        return
    out.writerow(["site", "date", "calls", "by_message", "heard", "by_person", "failures", "failure_times"])
    for d in result.days:
        out.writerow([d.site, d.date.isoformat(), d.calls, d.by_message, d.heard, d.by_person,
                      len(d.failures), ";".join(f"{f.local_time:%H:%M:%S} {f.outcome} {f.period}"
                                                for f in d.failures)])


def _check_json(result: PassiveCheck, by: str) -> None:
    def day(d: object) -> dict[str, object]:
        data = asdict(d)  # type: ignore[call-overload]
        data["date"] = data["date"].isoformat()
        data["failures"] = [{**f, "local_time": f["local_time"].isoformat()} for f in data["failures"]]
        return data

    doc = {"month": result.month, "flagged": result.flagged,
           "sites": [{**asdict(s), "answered_share": s.answered_share} for s in result.sites]}
    if by == "day":
        doc["days"] = [day(d) for d in result.days]
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@afterhours.command()
@click.option("--site", "site", metavar="SITE", help="The site whose reference this is.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), default="closed", show_default=True,
              help="closed: after-hours message; closure: planned-closure message; daytime: greeting.")
@click.option("--simulated", is_flag=True,
              help="Register the built-in simulator's messages (espeak-ng) for --site or every site.")
@pass_app
@friendly_errors(UnknownSite, ConfigError, AudioError, ReferenceError)
def reference(app: AppContext, site: str | None, file: Path | None, kind: str, simulated: bool) -> None:
    """Register a site's reference recording (any WAV: PCM, A-law, µ-law; any rate).

    \b
    Example:
      qualiphone afterhours reference --site eps-09 message-eps-09.wav
      qualiphone afterhours reference --site eps-11 --kind closure fermeture-eps-11.wav
      qualiphone afterhours reference --simulated
    """
    from afterhours.references import register, register_simulated

    if simulated:
        from simulator.messages import ToolMissing

        try:
            done = register_simulated(app.config, [site] if site else None)
        except ToolMissing as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Registered {len(done)} simulated references ({len({r.site for r in done})} sites).")
        return
    if not site or file is None:
        raise click.UsageError("give --site SITE and FILE, or --simulated")
    ref = register(app.config, site, kind, file)
    click.echo(f"Registered {ref.site}/{ref.kind}: {ref.seconds:.1f} s ({ref.speech_seconds:.1f} s of "
               f"sound) from {file} → {ref.path}")


@afterhours.command()
def references() -> None:
    """List the registered reference recordings.

    \b
    Example:
      qualiphone afterhours references
    """
    from afterhours.references import list_references

    refs = list_references()
    for r in refs:
        click.echo(f"{r.site:<11}{r.kind:<9}{r.seconds:>7.1f} s  {r.registered_at}  {r.source}")
    click.echo(f"{len(refs)} reference{'s' if len(refs) != 1 else ''}.")


afterhours.add_command(probe)
afterhours.add_command(report)
