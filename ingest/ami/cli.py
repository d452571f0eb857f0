"""`qualiphone listen`: capture calls live from an Asterisk Manager Interface."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from config import Config, ConfigError
from ingest.finalize import CaptureContext
from ingest.records import RecordError
from monitor.private_file import read_private_file
from monitor.wallboard.auth import TOKEN_ENV, TokenError, load_token, token_required
from qualiphone.context import AppContext, FiniteFloatRange, pass_app

log = logging.getLogger(__name__)

SECRET_ENV = "QUALIPHONE_AMI_SECRET"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
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


def secret_env(pbx: str) -> str:
    """The PBX's own secret variable: QUALIPHONE_AMI_SECRET_<NAME upper, non-alnum as _>."""
    return f"{SECRET_ENV}_{re.sub(r'[^A-Z0-9]', '_', pbx.upper())}"


def read_secret(path: Path | None, pbx: str | None = None) -> str:
    """The secret from `path` (mode 600 or stricter), else from the PBX's own variable (with
    `pbx`), else from $QUALIPHONE_AMI_SECRET."""
    if path is not None:
        secret = read_private_file(path, "secret file", SecretError).strip("\r\n")
    else:
        secret = (os.environ.get(secret_env(pbx), "") if pbx else "") or os.environ.get(SECRET_ENV, "")
    if not secret:
        names = f"{secret_env(pbx)} or {SECRET_ENV}" if pbx else SECRET_ENV
        where = f' for PBX "{pbx}"' if pbx else ""
        raise SecretError(f"no AMI secret{where}: set {names} or pass --ami-secret-file PATH "
                          "(a file only its owner can read); never on the command line")
    return secret


@dataclass(frozen=True)
class Target:
    """One PBX to listen to."""

    pbx: str | None  # None: the first PBX of settings.toml
    host: str
    port: int
    user: str
    secret_pbx: str | None  # the PBX whose own secret variable is looked up first


def _targets(config: Config, address: str | None, ami_user: str | None,
             pbx: str | None) -> list[Target]:
    """With --ami: that one PBX (--pbx or the first); else every PBX with `ami` in settings."""
    settings = config.directory / "settings.toml"
    if address is not None:
        host, port = parse_address(address)
        chosen = config.pbxs.get(pbx) if pbx else next(iter(config.pbxs.values()), None)
        user = ami_user or (chosen.ami_user if chosen else "")
        if not user:
            raise click.UsageError("missing --ami-user NAME (the manager.conf section)")
        return [Target(pbx, host, port, user, None)]
    names = [pbx] if pbx else [n for n, p in config.pbxs.items() if p.ami]
    if pbx and pbx in config.pbxs and not config.pbxs[pbx].ami:
        raise click.UsageError(f'PBX "{pbx}" has no ami = "HOST:PORT" in [pbx.{pbx}] of '
                               f"{settings}; add it or pass --ami HOST:PORT")
    if not names:
        raise click.UsageError(
            f'no PBX to listen to: pass --ami HOST:PORT --ami-user NAME, or add ami = "HOST:PORT" '
            f'and ami_user = "NAME" to a [pbx.NAME] table of {settings}')
    targets = []
    for name in names:
        if name not in config.pbxs:  # CaptureContext.create names the known PBXs
            targets.append(Target(name, "", 0, "", name))
            continue
        settings_pbx = config.pbxs[name]
        host, port = parse_address(settings_pbx.ami, f"pbx.{name}.ami")
        user = ami_user or settings_pbx.ami_user
        if not user:
            raise click.UsageError(f'PBX "{name}" has no AMI user: add ami_user = "NAME" to '
                                   f"[pbx.{name}] of {settings} or pass --ami-user NAME")
        targets.append(Target(name, host, port, user, name))
    return targets


@click.command()
@click.option("--ami", "address", default=None, metavar="HOST:PORT",
              help="The PBX's manager interface, e.g. 127.0.0.1:5038 [default: every PBX with "
                   "ami = \"HOST:PORT\" in settings.toml].")
