"""`afterhours probe` tells its progress bar how many sites it probes and each one judged (the
bar itself is drawn only on a terminal: under CliRunner the output holds no bar)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from config import Config
from tests.afterhours.test_afterhours_probe import (  # noqa: F401  (setup is a fixture)
    EVENING,
    SITES,
    SimulatedPbx,
    _probe,
    running,
    setup,
)


class Recorder:
    shown = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def total(self, total: int) -> None:
        self.calls.append(("total", total))

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        self.calls.append(("advance", description))


def test_the_bar_hears_of_every_probe(setup: tuple[Path, Path, Config],  # noqa: F811
                                      message_cache: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    directory, recordings, config = setup
    bars: list[tuple[str, Recorder]] = []

    @contextmanager
    def recording_bar(description: str, total: int | None = None, unit: str = "") -> Iterator[Recorder]:
        bar = Recorder()
        bars.append((description, bar))
        yield bar

    monkeypatch.setattr("afterhours.cli_probe.progress_bar", recording_bar)
    pbx = SimulatedPbx()
    pbx.setup(config, recordings, message_cache, EVENING)
    sites = [a for s in SITES for a in ("--site", s)]
    with running(pbx) as port:
        result = _probe(tmp_path, directory, recordings, port, *sites, "--at", EVENING)
    assert result.exit_code == 0, result.output
    ((description, bar),) = bars
    assert description == "probe" and bar.calls[0] == ("total", 3)
    assert sorted(bar.calls[1:]) == [("advance", f"probed {site}") for site in SITES]
    assert result.output.splitlines()[0] == "3 sites probed, 0 skipped."
