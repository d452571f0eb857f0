"""`qualiphone mystery actions …`: the action follow-up table of a campaign."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from mystery.actions import STATUS_LABELS, ActionStatus, actions_frame, list_actions, propose, update_action
from mystery.cli_common import ERRORS, campaign_id, pick_campaign
from qualiphone.context import AppContext, friendly_errors, pass_app

STATUSES = [s.value for s in ActionStatus]


@click.group()
def actions() -> None:
    """Action follow-up: propose from failing criteria, then list, update, close, export."""


@actions.command("propose")
@click.argument("campaign")
@pass_app
@friendly_errors(*ERRORS)
def propose_command(app: AppContext, campaign: str) -> None:
    """Propose an action for each site and criterion under the required level.

    \b
    Example:
      qualiphone mystery actions propose eps-2026
    """
    from mystery.analysis import analyse

    cid = campaign_id(app, campaign)
    analysis = analyse(app.store, app.config, cid)
    added, kept = propose(app.store, analysis.campaign, analysis.calls)
    click.echo(f"proposed {added} new actions ({kept} already in the table); "
               f"list them: qualiphone mystery actions list {cid}")


def _echo_action(r: Any) -> None:
    status = STATUS_LABELS[ActionStatus(r.status)]
    click.echo(f"#{r.id:<4} {r.campaign_id}  {r.site:<11} {r.criterion:<24} {status:<10} "
               f"{r.owner or '-':<16} {r.due or '-'}")
    click.echo(f"      constat : {r.finding}")
    click.echo(f"      action  : {r.action}")
    if r.comment:
        for line in r.comment.splitlines():
            click.echo(f"      note    : {line}")


_deprecated_campaign = click.option("--campaign", "campaign_option", default=None, hidden=True,
                                    help="Deprecated: give the campaign as an argument.")


@actions.command("list")
@click.argument("campaign", required=False)
@_deprecated_campaign
@click.option("--site", default=None, help="Only this site.")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True,
              help="Only these statuses (repeat the option).")
@click.option("--open", "open_only", is_flag=True, help="Only open and in-progress actions.")
@pass_app
@friendly_errors(*ERRORS)
def list_command(app: AppContext, campaign: str | None, campaign_option: str | None, site: str | None,
                 statuses: tuple[str, ...], open_only: bool) -> None:
    """List actions, of one campaign or of all.

    \b
    Example:
      qualiphone mystery actions list eps-2026 --open
    """
    campaign = pick_campaign(campaign, campaign_option, "list")
    if site:
        site = app.config.site(site).id
    if open_only:
        statuses = (ActionStatus.OPEN.value, ActionStatus.IN_PROGRESS.value)
    rows = list_actions(app.store, campaign_id(app, campaign) if campaign else None, site, statuses)
    for row in rows:
        _echo_action(row)
    if not rows:
        click.echo("no actions")


@actions.command("update")
@click.argument("action_id", type=int)
@click.option("--owner", default=None, help="Who carries the action.")
@click.option("--due", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Due date YYYY-MM-DD.")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--comment", default=None, help="A comment, appended with today's date.")
@pass_app
@friendly_errors(*ERRORS)
def update_command(app: AppContext, action_id: int, owner: str | None, due: dt.datetime | None,
                   status: str | None, comment: str | None) -> None:
    """Set an action's owner, due date, status, or add a comment.

    \b
    Example:
      qualiphone mystery actions update 3 --owner "DAA EPS 5e" --due 2027-01-31 --status in_progress
    """
    row = update_action(app.store, action_id, owner=owner, due=due.date() if due else None,
                        status=ActionStatus(status) if status else None, comment=comment)
    _echo_action(row)


@actions.command("close")
@click.argument("action_id", type=int)
@click.option("--comment", default=None, help="What was done.")
@click.option("--cancel", is_flag=True, help="Close as abandoned rather than done.")
@pass_app
@friendly_errors(*ERRORS)
def close_command(app: AppContext, action_id: int, comment: str | None, cancel: bool) -> None:
    """Close an action as done (or abandoned with --cancel).

    \b
    Example:
      qualiphone mystery actions close 3 --comment "Formation faite le 12/01"
    """
    status = ActionStatus.CANCELLED if cancel else ActionStatus.DONE
    _echo_action(update_action(app.store, action_id, status=status, comment=comment))


@actions.command("export")
@click.argument("campaign", required=False)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The XLSX file to write.")
@_deprecated_campaign
@pass_app
@friendly_errors(*ERRORS)
def export_command(app: AppContext, campaign: str | None, out: Path, campaign_option: str | None) -> None:
    """Export the action table, of one campaign or of all, to XLSX (French headers).

    \b
    Example:
      qualiphone mystery actions export eps-2026 --out suivi-actions.xlsx
    """
    from mystery.report_xlsx import write_sheets

    campaign = pick_campaign(campaign, campaign_option, "export")

    frame = actions_frame(app.store, campaign_id(app, campaign) if campaign else None)
    write_sheets({"Suivi des actions": frame}, out)
    click.echo(f"wrote {len(frame)} actions to {out}")
