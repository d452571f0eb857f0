"""`qualiphone stats`: pickup within 25 s per site and period, with the distribution behind it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from config import UnknownSite
from monitor.export_safety import safe_row
from monitor.metrics.cells import BY
from monitor.metrics.records import columns, records, staffing_columns, staffing_records
from monitor.metrics.staffing import (
    Staffing,
    clock_hours_by_hour,
    opening_hours_by_hour,
    staffing,
)
from monitor.metrics.summary import CellStats
from monitor.query import StatsRequest, store_stats
from monitor.stats_table import (
    CHOOSABLE,
    UnknownColumn,
    choose,
    notes,
    parse_columns,
    pct,
    sec,
    table,
)
from qualiphone.context import AppContext, FiniteFloatRange, format_option, friendly_errors, pass_app


def _columns(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    try:
        return parse_columns(value)
    except UnknownColumn as exc:
        raise click.BadParameter(str(exc)) from None


def _date(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a date YYYY-MM-DD') from None


@click.command()
@click.option("--from", "start", required=True, callback=_date, metavar="DATE",
              help="First local date, YYYY-MM-DD.")
@click.option("--to", "end", required=True, callback=_date, metavar="DATE",
              help="Last local date, YYYY-MM-DD (included).")
@click.option("--site", "sites", multiple=True, metavar="ID",
              help="Only this site (repeat for several) [default: all sites].")
@click.option("--by", type=click.Choice(BY), default="site", show_default=True,
              help="Cells: per site, hour of day, day, weekday, weekday and hour, month, or "
                   "real hour (day-hour: 23 on the spring DST day, 25 in autumn).")
@click.option("--in-hours/--all-hours", default=True, show_default=True,
              help="Only calls during opening hours, or all calls (with after-hours messages).")
@click.option("--include-tests", is_flag=True, help="Count test and mystery calls too.")
@click.option("--merge-sites", is_flag=True, help="All chosen sites together, one row per period.")
@click.option("--binned", is_flag=True,
              help="Let the store count calls per 0.1 s bin (quantiles exact only to 0.1 s); "
                   "pays on PostgreSQL, slow on SQLite, which sorts every call to group them.")
@click.option("--show-empty", is_flag=True, help="Keep periods where no site had a call.")
@click.option("--staffing", "with_staffing", is_flag=True,
              help="Add agents needed per site and hour (Erlang-C and Erlang-A).")
@click.option("--target-rate", type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Pickup rate the staffing hint aims at "
              "[default: targets.pickup_rate_goal of settings.toml, 0.8].")
@format_option("table", "csv", "json")
@click.option("--columns", "keys", callback=_columns, metavar="A,B,…",
              help="Table: these columns after site and period, e.g. "
                   "offered,pickup_rate,pickup_rate_n [default: as many as the terminal holds]. "
                   f"Columns: {', '.join(CHOOSABLE)}.")
@click.option("--wide", is_flag=True, help="Table: every column.")
@pass_app
@friendly_errors(UnknownSite)
def stats(app: AppContext, start: dt.date, end: dt.date, sites: tuple[str, ...], by: str,
          in_hours: bool, include_tests: bool, merge_sites: bool, binned: bool,
          show_empty: bool, with_staffing: bool, target_rate: float | None, fmt: str,
          keys: tuple[str, ...], wide: bool) -> None:
    """Calls picked up by a person in under 25 s (5 rings), per site and period.

    A call is within the target when a person answered in strictly less than 25.0 s after it
    arrived; the pickup rate leaves short abandons out of its denominator. Field names of
    --format json: docs/stats-json.md.

    \b
    Example:
      qualiphone stats --from 2026-10-01 --to 2026-10-31 --by site
      qualiphone stats --from 2026-10-01 --to 2026-10-31 --site eps-05 --by hour --staffing
    """
    if end < start:
        raise click.BadParameter(f'"{end}" is before --from "{start}"', param_hint="--to")
    config = app.config
    chosen = tuple(dict.fromkeys(config.site(s).id for s in sites)) or tuple(config.site_ids)
    targets = config.targets
    request = StatsRequest(
        start=start, end=end, sites=chosen, by=by, in_hours_only=in_hours,
        include_tests=include_tests, merge_sites=merge_sites, binned=binned,
        all_sites=set(chosen) == set(config.site_ids), clock_start=targets.clock_start,
        threshold=targets.threshold_seconds, ring_period=targets.ring_period_seconds,
        tz=_timezone(app, chosen),
    )
    result = store_stats(app.store, request, ["hour"] if with_staffing else [])
    if not result[by].offered.sum():
        click.echo(f"no calls in the store for {_scope(request)}{_outside(app, request)}",
                   err=True)
    cells = result[by] if show_empty or by == "site" else _drop_empty_periods(result[by])
    hint = None
    if with_staffing:
        goal = target_rate if target_rate is not None else app.config.targets.pickup_rate_goal
        hint = staffing(result["hour"], _open_hours(app, request), target=goal)
    _emit(fmt, request, cells, hint, Layout(wide, tuple(keys or ()), app.store_label))


def _scope(r: StatsRequest) -> str:
    sites = "all sites" if r.all_sites else "sites " + ", ".join(r.sites)
    hours = "opening hours only" if r.in_hours_only else "all hours"
    tests = "test calls included" if r.include_tests else "test calls left out"
    return f"{r.start} to {r.end} ({sites}, {hours}, {tests})"


def _outside(app: AppContext, r: StatsRequest) -> str:
    """", but N calls lie outside opening hours: …" when the period's calls all do."""
    if not r.in_hours_only:
        return ""
    import sqlalchemy as sa

    from monitor.store.models import calls

    query = sa.select(sa.func.count()).where(
        calls.c.local_date.between(r.start.isoformat(), r.end.isoformat()),
        calls.c.site.in_(list(r.sites)), sa.not_(calls.c.in_hours),
        sa.true() if r.include_tests else sa.not_(calls.c.is_test))
    with app.store.engine.connect() as conn:
        n = conn.execute(query).scalar() or 0
    if not n:
        return ""
    lie = "call lies" if n == 1 else "calls lie"
    return f"; {n} {lie} outside opening hours: --all-hours counts them"


