"""Progress bars on stderr for the commands that take seconds (reports, call sheets), shown only
when stderr is a terminal: never in a pipe, a log file or a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

Tell = Callable[[str, int, int], None]  # (step, done, total)


@contextmanager
def steps(console: Console | None = None) -> Iterator[Tell]:
    """A `tell(step, done, total)` that draws one bar per step while the block runs (and
    nothing when stderr is not a terminal); the bars are cleared at the end."""
    console = console or Console(stderr=True)
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        tasks: dict[str, TaskID] = {}

        def tell(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)

        yield tell
