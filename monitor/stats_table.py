"""The table `qualiphone stats` prints: which columns, in what width, with which notes.

Every column has a key (the CSV/JSON field it shows, where there is one), a French head and a
priority. By default the table takes the columns in priority order while they fit the terminal
(80 columns at least: site, period, received, within 25 s, pickup rate, unclassified when any,
abandons, answered, interval); `--wide` shows them all, `--columns` the ones asked for. Site and
period always lead. A cell whose directory is incomplete keeps its marker ("*" after the rate,
the unclassified count, a note) whatever the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.call import Outcome
from monitor.metrics.summary import CellStats

PERIOD_TITLE = {"site": "Période", "hour": "Heure", "day": "Jour", "weekday": "Jour",
                "weekday-hour": "Jour, heure", "month": "Mois", "day-hour": "Heure locale"}
JOURS = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "jeu", "fri": "ven", "sat": "sam",
         "sun": "dim"}
GAP = 2  # spaces between two columns
MIN_WIDTH = 80  # the default table is chosen for at least this width


def pct(value: float) -> str:
    return "—" if np.isnan(value) else f"{value * 100:.1f} %".replace(".", ",")


def sec(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1f} s".replace(".", ",")


def _interval(low: float, high: float) -> str:
    return "—" if np.isnan(low) else f"{low * 100:.0f}–{high * 100:.0f} %"


def _period(by: str, label: str) -> str:
    if by in ("weekday", "weekday-hour"):
        day, _, hour = label.partition(" ")
        return f"{JOURS[day]} {hour} h" if hour else JOURS[day]
    if by == "hour":
        return f"{label} h"
    return label.replace("/", " → ")


def _ints(values: np.ndarray) -> list[str]:
    return [str(int(v)) for v in values]


def _rate(s: CellStats) -> list[str]:
    return [pct(v) + (" *" if bad else "") for v, bad in
            zip(s.pickup_rate.value, s.directory_incomplete, strict=True)]


def _others(s: CellStats) -> np.ndarray:
    return (s.count(Outcome.BUSY) + s.count(Outcome.FAILED) + s.count(Outcome.CONGESTION)
            + s.count(Outcome.VOICEMAIL) + s.count(Outcome.NO_ANSWER))


@dataclass(frozen=True)
class Column:
    key: str  # for --columns: the CSV field it shows where there is one
    head: str  # French, "\n" between the lines of a two-line head
    values: Callable[[CellStats], list[str]]
    priority: int  # the default table takes columns from the lowest priority on
    left: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("site", "Site", lambda s: list(s.site), 0, left=True),
    Column("period", "Période", lambda s: [_period(s.by, p) for p in s.period], 0, left=True),
    Column("offered", "Reçus", lambda s: _ints(s.offered), 1),
    Column("answered", "Décrochés", lambda s: _ints(s.count(Outcome.ANSWERED)), 6),
    Column("answered_within", "< {t} s", lambda s: _ints(s.answered_within), 2),
    Column("pickup_rate", "Taux de\ndécroché", _rate, 3),
    Column("pickup_rate_interval", "IC 95 %", lambda s: [
        _interval(lo, hi) for lo, hi in zip(s.pickup_rate.low, s.pickup_rate.high, strict=True)], 7),
    Column("pickup_rate_n", "n", lambda s: _ints(s.pickup_rate.n), 8),
    Column("asterisk_sl", "SL", lambda s: [pct(v) for v in s.asterisk_sl.value], 12),
    Column("asterisk_sl2", "SL2", lambda s: [pct(v) for v in s.asterisk_sl2.value], 13),
    Column("agent_pickup_rate", "SP+", lambda s: [pct(v) for v in s.agent_pickup_rate.value], 11),
    Column("abandoned", "Abandons", lambda s: _ints(s.count(Outcome.ABANDONED)), 5),
    Column("unclassified", "À\nclasser", lambda s: _ints(s.unclassified), 4),
    Column("short_abandons", "Courts", lambda s: _ints(s.count(Outcome.SHORT_ABANDON)), 14),
    Column("message", "Message", lambda s: _ints(s.count(Outcome.MESSAGE)), 15),
    Column("other", "Autres", lambda s: _ints(_others(s)), 16),
    Column("tta_mean", "Attente\nmoy.", lambda s: [sec(v) for v in s.tta_mean], 17),
    Column("tta_median", "Médiane", lambda s: [sec(v) for v in s.tta_quantiles[:, 0]], 9),
    Column("tta_p90", "p90", lambda s: [sec(v) for v in s.tta_quantiles[:, 2]], 10),
    Column("tta_max", "Max", lambda s: [sec(v) for v in s.tta_max], 18),
    Column("rings", "Sonneries", lambda s: ["·".join(str(x) for x in r) for r in s.rings], 19),
)
KEYS = tuple(c.key for c in COLUMNS)
CHOOSABLE = tuple(k for k in KEYS if k not in ("site", "period"))


class UnknownColumn(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f'"{key}" is not a column; choose from: {", ".join(CHOOSABLE)}')
        self.key = key


def parse_columns(text: str) -> tuple[str, ...]:
    """"offered,pickup_rate" -> the keys, checked."""
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    for key in keys:
        if key not in CHOOSABLE:
            raise UnknownColumn(key)
    return keys


@dataclass(frozen=True)
class Shown:
    """The columns chosen, their text per cell, the ones left out, and the width they need."""

    columns: list[Column]
    values: dict[str, list[str]]
    hidden: list[Column]
    width: int


def head(column: Column, s: CellStats) -> str:
    """The column's head for these cells (the period's name, the threshold)."""
    if column.key == "period":
        return PERIOD_TITLE[s.by]
    return column.head.format(t=f"{s.threshold:g}")


def _width(column: Column, values: Sequence[str], s: CellStats) -> int:
    lines = head(column, s).split("\n")
    return max(max(len(line) for line in lines), max((len(v) for v in values), default=0))


def choose(s: CellStats, *, width: int, wide: bool = False,
           keys: Sequence[str] | None = None) -> Shown:
    """The columns for this table: all (wide), those asked for (keys), or by priority while
    they fit `width` characters."""
    usable = [c for c in COLUMNS if not (c.key == "period" and s.by == "site")
              and not (c.key == "unclassified" and not s.directory_incomplete.any()
                       and not wide and c.key not in (keys or ()))]
    values = {c.key: c.values(s) for c in usable}
    if wide:
        chosen = usable
    elif keys:
        chosen = [c for c in usable if c.priority == 0 or c.key in keys]
    else:
        chosen, used = [], -GAP
        for column in sorted(usable, key=lambda c: c.priority):
            need = _width(column, values[column.key], s) + GAP
            if column.priority == 0 or used + need <= max(width, MIN_WIDTH):
                chosen.append(column)
                used += need
        chosen.sort(key=usable.index)
    need = sum(_width(c, values[c.key], s) for c in chosen) + GAP * (len(chosen) - 1)
    return Shown(chosen, {c.key: values[c.key] for c in chosen},
                 [c for c in usable if c not in chosen], need)


def table(s: CellStats, shown: Shown) -> Any:
    """A rich Table: no vertical rules, two spaces between columns, nothing wrapped."""
    from rich import box
    from rich.table import Table

    out = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, GAP - 1), pad_edge=False)
    for column in shown.columns:
        out.add_column(head(column, s), justify="left" if column.left else "right", no_wrap=True)
    for i in range(s.n):
        out.add_row(*(shown.values[c.key][i] for c in shown.columns))
    return out


def notes(s: CellStats, shown: Shown, *, include_tests: bool,
          all_hours: bool = False) -> list[str]:
    """The French notes under the table: the definitions of what is shown, the hidden columns,
    the calls the message took (with --all-hours) and the directory's gaps."""
    t = f"{s.threshold:g}"
    keys = {c.key for c in shown.columns}
    text = [f"Taux de décroché = décrochés par une personne en moins de {t} s (un appel à "
            f"{t},0 s n'y est pas) / n, n = reçus − abandons courts − à classer."]
    sl = [name for key, name in (("asterisk_sl", "SL"), ("asterisk_sl2", "SL2")) if key in keys]
    if sl:
        many = len(sl) > 1
        text.append(f"{', '.join(sl)} : niveau{'x' if many else ''} de service d'Asterisk.")
    if "agent_pickup_rate" in keys:
        text.append("SP+ : décrochés / appels à traiter (Services Publics+).")
    if "other" in keys:
        text.append("Autres = occupé, échec, messagerie, sans réponse (fin par le standard).")
    if "rings" in keys:
        text.append("Sonneries : décrochés à 1, 2, 3, 4, 5, 6 sonneries et plus.")
    text.append("Appels de test " + ("inclus." if include_tests else "exclus."))
    if not s.exact:
        text.append("Quantiles au dixième de seconde (--binned).")
    lines = [" ".join(text)]
    if shown.hidden:
        lines.append("Autres colonnes : --wide pour toutes, ou --columns "
                     + ",".join(c.key for c in shown.hidden[:3]) + ",…")
    message = int(s.count(Outcome.MESSAGE).sum())
    if all_hours and message:
        taken, count = ("appel pris", "compte") if message == 1 else ("appels pris", "comptent")
        lines.append(
            f"* Toutes heures : {message} {taken} par le message du site "
            f"{count} dans n, comme non décroché{'s' if message > 1 else ''} par une personne. "
            "Le taux publié ne compte que les heures d'ouverture (sans --all-hours).")
    if s.directory_incomplete.any():
        lines.append(
            f"* Répertoire incomplet : {int(s.unclassified.sum())} appels décrochés par un poste "
            "que sites.toml ne connaît pas, ou par une machine hors des contextes de message, "
            "sont à classer : ni décrochés par une personne, ni abandons, et hors du taux. "
            "Voir : qualiphone sites check ; qualiphone sites learn FICHIER…")
    return lines
