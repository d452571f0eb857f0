"""`qualiphone simulate …`: the built-in PBX simulator."""

from __future__ import annotations

import click


@click.group()
def simulate() -> None:
    """Simulate the 17 EPS switchboards (batch files now; live AMI later)."""
