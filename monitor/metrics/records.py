"""Cell figures as named columns (CSV) and nested records (JSON): the stable field names that
`qualiphone stats`, the wallboard and the reports share. docs/stats-json.md documents them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from monitor.call import Outcome
from monitor.metrics.staffing import Staffing
from monitor.metrics.summary import QUANTILES, CellStats, Rate

COUNTS = {
    "answered": Outcome.ANSWERED, "abandoned": Outcome.ABANDONED,
    "short_abandons": Outcome.SHORT_ABANDON, "busy": Outcome.BUSY, "failed": Outcome.FAILED,
    "congestion": Outcome.CONGESTION, "message": Outcome.MESSAGE,
    "voicemail": Outcome.VOICEMAIL, "unknown_device": Outcome.UNKNOWN_DEVICE,
    "machine": Outcome.MACHINE, "no_answer": Outcome.NO_ANSWER,
}
RATES = ("pickup_rate", "asterisk_sl", "asterisk_sl2", "agent_pickup_rate")
TIMES = ("mean", "median", "p80", "p90", "p95", "max")
RINGS = ("1", "2", "3", "4", "5", "6+")
DIGITS = 6  # rates and seconds are rounded to 1e-6 (a microsecond)


def _number(value: Any) -> Any:
    """A JSON-ready number: NaN -> None, integers as int, floats rounded."""
    if isinstance(value, np.integer | int):
        return int(value)
    value = float(value)
    if math.isnan(value):
        return None
    return value if math.isinf(value) else round(value, DIGITS)


def _times(stats: CellStats) -> dict[str, np.ndarray]:
    names = ["median" if q == 0.5 else f"p{round(q * 100)}" for q in QUANTILES]
    quantiles = {name: stats.tta_quantiles[:, i] for i, name in enumerate(names)}
    return {"mean": stats.tta_mean, **quantiles, "max": stats.tta_max}


def _counts(stats: CellStats) -> dict[str, np.ndarray]:
    out = {"offered": stats.offered}
    out.update({name: stats.count(o) for name, o in COUNTS.items()})
    out["answered_within"] = stats.answered_within
    out["abandoned_before_target"] = stats.abandoned_before_target
    out["needing_person"] = stats.needing_person
    out["unclassified"] = stats.unclassified
    return out


def columns(stats: CellStats) -> dict[str, list[Any]]:
    """Flat columns, one value per cell, in a fixed order (CSV)."""
    cols: dict[str, Any] = {"site": list(stats.site), "period": list(stats.period)}
    cols.update(_counts(stats))
    cols["directory_incomplete"] = [bool(x) for x in stats.directory_incomplete]
    for name in RATES:
        r: Rate = getattr(stats, name)
        cols.update({name: r.value, f"{name}_low": r.low, f"{name}_high": r.high,
                     f"{name}_n": r.n})
    cols.update({f"tta_{k}": v for k, v in _times(stats).items()})
    cols.update({f"rings_{k.replace('+', 'plus')}": stats.rings[:, i]
                 for i, k in enumerate(RINGS)})
    cols.update({"abandon_wait_mean": stats.abandon_wait_mean,
                 "abandon_wait_median": stats.abandon_wait_median,
                 "handle_mean": stats.handle_mean})
    return {k: [v if isinstance(v, str) else _number(v) for v in values]
            for k, values in cols.items()}


def records(stats: CellStats) -> list[dict[str, Any]]:
    """One nested record per cell (JSON)."""
    counts, times = _counts(stats), _times(stats)
    out = []
    for i in range(stats.n):
        rec: dict[str, Any] = {"site": stats.site[i], "period": stats.period[i]}
        rec.update({k: _number(v[i]) for k, v in counts.items()})
        rec["directory_incomplete"] = bool(stats.directory_incomplete[i])
        for name in RATES:
            r: Rate = getattr(stats, name)
            rec[name] = {"value": _number(r.value[i]), "low": _number(r.low[i]),
                         "high": _number(r.high[i]), "n": _number(r.n[i])}
        rec["time_to_answer"] = {k: _number(v[i]) for k, v in times.items()}
        rec["rings"] = {k: _number(stats.rings[i, j]) for j, k in enumerate(RINGS)}
        rec["answer_seconds"] = [_number(x) for x in stats.answer_seconds[i]]
        rec["abandon_wait"] = {"mean": _number(stats.abandon_wait_mean[i]),
                               "median": _number(stats.abandon_wait_median[i])}
        rec["handle_mean"] = _number(stats.handle_mean[i])
        out.append(rec)
    return out


def staffing_columns(s: Staffing) -> dict[str, list[Any]]:
    """Flat columns of the staffing hint, one value per site × hour cell."""
    cols: dict[str, Any] = {
        "site": list(s.site), "hour": list(s.hour), "open_hours": s.open_hours,
        "calls": s.calls, "arrival_rate_per_hour": s.rate_per_hour,
        "handle_mean": s.handle_mean, "patience_mean": s.patience_mean, "load_erlangs": s.load,
        "agents_erlang_c": s.agents_erlang_c, "agents_erlang_a": s.agents_erlang_a,
        "pickup_rate": s.achieved, "pickup_rate_n": s.achieved_n,
    }
    return {k: [v if isinstance(v, str) else _number(v) for v in values]
            for k, values in cols.items()}


def staffing_records(s: Staffing) -> list[dict[str, Any]]:
    cols = staffing_columns(s)
    out = [dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)]
    for rec in out:
        for key in ("agents_erlang_c", "agents_erlang_a"):
            if rec[key] is not None:
                rec[key] = int(rec[key])
        if rec["patience_mean"] == math.inf:
            rec["patience_mean"] = None
    return out
