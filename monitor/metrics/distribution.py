"""Distributions of a time per cell: counts below thresholds, rings, exact quantiles.

Quantiles use linear interpolation between order statistics, as numpy's default,
PostgreSQL's percentile_cont and DuckDB's quantile_cont do (the median of 24 s and 26 s is
25 s). `time_stats` gives them exactly, from the individual values: a tenth-of-a-second
histogram finds the bin holding each wanted order statistic, and only the values of those bins
are sorted. `time_stats_from_bins` works from bins already counted (e.g. by SQL): quantiles are
then exact for values on the tenth-of-a-second grid (whole-second CDR or queue_log times) and
otherwise the lower edge of the bin, i.e. the true value floored to 0.1 s.

Counts against a threshold ("answered in less than 25 s", ring 1 = [0, 5) s …) are read from
the same histogram: bin b holds [b/10, (b+1)/10) s, so "value < 25.0" is "bin < 250", exactly,
for any edge on the 0.1 s grid (edges are taken at 0.1 s resolution).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

SCALE = 10  # bins per second
BUDGET = 1 << 22  # cells × bins held at once; more cells are done in blocks
CHUNK = 1 << 18  # values turned into grid codes at a time: small temporaries, warm caches
SECONDS = tuple(float(s) for s in range(1, 61))  # default edges: whole seconds up to 60 s


@dataclass(frozen=True, eq=False)
class TimeStats:
    """Per cell: how many values, their sum, exact quantiles and maximum, and how many values
    are below each edge (edges in seconds)."""

    n: np.ndarray  # (cells,) int64
    total: np.ndarray  # (cells,) sum of the values, NaN when not asked for
    quantiles: np.ndarray  # (cells, len(qs)), NaN for an empty cell
    maximum: np.ndarray  # (cells,)
    edges: tuple[float, ...]
    below_edges: np.ndarray  # (cells, len(edges)) int64: values < edge

    def mean(self) -> np.ndarray:
        return np.where(self.n > 0, self.total / np.maximum(self.n, 1), np.nan)

    def below(self, seconds: float) -> np.ndarray:
        """Per cell, how many values are strictly less than `seconds` (one of the edges)."""
        if grid(seconds) == 0:
            return np.zeros_like(self.n)
        return self.below_edges[:, [grid(e) for e in self.edges].index(grid(seconds))]


def grid(seconds: float) -> int:
    """A duration as a whole number of bins (threshold 25.0 s -> bin 250)."""
    return round(seconds * SCALE)


def ring_histogram(stats: TimeStats, period: float, rings: int = 5) -> np.ndarray:
    """(cells, rings + 1): values in ring 1 = [0, period), … ring `rings`, then `rings` + 1
    and more (the "6+" column for 5 rings of 5 s). Needs the edges period, 2·period, …"""
    below = np.stack([stats.below(period * r) for r in range(1, rings + 1)], axis=1)
    return np.diff(below, axis=1, prepend=0, append=stats.n[:, None])


def seconds_histogram(stats: TimeStats, seconds: int = 60) -> np.ndarray:
    """(cells, seconds + 1): values in [0, 1) s, [1, 2) s, … [seconds-1, seconds), then more."""
    return ring_histogram(stats, 1.0, seconds)


def _interpolation(n: np.ndarray, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks below/above each quantile and the weight of the upper one (numpy "linear")."""
    virtual = (np.maximum(n, 1)[:, None] - 1) * qs[None, :]
    lower = np.floor(virtual)
    upper = np.minimum(lower + 1, np.maximum(n, 1)[:, None] - 1)
    return lower.astype(np.int64), upper.astype(np.int64), virtual - lower


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's own interpolation formula, so results match np.quantile to the last bit."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _rank_positions(counts: np.ndarray, group_n: np.ndarray,
                    ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """counts: counts of consecutive bins, grouped cell after cell (group_n values per cell).
    For ranks (cells, R) within each cell: the index of the bin holding that order statistic
    and the rank of the statistic within its bin."""
    cum = np.cumsum(counts)
    first = np.cumsum(group_n) - group_n
    target = first[:, None] + ranks
    pos = np.minimum(np.searchsorted(cum, target, side="right"), max(cum.size - 1, 0))
    within = target - (cum[pos] - counts[pos]) if cum.size else target
    return pos, within


