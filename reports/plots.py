"""Charts of the statements. Each takes `ax=None` and returns the Axes; labels in French.

Only vector marks (lines, bars, quads from pcolormesh; no imshow), so the PDF and the SVG stay
sharp and searchable. Rates come in as proportions (0.84) and are drawn in percent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from reports.text import SHORT_DAYS, missing, month_short, num, pct

GOOD, BAD, MAIN, CITY, GREY, MARK = "#2e7d32", "#c62828", "#1f4e79", "#8c8c8c", "#bdbdbd", "#fff3c4"
STYLE: dict[str, Any] = {
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8, "axes.titlesize": 9.5, "axes.titleweight": "bold",
    "axes.titlelocation": "left", "axes.labelsize": 8, "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "axes.spines.top": False,
    "axes.spines.right": False, "svg.hashsalt": "qualiphone", "svg.fonttype": "none",
    "pdf.fonttype": 42, "path.simplify": True,
}


def styled() -> AbstractContextManager[None]:
    """matplotlib settings of the reports, for the duration of a `with` block."""
    return matplotlib.rc_context(STYLE)  # type: ignore[arg-type]


def bars(ax: Axes, x: np.ndarray, heights: np.ndarray, width: float, colors: Any,
         bottom: np.ndarray | float = 0.0, label: str | None = None) -> None:
    """Vertical bars as one collection: one drawing call instead of a patch per bar (a month's
    days, a minute's seconds), the same marks on the page."""
    x = np.asarray(x, dtype=float)
    low = np.broadcast_to(np.asarray(bottom, dtype=float), x.shape)
    high = low + np.nan_to_num(np.asarray(heights, dtype=float))
    left, right = x - width / 2, x + width / 2
    verts = np.stack([np.column_stack(p) for p in ((left, low), (left, high), (right, high),
                                                    (right, low))], axis=1)
    ax.add_collection(PolyCollection(list(verts), facecolors=colors, edgecolors="none",
                                     label=label))
    ax.update_datalim(np.column_stack([np.r_[left, right], np.r_[low, high]]))
    ax.autoscale_view()


def _axes(ax: Axes | None, size: tuple[float, float] = (7, 3)) -> Axes:
    return ax if ax is not None else Figure(figsize=size).add_subplot()


def _values(rates: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if missing(r) else float(r) * 100 for r in rates])


def _target_line(ax: Axes, target: float) -> None:
    """The target as a dashed line, named in the legend above the chart (a label on the line
    would sit on the data)."""
    ax.axhline(target * 100, color=BAD, ls="--", lw=0.9, zorder=1, label=f"objectif {pct(target)}")


