"""Progress bars on stderr for the commands that take a while (rich), shown only when stderr is
a terminal: piped, in a timer's log or under a test, stderr gets no bar and no control characters.

`progress_bar` is one bar a command drives (simulate month, afterhours probe); `steps` draws one
bar per named step of a longer job (report monthly, mystery plan)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Bar:
    """What a command tells the bar: how much there is, how far it got, what it is doing."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn (stderr is a terminal)."""
        return not self._progress.disable

    def total(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        fields: dict[str, Any] = {"advance": steps}
        if description is not None:
            fields["description"] = description
        self._progress.update(self._task, **fields)

    def at(self, completed: int, description: str | None = None) -> None:
        fields: dict[str, Any] = {"completed": completed}
        if description is not None:
            fields["description"] = description
        self._progress.update(self._task, **fields)


@contextmanager
def progress_bar(description: str, total: int | None = None, unit: str = "") -> Iterator[Bar]:
    """A transient bar on stderr while the block runs (none when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        yield Bar(progress, progress.add_task(description, total=total))


Tell = Callable[[str, int, int], None]  # (step, done, total)


@contextmanager
def steps(console: Any = None) -> Iterator[Tell]:
    """A `tell(step, done, total)` that draws one bar per step while the block runs (and
    nothing when stderr is not a terminal); the bars are cleared at the end."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

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
