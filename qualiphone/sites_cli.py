"""`qualiphone sites [learn|apply|check]`: the site directory, learnt and checked against what
the PBX writes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest.lines import SourceFileError
from qualiphone.context import AppContext, format_option, pass_app

_files = click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True,
                                                           dir_okay=False))
_pbx = click.option("--pbx", default=None, help="PBX name of settings.toml [default: the first].")
_kind = click.option("--kind", type=click.Choice(["auto", "cdr", "cel", "queue_log", "ami"]),
                     default="auto", show_default=True,
                     help="What the files are (auto: read from their first lines).")


@click.group(invoke_without_command=True)
@format_option("table", "json")
@click.pass_context
def sites(ctx: click.Context, fmt: str) -> None:
    """The site directory (the 17 EPS): list it, learn it from PBX files, check it.

    \b
    Example:
      qualiphone sites
      qualiphone sites learn /var/log/asterisk/cdr-csv/Master.csv --write sites-patch.toml
      qualiphone sites check
    """
    if ctx.invoked_subcommand is None:
        from monitor.cli import sites as show

        ctx.invoke(show, fmt=fmt)


def _pbx_name(app: AppContext, pbx: str | None) -> str:
    name = pbx or next(iter(app.config.pbxs))
    if name not in app.config.pbxs:
        raise click.BadParameter(f'"{name}" is not a [pbx.NAME] of settings.toml; known: '
                                 f"{', '.join(app.config.pbxs)}", param_hint="--pbx")
    return name


@sites.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_kind
@_pbx
@click.option("--write", "write_to", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the proposal as a TOML patch to review, then `sites apply`.")
@click.option("--diff", "show_diff", is_flag=True,
              help="Print the change to sites.toml as a unified diff instead of the table.")
@pass_app
def learn(app: AppContext, paths: tuple[Path, ...], kind: str, pbx: str | None,
          write_to: Path | None, show_diff: bool) -> None:
    """Propose the directory from what the PBX wrote (CDR, CEL, queue_log, AMI capture).

    Reads the files without the directory and proposes, per site, the dialled numbers, queues,
    inbound contexts, staff devices (from the devices that answered), message and voicemail
    contexts, each with its evidence, beside what sites.toml has now. Numbers whose site cannot
    be told are listed for a person to fill in. Never changes sites.toml: review the patch, then
    `qualiphone sites apply PATCH`.

    \b
    Example:
      qualiphone sites learn Master.csv queue_log --write sites-patch.toml
    """
    from ingest.learn.report import learn_files, nothing_inbound, print_learned

    name = _pbx_name(app, pbx)
    try:
        learned = learn_files(app.config, name, paths, kind)
    except SourceFileError as exc:  # damaged, compressed with zstd, UTF-16, not of that kind …
        raise click.ClickException(str(exc)) from None
    empty = nothing_inbound(learned)
    if empty is not None:
        print_learned(learned, app.config)
        raise click.ClickException(empty)
    sites_path = app.config.directory / "sites.toml"
    if write_to is not None:
        from ingest.learn.patch import render_patch

        write_to.write_text(render_patch(learned, sites_path), encoding="utf-8")
    if show_diff:
        _print_diff(learned, sites_path)
    else:
        print_learned(learned, app.config)
    if write_to is not None:
        click.echo(f"wrote {write_to}: review it, then: qualiphone sites apply {write_to}")


def _print_diff(learned: object, sites_path: Path) -> None:
    import tempfile

    from ingest.learn.patch import apply_patch, diff, render_patch

    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "patch.toml"
        patch.write_text(render_patch(learned, sites_path), encoding="utf-8")  # type: ignore[arg-type]
        applied = apply_patch(sites_path, patch)
    sys.stdout.write(diff(sites_path, applied.text) or "# nothing to change\n")


@sites.command()
@click.argument("patch", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the change to sites.toml, write nothing.")
@pass_app
def apply(app: AppContext, patch: Path, dry_run: bool) -> None:
    """Add a reviewed patch's values to sites.toml (the old file is kept as
    sites.toml.YYYYmmdd-HHMMSS.bak, one per apply).

    \b
    Example:
      qualiphone sites apply sites-patch.toml --dry-run
    """
    from ingest.learn.patch import PatchError, apply_patch, diff, write_sites

    sites_path = app.config.directory / "sites.toml"
    try:
        applied = apply_patch(sites_path, patch)
    except PatchError as exc:
        raise click.ClickException(str(exc)) from None
    sys.stdout.write(diff(sites_path, applied.text) or "# nothing to change\n")
    for skipped in applied.skipped:
        click.echo(f"not applied: {skipped}; fill in site = \"…\" to apply it", err=True)
    if dry_run or not applied.added:
        return
    backup = write_sites(sites_path, applied.text)
    added = sum(len(v) for keys in applied.added.values() for v in keys.values())
    click.echo(f"added {added} values to {len(applied.added)} sites in {sites_path} "
               f"(previous version: {backup}). Re-import the files with --again to reclassify "
               "their calls, then: qualiphone sites check", err=True)


GAP_LABELS = {
    "device": "unknown device", "machine": "machine answer", "did": "dialed number of no site",
    "queue": "queue of no site", "context": "context of no site", "silent_site": "site with no call",
}
GAPS_FOUND = 3  # exit status when a gap changes a published figure by more than --points
NO_CALL = 4  # exit status when the period holds no call at all: nothing was checked


@sites.command()
@_files
@_kind
@_pbx
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First local date (store check) [default: 30 days ago].")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last local date (store check) [default: today].")
@click.option("--site", "only", multiple=True, metavar="SITE",
              help="Check only this site (repeatable) [default: every site of the PBX].")
@click.option("--points", type=click.FloatRange(0, 100), default=1.0, show_default=True,
              help="Exit with status 3 when a gap can move a pickup rate by more than this.")
@format_option("table", "json")
@pass_app
def check(app: AppContext, paths: tuple[Path, ...], kind: str, pbx: str | None,
          start: object, end: object, only: tuple[str, ...], points: float, fmt: str) -> None:
    """Every gap of the directory in one place, from the store or from PBX files.

    Lists answers by devices no site lists, machine answers outside the message contexts,
    dialled numbers and queues of no site, and sites that received no call, in and outside
    opening hours, with how much each can move the site's pickup rate (opening hours) or its
    after-hours message share. Exit status 3 when a gap moves a published figure by more than
    --points (1 point) or a site received no call; 4 when the period holds no call at all
    (nothing was checked: the imports or the listener may have stopped); 0 otherwise.

    \b
    Example:
      qualiphone sites check --from 2026-10-01 --to 2026-10-31
      qualiphone sites check /var/log/asterisk/cdr-csv/Master.csv
    """
    import datetime as dt

    name = _pbx_name(app, pbx)
    sites = [app.config.site(s).id for s in only] or \
        [s.id for s in app.config.sites if s.pbx == name]
    if paths:
        from ingest.directory_check import check_files

        try:
            report = check_files(app.config, name, list(paths), kind, points, sites)
        except SourceFileError as exc:  # damaged, or not of the kind read
            raise click.ClickException(str(exc)) from None
    else:
        from monitor.directory_gaps import check_store

        last = end.date() if isinstance(end, dt.datetime) else dt.date.today()
        first = start.date() if isinstance(start, dt.datetime) else last - dt.timedelta(days=30)
        if last < first:
            raise click.BadParameter(f'"{last}" is before --from "{first}"', param_hint="--to")
        report = check_store(app.store.engine, first, last, sites,
                             app.config.targets.threshold_seconds, points)
    tz = app.config.pbxs[name].tz
    _print_report(report, fmt, [str(p) for p in paths], tz)
    if report.empty:
        sys.exit(NO_CALL)
    if report.fails:
        sys.exit(GAPS_FOUND)


def _print_report(report: object, fmt: str, paths: list[str], tz: object) -> None:
    import json

    from monitor.directory_gaps import GapReport

    assert isinstance(report, GapReport)
    failing = report.failing()
    if fmt == "json":
        click.echo(json.dumps({
            "from": report.start.isoformat(), "to": report.end.isoformat(), "files": paths,
            "points": report.threshold_points, "fails": report.fails, "calls": report.calls,
            "nothing_checked": report.empty, "last_call": _last_call(report, tz),
            "gaps": [{"kind": g.kind, "value": g.value, "site": g.site, "calls": g.calls,
                      "after_hours": g.after_hours, "rejected": g.rejected,
                      "impact_points": _rounded(g.impact),
                      "pickup_rate_points": _rounded(g.rate_impact),
                      "after_hours_points": _rounded(g.after_hours_impact),
                      "fails": g in failing} for g in report.gaps],
        }, ensure_ascii=False, indent=2))
        return
    where = ", ".join(paths) if paths else "the store"
    if report.empty:
        click.echo(_nothing_checked(report, paths, tz))
        return
    click.echo(f"directory check of {where}, {report.start} to {report.end}:")
    if not report.gaps:
        click.echo("no gap: every call found its site, and every answer a staff device or a "
                   "message context.")
        return
    click.echo(f"{'gap':<25} {'site':<11} {'value':<32} {'calls':>6}  effect on the published figures")
    for g in report.gaps:
        effect = _effect(g)
        mark = "  <- over the limit" if g in failing else ""
        click.echo(f"{GAP_LABELS[g.kind]:<25} {g.site or '—':<11} {g.value[:32]:<32} "
                   f"{g.calls:>6}  {effect}{mark}")
    if failing:
        click.echo(f"{len(failing)} gaps move a published figure by more than "
                   f"{report.threshold_points:g} point or leave a site without figure.")
    click.echo("fix: qualiphone sites learn FILE… --write patch.toml; review; qualiphone sites "
               "apply patch.toml; then qualiphone sites reclassify (stored calls) and "
               "qualiphone ingest … --again FILE (calls of numbers that had no site)")


def _rounded(points: float | None) -> float | None:
    return None if points is None else round(points, 3)


def _last_call(report: object, tz: object) -> str | None:
    """The last stored call's local time (YYYY-MM-DD HH:MM), for a report with no call."""
    import datetime as dt

    from monitor.directory_gaps import GapReport

    assert isinstance(report, GapReport) and isinstance(tz, dt.tzinfo)
    if report.last_call is None:
        return None
    return dt.datetime.fromtimestamp(report.last_call, tz).strftime("%Y-%m-%d %H:%M")