def _codes(values: np.ndarray, cell: np.ndarray, n_cells: int, bins: int) -> np.ndarray:
    """Per value its flat index in a (n_cells + 2) × (bins + 1) grid. Grid rows 0 and
    n_cells + 1 collect values outside every cell, column `bins` the NaN values; a negative
    value goes to bin 0 and the last real bin is open-ended. (In place: this is the hot loop.)"""
    b = values * float(SCALE)
    if np.nanmin(b, initial=0.0) < 0:
        np.maximum(b, 0.0, out=b)  # NaN stays NaN …
    np.minimum(b, bins - 1, out=b)
    np.fmin(b, bins, out=b)  # … and goes to column `bins`
    b += bins + 1  # row 0 is for cell -1
    inside = cell.size == 0 or (int(cell.min()) >= -1 and int(cell.max()) < n_cells)
    code = (cell if inside else np.clip(cell, -1, n_cells)) * np.int64(bins + 1)
    np.add(code, b, out=code, casting="unsafe")  # truncates b: its floor, as b >= 0
    return code


@dataclass(frozen=True, eq=False)
class _Values:
    """The values time_stats reads, with their cells, turned into grid codes a chunk at a
    time (whenever they are needed) instead of one code array as long as the values."""

    values: np.ndarray
    cell: np.ndarray
    where: np.ndarray | None  # values where False are left out (as if in cell -1)
    n_cells: int
    bins: int

    def chunks(self, at_least: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(values, their _codes) of consecutive chunks of at least `at_least` values."""
        step = max(CHUNK, at_least)
        for a in range(0, self.values.shape[0], step):
            cell = self.cell[a : a + step]
            if self.where is not None:
                cell = np.where(self.where[a : a + step], cell, -1)
            values = self.values[a : a + step]
            yield values, _codes(values, cell, self.n_cells, self.bins)


def _bins_for(values: np.ndarray, n_cells: int, edges: Sequence[float],
              where: np.ndarray | None = None) -> int:
    """Bins of the histogram: up to the largest value when memory allows, and always past the
    largest edge, so that the open-ended last bin holds no value below an edge."""
    top = float(np.fmax.reduce(values, where=True if where is None else where,
                               initial=-np.inf))  # NaN left out; -inf: no value at all
    top = 0.0 if top == -np.inf else top
    top = top if np.isfinite(top) else 3600.0
    needed = grid(max(edges, default=0.0)) + 1
    return max(needed, min(int(top * SCALE) + 2, BUDGET // (n_cells + 2) - 1))


def _refine(source: _Values, wide: np.ndarray, within: np.ndarray, size: int,
            bins: int) -> np.ndarray:
    """The exact order statistics: value number `within` of grid bin `wide`, by sorting the
    values of the wanted bins only (a bin whose values all sit on its lower edge needs none)."""
    wanted = np.zeros(size, dtype=bool)
    wanted[wide] = True
    found = [(code[sel], values[sel]) for values, code in source.chunks(size)
             for sel in [wanted[code]]]
    m_code = np.concatenate([c for c, _ in found]) if found else np.zeros(0, np.int64)
    m_values = np.concatenate([v for _, v in found]) if found else np.zeros(0)
    impure = np.zeros_like(wanted)
    impure[m_code[m_values * float(SCALE) != m_code % (bins + 1)]] = True  # off the edge
    representative = np.zeros(size)
    representative[m_code] = m_values  # all values of a pure bin are equal
    out = representative[wide]
    sel = impure[m_code]
    if sel.any():
        s_code, s_values = m_code[sel], m_values[sel]
        order = np.lexsort((s_values, s_code))
        s_code, s_values = s_code[order], s_values[order]
        pick = np.minimum(np.searchsorted(s_code, wide) + within, s_values.size - 1)
        out = np.where(impure[wide], s_values[pick], out)
    return out


def _block(source: _Values, q: np.ndarray, edges: tuple[float, ...],
           totals: bool) -> TimeStats:
    n_cells, bins = source.n_cells, source.bins
    size = (n_cells + 2) * (bins + 1)
    flat = np.zeros(size, dtype=np.int64)
    sums = np.zeros(size) if totals else None
    for values, code in source.chunks(size):
        flat += np.bincount(code, minlength=size)
        if sums is not None:
            np.add.at(sums, code, values)  # in the values' order, as one bincount would
    grid_counts = flat.reshape(n_cells + 2, bins + 1)
    counts = np.ascontiguousarray(grid_counts[1 : n_cells + 1, :bins])
    n = counts.sum(axis=1)
    total = np.full(n_cells, np.nan)
    if sums is not None:
        total = sums.reshape(n_cells + 2, bins + 1)[1 : n_cells + 1, :bins].sum(axis=1)
    columns = [grid(e) - 1 for e in edges]
    below = counts.cumsum(axis=1)[:, columns] if n_cells else np.zeros((0, len(edges)), int)
    lower, upper, t = _interpolation(n, q)
    ranks = np.concatenate([lower, upper, (np.maximum(n, 1) - 1)[:, None]], axis=1)
    pos, within = _rank_positions(counts.ravel(), n, ranks)
    wide = (pos // bins + 1) * (bins + 1) + pos % bins  # the same bin in the code grid
    stats = _refine(source, wide, within, size, bins) if n.any() else \
        np.full(ranks.shape, np.nan)
    k, empty = q.size, n == 0
    quantiles = np.where(empty[:, None], np.nan, _lerp(stats[:, :k], stats[:, k : 2 * k], t))
    return TimeStats(n, total, quantiles, np.where(empty, np.nan, stats[:, -1]), edges, below)


def _edges(edges: Sequence[float]) -> tuple[float, ...]:
    return tuple(sorted({e for e in edges if grid(e) > 0}))


def _concat(blocks: list[TimeStats], edges: tuple[float, ...]) -> TimeStats:
    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])

    return TimeStats(joined("n"), joined("total"), joined("quantiles"), joined("maximum"),
                     edges, joined("below_edges"))


def time_stats(values: np.ndarray, cell: np.ndarray, n_cells: int,
               qs: np.ndarray | Sequence[float] = (0.5,), *, edges: Sequence[float] = SECONDS,
               totals: bool = True, where: np.ndarray | None = None) -> TimeStats:
    """Count, sum, exact quantiles, maximum and counts below `edges` of `values` per cell;
    NaN values, values `where` is False at and cells outside 0 … n_cells - 1 are left out,
    an empty cell gives NaN. Values are seconds (a negative one counts as below every edge
    but keeps its exact rank). `totals=False` skips the sums behind the means (they are then
    NaN)."""
    q, edge_list = np.asarray(qs, dtype=float), _edges(edges)
    values, cell = np.asarray(values, dtype=np.float64), np.asarray(cell)
    if where is not None and np.count_nonzero(where) < where.size // 4:  # few: take them
        values, cell, where = values[where], cell[where], None
    bins = _bins_for(values, n_cells, edge_list, where)
    per_block = max(1, BUDGET // (bins + 1) - 2)
    if n_cells <= per_block:
        return _block(_Values(values, cell, where, n_cells, bins), q, edge_list, totals)
    if where is not None:
        values, cell = values[where], cell[where]
    order = np.argsort(cell, kind="stable")  # cells one after the other: blocks are slices
    values, cell = values[order], cell[order]
    bounds = np.searchsorted(cell, np.arange(0, n_cells + per_block, per_block))
    blocks = []
    for first, a, b in zip(range(0, n_cells, per_block), bounds, bounds[1:], strict=False):
        part = _Values(values[a:b], cell[a:b] - first, None, min(per_block, n_cells - first), bins)
        blocks.append(_block(part, q, edge_list, totals))
    return _concat(blocks, edge_list)


def time_stats_from_bins(cell: np.ndarray, bin_: np.ndarray, count: np.ndarray,
                         total: np.ndarray, maximum: np.ndarray, n_cells: int,
                         qs: np.ndarray | Sequence[float] = (0.5,), *,
                         edges: Sequence[float] = SECONDS) -> TimeStats:
    """The same figures from rows already counted per (cell, tenth-of-a-second bin): `count`
    values in [bin/10, (bin+1)/10) s, with their exact `total` and `maximum`. Rows with a
    cell outside 0 … n_cells - 1 or a negative bin (unknown time) are left out. Quantiles take
    each order statistic at the lower edge of its bin (exact to 0.1 s)."""
    keep = (cell >= 0) & (cell < n_cells) & (bin_ >= 0) & (count > 0)
    order = np.lexsort((bin_[keep], cell[keep]))
    cell, bin_ = cell[keep][order].astype(np.int64), bin_[keep][order].astype(np.int64)
    count, total, maximum = count[keep][order], total[keep][order], maximum[keep][order]
    n = np.bincount(cell, weights=count, minlength=n_cells).round().astype(np.int64)
    edge_list = _edges(edges)
    below = np.stack([np.bincount(cell, weights=count * (bin_ < grid(e)), minlength=n_cells)
                      for e in edge_list], axis=1) if edge_list else np.zeros((n_cells, 0))
    top = np.full(n_cells, -np.inf)
    np.maximum.at(top, cell, maximum)
    q = np.asarray(qs, dtype=float)
    lower, upper, t = _interpolation(n, q)
    pos, _ = _rank_positions(count.astype(np.int64), n, np.concatenate([lower, upper], axis=1))
    edge = bin_[pos] / SCALE if bin_.size else np.zeros(pos.shape)
    empty = n == 0
    return TimeStats(
        n, np.bincount(cell, weights=total, minlength=n_cells),
        np.where(empty[:, None], np.nan, _lerp(edge[:, : q.size], edge[:, q.size :], t)),
        np.where(empty, np.nan, top), edge_list, below.round().astype(np.int64),
    )
