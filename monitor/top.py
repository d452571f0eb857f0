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
    """Calls ringing, and the longest ring with its level in words ("2 · 31 s hors délai")."""
    from rich.text import Text

    if not row["ringing"]:
        return Text("0", style="dim")
    seconds = row["longest_ring"]
    shown = f"{int(seconds)} s" if seconds < 100 else f"{int(seconds // 60)} min"
    label = LEVEL_TEXT.get(row["level"])
    text = Text(f"{row['ringing']} · ")
    text.append(f"{shown} {label}" if label else shown, style=LEVEL_STYLE.get(row["level"], ""))
    return text


def _rate(value: float | None, n: int, below: bool, few: bool, fill: bool) -> Any:
    """A rate: muted on too few calls, red when below the goal (words in _below)."""
    from rich.text import Text

    if few or value is None:
        return Text(_pct(value), style="dim")
    if below:
        return Text(_pct(value), style="bold white on red3" if fill else "bold red")
    return Text(_pct(value), style="bold")


def _below(row: dict[str, Any]) -> Any:
    """Which of the row's rates are below the goal, in words: "jour", "1 h", "jour, 1 h"."""
    from rich.text import Text

    parts = [(name, few) for name, below, few in
             (("jour", row["pickup_below"], row["pickup_few"]),
              ("1 h", row["hour_below"] and row["hour_n"], row["hour_few"])) if below]
    if not parts:
        return Text("")
    dim = all(few for _, few in parts)
    return Text(", ".join(name for name, _ in parts), style="dim red" if dim else "bold red")


def _unclassified(row: dict[str, Any]) -> Any:
    from rich.text import Text

    shown = str(row["unclassified"]) + (f"+{row['unclassified_now']}"
                                        if row["unclassified_now"] else "")
    return Text(shown, style="bold white on dark_magenta" if row["directory_incomplete"] else "dim")


def _cells(row: dict[str, Any], wide: bool) -> list[Any]:
    from rich.text import Text

    agents = "—" if row["agents_logged"] is None else f"{row['agents_free']}/{row['agents_logged']}"
    hour = row["hour_pickup_rate"] if row["hour_n"] else None
    cells = [row["short_name"], _ring(row), str(row["offered"]), str(row["answered_within"]),
             str(row["abandoned"]), _unclassified(row),
             _rate(row["pickup_rate"], row["pickup_n"], row["pickup_below"], row["pickup_few"], True),
             Text(str(row["pickup_n"]), style="dim"),
             _rate(hour, row["hour_n"], row["hour_below"], row["hour_few"], False),
             Text(str(row["hour_n"]), style="dim"), _below(row), agents]
    if wide:
        cells[2:2] = [str(row["waiting"])]
        cells[4:4] = [str(row["answered"])]
    return cells


WIDE = 118  # from this width on, top also shows the callers waiting and the calls answered


def render(state: dict[str, Any], width: int = 100) -> Any:
    """A rich Table of a snapshot: the city-wide line first, then one line per site; one line
    each in `width` columns (100 and more)."""
    from rich import box
    from rich.table import Table

    threshold = f"{state['threshold']:g}"
    goal = f"{state['goal'] * 100:g} %"
    down = [p["name"] for p in state["pbx"] if not p["connected"]]
    status = f"PBX déconnecté : {', '.join(down)}" if down else "PBX connecté"
    wide = width >= WIDE
    table = Table(title=f"Standards des EPS — {state['date_text']} {state['clock']} — {status} — "
                        f"objectif {goal}", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=0, show_edge=False,
                  expand=wide)
    heads = ["Site", "Sonnent", "Reçus", f"<{threshold} s", "Aband.", "À\nclasser",
             "Taux\njour", "n", "Taux\n1 h", "n", "Sous\nl'objectif", "Agents"]
    if wide:
        heads[2:2] = ["En\nattente"]
        heads[4:4] = ["Décrochés"]
    for i, head in enumerate(heads):
        table.add_column(head, justify="left" if i == 0 or "objectif" in head else "right",
                         no_wrap=True)
    table.add_row(*_cells(state["city"], wide), style="bold", end_section=True)
    for row in state["sites"]:
        table.add_row(*_cells(row, wide))
    table.caption = _caption(state, threshold, goal)
    table.caption_justify = "left"
    return table


def _caption(state: dict[str, Any], threshold: str, goal: str) -> str:
    lines = [f"Aujourd'hui, heures d'ouverture, tests exclus. Taux = décrochés en moins de "
             f"{threshold} s / n (reçus − abandons courts − à classer). Sous l'objectif : taux "
             f"inférieur à {goal} (jour : aujourd'hui ; 1 h : dernière heure) ; en gris : moins "
             f"de {state['min_n']} appels, trop peu pour juger. Sonnerie : « attention » dès "
             f"{state['warn']:g} s, « hors délai » dès {threshold} s. Agents : libres / connectés."]
    incomplete = [r for r in state["sites"] if r["directory_incomplete"]]
    if incomplete:
        sites = ", ".join(f"{r['short_name']} ({r['unclassified']}"
                          + (f" + {r['unclassified_now']} en cours" if r["unclassified_now"] else "")
                          + ")" for r in incomplete)
        lines.append(f"Répertoire incomplet : {sites}. À classer : décrochés par un poste ou une "
                     "machine que sites.toml ne connaît pas ; ni décrochés, ni abandons, hors du "
                     "taux. Voir qualiphone sites check.")
    return "\n".join(lines)


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
        console.print(render(fetch(url, token), console.width))
        return
    with Live(render(fetch(url, token), console.width), console=console, screen=True,
              refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render(fetch(url, token), console.width))
        except KeyboardInterrupt:
            pass
