"""`qualiphone serve`: the web console, on uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

import click

from qualiphone.context import AppContext, FiniteFloatRange, pass_app

REPORTS_ENV = "QUALIPHONE_REPORTS"
log = logging.getLogger(__name__)


def default_reports_dir() -> Path:
    """$QUALIPHONE_REPORTS, else rapports/ in the data directory."""
    from monitor.store.engine import data_dir

    return Path(os.environ.get(REPORTS_ENV) or data_dir() / "rapports")


def _address(text: str) -> tuple[str, int]:
    from ingest.ami.cli import parse_address

    return parse_address(text, "--listen", 8080)


@click.command()
@click.option("--listen", "address", default="127.0.0.1:8080", show_default=True,
              metavar="HOST:PORT", help="Where to serve (loopback by default; put a TLS proxy "
                                        "in front for any other address).")
@click.option("--reports", "reports_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help=f"Where `qualiphone report monthly --out` writes the statements "
                                 f"[env {REPORTS_ENV}; default: rapports/ in the data directory].")
@click.option("--wallboard-url", default=None, metavar="URL",
              help="A running `qualiphone listen --wallboard`: the live page shows its calls "
                   "ringing now (e.g. http://127.0.0.1:8025). Without it, only the store's figures.")
@click.option("--trusted-proxy", "proxies", multiple=True, metavar="IP",
              help="A reverse proxy whose X-Forwarded-Proto/-For are believed (repeat); behind "
                   "its TLS the session cookie is Secure.")
@click.option("--secure-cookie", is_flag=True,
              help="Always mark the session cookie Secure (the console is only reached by HTTPS).")
@click.option("--for", "duration", type=FiniteFloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after SECONDS [default: run until stopped].")
@pass_app
def serve(app: AppContext, address: str, reports_dir: Path | None, wallboard_url: str | None,
          proxies: tuple[str, ...], secure_cookie: bool, duration: float | None) -> None:
    """Serve the web console: figures, statements, mystery calls, after-hours, live view.

    Accounts are made with `qualiphone users add`. Reads the store and the configuration only;
    run it beside `qualiphone listen --wallboard …` and give --wallboard-url for the live calls.

    \b
    Example:
      qualiphone users add admin --role admin --generate
      qualiphone serve --reports rapports/ --wallboard-url http://127.0.0.1:8025
    """
    host, port = _address(address)
    console = build_console(app, reports_dir or default_reports_dir(), wallboard_url,
                            secure_cookie)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Console: http://{shown}:{port}/ (statements from {console.reports_dir}/)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_console(console, host, port, proxies, duration))


def build_console(app: AppContext, reports_dir: Path, wallboard_url: str | None = None,
                  secure_cookie: bool = False):  # type: ignore[no-untyped-def]
    from monitor.store.engine import data_dir
    from web.auth import Signer, load_secret
    from web.console import Console
    from web.live import LiveBoards, RemoteFeed

    try:
        secret = load_secret(data_dir() / "web-secret.key")
    except PermissionError as exc:
        raise click.ClickException(str(exc)) from None
    feeds = RemoteFeed.for_url(wallboard_url) if wallboard_url else []
    boards = LiveBoards(app.config, app.store.engine, feeds)
    return Console(app.config, app.store, Signer(secret), reports_dir, boards, secure_cookie)


async def run_console(console, host: str, port: int, proxies: tuple[str, ...] = (),  # type: ignore[no-untyped-def]
                      duration: float | None = None) -> None:
    """uvicorn and the live feeds in this event loop, until stopped or `duration` is over."""
    import uvicorn

    from web.app import create_app

    config = uvicorn.Config(create_app(console), host=host, port=port, log_level="warning",
                            proxy_headers=bool(proxies), forwarded_allow_ips=list(proxies) or None,
                            server_header=False, lifespan="off")
    server = uvicorn.Server(config)
    tasks = console.boards.start() if console.boards is not None else []
    try:
        if duration is None:
            await server.serve()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.serve(), duration)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
