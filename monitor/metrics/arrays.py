"""Calls as columns: the arrays every metric of the answer-time core reads.

One row per call, declared dtypes, no Python object per call. Times are seconds (float64);
a time that does not apply or is unknown is NaN. Outcomes and sites are small integer codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from monitor.call import Outcome

OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
OUTCOME_CODE: dict[str, int] = {o.value: i for i, o in enumerate(OUTCOMES)}
ANSWERED = OUTCOME_CODE[Outcome.ANSWERED]
ABANDONED = OUTCOME_CODE[Outcome.ABANDONED]
SHORT_ABANDON = OUTCOME_CODE[Outcome.SHORT_ABANDON]
MESSAGE = OUTCOME_CODE[Outcome.MESSAGE]
UNKNOWN_DEVICE = OUTCOME_CODE[Outcome.UNKNOWN_DEVICE]
MACHINE = OUTCOME_CODE[Outcome.MACHINE]
N_OUTCOMES = len(OUTCOMES)

DTYPES: dict[str, Any] = {
    "site": np.int16,  # index into site_ids
    "outcome": np.int8,  # index into OUTCOMES
    "arrival": np.float64,  # UTC epoch seconds
    "tta": np.float64,  # clock start -> a person answered; NaN unless answered
    "hangup": np.float64,  # clock start -> end, calls not answered by a person; else NaN
    "handle": np.float64,  # answer -> end of answered calls (handling time); else NaN
    "in_hours": np.bool_,
    "is_test": np.bool_,
}


@dataclass(frozen=True, eq=False)
class CallArrays:
    """Columns of calls (see DTYPES). `site_ids[site[i]]` is the site of call i.

    The clock start of `tta` and `hangup` is the call's arrival, or its queue entry when
    `targets.clock_start = "queue_entry"` and the queue entry is known (decided at load).
    """

    site_ids: tuple[str, ...]
    site: np.ndarray
    outcome: np.ndarray
    arrival: np.ndarray
    tta: np.ndarray
    hangup: np.ndarray
    handle: np.ndarray
    in_hours: np.ndarray
    is_test: np.ndarray

    def __len__(self) -> int:
        return int(self.site.shape[0])

    @classmethod
    def from_columns(cls, site_ids: Sequence[str], **columns: Any) -> CallArrays:
        """Build from any sequences, casting to DTYPES; missing times are NaN, flags default
        to in hours / not a test. Negative times (clock jitter) are clipped to 0."""
        n = len(columns["site"])
        out: dict[str, np.ndarray] = {}
        for name, dtype in DTYPES.items():
            if name in columns:
                value = np.asarray(columns[name], dtype=dtype)
            elif dtype is np.float64:
                value = np.full(n, np.nan)
            else:
                value = np.full(n, name == "in_hours", dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"column {name} has shape {value.shape}, expected ({n},)")
            if name in ("tta", "hangup", "handle"):
                value = np.where(value < 0, 0.0, value)
            out[name] = value
        return cls(tuple(site_ids), **out)

    @classmethod
    def empty(cls, site_ids: Sequence[str] = ()) -> CallArrays:
        return cls.from_columns(site_ids, site=[])

    def take(self, rows: np.ndarray) -> CallArrays:
        """The calls selected by a boolean mask or an index array (same site codes)."""
        return CallArrays(self.site_ids, **{f.name: getattr(self, f.name)[rows]
                                            for f in fields(self) if f.name != "site_ids"})

    @classmethod
    def concat(cls, parts: Sequence[CallArrays]) -> CallArrays:
        """Calls of several parts one after the other; site codes are re-mapped by id."""
        site_ids = tuple(dict.fromkeys(s for p in parts for s in p.site_ids))
        code = {s: i for i, s in enumerate(site_ids)}
        columns: dict[str, Any] = {}
        for name in DTYPES:
            if name == "site":
                columns[name] = np.concatenate(
                    [np.array([code[s] for s in p.site_ids], dtype=np.int16)[p.site]
                     if len(p) else p.site for p in parts])
            else:
                columns[name] = np.concatenate([getattr(p, name) for p in parts])
        return cls(site_ids, **columns)


@dataclass(frozen=True, eq=False)
class BinnedCalls:
    """Calls already counted by the store: one row per (site, period, outcome, time bin).

    `bin` is the time from clock start to a person answering (answered calls) or to hanging
    up (abandons, short or not) in tenths of a second, floored; -1 for other outcomes and
    unknown times. `total`, `maximum` are the sum and largest of those times (seconds), and
    `handle_total`, `handle_n` the sum and count of answer -> end of answered calls.
    """

    site_ids: tuple[str, ...]
    site: np.ndarray  # int16
    period: np.ndarray  # int64, numbered as monitor.metrics.cells.periods does
    outcome: np.ndarray  # int8
    bin: np.ndarray  # int64
    count: np.ndarray  # int64
    total: np.ndarray  # float64
    maximum: np.ndarray  # float64
    handle_total: np.ndarray  # float64
    handle_n: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.site.shape[0])
