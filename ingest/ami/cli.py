"""`qualiphone listen`: capture calls live from an Asterisk Manager Interface."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import click

from ingest.finalize import CaptureContext
from ingest.records import RecordError
from qualiphone.context import AppContext, pass_app

SECRET_ENV = "QUALIPHONE_AMI_SECRET"
DEFAULT_PORT = 5038


class SecretError(click.ClickException):
    """The AMI secret is missing or its file is not private."""


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` (port 5038) or `[IPv6]:PORT`."""
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f'"{text}" is not HOST:PORT, e.g. 127.0.0.1:5038', param_hint="--ami")
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
@pass_app
def listen(app: AppContext, address: str, ami_user: str, ami_secret_file: Path | None,
           pbx: str | None, record: Path | None, duration: float | None) -> None:
    """Capture calls live from Asterisk AMI and write them to the store.

    Needs timestampevents = yes in manager.conf and an AMI user with read = call,agent,system.
    The secret is read from the environment or a private file, never from the command line.

    \b
    Example:
      QUALIPHONE_AMI_SECRET=... qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon
    """
    from ingest.ami.listener import Listener

    host, port = parse_address(address)
    secret = read_secret(ami_secret_file)
    try:
        ctx = CaptureContext.create(app.config, pbx)
    except RecordError as exc:
        raise click.UsageError(str(exc)) from None
    store = app.store
    record_fh = record.open("ab") if record else None
    try:
        listener = Listener(ctx, store, host=host, port=port, username=ami_user, secret=secret,
                            record=record_fh)
        stats = asyncio.run(listener.run(duration))
    finally:
        if record_fh is not None:
            record_fh.close()
    gaps = len(stats.gaps)
    click.echo(f"AMI {host}:{port} ({ctx.pbx.name}): {stats.frames} events, "
               f"{stats.calls_written} calls written, {stats.calls_rejected} not stored, "
               f"{gaps} capture gap{'s' if gaps != 1 else ''} recorded")
