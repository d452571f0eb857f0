"""Charts drawn as inline SVG from the figures (no script, no image file, text selectable).

Every text is escaped; colours are always doubled by a number or a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

WEEKDAYS_FR = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "jeu", "fri": "ven", "sat": "sam",
               "sun": "dim"}
GOOD, BAD, MID, INK, GRID = "#1f6f3f", "#b3261e", "#e8890c", "#1b1f24", "#d5dae0"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
                  f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
                  + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "middle", **attrs: Any) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def rate_chart(points: Sequence[dict[str, Any]], labels: Sequence[str], goal: float,
               title: str) -> Markup:
    """Pickup rate of each point with its 95 % interval, against the goal (dashed line)."""
    left, top, plot_h, step = 44, 14, 200, max(14, min(48, 900 // max(1, len(points))))
    width, height = left + step * len(points) + 20, top + plot_h + 100

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    body = [f'<line x1="{left}" x2="{width - 10}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}"/>'
            + _text(left - 6, y(t) + 4, f"{t * 100:.0f} %", "end") for t in (0, .25, .5, .75, 1)]
    body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(goal):.1f}" y2="{y(goal):.1f}" '
                f'stroke="{INK}" stroke-dasharray="6 4"/>'
                + _text(width - 10, y(goal) - 4, f"objectif {goal * 100:.0f} %", "end"))
    for i, (point, label) in enumerate(zip(points, labels, strict=True)):
        x = left + step * i + step / 2
        rate = point["pickup_rate"]
        if rate["value"] is not None:
            colour = GOOD if rate["value"] >= goal else BAD
            tip = (f"{label} : {_pct(rate['value'])} (IC 95 % {_pct(rate['low'])}–"
                   f"{_pct(rate['high'])}, n = {rate['n']})")
            body.append(f'<g><title>{escape(tip)}</title>'
                        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(rate["low"]):.1f}" '
                        f'y2="{y(rate["high"]):.1f}" stroke="{colour}" stroke-width="2"/>'
                        f'<circle cx="{x:.1f}" cy="{y(rate["value"]):.1f}" r="4" fill="{colour}"/></g>')
        body.append(_text(x, top + plot_h + 12, label, "end",
                          transform=f"rotate(-60 {x:.1f} {top + plot_h + 12})"))
    return _svg(width, height, body, title)


def ring_histogram(total: dict[str, Any], title: str) -> Markup:
    """Calls picked up at the 1st, 2nd … 6th and later ring."""
    rings = total["rings"]
    peak = max([v or 0 for v in rings.values()] + [1])
    left, top, plot_h, bar = 40, 16, 160, 46
    body = []
    for i, (ring, count) in enumerate(rings.items()):
        x = left + i * (bar + 10)
        h = plot_h * (count or 0) / peak
        colour = GOOD if ring in ("1", "2", "3", "4", "5") else BAD
        body.append(f'<rect x="{x}" y="{top + plot_h - h:.1f}" width="{bar}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(f"{ring} sonnerie(s) : {count}")}</title></rect>')
        body.append(_text(x + bar / 2, top + plot_h - h - 3, str(count or 0)))
        body.append(_text(x + bar / 2, top + plot_h + 14, f"{ring}{'' if ring.endswith('+') else 'ᵉ'}"))
    body.append(_text(left, top + plot_h + 32, "sonnerie du décroché (5 s par sonnerie)", "start"))
    body.append(_text(left, top + plot_h + 46, "en rouge : 6ᵉ sonnerie et au-delà, hors délai", "start"))
    return _svg(left + 6 * (bar + 10) + 10, top + plot_h + 54, body, title)


def _heat_colour(value: float, goal: float) -> str:
    if value >= goal:
        return "#b7e1c1"
    return "#f6c9a8" if value >= goal - 0.15 else "#f2a9a3"


def heatmap(cells: Sequence[dict[str, Any]], goal: float, title: str) -> Markup:
    """Pickup rate per weekday (rows) and hour (columns); cells without calls left blank."""
    grid: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in cells:
        day, _, hour = cell["period"].partition(" ")
        grid[(day, hour)] = cell
    days = [d for d in WEEKDAYS_FR if any(k[0] == d for k in grid)]
    hours = sorted({k[1] for k in grid})
    left, top, w, h = 40, 20, 44, 26
    body = [_text(left + w * j + w / 2, top - 6, f"{hour} h") for j, hour in enumerate(hours)]
    for i, day in enumerate(days):
        body.append(_text(left - 6, top + h * i + h / 2 + 4, WEEKDAYS_FR[day], "end"))
        for j, hour in enumerate(hours):
            found = grid.get((day, hour))
            rate = found["pickup_rate"] if found else None
            if rate is None or rate["value"] is None:
                continue
            tip = f"{WEEKDAYS_FR[day]} {hour} h : {_pct(rate['value'])} (n = {rate['n']})"
            body.append(f'<g><title>{escape(tip)}</title><rect x="{left + w * j}" '
                        f'y="{top + h * i}" width="{w - 2}" height="{h - 2}" '
                        f'fill="{_heat_colour(rate["value"], goal)}"/>'
                        + _text(left + w * j + w / 2 - 1, top + h * i + h / 2 + 3,
                                _pct(rate["value"]), font_size="10") + "</g>")
    return _svg(left + w * max(1, len(hours)) + 10, top + h * max(1, len(days)) + 10, body, title)
