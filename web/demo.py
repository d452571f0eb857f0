"""The console in `qualiphone demo --live`: an admin account with a one-time password (printed
once), the shipped mystery campaign planned, and `qualiphone serve` beside the listener."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import click

from qualiphone.context import AppContext

ADDRESS = "127.0.0.1:8080"


def _prepare(app: AppContext) -> str:
    """The admin account (created, or its password reset) and the campaign; returns the password."""
    from web.accounts import add_user, audit, set_password, user_exists
    from web.roles import Role

    password = secrets.token_urlsafe(12)
    if user_exists(app.store, "admin"):
        set_password(app.store, "admin", password, must_change=True)
    else:
        add_user(app.store, app.config, "admin", Role.ADMIN, password, display_name="Administrateur",
                 must_change=True)
    audit(app.store, "cli:demo", "password_reset", "user:admin")
    _plan_campaign(app)
    return password


def _plan_campaign(app: AppContext) -> None:
    from mystery.campaign import find_campaign, load_campaign
    from mystery.planner import plan_campaign
    from mystery.repository import campaign_ids, save_plan

    campaign = load_campaign(find_campaign("eps-2026", app.config), app.config)
    if campaign.id not in campaign_ids(app.store):
        save_plan(app.store, plan_campaign(campaign, app.config, campaign.year), app.config)


def start_console(app: AppContext, base: list[str], env: dict[str, str], seconds: int,
                  reports: Path, wallboard: str = "http://127.0.0.1:8025") -> subprocess.Popen[bytes]:
    """Start `qualiphone serve` as a child process for `seconds`; print how to log in."""
    password = _prepare(app)
    click.secho(f"   Console: http://{ADDRESS}/ — user admin, one-time password {password} "
                "(change it at first login; create other accounts under Comptes)", bold=True)
    return subprocess.Popen([*base, "serve", "--listen", ADDRESS, "--reports", str(reports),
                             "--wallboard-url", wallboard, "--for", str(seconds)], env=env)