def _timezone(app: AppContext, sites: tuple[str, ...]) -> str:
    zones = {app.config.pbxs[app.config.site(s).pbx].timezone for s in sites}
    return zones.pop() if len(zones) == 1 else "Europe/Paris"


def _drop_empty_periods(stats: CellStats) -> CellStats:
    """Leave out the periods where no shown site had a call (e.g. the night in hours only)."""
    periods = len(dict.fromkeys(stats.period))
    busy = stats.offered.reshape(-1, periods).sum(axis=0) > 0
    keep = np.tile(busy, stats.n // periods)
    return stats.take(keep)


def _open_hours(app: AppContext, r: StatsRequest) -> np.ndarray:
    """Hours of opening (or of clock time, with --all-hours) of each site × hour cell."""
    if not r.in_hours_only:
        return np.tile(clock_hours_by_hour(r.start, r.end, r.tz), len(r.sites))
    from monitor.calendar import SiteCalendar  # holidays: only for --staffing (0.03 s)

    calendar = SiteCalendar(app.config)
    days = [r.start + dt.timedelta(days=i) for i in range((r.end - r.start).days + 1)]
    per_site = [opening_hours_by_hour([calendar.opening_intervals(app.config.site(s), d)
                                       for d in days]) for s in r.sites]
    return np.concatenate(per_site)


def _console() -> Any:
    from rich.console import Console

    console = Console()  # the terminal's width, or $COLUMNS
    return console if console.is_terminal or "COLUMNS" in os.environ else Console(width=120)


def _uncut(console: Any, width: int) -> Any:
    """A console as wide as a table that needs `width` columns: a table wider than the
    terminal is printed whole (the terminal folds it, `less -S` scrolls it), never cut."""
    from rich.console import Console

    return console if width <= console.width else Console(width=width)


def _dec(value: float, digits: int) -> str:
    return "—" if np.isnan(value) else f"{value:.{digits}f}".replace(".", ",")


@dataclass(frozen=True)
class Layout:
    """How the table is cut: every column, or these keys, or what the terminal holds."""

    wide: bool = False
    keys: tuple[str, ...] = ()
    store: str = ""  # which store the figures come from (named under the table)


def _print_table(r: StatsRequest, s: CellStats, layout: Layout) -> None:
    scope = "heures d'ouverture" if r.in_hours_only else "toutes heures"
    title = f"Décroché en moins de {r.threshold:g} s — du {r.start} au {r.end}, {scope}"
    console = _console()
    shown = choose(s, width=console.width, wide=layout.wide, keys=layout.keys)
    console.print(title, style="italic")
    console = _uncut(console, shown.width)  # --wide or --columns: never cut
    console.print(table(s, shown))
    for line in notes(s, shown, include_tests=r.include_tests, all_hours=not r.in_hours_only):
        console.print(line)
    if layout.store:
        console.print(f"Base : {layout.store}")


def _print_staffing(h: Staffing) -> None:
    from rich import box
    from rich.table import Table

    console = _console()
    console.print(f"Effectif conseillé pour {h.target * 100:g} % décrochés à temps "
                  "(Erlang-C, Erlang-A)", style="italic")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 1), pad_edge=False)
    for i, head in enumerate(["Site", "Heure", "Heures\nouv.", "Appels", "Appels\npar h",
                              "Durée\nmoy.", "Patience\nmoy.", "Charge\n(E)", "Agents\nErlang-C",
                              "Agents\nErlang-A", "Taux\nobtenu"]):
        table.add_column(head, justify="left" if i < 2 else "right", no_wrap=True)
    for i in range(len(h.site)):
        if h.calls[i] == 0:
            continue
        agents = [("—" if np.isnan(x) else str(int(x))) for x in
                  (h.agents_erlang_c[i], h.agents_erlang_a[i])]
        table.add_row(h.site[i], f"{h.hour[i]} h", _dec(h.open_hours[i], 1), str(h.calls[i]),
                      _dec(h.rate_per_hour[i], 1), sec(h.handle_mean[i]),
                      "—" if np.isinf(h.patience_mean[i]) else sec(h.patience_mean[i]),
                      _dec(h.load[i], 2), *agents, pct(h.achieved[i]))
    from rich.measure import Measurement

    need = Measurement.get(console, console.options.update(width=1000), table).maximum
    _uncut(console, need).print(table)
    console.print("Charge = appels/s × durée moyenne (erlangs). Erlang-C : personne ne raccroche ; "
               "Erlang-A : les appelants raccrochent après leur patience moyenne observée.")


def _write_csv(cols: dict[str, list[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(safe_row(cols))
    writer.writerows(safe_row(row) for row in zip(*cols.values(), strict=True))


def _emit(fmt: str, r: StatsRequest, s: CellStats, hint: Staffing | None,
          layout: Layout = Layout()) -> None:
    if fmt == "json":
        doc: dict[str, Any] = {
            "from": r.start.isoformat(), "to": r.end.isoformat(), "by": r.by,
            "sites": list(r.sites), "in_hours_only": r.in_hours_only,
            "include_tests": r.include_tests, "merge_sites": r.merge_sites,
            "threshold_seconds": r.threshold, "ring_period_seconds": r.ring_period,
            "clock_start": r.clock_start, "quantiles": "exact" if s.exact else "binned_0.1s",
            "cells": records(s),
        }
        if hint is not None:
            doc["staffing"] = {"target_rate": hint.target, "cells": staffing_records(hint)}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        _write_csv(columns(s))
        if hint is not None:
            click.echo("")
            _write_csv(staffing_columns(hint))
    else:
        _print_table(r, s, layout)
        if hint is not None:
            _print_staffing(hint)
