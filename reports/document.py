"""A report as a list of blocks (title, headings, paragraphs, boxes, verdicts, tables, charts),
written once and rendered twice: as HTML (`reports.html`) and as PDF through Typst
(`reports.pdf`). Charts are drawn once, by matplotlib, as SVG: the HTML inlines it, Typst
embeds it in the PDF (text stays text in both).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure

State = Literal["met", "not_met", "no_data"]
STATE_WORDS: dict[str, str] = {"met": "tenu", "not_met": "non tenu", "no_data": "pas de données"}
Margins = tuple[float, float, float, float]
CHART_MARGINS: Margins = (0.75, 0.15, 0.35, 0.55)


@dataclass(frozen=True)
class Title:
    """The head of the first page: who, what, when, the commitment."""

    kicker: str
    title: str
    subject: str
    area: str
    when: str
    commitment: str
    generated: str


@dataclass(frozen=True)
class Heading:
    text: str
    note: str = ""
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str
    size: Literal["lead", "normal", "small"] = "normal"
    alert: bool = False  # a warning: bold, in the "not met" colour (words say it too)


@dataclass(frozen=True)
class Box:
    label: str
    value: str
    note: str
    good: bool | None = None  # colour of the value: green, red, or ink


@dataclass(frozen=True)
class Boxes:
    items: tuple[Box, ...]


@dataclass(frozen=True)
class Verdict:
    """One commitment and its state this period; the state is always written in words."""

    name: str
    state: State
    figure: str
    detail: str

    @property
    def word(self) -> str:
        return STATE_WORDS[self.state]


@dataclass(frozen=True)
class Verdicts:
    items: tuple[Verdict, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str = ""  # one letter per column, l or r; default: first left, the others right
    widths: tuple[float, ...] = ()  # relative widths; default: equal
    size: Literal["normal", "small"] = "normal"
    alert_column: int | None = None  # a cell of this column that is not empty is an alert

    @classmethod
    def of(cls, header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "",
           widths: Sequence[float] = (), size: Literal["normal", "small"] = "normal",
           alert_column: int | None = None) -> Table:
        return cls(tuple(header), tuple(tuple(r) for r in rows),
                   align or "l" + "r" * (len(header) - 1), tuple(widths), size, alert_column)


@dataclass(frozen=True)
class Chart:
    svg: str  # with its XML namespaces
    caption: str = ""
    width: float = 1.0  # share of the text width


@dataclass(frozen=True)
class Columns:
    """Blocks side by side, one list per column."""

    parts: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Title | Heading | Para | Boxes | Verdicts | Table | Chart | Columns | PageBreak


@dataclass(frozen=True)
class Document:
    title: str  # the PDF's and the page's title
    footer: str
    blocks: list[Block] = field(default_factory=list)


def to_data(block: Block) -> dict[str, Any]:
    """A block as plain data for the Typst template (kind + fields)."""
    out: dict[str, Any] = {"kind": type(block).__name__.lower()}
    for name, value in vars(block).items():
        if name == "items":
            value = [vars(x) | ({"word": x.word} if isinstance(x, Verdict) else {}) for x in value]
        elif name == "parts":
            value = [[to_data(b) for b in part] for part in value]
        out[name] = value
    return out


def figure_svg(draw: Callable[[Figure], object], size: tuple[float, float]) -> str:
    """A figure drawn once by matplotlib as SVG (no prolog, DOCTYPE nor metadata; text kept as
    text), with its XML namespaces."""
    from reports import plots

    with plots.styled():
        fig = Figure(figsize=size)
        draw(fig)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)


def svg(draw: Callable[[Axes], object], size: tuple[float, float],
        margins: Margins = CHART_MARGINS) -> str:
    """One chart (one Axes) as SVG. `margins` (left, right, top, bottom) are in inches, room for
    the labels (drawn once, unlike a constrained layout that draws the figure twice)."""
    left, right, top, bottom = margins

    def one(fig: Figure) -> None:
        fig.subplots_adjust(left=left / size[0], right=1 - right / size[0],
                            top=1 - top / size[1], bottom=bottom / size[1])
        draw(fig.add_subplot())

    return figure_svg(one, size)


def chart(draw: Callable[[Axes], object], size: tuple[float, float], caption: str = "",
          margins: Margins = CHART_MARGINS, width: float = 1.0) -> Chart:
    return Chart(svg(draw, size, margins), caption, width)


def figure_chart(draw: Callable[[Figure], object], size: tuple[float, float],
                 caption: str = "") -> Chart:
    return Chart(figure_svg(draw, size), caption)
