"""A progress bar on stderr for the commands that take a while (rich), only on a terminal: piped
or in a timer's log, stderr gets no bar and no control characters."""

from __future__ import annotations

from collections.abc import Iterator
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
