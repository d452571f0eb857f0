"""Wilson intervals on known values; exact quantiles per cell against numpy; histograms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.metrics import distribution
from monitor.metrics.distribution import (
    ring_histogram,
    seconds_histogram,
    time_stats,
    time_stats_from_bins,
)
from monitor.metrics.rates import rate, wilson_interval


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 4, 0.0, 0.4899), (4, 4, 0.5101, 1.0), (1, 1, 0.2065, 1.0), (5, 10, 0.2366, 0.7634),
    (81, 100, 0.7222, 0.8749), (3, 4, 0.3006, 0.9544), (0, 1, 0.0, 0.7935),
])
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert (float(lo), float(hi)) == pytest.approx((low, high), abs=1e-4)


def test_rates_over_nothing_are_nan() -> None:
    lo, hi = wilson_interval([0, 2], [0, 4])
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and lo[1] > 0
    assert np.isnan(rate([1, 0], [0, 0])).all()


values = st.lists(st.one_of(st.integers(0, 100).map(float), st.just(np.nan),
                            st.floats(0, 200, allow_nan=False).map(lambda v: round(v, 6)),
                            st.floats(0, 1e5, allow_nan=False)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(values, st.integers(1, 5), st.randoms())
def test_exact_quantiles_match_numpy(vals: list[float], n_cells: int, rnd: object) -> None:
    v = np.array(vals, dtype=float)
    cell = np.array([rnd.randrange(-1, n_cells + 1) for _ in vals], dtype=np.int64)  # type: ignore[attr-defined]
    qs = [0.0, 0.5, 0.8, 0.9, 0.95, 1.0]
    ts = time_stats(v, cell, n_cells, qs)
    for c in range(n_cells):
        x = v[(cell == c) & ~np.isnan(v)]
        if x.size == 0:
            assert np.isnan(ts.quantiles[c]).all() and np.isnan(ts.maximum[c])
            assert ts.n[c] == 0 and np.isnan(ts.mean()[c])
            continue
        assert ts.quantiles[c].tolist() == np.quantile(x, qs).tolist()  # to the last bit
        assert ts.maximum[c] == x.max()
        assert ts.mean()[c] == pytest.approx(x.mean(), rel=1e-12)
        assert ts.below(25.0)[c] == (x < 25.0).sum() and ts.below(1.0)[c] == (x < 1).sum()


def test_chunks_of_cells_when_memory_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    v = np.round(rng.gamma(2, 8, 2000), 6)
    cell = rng.integers(0, 50, 2000)
    whole = time_stats(v, cell, 50, [0.5, 0.9])
    monkeypatch.setattr(distribution, "BUDGET", 5000)
    chunked = time_stats(v, cell, 50, [0.5, 0.9])
    assert np.array_equal(whole.quantiles, chunked.quantiles)
    assert np.array_equal(whole.below_edges, chunked.below_edges)
    assert np.array_equal(whole.maximum, chunked.maximum)


def test_negative_times_keep_their_rank() -> None:
    ts = time_stats(np.array([-0.4, 0.0, 0.3]), np.zeros(3, dtype=np.int64), 1, [0.0, 0.5])
    assert ts.quantiles[0].tolist() == [-0.4, 0.0]


def from_bins(values: list[float], qs: list[float]) -> np.ndarray:
    """Quantiles of one cell from its values counted per 0.1 s bin."""
    v = np.array(values)
    bins = np.floor(np.round(v * 1e6) / 1e5).astype(np.int64)
    uniq, count = np.unique(bins, return_counts=True)
    total = np.array([v[bins == b].sum() for b in uniq])
    top = np.array([v[bins == b].max() for b in uniq])
    ts = time_stats_from_bins(np.zeros(uniq.size, dtype=np.int64), uniq, count, total, top, 1, qs)
    assert ts.maximum[0] == v.max() and ts.mean()[0] == pytest.approx(v.mean())
    assert ts.below(25.0)[0] == (v < 25).sum()
    return ts.quantiles[0]


def test_quantiles_from_bins_exact_on_the_tenth_grid_else_floored() -> None:
    assert from_bins([24.0, 26.0, 3.3, 7.0], [0.5, 1.0]).tolist() == [15.5, 26.0]
    assert from_bins([12.345678], [0.5]).tolist() == [12.3]
    rng = np.random.default_rng(5)
    whole = np.floor(rng.gamma(2, 8, 300))
    assert from_bins(list(whole), [0.5, 0.9]).tolist() == np.quantile(whole, [0.5, 0.9]).tolist()


def test_rings_and_seconds_histogram() -> None:
    v = np.array([0.0, 4.999, 5.0, 19.99, 20.0, 24.9, 25.0, 59.9, 60.0, 300.0])
    ts = time_stats(v, np.zeros(v.size, dtype=np.int64), 1, edges=[*range(1, 61), 25.0])
    assert ring_histogram(ts, 5.0).tolist() == [[2, 1, 0, 1, 2, 4]]
    sec = seconds_histogram(ts, 60)[0]
    assert sec[0] == 1 and sec[4] == 1 and sec[59] == 1 and sec[60] == 2 and sec.sum() == 10
