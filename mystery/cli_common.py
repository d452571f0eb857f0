"""What the mystery commands share: the errors shown as `Error: …`, campaign lookup."""

from __future__ import annotations

from pathlib import Path

import click

from config import ConfigError, UnknownSite
from mystery.actions import UnknownAction
from mystery.campaign import find_campaign, load_campaign
from mystery.planner import PlanningError
from mystery.repository import PlanExists, UnknownCall, UnknownCampaign, campaign_ids
from mystery.results_import import ResultsFileError
from qualiphone.context import AppContext


class SiteNotInCampaign(Exception):
    def __init__(self, site: str, campaign: str, sites: list[str]) -> None:
        self.site, self.campaign, self.sites = site, campaign, sites
        super().__init__(f'site "{site}" has no call in campaign "{campaign}"; its sites: '
                         f"{', '.join(sites) or 'none'}.")


ERRORS = (ConfigError, UnknownSite, PlanningError, PlanExists, UnknownCall, UnknownCampaign,
          ResultsFileError, UnknownAction, SiteNotInCampaign)


def campaign_id(app: AppContext, name: str) -> str:
    """A stored campaign id, from an id or from the campaign's TOML file; UnknownCampaign else."""
    known = campaign_ids(app.store)
    if name not in known and (Path(name).suffix == ".toml" or Path(name).exists()):
        name = load_campaign(find_campaign(name, app.config), app.config).id
    if name not in known:
        raise UnknownCampaign(name, known)
    return name


def check_site(app: AppContext, campaign: str, site: str, sites: list[str]) -> str:
    """`site`, known to the directory and among the campaign's `sites`; an error otherwise."""
    site_id = app.config.site(site).id
    if site_id not in sites:
        raise SiteNotInCampaign(site_id, campaign, sites)
    return site_id


def pick_campaign(argument: str | None, option: str | None, command: str) -> str | None:
    """The campaign given as an argument, or (deprecated) with --campaign."""
    if argument and option and argument != option:
        raise click.UsageError(f'the campaign is given twice: "{argument}" and --campaign "{option}"; '
                               "give it once, as an argument")
    if option and not argument:
        click.echo(f"note: --campaign is deprecated; give the campaign as an argument: "
                   f"qualiphone mystery actions {command} {option}", err=True)
    return argument or option
