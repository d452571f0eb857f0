"""`qualiphone report`: monthly statements per EPS, the central synthesis, the tracking table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from config import UnknownSite
from qualiphone.context import AppContext, FiniteFloatRange, friendly_errors, pass_app
from qualiphone.progress import steps
from reports.build import FORMATS, TRACKING_FILE, Output, build_reports, default_workers
from reports.data import Period


@click.group()
def report() -> None:
    """Monthly switchboard statements per EPS and the central synthesis (PDF, HTML, XLSX)."""


def _formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    wrong = [v for v in chosen if v not in FORMATS]
    if wrong or not chosen:
        raise click.BadParameter(f'"{value}" is not a list of formats; use one or more of '
                                 f'{", ".join(FORMATS)}, separated by commas, e.g. "pdf,xlsx"')
    return chosen


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f'"{value}" is not a month YYYY-MM, e.g. 2026-10')
    return value


def _period(month: str | None, year: int | None) -> Period:
    if (month is None) == (year is None):
        raise click.UsageError("give either --month YYYY-MM or --year YYYY")
    return Period.month(month) if month else Period.year(year)  # type: ignore[arg-type]


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by both commands."""
    decorators = [
        click.option("--month", callback=_month, metavar="YYYY-MM", help="The month."),
        click.option("--year", type=click.IntRange(2000, 2100), metavar="YYYY",
                     help="A calendar year instead (annual review)."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("rapports"), show_default=True, help="Directory to write into."),
        click.option("--format", "formats", default=",".join(FORMATS), show_default=True,
                     callback=_formats, help="Comma-separated formats among pdf, html, xlsx."),
        click.option("--target-rate", type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
                     default=None,
                     help="Pickup rate a month must reach (below it, it is below target) "
                          "[default: targets.pickup_rate_goal of settings.toml, 0.8]."),
        click.option("--jobs", type=click.IntRange(1, 64), default=None,
                     help="Worker processes drawing the documents [default: CPUs, up to 8]."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _goal(app: AppContext, target_rate: float | None) -> float:
    return target_rate if target_rate is not None else app.config.targets.pickup_rate_goal


def _write(out_dir: Path, output: Output) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in output.files.items():
        (out_dir / name).write_bytes(data)
    kinds = sorted({Path(n).suffix[1:] for n in output.files})
    count = f"{len(output.files)} file{'s' if len(output.files) != 1 else ''}"
    click.echo(f"Wrote {count} ({', '.join(kinds) or 'none'}) to {out_dir}/")
    for note in output.notes:
        click.echo(f"Note: {note}", err=True)


def _tracking(out_dir: Path, formats: tuple[str, ...]) -> bytes | None:
    path = out_dir / TRACKING_FILE
    return path.read_bytes() if "xlsx" in formats and path.exists() else None


@report.command()
@_options
@click.option("--site", "sites", multiple=True, metavar="ID",
              help="Only this site (repeat for several) [default: the 17 sites].")
@click.option("--no-synthesis", is_flag=True,
              help="Without --site the central synthesis is written too; this skips it.")
@pass_app
@friendly_errors(UnknownSite)
def monthly(app: AppContext, month: str | None, year: int | None, out: Path,
            formats: tuple[str, ...], target_rate: float | None, jobs: int | None,
            sites: tuple[str, ...], no_synthesis: bool) -> None:
    """Monthly statements of the 17 EPS switchboards, in French.

    Writes releve-MONTH-SITE.pdf/.html (bilan-YEAR-SITE with --year), updates the tracking
    table tableau-de-suivi-indicateurs.xlsx (re-running a month replaces its rows), and,
    for all sites, the synthesis. Figures are those of `qualiphone stats` for the same dates.

    \b
    Example:
      qualiphone report monthly --month 2026-10
      qualiphone report monthly --month 2026-10 --site eps-05 --format pdf --out rapports/
      qualiphone report monthly --year 2026
    """
    period = _period(month, year)
    chosen = tuple(dict.fromkeys(app.config.site(s).id for s in sites))
    with steps() as tell:
        output = build_reports(
            app.store.engine, app.config, period, sites=chosen, formats=formats,
            with_synthesis=not chosen and not no_synthesis, target_rate=_goal(app, target_rate),
            tracking=_tracking(out, formats), workers=jobs or default_workers(),
            generated=dt.datetime.now(dt.UTC).replace(microsecond=0), progress=tell)
    _write(out, output)


@report.command()
@_options
@pass_app
def synthesis(app: AppContext, month: str | None, year: int | None, out: Path,
              formats: tuple[str, ...], target_rate: float | None, jobs: int | None) -> None:
    """The central synthesis: the 17 EPS side by side, in French.

    The city-wide figure, the ranking, 12-month trends, sites below the target rate three
    months running, the spread between best and worst hours. Writes synthese-MONTH.pdf/.html
    (synthese-YEAR with --year) and updates tableau-de-suivi-indicateurs.xlsx with the
    17 sites' rows.

    \b
    Example:
      qualiphone report synthesis --month 2026-10
      qualiphone report synthesis --year 2026 --target-rate 0.85
    """
    period = _period(month, year)
    with steps() as tell:
        output = build_reports(
            app.store.engine, app.config, period, formats=formats, statements=False,
            target_rate=_goal(app, target_rate), tracking=_tracking(out, formats),
            workers=jobs or default_workers(),
            generated=dt.datetime.now(dt.UTC).replace(microsecond=0), progress=tell)
    _write(out, output)