@click.option("--ami-user", default=None, metavar="NAME",
              help="AMI user (manager.conf section) [default: the PBX's ami_user setting].")
@click.option("--ami-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"File holding the secret, mode 600 [default: env {SECRET_ENV}_<PBX NAME>, "
                   f"else {SECRET_ENV}].")
@click.option("--pbx", default=None,
              help="PBX name of settings.toml [default: with --ami the first, else every PBX "
                   "with an ami setting].")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the raw AMI stream received to FILE (a test fixture).")
@click.option("--for", "duration", type=FiniteFloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop cleanly after SECONDS [default: run until stopped].")
@click.option("--wallboard", "wallboard", default=None, metavar="HOST:PORT",
              help="Also serve the supervisors' wallboard there, e.g. 127.0.0.1:8025 (any "
                   "address but 127.0.0.1, ::1 and localhost needs a token).")
@click.option("--wallboard-token-file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=f"File holding the wallboard token, mode 600 [default: env "
                                 f"{TOKEN_ENV}].")
@pass_app
def listen(app: AppContext, address: str | None, ami_user: str | None, ami_secret_file: Path | None,
           pbx: str | None, record: Path | None, duration: float | None, wallboard: str | None,
           wallboard_token_file: Path | None) -> None:
    """Capture calls live from Asterisk AMI and write them to the store.

    Needs timestampevents = yes in manager.conf and an AMI user with read = call,agent,system.
    The secret is read from the environment or a private file, never from the command line.

    Without --ami, one listener runs per PBX of settings.toml that has ami = "HOST:PORT" (and
    ami_user = "NAME"), each with the secret of QUALIPHONE_AMI_SECRET_<PBX NAME> (upper case,
    other characters than letters and digits as _), else of QUALIPHONE_AMI_SECRET.

    With --wallboard, a page for a wall screen shows per site the calls ringing now, the longest
    ring and today's pickup rate, updated every second (see `qualiphone top` for a terminal).

    SIGTERM or SIGINT (Ctrl-C) stops it cleanly, like the end of --for: it folds what it
    received, writes every call (those in progress as incomplete) and records the capture gap
    from the stop, closed by the next start.

    \b
    Example:
      QUALIPHONE_AMI_SECRET=... qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon
      QUALIPHONE_AMI_SECRET=... qualiphone listen --ami 127.0.0.1:5038 --ami-user qualimon \\
          --wallboard 127.0.0.1:8025
      QUALIPHONE_AMI_SECRET_PARIS_EPS=... qualiphone listen   # [pbx.paris-eps] ami = ...
    """
    from ingest.ami.listener import Listener
    from ingest.ami.live import LiveState

    config = app.config
    targets = _targets(config, address, ami_user, pbx)
    if record is not None and len(targets) > 1:
        raise click.UsageError("--record writes one PBX's stream: add --pbx NAME (or --ami)")
    board = _wallboard_address(wallboard, wallboard_token_file)
    try:
        contexts = [CaptureContext.create(config, t.pbx) for t in targets]
    except RecordError as exc:
        raise click.UsageError(str(exc)) from None
    secrets = [read_secret(ami_secret_file, t.secret_pbx) for t in targets]
    store = app.store
    live = LiveState()  # shared: one wallboard shows every PBX
    record_fh = record.open("ab") if record else None
    try:
        listeners = [Listener(ctx, store, host=t.host, port=t.port, username=t.user, secret=secret,
                              live=live, record=record_fh, gap_at_stop=True,
                              queue_poll=QUEUE_POLL if board else None)
                     for t, ctx, secret in zip(targets, contexts, secrets, strict=True)]
        all_stats = asyncio.run(_with_live_alerts(app, listeners, _run(app, listeners, duration, board)))
    finally:
        if record_fh is not None:
            record_fh.close()
    for t, ctx, stats in zip(targets, contexts, all_stats, strict=True):
        shown = f"[{t.host}]" if ":" in t.host else t.host
        click.echo(f"AMI {shown}:{t.port} ({ctx.pbx.name}): {summary(stats)}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def summary(stats: Any) -> str:
    """One listener's run in a line: events, calls, gaps, and what went wrong if anything."""
    gaps = len(stats.gaps)
    parts = [f"{stats.frames} events, {stats.calls_written} calls written, "
             f"{stats.calls_rejected} not stored, {_plural(gaps, 'capture gap')} recorded"]
    if stats.stop_gap is not None:
        parts.append("the gap from the stop stays open until the next start")
    if stats.bad_timestamps:
        parts.append(f"{_plural(stats.bad_timestamps, 'implausible Timestamp')} replaced by the "
                     "receive time")
    if stats.frames_shed:
        parts.append(f"{stats.frames_shed} events dropped while overloaded (in the gaps)")
    if stats.handler_errors:
        parts.append(f"{_plural(stats.handler_errors, 'frame')} skipped on an error (see the log)")
    if stats.unsaved:
        parts.append(f"{stats.unsaved} calls NOT SAVED: the store could not be reached")
    return "; ".join(parts)


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


async def _run(app: AppContext, listeners: list[Any], duration: float | None,
               board: tuple[str, int, str | None] | None) -> list[Any]:
    """The listeners, with the wallboard's refresh task and HTTP server when asked."""
    if board is None:
        return await _run_all(listeners, duration)
    from monitor.wallboard.board import Wallboard
    from monitor.wallboard.server import WallboardServer

    host, port, token = board
    wall = Wallboard(app.config, app.store.engine, listeners)
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
        return await _run_all(listeners, duration)
    finally:
        refresher.cancel()
        await server.close()


async def _with_live_alerts(app: AppContext, listeners: list[Any], main: Coroutine[Any, Any, Any]) -> Any:
    """Run `main` with the live alert rules of alerts.toml evaluated beside it (alerts.live:
    rate, long ring, listener down); nothing more without alerts.toml."""
    from alerts.delivery import AlertSecretError  # the alerts area sits above ingest: imported
    from alerts.live import LiveAlerts  # only here, when the listener runs

    try:
        watcher = LiveAlerts.for_feeds(app.config, app.store, listeners)
    except (ConfigError, AlertSecretError) as exc:  # wrong alerts.toml, missing secret: no capture
        main.close()
        raise click.ClickException(str(exc)) from None
    if watcher is None:
        return await main
    task = asyncio.create_task(watcher.run())
    try:
        return await main
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _stop_on_signals(listeners: list[Any]) -> list[signal.Signals]:
    """SIGTERM and SIGINT stop every listener cleanly (each folds what it received, writes every
    call, the ones in progress as incomplete, and the gap from the stop); a second signal only
    says that the stop is under way. Returns the signals handled (none outside the main thread)."""
    loop = asyncio.get_running_loop()
    stopping: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        if stopping:
            log.warning("%s: already stopping; writing the calls received", sig.name)
            return
        stopping.append(sig.name)
        log.warning("%s: stopping; writing every call (those in progress as incomplete) and "
                    "the capture gap from now", sig.name)
        for listener in listeners:
            listener.stop(sig.name)

    handled = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
            continue
        handled.append(sig)
    return handled


async def _run_all(listeners: list[Any], duration: float | None) -> list[Any]:
    """Every listener to its end; when one fails, the others are stopped (and flushed) too."""
    tasks = [asyncio.create_task(listener.run(duration)) for listener in listeners]
    handled = _stop_on_signals(listeners)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for sig in handled:
            asyncio.get_running_loop().remove_signal_handler(sig)
        pending = [task for task in tasks if not task.done()]
        for task in pending:  # once each: their own clean-up flushes the calls
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return [task.result() for task in tasks]
