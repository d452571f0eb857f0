"""`qualiphone stats`: pickup within 25 s per site and period, with the distribution behind it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Any

import click
import numpy as np

from config import UnknownSite
from monitor.call import Outcome
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
from qualiphone.context import AppContext, format_option, friendly_errors, pass_app

PERIOD_TITLE = {"site": "Période", "hour": "Heure", "day": "Jour", "weekday": "Jour",
                "weekday-hour": "Jour, heure", "month": "Mois", "day-hour": "Heure locale"}
JOURS = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "jeu", "fri": "ven", "sat": "sam",
         "sun": "dim"}


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
@click.option("--target-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Pickup rate the staffing hint aims at "
              "[default: targets.pickup_rate_goal of settings.toml, 0.8].")
@format_option("table", "csv", "json")
@pass_app
@friendly_errors(UnknownSite)
def stats(app: AppContext, start: dt.date, end: dt.date, sites: tuple[str, ...], by: str,
          in_hours: bool, include_tests: bool, merge_sites: bool, binned: bool,
          show_empty: bool, with_staffing: bool, target_rate: float | None, fmt: str) -> None:
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
    cells = result[by] if show_empty or by == "site" else _drop_empty_periods(result[by])
    hint = None
    if with_staffing:
        goal = target_rate if target_rate is not None else app.config.targets.pickup_rate_goal
        hint = staffing(result["hour"], _open_hours(app, request), target=goal)
    _emit(fmt, request, cells, hint)


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

    console = Console()
    return console if console.is_terminal else Console(width=250)


def _dec(value: float, digits: int) -> str:
    return "—" if np.isnan(value) else f"{value:.{digits}f}".replace(".", ",")


def _pct(value: float) -> str:
    return "—" if np.isnan(value) else f"{value * 100:.1f} %".replace(".", ",")


def _sec(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1f} s".replace(".", ",")


def _interval(low: float, high: float) -> str:
    if np.isnan(low):
        return "—"
    return f"{low * 100:.0f}–{high * 100:.0f} %"


def _period(by: str, label: str) -> str:
    if by in ("weekday", "weekday-hour"):
        day, _, hour = label.partition(" ")
        return f"{JOURS[day]} {hour} h" if hour else JOURS[day]
    if by == "hour":
        return f"{label} h"
    return label.replace("/", " → ")


def _table_rows(s: CellStats) -> list[list[str]]:
    failed = s.count(Outcome.BUSY) + s.count(Outcome.FAILED) + s.count(Outcome.CONGESTION)
    p, q = s.pickup_rate, s.tta_quantiles
    rows = []
    incomplete = s.directory_incomplete
    for i in range(s.n):
        rate = _pct(p.value[i]) + (" *" if incomplete[i] else "")
        rows.append([
            s.site[i], _period(s.by, s.period[i]), str(s.offered[i]),
            str(s.count(Outcome.ANSWERED)[i]), str(s.answered_within[i]), rate,
            _interval(p.low[i], p.high[i]), str(p.n[i]), _pct(s.asterisk_sl.value[i]),
            _pct(s.asterisk_sl2.value[i]), _pct(s.agent_pickup_rate.value[i]),
            str(s.count(Outcome.ABANDONED)[i]), str(s.count(Outcome.SHORT_ABANDON)[i]),
            str(s.count(Outcome.MESSAGE)[i]), str(failed[i] + s.count(Outcome.VOICEMAIL)[i]),
            _sec(s.tta_mean[i]), _sec(q[i, 0]), _sec(q[i, 2]), _sec(s.tta_max[i]),
            "·".join(str(x) for x in s.rings[i]),
        ])
        if incomplete.any():
            rows[-1].insert(12, str(s.unclassified[i]))
    return rows


def _print_table(r: StatsRequest, s: CellStats) -> None:
    from rich.table import Table

    scope = "heures d'ouverture" if r.in_hours_only else "toutes heures"
    table = Table(title=f"Décroché en moins de {r.threshold:g} s — du {r.start} au {r.end}, "
                        f"{scope}", title_justify="left")
    heads = ["Site", PERIOD_TITLE[r.by], "Reçus", "Décrochés", f"< {r.threshold:g} s",
             "Taux de décroché", "IC 95 %", "n", "SL", "SL2", "SP+", "Abandons", "Courts",
             "Message", "Autres", "Attente moy.", "Médiane", "p90", "Max", "Sonneries"]
    rows = _table_rows(s)
    if s.directory_incomplete.any():
        heads.insert(12, "À classer")
    if r.by == "site":  # one period, already in the title
        heads.pop(1)
        rows = [row[:1] + row[2:] for row in rows]
    for head in heads:
        left = head in ("Site", PERIOD_TITLE[r.by])
        table.add_column(head, justify="left" if left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    console = _console()
    console.print(table)
    console.print(
        f"Taux de décroché = décrochés par une personne en moins de {r.threshold:g} s "
        f"(un appel à {r.threshold:g},0 s n'y est pas) / (reçus − abandons courts). "
        "SL, SL2 : niveaux de service d'Asterisk ; SP+ : décrochés / appels à traiter "
        "(Services Publics+). Autres = occupé, échec, messagerie. Sonneries : décrochés à 1, 2, "
        "3, 4, 5, 6 sonneries et plus. Appels de test "
        + ("inclus." if r.include_tests else "exclus.")
        + ("" if s.exact else " Quantiles au dixième de seconde (--binned).")
    )
    if s.directory_incomplete.any():
        console.print(
            f"* Répertoire incomplet : {int(s.unclassified.sum())} appels décrochés par un poste "
            "que sites.toml ne connaît pas, ou par une machine hors des contextes de message, "
            "sont « à classer » : ni décrochés par une personne, ni abandons, et hors du taux. "
            "Voir : qualiphone sites check ; qualiphone sites learn FICHIER…"
        )


def _print_staffing(h: Staffing) -> None:
    from rich.table import Table

    table = Table(title=f"Effectif conseillé pour {h.target * 100:g} % décrochés à temps "
                        "(Erlang-C, Erlang-A)", title_justify="left")
    for i, head in enumerate(["Site", "Heure", "Heures ouv.", "Appels", "Appels/h",
                              "Durée moy.", "Patience moy.", "Charge (E)", "Agents Erlang-C",
                              "Agents Erlang-A", "Taux obtenu"]):
        table.add_column(head, justify="left" if i < 2 else "right")
    for i in range(len(h.site)):
        if h.calls[i] == 0:
            continue
        agents = [("—" if np.isnan(x) else str(int(x))) for x in
                  (h.agents_erlang_c[i], h.agents_erlang_a[i])]
        table.add_row(h.site[i], f"{h.hour[i]} h", _dec(h.open_hours[i], 1), str(h.calls[i]),
                      _dec(h.rate_per_hour[i], 1), _sec(h.handle_mean[i]),
                      "—" if np.isinf(h.patience_mean[i]) else _sec(h.patience_mean[i]),
                      _dec(h.load[i], 2), *agents, _pct(h.achieved[i]))
    _console().print(table)
    click.echo("Charge = appels/s × durée moyenne (erlangs). Erlang-C : personne ne raccroche ; "
               "Erlang-A : les appelants raccrochent après leur patience moyenne observée.")


def _write_csv(cols: dict[str, list[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows(zip(*cols.values(), strict=True))


def _emit(fmt: str, r: StatsRequest, s: CellStats, hint: Staffing | None) -> None:
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
        _print_table(r, s)
        if hint is not None:
            _print_staffing(hint)
