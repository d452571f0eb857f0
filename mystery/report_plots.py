"""Plots of the campaign report. Each takes `ax=None` and returns the Axes; labels in French."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

GOOD, BAD, GREY, PREVIOUS = "#2e7d32", "#c62828", "#9e9e9e", "#455a64"


def fr(value: float | None, digits: int = 1, suffix: str = "") -> str:
    """A number the French way (7,4), or "—" when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}".replace(".", ",").replace("-", "−") + suffix


def _axes(ax: Axes | None, size: tuple[float, float] = (8, 5)) -> Axes:
    return ax if ax is not None else Figure(figsize=size).add_subplot()


def site_scores(sites: pd.DataFrame, required: float, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the site scores out of 10, best on top, the required level marked."""
    ax = _axes(ax)
    data = sites.sort_values("score10", ascending=True, na_position="first")
    y = np.arange(len(data))
    colors = [GREY if math.isnan(v) else GOOD if v >= required else BAD for v in data["score10"]]
    ax.barh(y, data["score10"].fillna(0), color=colors, height=0.7)
    if "previous" in data:
        ax.scatter(data["previous"], y, marker="|", s=160, color=PREVIOUS, zorder=3,
                   label="campagne précédente")
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(required, color="#333333", ls="--", lw=1)
    ax.text(required, len(data) - 0.3, f" niveau requis {fr(required, 0)}/10", fontsize=8, va="bottom")
    for yi, value, x in zip(y, data["score10"], _label_x(data, "score10"), strict=True):
        ax.text(min(x, 9.3) + 0.1, float(yi), fr(value), va="center", fontsize=8)
    ax.set_yticks(y, data["site_name"], fontsize=8)
    ax.set_xlim(0, 10)
    ax.set_xlabel("Note moyenne des appels (sur 10)")
    ax.set_title("Note par site", fontsize=11, loc="left")
    return ax


def criteria_bars(criteria: pd.DataFrame, required_pct: float, ax: Axes | None = None) -> Axes:
    """Share of calls meeting each criterion (%), the required level marked."""
    ax = _axes(ax)
    data = criteria.iloc[::-1]
    y = np.arange(len(data))
    values = data["achieved"].fillna(0)
    ax.barh(y, values, color=[GOOD if v >= required_pct else BAD for v in values], height=0.65)
    if "previous" in data:
        ax.scatter(data["previous"], y, marker="|", s=160, color=PREVIOUS, zorder=3,
                   label="campagne précédente")
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(required_pct, color="#333333", ls="--", lw=1)
    for yi, value, x in zip(y, data["achieved"], _label_x(data, "achieved"), strict=True):
        ax.text(min(x, 92) + 1, float(yi), fr(value, 0, " %"), va="center", fontsize=8)
    labels = [("★ " if c else "") + _short(lbl, 48) for lbl, c in zip(data["label"], data["critical"],
                                                                     strict=True)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Appels où le critère est atteint (%)")
    ax.set_title("Résultats par critère", fontsize=11, loc="left")
    return ax


def _label_x(data: pd.DataFrame, column: str) -> list[float]:
    """Where a bar's value label goes: after the bar and after the previous campaign's mark."""
    values = data[column].fillna(0)
    if "previous" in data:
        values = np.fmax(values, data["previous"].fillna(0))
    return [float(v) for v in values]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def site_criteria_heatmap(table: pd.DataFrame, names: dict[str, str], labels: dict[str, str],
                          ax: Axes | None = None) -> Axes:
    """Sites × criteria, achieved % in each cell (red to green)."""
    ax = _axes(ax, (10, 7))
    values = table.to_numpy(dtype=float)
    ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fr(v, 0), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(values.shape[1]), [_short(labels[c], 28) for c in table.columns],
                  rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(values.shape[0]), [names[s] for s in table.index], fontsize=7)
    ax.set_title("Critères atteints par site (% des appels)", fontsize=11, loc="left")
    return ax


def pickup_scatter(pickup: pd.DataFrame, target: float, ax: Axes | None = None) -> Axes:
    """Caller's stopwatch against the PBX's time to answer, disagreements in red."""
    ax = _axes(ax, (5, 5))
    both = pickup.dropna(subset=["observed_s", "pbx_s"])
    colors = [BAD if d else GOOD for d in both["disagree"]]
    ax.scatter(both["pbx_s"], both["observed_s"], c=colors, s=18)
    top = max([target * 2, *both["pbx_s"], *both["observed_s"]]) * 1.05
    ax.plot([0, top], [0, top], color=GREY, lw=0.8)
    ax.axvline(target, color="#333333", ls="--", lw=0.8)
    ax.axhline(target, color="#333333", ls="--", lw=0.8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Délai de décroché mesuré par le PBX (s)")
    ax.set_ylabel("Délai chronométré par l'appelant (s)")
    ax.set_title(f"PBX et appelant ({len(both)} appels rapprochés)", fontsize=11, loc="left")
    return ax


def within_bars(sites: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share answered within 25 s: mystery calls beside the monitor's figure, per site."""
    ax = _axes(ax, (10, 4))
    x = np.arange(len(sites))
    ax.bar(x - 0.2, sites["mystery_within"] * 100, width=0.4, color="#1565c0", label="appels mystères")
    ax.bar(x + 0.2, sites["monitor_within"] * 100, width=0.4, color="#90a4ae",
           label="ensemble des appels (supervision)")
    ax.set_xticks(x, [s.replace("EPS Paris ", "") for s in sites["site_name"]], fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("Décrochés en moins de 25 s (%)")
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)
    ax.set_title("Décrochés en moins de 25 s, mêmes sites et semaines", fontsize=11, loc="left")
    return ax