def trend(months: Sequence[str], rates: Sequence[Any], lows: Sequence[Any], highs: Sequence[Any],
          target: float, city: Sequence[Any] | None = None, ax: Axes | None = None) -> Axes:
    """Pickup rate per month (95 % interval as bars), the target line, the city-wide rate."""
    ax = _axes(ax)
    x = np.arange(len(months))
    y, lo, hi = _values(rates), _values(lows), _values(highs)
    if city is not None:
        ax.plot(x, _values(city), color=GREY, lw=2.2, marker="o", ms=3, solid_capstyle="round",
                label="Paris, 17 EPS")
    ax.errorbar(x, y, yerr=[np.nan_to_num(y - lo), np.nan_to_num(hi - y)], color=MAIN, lw=1.6,
                marker="o", ms=3.5, elinewidth=0.8, capsize=2, label="taux de décroché du site")
    ax.axhline(target * 100, color=BAD, ls="--", lw=0.9, zorder=1, label=f"taux cible {pct(target)}")
    floor = floor_of([*lo[~np.isnan(lo)], target * 100])
    for xi, yi, low, top in zip(x, y, lo, hi, strict=True):
        if np.isnan(yi):
            ax.text(float(xi), floor + 2, "pas de\ndonnées", ha="center", va="bottom", fontsize=6.5,
                    color=CITY)
            continue
        above = yi >= target * 100  # labels away from the target line: above or below the bar
        ax.text(float(xi), top + 1 if above else low - 1, num(yi), ha="center",
                va="bottom" if above else "top", fontsize=7, color=GOOD if above else BAD,
                zorder=5, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6})
    ax.set_xticks(x, [month_short(m) for m in months])
    ax.set_xlim(-0.5, len(months) - 0.5)
    ax.set_ylim(floor, 100 + (100 - floor) * 0.12)
    ax.set_ylabel("décrochés en moins de 25 s (%)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, ncol=3)
    return ax


def floor_of(values: Sequence[float]) -> float:
    """Lower end of a rate axis: 15 points under the lowest value, by tens, at least 0."""
    return float(max(0, np.floor((min(values) - 15) / 10) * 10))


def rings(counts: Sequence[int], ring_seconds: float, within: int, ax: Axes | None = None) -> Axes:
    """Calls answered by a person per number of rings (1 … N, then more), the target line."""
    ax = _axes(ax, (4, 3))
    values = np.asarray(counts, dtype=float)
    total = values.sum()
    labels = [str(i + 1) for i in range(len(values) - 1)] + [f"{len(values)} et +"]
    colors = [GOOD] * within + [BAD] * (len(values) - within)
    bars(ax, np.arange(len(values)), values, 0.7, colors)
    for i, v in enumerate(values):
        share = f"\n{pct(v / total)}" if total else ""
        ax.text(i, v, f"{num(v)}{share}", ha="center", va="bottom", fontsize=7)
    ax.axvline(within - 0.5, color="#333333", ls="--", lw=0.9)
    ax.text(within - 0.45, 1.0, f"{num(within * ring_seconds)} s", transform=ax.get_xaxis_transform(),
            fontsize=7, va="top")
    ax.set_xticks(np.arange(len(values)), labels)
    ax.set_xlabel(f"sonneries (une sonnerie = {num(ring_seconds)} s)")
    ax.set_ylabel("appels décrochés")
    ax.set_ylim(0, max(values.max(initial=0) * 1.25, 1))
    return ax


def seconds(counts: Sequence[int], threshold: float, ax: Axes | None = None) -> Axes:
    """Calls answered by a person per second of waiting (last bar: 60 s and more)."""
    ax = _axes(ax, (4, 3))
    values = np.asarray(counts, dtype=float)
    x = np.arange(len(values))
    bars(ax, x, values, 0.85, [GOOD if s < threshold else BAD for s in x])
    ax.axvline(threshold - 0.5, color="#333333", ls="--", lw=0.9)
    ax.text(threshold, 1.0, f"{num(threshold)} s", transform=ax.get_xaxis_transform(), fontsize=7,
            va="top")
    ticks = [t for t in range(0, len(values), 10)]
    ax.set_xticks([*ticks, len(values) - 1], [*(str(t) for t in ticks), f"{len(values) - 1}+"])
    ax.set_xlabel("attente avant décroché (secondes)")
    ax.set_ylabel("appels décrochés")
    return ax


def _shown(offered: np.ndarray, open_slots: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weekdays and hours to draw: those with calls or opening hours."""
    busy = offered > 0 if open_slots is None else (offered > 0) | open_slots
    rows = np.flatnonzero(busy.any(axis=1))
    cols = np.flatnonzero(busy.any(axis=0))
    if cols.size:
        cols = np.arange(cols.min(), cols.max() + 1)
    return rows, cols


def heatmap(values: np.ndarray, offered: np.ndarray, *, kind: str, target: float = 0.8,
            ax: Axes | None = None) -> Axes:
    """Weekday × hour grid of the pickup rate (kind="rate") or of calls received ("volume")."""
    ax = _axes(ax, (6, 3))
    rows, cols = _shown(offered, None)
    if not rows.size:
        ax.text(0.5, 0.5, "aucun appel", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    grid = values[np.ix_(rows, cols)].astype(float)
    grid = np.where(offered[np.ix_(rows, cols)] > 0, grid, np.nan)
    if kind == "rate":
        norm = TwoSlopeNorm(vcenter=target * 100, vmin=max(0.0, target * 100 - 40), vmax=100)
        mesh = ax.pcolormesh(np.ma.masked_invalid(grid * 100), cmap="RdYlGn", norm=norm,
                             edgecolors="white", linewidth=0.6)
        text = [[num(v * 100) for v in row] for row in grid]
    else:
        mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="Blues", vmin=0,
                             vmax=max(np.nanmax(grid), 1), edgecolors="white", linewidth=0.6)
        text = [[num(v) for v in row] for row in grid]
    colors = np.asarray(mesh.cmap(mesh.norm(np.ma.masked_invalid(grid * (100 if kind == "rate"
                                                                            else 1)))))
    for (r, c), value in np.ndenumerate(grid):
        if not np.isnan(value):
            dark = colors[r, c, :3] @ np.array([0.299, 0.587, 0.114]) < 0.45
            ax.text(c + 0.5, r + 0.5, text[r][c], ha="center", va="center", fontsize=6.5,
                    color="white" if dark else "black")
    ax.set_xticks(np.arange(len(cols)) + 0.5, [f"{h} h" for h in cols])
    ax.set_yticks(np.arange(len(rows)) + 0.5, [SHORT_DAYS[r] for r in rows])
    ax.invert_yaxis()
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


def _shade_marks(ax: Axes, days: Sequence[Any]) -> None:
    """Holidays and closures in yellow, week-end days (no opening) in light grey (not over a
    year, where they would stripe the whole chart)."""
    for i, d in enumerate(days):
        if d.marks:
            ax.axvspan(i - 0.5, i + 0.5, color=MARK, zorder=0, lw=0)
        elif d.open_hours == 0 and len(days) <= 62:
            ax.axvspan(i - 0.5, i + 0.5, color="#f2f2f2", zorder=0, lw=0)


def _day_ticks(ax: Axes, days: Sequence[Any]) -> None:
    dates: list[dt.date] = [d.day for d in days]
    if len(dates) > 62:  # a year: one tick per month
        ticks = [i for i, d in enumerate(dates) if d.day == 1]
        ax.set_xticks(ticks, [month_short(dates[i].isoformat()[:7]) for i in ticks])
    else:
        ticks = [i for i, d in enumerate(dates) if d.weekday() == 0 or i == 0]
        ax.set_xticks(ticks, [f"{dates[i].day:02d}/{dates[i].month:02d}" for i in ticks])
    ax.set_xlim(-0.6, len(dates) - 0.4)


def daily_rate(days: Sequence[Any], target: float, ax: Axes | None = None) -> Axes:
    """Pickup rate per day; holidays and closures shaded."""
    ax = _axes(ax, (7, 2))
    _shade_marks(ax, days)
    y = _values([d.rate for d in days])
    ax.plot(np.arange(len(days)), y, color=MAIN, lw=1.2, marker="o" if len(days) <= 62 else None,
            ms=2.5, label="taux de décroché du jour")
    _target_line(ax, target)
    ax.set_ylim(0, 105)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, ncol=2)
    ax.set_ylabel("taux de décroché (%)")
    _day_ticks(ax, days)
    return ax


def daily_volume(days: Sequence[Any], ax: Axes | None = None) -> Axes:
    """Calls received per day in opening hours and outside; holidays and closures shaded."""
    ax = _axes(ax, (7, 2))
    _shade_marks(ax, days)
    x = np.arange(len(days))
    inside = np.array([d.offered for d in days])
    outside = np.array([d.offered_all - d.offered for d in days])
    bars(ax, x, inside, 0.8, MAIN, label="aux heures d'ouverture")
    bars(ax, x, outside, 0.8, GREY, bottom=inside, label="hors heures d'ouverture")
    ax.set_ylim(0, max(float((inside + outside).max(initial=0)) * 1.05, 1))
    ax.set_ylabel("appels reçus")
    ax.legend(loc="lower left", frameon=False, ncol=2, bbox_to_anchor=(0.0, 1.0))
    _day_ticks(ax, days)
    return ax


def ranking(names: Sequence[str], rates: Sequence[Any], lows: Sequence[Any],
            highs: Sequence[Any], target: float, ax: Axes | None = None) -> Axes:
    """Sites from best to worst pickup rate, with their 95 % intervals and the target."""
    ax = _axes(ax, (6, 5))
    y, lo, hi = _values(rates), _values(lows), _values(highs)
    order = sorted(range(len(names)), key=lambda i: (np.nan_to_num(y[i], nan=-1), -i))
    pos = np.arange(len(order))
    vals = np.nan_to_num(y[order])
    ax.barh(pos, vals, color=[GOOD if v >= target * 100 else BAD for v in vals], height=0.65)
    ax.errorbar(vals, pos, xerr=[np.nan_to_num(vals - lo[order]), np.nan_to_num(hi[order] - vals)],
                fmt="none", ecolor="#333333", elinewidth=0.8, capsize=2)
    for p, i in zip(pos, order, strict=True):
        label = "pas de données" if np.isnan(y[i]) else num(y[i], 1)
        ax.text(1, float(p), label, va="center", fontsize=7, color="white" if y[i] > 8 else "black")
    ax.axvline(target * 100, color="#333333", ls="--", lw=0.9)
    ax.set_yticks(pos, [names[i] for i in order])
    ax.set_xlim(0, 100)
    ax.set_xlabel("décrochés en moins de 25 s (%), intervalle de confiance à 95 %")
    return ax


def mini_trend(months: Sequence[str], rates: Sequence[Any], target: float, title: str,
               floor: float = 40, ax: Axes | None = None) -> Axes:
    """A small trend of one site for the small multiples of the synthesis."""
    ax = _axes(ax, (2, 1.4))
    y = _values(rates)
    x = np.arange(len(months))
    ax.axhline(target * 100, color=BAD, ls="--", lw=0.7)
    ax.plot(x, y, color=MAIN, lw=1.2, marker="o", ms=1.8)
    below = y < target * 100
    ax.plot(x[below], y[below], "o", color=BAD, ms=2.2)
    ax.set_ylim(floor, 102)
    ax.set_yticks([t for t in (0, 25, 50, 75, 100) if t >= floor])
    ax.set_xticks([0, len(months) - 1], [month_short(months[0]), month_short(months[-1])])
    ax.tick_params(labelsize=6, length=2)
    last = y[-1] if y.size else np.nan
    ax.set_title(f"{title} · {num(last) + ' %' if not np.isnan(last) else '—'}", fontsize=7,
                 loc="left", fontweight="bold")
    return ax


def multiples(fig: Figure, months: Sequence[str], panels: Sequence[tuple[str, Sequence[Any]]],
              target: float) -> None:
    """Small panels of `mini_trend`, three to a row, sharing one rate axis."""
    values = [v * 100 for _, r in panels for v in r if not missing(v)] or [100.0]
    floor = min(40.0, floor_of(values) + 10)
    rows = (len(panels) + 2) // 3
    fig.subplots_adjust(left=0.06, right=0.99, top=1 - 0.3 / (1.55 * rows),
                        bottom=0.3 / (1.55 * rows), wspace=0.18, hspace=0.75)
    for k, (name, rates) in enumerate(panels):
        mini_trend(months, rates, target, name, floor, ax=fig.add_subplot(rows, 3, k + 1))


def hour_spread(names: Sequence[str], worst: Sequence[Any], best: Sequence[Any], target: float,
                ax: Axes | None = None) -> Axes:
    """Per site, its worst and best hour of the day (pickup rate), joined by a line."""
    ax = _axes(ax, (6, 5))
    lo, hi = _values(worst), _values(best)
    order = sorted(range(len(names)), key=lambda i: (np.nan_to_num(hi[i] - lo[i], nan=-1), -i))
    pos = np.arange(len(order))
    ax.hlines(pos, lo[order], hi[order], color=GREY, lw=3)
    ax.plot(lo[order], pos, "o", color=BAD, ms=4, label="heure la moins bonne")
    ax.plot(hi[order], pos, "o", color=GOOD, ms=4, label="heure la meilleure")
    ax.axvline(target * 100, color="#333333", ls="--", lw=0.9)
    ax.set_yticks(pos, [names[i] for i in order])
    ax.set_xlim(0, 100)
    ax.set_xlabel("taux de décroché de l'heure (%)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=7)
    return ax
