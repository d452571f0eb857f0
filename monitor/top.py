"""`qualiphone top`: the wallboard in a terminal (rich), from the wallboard's JSON.

It reads `/state.json` of a running `qualiphone listen --wallboard …` once a second: the same
snapshot as the page (one AMI session, one set of figures), and it works from any machine that
may reach the wallboard. The token, when the wallboard needs one, comes from
$QUALIPHONE_WALLBOARD_TOKEN or a private file and is sent as `Authorization: Bearer`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from monitor.wallboard.auth import TOKEN_ENV, TokenError, load_token
from qualiphone.context import FiniteFloatRange

LEVEL_TEXT = {"warn": "attention", "late": "hors délai"}
LEVEL_STYLE = {"warn": "bold black on dark_orange", "late": "bold white on red3"}


class WallboardUnreachable(click.ClickException):
    """The wallboard did not answer (or refused the token)."""


def fetch(url: str, token: str | None, timeout: float = 5.0) -> dict[str, Any]:
    """The wallboard's current snapshot."""
    request = urllib.request.Request(url.rstrip("/") + "/state.json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise WallboardUnreachable(f'the wallboard at "{url}" wants its token: set '
                                       f"{TOKEN_ENV} or pass --token-file PATH") from None
        raise WallboardUnreachable(f'the wallboard at "{url}" answered {exc.code}') from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WallboardUnreachable(
            f'no wallboard at "{url}" ({reason}); start one with qualiphone listen … '
            "--wallboard 127.0.0.1:8025, or pass --url") from None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _ring(row: dict[str, Any]) -> Any:
    from rich.text import Text

    if not row["ringing"]:
        return Text("—")
    seconds = row["longest_ring"]
    shown = f"{int(seconds)} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d}"
    label = LEVEL_TEXT.get(row["level"])
    return Text(f"{shown} {label}" if label else shown, style=LEVEL_STYLE.get(row["level"], ""))


def _cells(row: dict[str, Any]) -> list[Any]:
    agents = "—" if row["agents_logged"] is None else f"{row['agents_free']} / {row['agents_logged']}"
    return [row["name"], str(row["ringing"]), _ring(row), str(row["waiting"]), str(row["offered"]),
            str(row["answered"]), str(row["answered_within"]), str(row["abandoned"]),
            _pct(row["pickup_rate"]), _pct(row["hour_pickup_rate"]) if row["hour_n"] else "—",
            agents]


def render(state: dict[str, Any]) -> Any:
    """A rich Table of a snapshot: the city-wide line first, then one line per site."""
    from rich.table import Table

    threshold = f"{state['threshold']:g}"
    down = [p["name"] for p in state["pbx"] if not p["connected"]]
    status = f"PBX déconnecté : {', '.join(down)}" if down else "PBX connecté"
    table = Table(title=f"Standards des EPS — {state['date']} {state['clock']} — {status}",
                  title_justify="left", expand=True)
    heads = ["Site", "Sonnent", "Sonnerie la plus longue", "En attente", "Reçus", "Décrochés",
             f"< {threshold} s", "Abandons", "Taux de décroché", "Dernière heure",
             "Agents libres / connectés"]
    for i, head in enumerate(heads):
        table.add_column(head, justify="left" if i == 0 else "right")
    table.add_row(*_cells(state["city"]), style="bold", end_section=True)
    for row in state["sites"]:
        table.add_row(*_cells(row))
    table.caption = (f"Aujourd'hui, heures d'ouverture, tests exclus. Taux = décrochés en moins de "
                     f"{threshold} s / (reçus − abandons courts). Orange dès 15 s, rouge dès "
                     f"{threshold} s.")
    return table


@click.command()
@click.option("--url", default="http://127.0.0.1:8025", show_default=True,
              help="The wallboard of `qualiphone listen --wallboard`.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"File holding the wallboard token, mode 600 [default: env {TOKEN_ENV}].")
@click.option("--once", is_flag=True, help="Print the board once and exit (scripts).")
@click.option("--interval", type=FiniteFloatRange(min=0.2), default=1.0, show_default=True,
              help="Seconds between refreshes.")
def top(url: str, token_file: Path | None, once: bool, interval: float) -> None:
    """The supervisors' wallboard in the terminal, refreshed every second.

    \b
    Example:
      qualiphone top --url http://127.0.0.1:8025
    """
    from rich.console import Console
    from rich.live import Live

    try:
        token = load_token(token_file)
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None
    console = Console()
    if not console.is_terminal:  # a pipe or a file: no terminal width to fit
        console = Console(width=200)
    if once:
        console.print(render(fetch(url, token)))
        return
    with Live(render(fetch(url, token)), console=console, screen=True,
              refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render(fetch(url, token)))
        except KeyboardInterrupt:
            pass