def _nothing_checked(report: object, paths: list[str], tz: object) -> str:
    from monitor.directory_gaps import GapReport

    assert isinstance(report, GapReport)
    if paths:
        return (f"no call of the checked sites in {', '.join(paths)}: nothing was checked; "
                "are they the PBX's files of these sites?")
    return (f"no call in the store between {report.start} and {report.end}: nothing was checked; "
            "the imports or the listener may have stopped — last call stored: "
            f"{_last_call(report, tz) or 'none'}")


def _effect(g: object) -> str:
    from monitor.directory_gaps import Gap

    assert isinstance(g, Gap)
    if g.kind == "silent_site":
        return "no figure: no call in the period"
    if g.impact is None:
        return "skipped (another service's?)" if not g.rejected else "—"
    if g.kind in ("device", "machine"):
        return _site_effect(g)
    return f"up to {g.impact:.1f} points (calls kept as rejects, site unknown)"


def _site_effect(g: object) -> str:
    """A device's or a machine's effect, in hours on the pickup rate, after hours on the message
    share."""
    from monitor.directory_gaps import Gap

    assert isinstance(g, Gap)
    parts = []
    if g.calls > g.after_hours:
        reading = "a person answered there" if g.kind == "device" else "counted as not picked up"
        parts.append(f"{g.rate_impact or 0.0:.1f} points if {reading}")
    if g.after_hours and g.after_hours_impact is not None:
        parts.append(f"after hours {g.after_hours} calls, {g.after_hours_impact:.1f} points of "
                     "the after-hours message share")
    elif g.after_hours:
        parts.append(f"after hours {g.after_hours} calls (no effect on the message share)")
    return "; ".join(parts)


@sites.command()
@click.option("--dry-run", is_flag=True, help="Count what would change, change nothing.")
@pass_app
def reclassify(app: AppContext, dry_run: bool) -> None:
    """Read stored unclassified calls again with the current sites.toml.

    Calls answered by a device that is now a staff device become answered; machine answers in
    what is now a message, voicemail or inbound context become message, voicemail or abandons.

    \b
    Example:
      qualiphone sites reclassify --dry-run
    """
    from ingest.reclassify import reclassify as run

    changes = run(app.store.engine, app.config, dry_run=dry_run)
    verb = "would reclassify" if dry_run else "reclassified"
    if not changes:
        click.echo("nothing to reclassify: no stored unclassified call matches the directory now")
        return
    shown = ", ".join(f"{n} {old} -> {new}" for (old, new), n in changes.most_common())
    click.echo(f"{verb} {sum(changes.values())} calls: {shown}")
