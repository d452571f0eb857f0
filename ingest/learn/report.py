"""Reading PBX files into a `Learned` proposal, and showing it beside sites.toml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config import Config
from ingest.learn.observation import Observation, observe_file, sniff
from ingest.learn.propose import KEYS, Learned, learn


def learn_files(config: Config, pbx: str, paths: tuple[Path, ...] | list[Path],
                kind: str = "auto") -> Learned:
    settings = config.pbxs[pbx]
    files: list[tuple[str, str, int]] = []

    def observations() -> Iterator[Observation]:
        for path in paths:
            file_kind = sniff(path) if kind == "auto" else kind
            n = 0
            for o in observe_file(path, file_kind, settings.tz, usegmtime=settings.cdr_usegmtime,
                                  layout=settings.cdr_layout):
                n += 1
                yield o
            files.append((str(path), file_kind, n))

    return learn(observations(), config, pbx, files)


def print_learned(learned: Learned, config: Config, console: Console | None = None) -> None:
    console = console or Console(width=140)
    read = ", ".join(f"{Path(p).name} ({kind}: {n} calls)" for p, kind, n in learned.files)
    console.print(f"read {read}: {learned.inbound} inbound calls, {learned.internal} internal or "
                  "outbound calls left out")
    for site in config.sites:
        p = learned.sites.get(site.id)
        if p is None or (p.empty and not p.unused):
            continue
        table = Table(title=f"{site.id} — {p.calls} calls in the files", title_justify="left",
                      show_lines=False)
        for col in ("key", "in sites.toml now", "proposed (to add)", "evidence"):
            table.add_column(col, overflow="fold")
        for key in KEYS:
            adds = p.adds[key]
            now = list(getattr(site, key))
            unused = p.unused.get(key, [])
            if not adds and not unused:
                continue
            shown_now = ", ".join(f"{v} (not seen)" if v in unused else v for v in now) or "—"
            evidence = "; ".join(f"{v}: {ev.calls} calls" + (f", {ev.note}" if ev.note else "")
                                 for v, ev in adds.items())
            table.add_row(key, escape(shown_now), escape(", ".join(adds) or "—"),
                          escape(evidence or "—"))
        console.print(table)
    for u in learned.unassigned:
        via = ", ".join(u.queues + u.contexts)
        console.print(f"[bold]cannot tell the site[/bold] of {u.evidence.calls} inbound calls "
                      f'dialed "{escape(u.dialed or "")}"' + (f" (via {escape(via)})" if via else "")
                      + ": fill in its site in the patch ([[unassigned]] block)")
    if learned.forwarded:
        shown = ", ".join(f"{d} ({n})" for d, n in learned.forwarded.most_common(5))
        console.print(f"answered through a trunk (forwarded outside): {escape(shown)}")
    if not learned.has_changes:
        console.print("sites.toml already has everything these files show.")
