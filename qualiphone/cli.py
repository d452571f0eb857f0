"""Root command group: `qualiphone [--db URL] [--config DIR] COMMAND …`."""

from __future__ import annotations

import importlib
import logging

import click

from qualiphone.context import AppContext

# name -> "module:attribute". Each area's commands are imported only when used, so that
# `qualiphone stats` does not pay for matplotlib, scipy and the AMI stack at start-up.
COMMANDS = {
    "sites": "qualiphone.sites_cli:sites",
    "store": "monitor.cli:store",
    "ingest": "ingest.cli:ingest",
    "simulate": "simulator.cli:simulate",
    "listen": "ingest.ami.cli:listen",
    "top": "monitor.top:top",
    "stats": "monitor.stats_cli:stats",
    "report": "reports.cli:report",
    "mystery": "mystery.cli:mystery",
    "afterhours": "afterhours.cli:afterhours",
    "alerts": "alerts.cli:alerts",
    "demo": "qualiphone.demo:demo",
    "serve": "web.cli_serve:serve",
    "users": "web.cli_users:users",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def invoke(self, ctx: click.Context) -> object:
        """A site id that is not in sites.toml is a one-line error naming the known ones."""
        from config import UnknownSite

        try:
            return super().invoke(ctx)
        except UnknownSite as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            if not _database_error(exc):
                raise
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fix = ("another process holds the store (an import, a purge): run it again when "
                   "that has finished") if "locked" in first.lower() else (
                "fix the cause (disk space, permissions, the database server) and run it again")
            raise click.ClickException(
                f"the store refused the operation: {first}. Nothing of it was saved (its "
                f"transaction was rolled back); {fix}") from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attr = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attr)
        self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_url", envvar="QUALIPHONE_DB", metavar="URL",
              help="Store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
                   "[env QUALIPHONE_DB; default: SQLite file in ~/.local/share/qualiphone].")
@click.option("--config", "config_dir", envvar="QUALIPHONE_CONFIG", metavar="DIR",
              type=click.Path(file_okay=False), help="Configuration directory "
              "[env QUALIPHONE_CONFIG; default: the shipped config/].")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.version_option(package_name="qualiphone")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, config_dir: str | None, verbose: bool) -> None:
    """qualiphone: switchboard pickup times against the 25 s / 5-ring commitment.

    \b
    Example:
      qualiphone simulate month --month 2026-10 --out demo/
      qualiphone ingest cdr demo/Master.csv
      qualiphone stats --from 2026-10-01 --to 2026-10-31 --by site
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = AppContext(db_url, config_dir)


def _database_error(exc: BaseException) -> bool:
    """A driver error SQLAlchemy raised (told apart without importing SQLAlchemy, which the
    commands that never open the store do not load)."""
    return type(exc).__module__ == "sqlalchemy.exc" and hasattr(exc, "orig")


def main() -> None:
    cli(prog_name="qualiphone")
