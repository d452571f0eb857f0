"""The core works a chunk of calls at a time, and the times to answer in a second thread when
there are many calls: the figures must be the same bits as in one piece, in one thread."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

import numpy as np
import pytest

from monitor.metrics import distribution, summary
from monitor.metrics.arrays import N_OUTCOMES, CallArrays
from monitor.metrics.cells import make_cells
from monitor.metrics.summary import Rate, cell_stats

START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def synthetic(n: int, seed: int) -> CallArrays:
    rng = np.random.default_rng(seed)
    first = dt.datetime(2026, 9, 30, 20, tzinfo=dt.UTC).timestamp()  # some calls out of range
    times = np.round(rng.gamma(2.0, 9.0, n), 6)
    times[rng.random(n) < 0.05] = np.nan
    times[rng.random(n) < 0.01] = -0.5  # clock jitter
    whole_seconds = rng.random(n) < 0.3  # CDR and queue_log times
    times[whole_seconds] = np.floor(times[whole_seconds])
    outcome = rng.integers(0, N_OUTCOMES, n)
    answered = outcome == 0
    return CallArrays.from_columns(
        ("a", "b", "c"), site=rng.integers(0, 3, n), outcome=outcome,
        arrival=first + rng.uniform(0, 32 * 86400, n),
        tta=np.where(answered, times, np.nan), hangup=np.where(answered, np.nan, times),
        handle=np.where(answered & (rng.random(n) < 0.9), rng.exponential(100, n), np.nan))


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)  # type: ignore[arg-type]
    if isinstance(a, Rate):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    return a == b


@pytest.mark.parametrize("by", ["site", "hour", "day-hour"])
def test_chunks_and_threads_give_the_same_bits(by: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = synthetic(20_000, seed=len(by))
    cells = make_cells(calls, by, start=START, end=END)
    whole = cell_stats(calls, cells)
    monkeypatch.setattr(distribution, "CHUNK", 97)  # many small chunks
    monkeypatch.setattr(summary, "PARALLEL_CALLS", 0)  # the second thread
    monkeypatch.setattr(summary, "_codes_by_chunk", _small_chunks(summary._codes_by_chunk))
    chunked = cell_stats(calls, cells)
    for f in fields(whole):
        assert same(getattr(whole, f.name), getattr(chunked, f.name)), f.name
    assert int(whole.offered.sum()) > 0 and np.isfinite(whole.tta_mean).any()


def _small_chunks(real):  # type: ignore[no-untyped-def]
    def chunks(cell, n_cells, where=None, chunk=0):  # type: ignore[no-untyped-def]
        return real(cell, n_cells, where, chunk=101)
    return chunks
