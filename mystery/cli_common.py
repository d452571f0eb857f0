"""What the mystery commands share: the errors shown as `Error: …`, campaign lookup."""

from __future__ import annotations

from pathlib import Path

from config import ConfigError, UnknownSite
from mystery.actions import UnknownAction
from mystery.campaign import find_campaign, load_campaign
from mystery.planner import PlanningError
from mystery.repository import PlanExists, UnknownCall, UnknownCampaign, campaign_ids
from mystery.results_import import ResultsFileError
from qualiphone.context import AppContext

ERRORS = (ConfigError, UnknownSite, PlanningError, PlanExists, UnknownCall, UnknownCampaign,
          ResultsFileError, UnknownAction)


def campaign_id(app: AppContext, name: str) -> str:
    """A stored campaign id, from an id or from the campaign's TOML file."""
    if name in campaign_ids(app.store):
        return name
    if Path(name).suffix == ".toml" or Path(name).exists():
        return load_campaign(find_campaign(name, app.config), app.config).id
    return name
