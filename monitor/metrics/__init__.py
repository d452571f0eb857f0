"""The answer-time core: pure numpy functions from call arrays to per-cell figures.

arrays -> cells (which site × period each call is in) -> summary (counts, rates with Wilson
intervals, exact answer-time quantiles, rings, abandons) -> records (the JSON/CSV names).
`monitor.query` is where the store meets it; nothing here touches the store.
"""

from monitor.metrics.arrays import BinnedCalls, CallArrays
from monitor.metrics.cells import BY, Cells, make_cells, select
from monitor.metrics.summary import CellStats, Rate, cell_stats, cell_stats_binned

__all__ = [
    "BY",
    "BinnedCalls",
    "CallArrays",
    "CellStats",
    "Cells",
    "Rate",
    "cell_stats",
    "cell_stats_binned",
    "make_cells",
    "select",
]
