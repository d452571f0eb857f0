"""Per-cell figures of the 25 s commitment: counts, the pickup rate and its variants with 95 %
Wilson intervals, answer times, rings, abandons, handling time.

The 25 s rule: a call is within the target when a person answered it in strictly less than
`threshold` (25.0 s) after the clock start (arrival, or queue entry when configured):
time to answer < 25.0. A call answered at exactly 25.0 s is not within the target ("en moins
de 25 secondes"). With whole-second sources (CDR, queue_log truncate) a stored 24 means
[24, 25) s and is within, a stored 25 means [25, 26) s and is not, so the strict rule is the
exact decision at the source's resolution. Ring n covers [5(n-1), 5n) s: 0-4.99 s is 1 ring,
20-24.99 s is 5 rings, 25 s and more is "6+".

Rates (numerator / denominator; `n` is the denominator):
* pickup_rate = answered_within / (offered - short_abandons - unclassified): the commitment's
  figure; calls answered by the message, busy, failed, voicemail all count as not picked up;
  unclassified calls (outcomes unknown_device and machine: the site directory does not say
  whether a person or the site's message answered) are counted apart, out of the denominator,
  and the cell is marked "directory incomplete" — never read as abandons;
* asterisk_sl = answered_within / answered (Asterisk's servicelevelperf);
* asterisk_sl2 = (answered_within + abandons, short ones included, that hung up before the
  threshold) / (answered + abandoned + short_abandons) (Asterisk's servicelevelperf2);
* agent_pickup_rate = answered / needing_person, needing_person = offered - message -
  short_abandons - unclassified (Services Publics+: answered by a person over calls needing a
  person).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from monitor.call import Outcome
from monitor.metrics.arrays import (
    ABANDONED,
    ANSWERED,
    MACHINE,
    N_OUTCOMES,
    OUTCOME_CODE,
    SHORT_ABANDON,
    UNKNOWN_DEVICE,
    BinnedCalls,
    CallArrays,
)
from monitor.metrics.cells import Cells
from monitor.metrics.distribution import (
    SECONDS,
    TimeStats,
    grid,
    ring_histogram,
    seconds_histogram,
    time_stats,
    time_stats_from_bins,
)
from monitor.metrics.rates import rate, wilson_interval

QUANTILES = (0.5, 0.8, 0.9, 0.95)
ANSWER_SECONDS = 60  # the per-second histogram covers [0, 60) s, then "60 s and more"


@dataclass(frozen=True, eq=False)
class Rate:
    value: np.ndarray
    low: np.ndarray  # 95 % Wilson interval
    high: np.ndarray
    n: np.ndarray  # the denominator

    @classmethod
    def of(cls, successes: np.ndarray, n: np.ndarray) -> Rate:
        low, high = wilson_interval(successes, n)
        return cls(rate(successes, n), low, high, np.asarray(n, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Parts:
    """What the figures are made of, per cell, whichever way they were gathered."""

    outcomes: np.ndarray  # (cells, len(OUTCOMES)) calls per outcome
    tta: TimeStats  # times to answer of calls answered by a person, QUANTILES
    wait: TimeStats  # time before hanging up of abandoned calls (short ones apart), median
    short_within: np.ndarray  # short abandons that hung up before the threshold
    handle_total: np.ndarray  # sum and count of answer -> end of answered calls
    handle_n: np.ndarray
    exact: bool  # quantiles from the values (True) or from 0.1 s bins (False)


@dataclass(frozen=True, eq=False)
class CellStats:
    """Figures per cell; every array has one entry per cell, NaN where a cell has no data."""

    by: str
    site: tuple[str, ...]
    period: tuple[str, ...]
    threshold: float
    outcomes: np.ndarray
    answered_within: np.ndarray
    abandoned_before_target: np.ndarray
    pickup_rate: Rate
    asterisk_sl: Rate
    asterisk_sl2: Rate
    agent_pickup_rate: Rate
    tta_mean: np.ndarray
    tta_quantiles: np.ndarray  # columns: QUANTILES
    tta_max: np.ndarray
    rings: np.ndarray  # (cells, 6): rings 1…5 then 6+
    answer_seconds: np.ndarray  # (cells, 61)
    abandon_wait_mean: np.ndarray
    abandon_wait_median: np.ndarray
    handle_mean: np.ndarray
    exact: bool

    def count(self, outcome: Outcome) -> np.ndarray:
        return self.outcomes[:, OUTCOME_CODE[outcome]]

    @property
    def offered(self) -> np.ndarray:
        return self.outcomes.sum(axis=1)

    @property
    def unclassified(self) -> np.ndarray:
        """Calls the site directory cannot classify (unknown device, machine): out of the rates."""
        return self.outcomes[:, UNKNOWN_DEVICE] + self.outcomes[:, MACHINE]

    @property
    def directory_incomplete(self) -> np.ndarray:
        """Cells whose figures wait for the directory to be completed (`qualiphone sites check`)."""
        return self.unclassified > 0

    @property
    def needing_person(self) -> np.ndarray:
        return (self.offered - self.count(Outcome.MESSAGE) - self.count(Outcome.SHORT_ABANDON)
                - self.unclassified)

    @property
    def n(self) -> int:
        return len(self.site)

    def take(self, keep: np.ndarray) -> CellStats:
        """The cells where the boolean mask `keep` is true."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value[keep]
            elif isinstance(value, Rate):
                changes[f.name] = Rate(value.value[keep], value.low[keep], value.high[keep],
                                       value.n[keep])
            elif f.name in ("site", "period"):
                changes[f.name] = tuple(v for v, k in zip(value, keep, strict=True) if k)
        return replace(self, **changes)


