"""`qualiphone mystery …`: the group of the mystery-call commands."""

from __future__ import annotations

import click

from mystery.cli_actions import actions
from mystery.cli_call import call_command
from mystery.cli_plan import calls_command, export, plan
from mystery.cli_results import import_command, match, record, report


@click.group()
def mystery() -> None:
    """Mystery-call campaigns: plan, call sheets, results, report, action follow-up.

    \b
    Example:
      qualiphone mystery plan eps-2026 --out campagne-2026/
      qualiphone mystery record EPS26-05-003
      qualiphone mystery import resultats.csv
      qualiphone mystery report eps-2026 --out campagne-2026/
    """


for command in (plan, export, calls_command, call_command, record, import_command, match, report,
                actions):
    mystery.add_command(command)
