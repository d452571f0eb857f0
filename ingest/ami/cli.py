"""`qualiphone listen`: capture calls live from an Asterisk Manager Interface."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import click

from ingest.finalize import CaptureContext
from ingest.records import RecordError
from monitor.wallboard.auth import TOKEN_ENV, TokenError, load_token, token_required
from qualiphone.context import AppContext, pass_app

SECRET_ENV = "QUALIPHONE_AMI_SECRET"
DEFAULT_PORT = 5038


QUEUE_POLL = 15.0  # seconds between QueueStatus polls for the wallboard's agent counts


class SecretError(click.ClickException):
    """The AMI secret is missing or its file is not private."""


def parse_address(text: str, option: str = "--ami", default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` (port 5038) or `[IPv6]:PORT`."""
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        example = f"127.0.0.1:{default_port}"
        raise click.BadParameter(f'"{text}" is not HOST:PORT, e.g. {example}', param_hint=option)
    return host, int(port)


def read_secret(path: Path | None) -> str:
    """The secret from `path` (mode 600 or stricter) or from $QUALIPHONE_AMI_SECRET."""
    if path is not None:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise SecretError(f'secret file "{path}" does not exist; check the path') from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f'secret file "{path}" is readable by group or others '
                              f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
        secret = path.read_text(encoding="utf-8").strip("\r\n")
    else:
        secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise SecretError(f"no AMI secret: set {SECRET_ENV} or pass --ami-secret-file PATH "
                          "(a file only its owner can read); never on the command line")
    return secret


@click.command()
@click.option("--ami", "address", required=True, metavar="HOST:PORT",
              help="The PBX's manager interface, e.g. 127.0.0.1:5038.")
@click.option("--ami-user", required=True, metavar="NAME", help="AMI user (manager.conf section).")
@click.option("--ami-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"File holding the secret, mode 600 [default: env {SECRET_ENV}].")
@click.option("--pbx", default=None, help="PBX name of settings.toml [default: the first].")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the raw AMI stream received to FILE (a test fixture).")
@click.option("--for", "duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop cleanly after SECONDS [default: run until stopped].")
@click.option("--wallboard", "wallboard", default=None, metavar="HOST:PORT",
              help="Also serve the supervisors' wallboard there, e.g. 127.0.0.1:8025 (any "
                   "address but 127.0.0.1, ::1 and localhost needs a token).")
@click.option("--wallboard-token-file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=f"File holding the wallboard token, mode 600 [default: env "
                                 f"{TOKEN_ENV}].")
@pass_app
def listen(app: AppContext, address: str, ami_user: str, ami_secret_file: Path | None,
           pbx: str | None, record: Path | None, duration: float | None, wallboard: str | None,
           wallboard_token_file: Path | None) -> None:
    """Capture calls live from Asterisk AMI and write them to the store.

    Needs timestampevents = yes in manager.conf and an AMI user with read = call,agent,system.
    The secret is read from the environment or a private file, never from the command line.

    With --wallboard, a page for a wall screen shows per site the calls ringing now, the longest
    ring and today's pickup rate, updated every second (see `qualiphone top` for a terminal).

    \b
    Example:
      QUALIPHONE_AMI_SECRET=... qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon
      QUALIPHONE_AMI_SECRET=... qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon \\
          --wallboard 127.0.0.1:8025
    """
    from ingest.ami.listener import Listener

    host, port = parse_address(address)
    board = _wallboard_address(wallboard, wallboard_token_file)
    secret = read_secret(ami_secret_file)
    try:
        ctx = CaptureContext.create(app.config, pbx)
    except RecordError as exc:
        raise click.UsageError(str(exc)) from None
    store = app.store
    record_fh = record.open("ab") if record else None
    try:
        listener = Listener(ctx, store, host=host, port=port, username=ami_user, secret=secret,
                            record=record_fh, queue_poll=QUEUE_POLL if board else None)
        stats = asyncio.run(_run(app, listener, duration, board))
    finally:
        if record_fh is not None:
            record_fh.close()
    gaps = len(stats.gaps)
    click.echo(f"AMI {host}:{port} ({ctx.pbx.name}): {stats.frames} events, "
               f"{stats.calls_written} calls written, {stats.calls_rejected} not stored, "
               f"{gaps} capture gap{'s' if gaps != 1 else ''} recorded")


def _wallboard_address(text: str | None, token_file: Path | None) -> tuple[str, int, str | None] | None:
    """(host, port, token) of the wallboard; a token only when the address needs one."""
    if text is None:
        if token_file is not None:
            raise click.UsageError("--wallboard-token-file needs --wallboard HOST:PORT")
        return None
    host, port = parse_address(text, "--wallboard", 8025)
    if not token_required(host):
        return host, port, None
    try:
        token = load_token(token_file)
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None
    if token is None:
        raise click.UsageError(
            f'the wallboard on "{host}" is not on 127.0.0.1, ::1 or localhost, so it needs a '
            f"token: set {TOKEN_ENV} or pass --wallboard-token-file PATH (mode 600)")
    return host, port, token


async def _run(app: AppContext, listener: Any, duration: float | None,
               board: tuple[str, int, str | None] | None) -> Any:
    """The listener, with the wallboard's refresh task and HTTP server when asked."""
    if board is None:
        return await listener.run(duration)
    from monitor.wallboard.board import Wallboard
    from monitor.wallboard.server import WallboardServer

    host, port, token = board
    wall = Wallboard(app.config, app.store.engine, [listener])
    server = WallboardServer(wall.snapshot, token=token, threshold=wall.threshold)
    try:
        bound = await server.start(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot serve the wallboard on {host}:{port}: "
                                   f"{exc.strerror or exc}; choose another --wallboard") from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Wallboard: http://{shown}:{bound}/" + (" (token required)" if token else ""))
    refresher = asyncio.create_task(wall.run())
    try:
        return await listener.run(duration)
    finally:
        refresher.cancel()
        await server.close()
