"""Root command group: `qualiphone [--db URL] [--config DIR] COMMAND …`."""

from __future__ import annotations

import logging

import click

from qualiphone.context import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def _register() -> None:
    from afterhours.cli import afterhours
    from ingest.ami.cli import listen
    from ingest.cli import ingest
    from monitor.cli import sites, store
    from monitor.stats_cli import stats
    from monitor.top import top
    from mystery.cli import mystery
    from qualiphone.demo import demo
    from reports.cli import report
    from simulator.cli import simulate

    for command in (sites, store, ingest, simulate, listen, mystery, stats, demo, report, afterhours,
                    top):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="qualiphone")
