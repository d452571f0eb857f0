"""`qualiphone users add|disable|enable|reset|list`: the console's accounts.

Passwords never go on the command line: they are typed at a prompt (hidden, twice), read from
standard input (`--password-stdin`, one line) or from a file only its owner can read
(`--password-file`), or generated (`--generate`: printed once, to be changed at first login).
"""

from __future__ import annotations

import getpass
import secrets
import sys
from pathlib import Path

import click

from monitor.private_file import read_private_file
from qualiphone.context import AppContext, pass_app
from web.accounts import AccountError, add_user, audit, list_users, set_active, set_password
from web.roles import ROLE_LABELS, Role


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def _password_options(func):  # type: ignore[no-untyped-def]
    func = click.option("--generate", is_flag=True,
                        help="Generate a one-time password, print it once; it must be changed "
                             "at first login.")(func)
    func = click.option("--password-stdin", is_flag=True,
                        help="Read the password from the first line of standard input.")(func)
    return click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Read the password from a file (mode 600).")(func)


def _password(password_file: Path | None, password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """(password, generated)."""
    if sum([password_file is not None, password_stdin, generate]) > 1:
        raise click.UsageError("give one of --password-file, --password-stdin, --generate")
    if generate:
        return secrets.token_urlsafe(12), True
    if password_file is not None:
        return read_private_file(password_file, "password file", click.ClickException).strip("\r\n"), False
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return click.prompt("Password", hide_input=True, confirmation_prompt=True), False


@click.group()
def users() -> None:
    """Accounts of the web console (`qualiphone serve`).

    \b
    Example:
      qualiphone users add c.laurent --role quality --name "Camille Laurent"
      qualiphone users add dir05 --role director --site eps-05 --password-file pw.txt
      qualiphone users reset dir05 --generate
    """


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True,
              help="admin, quality (all sites), director or supervisor (their --site), caller.")
@click.option("--site", "sites", multiple=True, metavar="ID",
              help="A site the director or supervisor sees (repeat for several).")
@click.option("--caller", default="", metavar="ID",
              help="For a mystery caller: the [[caller]] id of the campaign (appelant-a).")
@click.option("--name", "display_name", default="", help="The person's name, as shown.")
@_password_options
@pass_app
def add_command(app: AppContext, username: str, role: str, sites: tuple[str, ...], caller: str,
                display_name: str, password_file: Path | None, password_stdin: bool,
                generate: bool) -> None:
    """Create an account.

    \b
    Example:
      qualiphone users add dir05 --role director --site eps-05 --name "Direction EPS 5e"
    """
    password, generated = _password(password_file, password_stdin, generate)
    try:
        add_user(app.store, app.config, username, Role(role), password, sites=sites,
                 caller=caller, display_name=display_name, must_change=generated)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit(app.store, _actor(), "user_added", f"user:{username}", role=role, sites=list(sites),
          caller=caller)
    click.echo(f'user "{username}" added ({role}{": " + ", ".join(sites) if sites else ""})')
    if generated:
        click.echo(f"one-time password (shown once, to change at first login): {password}")


@users.command("reset")
@click.argument("username")
@_password_options
@pass_app
def reset_command(app: AppContext, username: str, password_file: Path | None,
                  password_stdin: bool, generate: bool) -> None:
    """Set a new password (and enable the account); its sessions end.

    \b
    Example:
      qualiphone users reset dir05 --generate
    """
    password, generated = _password(password_file, password_stdin, generate)
    try:
        set_password(app.store, username, password, must_change=generated)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit(app.store, _actor(), "password_reset", f"user:{username}")
    click.echo(f'password of "{username}" reset; its sessions are ended')
    if generated:
        click.echo(f"one-time password (shown once, to change at first login): {password}")


@users.command("disable")
@click.argument("username")
@pass_app
def disable_command(app: AppContext, username: str) -> None:
    """Disable an account: it can no longer log in, its sessions end.

    \b
    Example:
      qualiphone users disable dir05
    """
    try:
        set_active(app.store, username, False)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit(app.store, _actor(), "user_disabled", f"user:{username}")
    click.echo(f'user "{username}" disabled')


@users.command("enable")
@click.argument("username")
@pass_app
def enable_command(app: AppContext, username: str) -> None:
    """Enable a disabled account again (with its current password).

    \b
    Example:
      qualiphone users enable dir05
    """
    try:
        set_active(app.store, username, True)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit(app.store, _actor(), "user_enabled", f"user:{username}")
    click.echo(f'user "{username}" enabled')


@users.command("list")
@pass_app
def list_command(app: AppContext) -> None:
    """List the accounts (never their passwords).

    \b
    Example:
      qualiphone users list
    """
    rows = list_users(app.store)
    for r in rows:
        scope = r.sites.replace(",", ", ") or (f"caller {r.caller}" if r.caller else "all sites")
        state = "active" if r.active else "disabled"
        click.echo(f"{r.username:<20} {r.role:<11} {state:<9} {scope}   "
                   f"({ROLE_LABELS[Role(r.role)]}{', ' + r.display_name if r.display_name else ''})")
    if not rows:
        click.echo("no accounts yet: qualiphone users add NAME --role admin")
