"""`qualiphone mystery plan | export | calls`: the schedule, its files, its list of calls."""

from __future__ import annotations

import time
from pathlib import Path

import click

from config.loader import WEEKDAYS
from mystery.balance import Balance, balance
from mystery.campaign import MAX_SEED, find_campaign, load_campaign
from mystery.cli_common import ERRORS, campaign_id, check_site
from mystery.planner import Plan, plan_campaign
from mystery.repository import planned_calls, save_plan, stored_plan
from qualiphone.context import AppContext, friendly_errors, pass_app
from qualiphone.progress import steps


def _counts(label: str, counts: dict[str, int], targets: dict[str, float] | None = None) -> str:
    parts = [f"{k} {v}" + (f" ({targets[k]:.1f})" if targets else "") for k, v in counts.items()]
    return f"  {label:<9}" + "  ".join(parts)


def print_balance(plan: Plan, b: Balance) -> None:
    c = plan.campaign
    click.echo("balance (planned, with the target from the weights in brackets):")
    per_site = sorted(set(b.per_site.values()))
    click.echo(f"  sites    {len(b.per_site)} sites, " + " or ".join(map(str, per_site)) + " calls each")
    click.echo(_counts("weekdays", {WEEKDAYS[d]: b.per_weekday[d] for d in b.weekday_target},
                       {WEEKDAYS[d]: v for d, v in b.weekday_target.items()}))
    click.echo(_counts("bands", {k: b.per_band[k] for k in b.band_target}, b.band_target))
    click.echo(_counts("callers", {k.id: b.per_caller[k.id] for k in c.callers}))
    weeks: dict[str, int] = {}
    for call in sorted(plan.calls, key=lambda x: x.epoch):
        key = call.start.strftime("%G-W%V")
        weeks[key] = weeks.get(key, 0) + 1
    click.echo(_counts("weeks", weeks))
    gap = b.min_site_gap_minutes
    click.echo(f"  largest gap to a target: {b.max_deviation:.1f} calls; closest two calls to one "
               f"site: {gap / 60:.1f} h apart (minimum {c.min_gap_minutes} min)" if gap is not None else "")
    click.echo(f"  double scoring: {sum(x.double for x in plan.calls)} calls; "
               f"moved out of their drawn stratum: {len(plan.moved)}")


def write_exports(plan: Plan, app: AppContext, out: Path) -> list[Path]:
    from mystery.exports import write_plan_files

    with steps() as tell:
        return write_plan_files(plan, app.config, out, time.time(),
                                progress=lambda done, total: tell("call sheets", done, total))


@click.command()
@click.argument("campaign")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=None,
              help="Random seed [default: the campaign's year].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the CSV, .ics and PDF files [default: ./mystery-CAMPAIGN].")
@click.option("--replace", is_flag=True, help="Replace a stored plan that has no results yet.")
@click.option("--dry-run", is_flag=True, help="Print the balance; store and write nothing.")
@pass_app
@friendly_errors(*ERRORS)
def plan(app: AppContext, campaign: str, seed: int | None, out: Path | None, replace: bool,
         dry_run: bool) -> None:
    """Plan a campaign: calls spread over sites, weekdays and hour bands; call sheets, calendars.

    CAMPAIGN is a TOML file or a name in config/campaigns/ (eps-2026).

    \b
    Example:
      qualiphone mystery plan eps-2026 --seed 2026 --out campagne-2026/
    """
    config = app.config
    definition = load_campaign(find_campaign(campaign, config), config)
    seed = definition.year if seed is None else seed
    result = plan_campaign(definition, config, seed)
    first, last = result.calls[0].call_id, result.calls[-1].call_id
    click.echo(f'campaign "{definition.id}" ({definition.name}): {len(result.calls)} calls, '
               f"{len(definition.sites)} sites, {definition.start} to {definition.end}, seed {seed}")
    print_balance(result, balance(result, config))
    if dry_run:
        click.echo("dry run: nothing stored or written")
        return
    save_plan(app.store, result, config, replace=replace)
    click.echo(f"stored the plan: call ids {first} … {last}")
    for path in write_exports(result, app, out or Path(f"mystery-{definition.id}")):
        click.echo(f"wrote {path}")


@click.command()
@click.argument("campaign")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory [default: ./mystery-CAMPAIGN].")
@pass_app
@friendly_errors(*ERRORS)
def export(app: AppContext, campaign: str, out: Path | None) -> None:
    """Write the stored plan's CSV, calendars and call sheets again.

    \b
    Example:
      qualiphone mystery export eps-2026 --out campagne-2026/
    """
    cid = campaign_id(app, campaign)
    for path in write_exports(stored_plan(app.store, app.config, cid), app, out or Path(f"mystery-{cid}")):
        click.echo(f"wrote {path}")


@click.command("calls")
@click.argument("campaign")
@click.option("--site", default=None, help="Only this site.")
@pass_app
@friendly_errors(*ERRORS)
def calls_command(app: AppContext, campaign: str, site: str | None) -> None:
    """List a campaign's planned calls and whether their results are recorded.

    \b
    Example:
      qualiphone mystery calls eps-2026 --site eps-05
    """
    from mystery.repository import campaign_results

    cid = campaign_id(app, campaign)
    calls = planned_calls(app.store, cid)
    if site:
        site = check_site(app, cid, site, sorted({p.site for p in calls}, key=app.config.site_ids.index))
    done = {(r.call_id, r.role): r.status for r in campaign_results(app.store, cid)}
    for p in calls:
        if site and p.site != site:
            continue
        state = done.get((p.call_id, "primary"), "to do")
        second = " +second" if (p.call_id, "second") in done else (" (double)" if p.double_scored else "")
        click.echo(f"{p.call_id:<18} {p.local_start}  {p.site:<11} {p.caller:<12} {p.scenario:<17} "
                   f"{state}{second}")