def _codes_by_chunk(cell: np.ndarray, n_cells: int, where: np.ndarray | None = None,
                    chunk: int = 1 << 18) -> Iterator[tuple[slice, np.ndarray]]:
    """(rows, cell + 1) a chunk of rows at a time: 0 for a cell < 0 (or a row `where` leaves
    out), n_cells + 1 past the last cell."""
    for a in range(0, cell.shape[0], chunk):
        rows = slice(a, a + chunk)
        part = cell[rows]
        inside = part.size == 0 or (int(part.min()) >= -1 and int(part.max()) < n_cells)
        code = (part if inside else np.clip(part, -1, n_cells)) + 1
        if where is not None:
            code[~where[rows]] = 0
        yield rows, code


def outcome_counts(cell: np.ndarray, outcome: np.ndarray, n_cells: int,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """(cells, len(OUTCOMES)) calls per cell and outcome; cells < 0 are left out."""
    size = (n_cells + 2) * N_OUTCOMES
    if weights is not None:  # rows already counted by the store: few of them
        code = np.clip(cell, -1, n_cells) * np.int64(N_OUTCOMES) + outcome + N_OUTCOMES
        counts = np.bincount(code, weights=weights, minlength=size)
        return counts.reshape(n_cells + 2, N_OUTCOMES)[1:-1].round().astype(np.int64)
    counts = np.zeros(size, dtype=np.int64)
    for rows, code in _codes_by_chunk(cell, n_cells, chunk=max(1 << 18, size)):
        code *= N_OUTCOMES
        code += outcome[rows]  # row 0 is for cell -1
        counts += np.bincount(code, minlength=size)
    return counts.reshape(n_cells + 2, N_OUTCOMES)[1:-1]


def _cell_sum(cell: np.ndarray, values: np.ndarray | None, n_cells: int,
              where: np.ndarray | None = None) -> np.ndarray:
    """Per cell, the sum of `values` (None: the number of calls) of the rows `where` keeps;
    cells < 0 are left out. Sums are made in the rows' order, as one bincount would."""
    total = np.zeros(n_cells + 2, dtype=np.int64 if values is None else np.float64)
    for rows, code in _codes_by_chunk(cell, n_cells, where, chunk=max(1 << 18, n_cells)):
        if values is None:
            total += np.bincount(code, minlength=n_cells + 2)
        else:
            np.add.at(total, code, values[rows])
    return total[1 : n_cells + 1]


def edges(threshold: float, ring_period: float, rings: int) -> list[float]:
    """The edges counts are kept for: whole seconds to 60 s, the rings, the threshold."""
    return [*SECONDS, threshold, *(ring_period * r for r in range(1, rings + 1))]


PARALLEL_CALLS = 1_000_000  # past this, the time to answer is done beside the rest


def parts_from_calls(calls: CallArrays, cells: Cells, *, threshold: float = 25.0,
                     ring_period: float = 5.0, rings: int = 5) -> Parts:
    """Parts from individual calls: every quantile exact. Each distribution reads only the
    calls it is about (`where`); no per-call copy of a column is made. With many calls the
    times to answer are worked out in a second thread (numpy lets go of the GIL)."""
    idx, n = cells.index, cells.n
    outcome = calls.outcome
    answered = outcome == ANSWERED

    def times_to_answer() -> TimeStats:
        return time_stats(calls.tta, idx, n, QUANTILES, where=answered,
                          edges=edges(threshold, ring_period, rings))

    with ThreadPoolExecutor(1) if len(calls) > PARALLEL_CALLS else nullcontext() as pool:
        tta = pool.submit(times_to_answer) if pool is not None else None
        wait = time_stats(calls.hangup, idx, n, (0.5,), edges=[threshold],
                          where=outcome == ABANDONED)
        with np.errstate(invalid="ignore"):
            short_within = (outcome == SHORT_ABANDON) & (calls.hangup < threshold)
        handled = ~np.isnan(calls.handle)
        handled &= answered
        rest = {"outcomes": outcome_counts(idx, outcome, n),
                "short_within": _cell_sum(idx, None, n, short_within),
                "handle_total": _cell_sum(idx, calls.handle, n, handled),
                "handle_n": _cell_sum(idx, None, n, handled)}
        return Parts(tta=tta.result() if tta is not None else times_to_answer(), wait=wait,
                     exact=True, **rest)


def assemble(cells_by: str, site: tuple[str, ...], period: tuple[str, ...], parts: Parts, *,
             threshold: float = 25.0, ring_period: float = 5.0, rings: int = 5) -> CellStats:
    """The figures of every cell from its parts."""
    o = parts.outcomes
    offered = o.sum(axis=1)
    answered, short = o[:, ANSWERED], o[:, SHORT_ABANDON]
    abandoned = o[:, ABANDONED]
    unclassified = o[:, UNKNOWN_DEVICE] + o[:, MACHINE]
    within = parts.tta.below(threshold)
    wait_within = parts.wait.below(threshold)
    needing = offered - o[:, OUTCOME_CODE[Outcome.MESSAGE]] - short - unclassified
    hn = parts.handle_n
    return CellStats(
        by=cells_by, site=site, period=period, threshold=threshold, outcomes=o,
        answered_within=within, abandoned_before_target=wait_within,
        pickup_rate=Rate.of(within, offered - short - unclassified),
        asterisk_sl=Rate.of(within, answered),
        asterisk_sl2=Rate.of(within + wait_within + parts.short_within,
                             answered + abandoned + short),
        agent_pickup_rate=Rate.of(answered, needing),
        tta_mean=parts.tta.mean(), tta_quantiles=parts.tta.quantiles,
        tta_max=parts.tta.maximum, rings=ring_histogram(parts.tta, ring_period, rings),
        answer_seconds=seconds_histogram(parts.tta, ANSWER_SECONDS),
        abandon_wait_mean=parts.wait.mean(), abandon_wait_median=parts.wait.quantiles[:, 0],
        handle_mean=np.where(hn > 0, parts.handle_total / np.maximum(hn, 1), np.nan),
        exact=parts.exact,
    )


def cell_stats(calls: CallArrays, cells: Cells, *, threshold: float = 25.0,
               ring_period: float = 5.0, rings: int = 5) -> CellStats:
    """Every figure of every cell of `cells`, from individual calls (exact)."""
    parts = parts_from_calls(calls, cells, threshold=threshold, ring_period=ring_period,
                             rings=rings)
    return assemble(cells.by, cells.site, cells.period, parts, threshold=threshold,
                    ring_period=ring_period, rings=rings)


def _binned_time(rows: BinnedCalls, cells: Cells, keep: np.ndarray, qs: Sequence[float],
                 cuts: Sequence[float]) -> TimeStats:
    idx = np.where(keep, cells.index, -1)
    return time_stats_from_bins(idx, rows.bin, rows.count, rows.total, rows.maximum, cells.n,
                                qs, edges=cuts)


def parts_from_binned(rows: BinnedCalls, cells: Cells, *, threshold: float = 25.0,
                      ring_period: float = 5.0, rings: int = 5) -> Parts:
    """Parts from per-bin counts aggregated by the store: quantiles to 0.1 s (see
    monitor.metrics.distribution.time_stats_from_bins); counts, means, maxima exact."""
    idx, n = cells.index, cells.n
    answered = rows.outcome == ANSWERED
    short = (rows.outcome == SHORT_ABANDON) & (rows.bin >= 0) & (rows.bin < grid(threshold))
    return Parts(
        outcomes=outcome_counts(idx, rows.outcome, n, weights=rows.count.astype(float)),
        tta=_binned_time(rows, cells, answered, QUANTILES, edges(threshold, ring_period, rings)),
        wait=_binned_time(rows, cells, rows.outcome == ABANDONED, (0.5,), [threshold]),
        short_within=_cell_sum(idx, np.where(short, rows.count, 0).astype(float), n)
        .astype(np.int64),
        handle_total=_cell_sum(idx, np.where(answered, rows.handle_total, 0.0), n),
        handle_n=_cell_sum(idx, np.where(answered, rows.handle_n, 0).astype(float), n)
        .astype(np.int64),
        exact=False,
    )


def cell_stats_binned(rows: BinnedCalls, cells: Cells, *, threshold: float = 25.0,
                      ring_period: float = 5.0, rings: int = 5) -> CellStats:
    """Every figure of every cell from store-side histograms (quantiles to 0.1 s)."""
    parts = parts_from_binned(rows, cells, threshold=threshold, ring_period=ring_period,
                              rings=rings)
    return assemble(cells.by, cells.site, cells.period, parts, threshold=threshold,
                    ring_period=ring_period, rings=rings)
