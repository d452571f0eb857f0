"""Reading PBX files into a `Learned` proposal, and showing it beside sites.toml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config import Config, Site
from ingest.learn.observation import Observation, check_readable, observe_file, sniff
from ingest.learn.propose import KEYS, Learned, SiteProposal, learn


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
            if n == 0:  # refused as the importers refuse it, when it reads as nothing
                check_readable(path, file_kind, settings.tz, usegmtime=settings.cdr_usegmtime,
                               layout=settings.cdr_layout)
            files.append((str(path), file_kind, n))

    return learn(observations(), config, pbx, files)


def print_learned(learned: Learned, config: Config, console: Console | None = None) -> None:
    console = console or Console(width=140)
    read = ", ".join(f"{Path(p).name} ({kind}: {n} calls)" for p, kind, n in learned.files)
    console.print(escape(f"read {read}: {learned.inbound} inbound calls, {learned.internal} "
                         "calls set aside as no switchboard call"))
    for why, callers in learned.set_aside.items():
        shown = ", ".join(f"{d} ({n})" for d, n in callers.most_common(4))
        more = f", … ({len(callers) - 4} more)" if len(callers) > 4 else ""
        console.print(escape(f"  set aside: {sum(callers.values())} {why}, from {shown}{more}"))
    if learned.inbound == 0:
        return
    silent = []
    for site in config.sites:
        p = learned.sites.get(site.id)
        if p is None:
            continue
        if p.calls == 0 and p.empty:
            silent.append(site.id)
            continue
        console.print(_table(site, p))
    if silent:
        console.print(escape(f"no call in these files for {len(silent)} sites ("
                             f"{', '.join(silent)}): nothing to learn for them"))
    for u in learned.unassigned:
        via = ", ".join(u.queues + u.contexts)
        console.print(f"[bold]cannot tell the site[/bold] of {u.evidence.calls} inbound calls "
                      f'dialed "{escape(u.dialed or "")}"' + (f" (via {escape(via)})" if via else "")
                      + escape(": fill in its site in the patch ([[unassigned]] block)"))
    if learned.forwarded:
        shown = ", ".join(f"{d} ({n})" for d, n in learned.forwarded.most_common(5))
        console.print(f"answered through a trunk (forwarded outside): {escape(shown)}")
    if not learned.has_changes:
        console.print("sites.toml already has everything these files show.")


def _table(site: Site, p: SiteProposal) -> Table:
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
    return table


def nothing_inbound(learned: Learned) -> str | None:
    """Why nothing can be learned from the files (no inbound call in them), or None."""
    if learned.inbound:
        return None
    names = ", ".join(Path(p).name for p, _, _ in learned.files)
    if not learned.internal:
        return f"no inbound call found in {names}: nothing to learn from it"
    return (f"no inbound call found in {names}: its {learned.internal} calls are internal or "
            "outbound ones (see \"set aside\" above), nothing to learn from it. Give it the "
            "file of the PBX the switchboards' calls arrive on, with the calls that come in "
            "from the trunk (its Master.csv, CEL or queue_log)")
