"""A4 pages drawn with matplotlib: title block, headings, wrapped paragraphs, tables, key
figures, chart slots and the footer with page numbers. Text stays text in the PDF (pdftotext
reads it) and charts stay vectors.

Positions are in inches from the top-left corner of the page, so that a font size in points
always has the same size on paper.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

A4 = (8.27, 11.69)
MARGIN = 0.6  # inches, left and right
BOTTOM = A4[1] - 0.75  # lowest line of content, above the footer
WIDTH = A4[0] - 2 * MARGIN
INK, MUTED, RULE, BAND, ACCENT = "#1a1a1a", "#5f6368", "#c8ccd0", "#eef2f7", "#1f4e79"


class Page:
    """One A4 portrait page filled from the top; `y` is the next free line (inches)."""

    def __init__(self, fig: Figure | None = None) -> None:
        self.fig = fig or Figure(figsize=A4)
        self.y = 0.55

    def _fx(self, x: float) -> float:
        return x / A4[0]

    def _fy(self, y: float) -> float:
        return 1 - y / A4[1]

    def text(self, x: float, y: float, s: str, size: float = 9, **kw: Any) -> None:
        self.fig.text(self._fx(x), self._fy(y), s, fontsize=size, va="top", color=kw.pop("color", INK),
                      **kw)

    def rect(self, x: float, y: float, w: float, h: float, color: str, **kw: Any) -> None:
        self.fig.add_artist(Rectangle((self._fx(x), self._fy(y + h)), w / A4[0], h / A4[1],
                                      transform=self.fig.transFigure, color=color, lw=0, **kw))

    def rule(self, y: float | None = None, color: str = RULE, x: float = MARGIN,
             width: float = WIDTH) -> None:
        self.rect(x, self.y if y is None else y, width, 0.008, color)

    def space(self, inches: float) -> None:
        self.y += inches

    def heading(self, title: str, subtitle: str = "") -> None:
        self.space(0.12)
        self.text(MARGIN, self.y, title, 12.5, weight="bold", color=ACCENT)
        self.y += 0.27
        if subtitle:
            lines = wrap(subtitle, 8, WIDTH)
            self.text(MARGIN, self.y, "\n".join(lines), 8, color=MUTED, linespacing=1.3)
            self.y += 0.2 + line_height(8) * 0.97 * (len(lines) - 1)
        self.y += 0.06

    def paragraph(self, s: str, size: float = 9, width: float = WIDTH, x: float = MARGIN,
                  **kw: Any) -> None:
        lines = wrap(s, size, width)
        self.text(x, self.y, "\n".join(lines), size, linespacing=1.35, **kw)
        self.y += line_height(size) * len(lines) + 0.06

    def axes(self, height: float, x: float = MARGIN + 0.55, width: float = WIDTH - 0.6,
             advance: bool = True) -> Axes:
        """Chart area below the cursor; leave ~0.35 in under it for tick labels."""
        ax = self.fig.add_axes((self._fx(x), self._fy(self.y + height), width / A4[0],
                                height / A4[1]))
        if advance:
            self.y += height + 0.45
        return ax

    def footer(self, left: str, number: int, total: int) -> None:
        self.rule(A4[1] - 0.55)
        self.text(MARGIN, A4[1] - 0.48, left, 7, color=MUTED)
        self.text(A4[0] - MARGIN, A4[1] - 0.48, f"page {number} / {total}", 7, color=MUTED,
                  ha="right")


def line_height(size: float) -> float:
    return size * 1.35 / 72


def wrap(s: str, size: float, width: float) -> list[str]:
    """Lines of at most `width` inches at `size` points (DejaVu Sans averages ~0.5 em)."""
    chars = max(10, int(width * 72 / (size * 0.52)))
    out: list[str] = []
    for part in s.split("\n"):
        out.extend(textwrap.wrap(part, chars) or [""])
    return out


def _cells(row: Sequence[object], widths: Sequence[float], size: float) -> list[list[str]]:
    return [wrap(str(c), size, w - 0.08) for c, w in zip(row, widths, strict=True)]


def row_height(row: Sequence[object], widths: Sequence[float], size: float = 8) -> float:
    """The height (inches) a table row takes."""
    return line_height(size) * max(len(c) for c in _cells(row, widths, size)) + 0.07


def _row(page: Page, row: Sequence[object], widths: Sequence[float], x: float, size: float,
         align: str, head: bool) -> None:
    """One table row at the cursor (the header on a band, in bold), then its rule."""
    starts = [x + sum(widths[:i]) for i in range(len(widths))]
    total = sum(widths)
    cells = _cells(row, widths, size)
    height = line_height(size) * max(len(c) for c in cells) + 0.07
    if head:
        page.rect(x, page.y - 0.04, total, height, BAND)
    for s, w, a, lines in zip(starts, widths, align, cells, strict=True):
        tx, ha = (s + w - 0.06, "right") if a == "r" else (s + 0.04, "left")
        page.text(tx, page.y, "\n".join(lines), size, ha=ha, linespacing=1.3,
                  weight="bold" if head else "normal")
    page.y += height
    page.rule(page.y - 0.04, x=x, width=total, color="#9aa0a6" if head else RULE)


def table(page: Page, header: Sequence[str], rows: Sequence[Sequence[str]],
          widths: Sequence[float], *, x: float = MARGIN, size: float = 8,
          align: str | None = None) -> None:
    """Rows under a bold header; `widths` in inches; `align` one letter per column (l/r)."""
    align = align or "l" + "r" * (len(widths) - 1)
    for r, row in enumerate([header, *rows]):
        _row(page, row, widths, x, size, align, r == 0)
    page.y += 0.1


def key_figures(page: Page, items: Sequence[tuple[str, str, str, str]]) -> None:
    """Boxes side by side: (label, value, note, colour of the value)."""
    gap = 0.12
    w = (WIDTH - gap * (len(items) - 1)) / len(items)
    for i, (label, value, note, color) in enumerate(items):
        x = MARGIN + i * (w + gap)
        page.rect(x, page.y, w, 1.1, BAND)
        page.text(x + 0.1, page.y + 0.08, "\n".join(wrap(label, 7.5, w - 0.2)), 7.5,
                  color=MUTED, linespacing=1.2)
        page.text(x + 0.1, page.y + 0.4, value, 16, weight="bold", color=color)
        page.text(x + 0.1, page.y + 0.73, "\n".join(wrap(note, 6.8, w - 0.2)), 6.8, color=MUTED,
                  linespacing=1.2)
    page.y += 1.25


class Flow:
    """Blocks laid one under the other over as many pages as they need, from the cursor of
    `page`: a block or a table row that would run into the footer starts a new page headed
    "<title> (suite)"."""

    def __init__(self, page: Page, title: str) -> None:
        self.pages = [page]
        self.title = title
        self._top = page.y  # the cursor before anything was laid on the current page

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def room(self, height: float) -> bool:
        """Start a new page unless `height` inches fit above the footer (or the page is still
        empty); True when a page was started."""
        if self.page.y + height <= BOTTOM or self.page.y <= self._top:
            return False
        page = Page()
        page.heading(f"{self.title} (suite)")
        self.pages.append(page)
        self._top = page.y
        return True

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float], *, size: float = 8, align: str | None = None) -> None:
        """Like `table`, the header repeated on each page the rows run onto."""
        align = align or "l" + "r" * (len(widths) - 1)
        head = row_height(header, widths, size)
        self.room(head + (row_height(rows[0], widths, size) if rows else 0.0))
        _row(self.page, header, widths, MARGIN, size, align, True)
        for row in rows:
            if self.room(row_height(row, widths, size)):
                _row(self.page, header, widths, MARGIN, size, align, True)
            _row(self.page, row, widths, MARGIN, size, align, False)
        self.page.y += 0.1

    def paragraph(self, s: str, size: float = 9, **kw: Any) -> None:
        self.room(line_height(size) * len(wrap(s, size, WIDTH)) + 0.06)
        self.page.paragraph(s, size, **kw)

    def heading(self, title: str, subtitle: str = "", follow: float = 0.6) -> None:
        """A heading kept with `follow` inches of what comes under it."""
        lines = len(wrap(subtitle, 8, WIDTH)) if subtitle else 0
        self.room(0.45 + 0.2 * bool(lines) + line_height(8) * max(0, lines - 1) + follow)
        self.page.heading(title, subtitle)


Builder = Callable[[Page], Sequence[Page] | None]  # draws a page; returns the pages it ran onto


def render_pdf(builders: Sequence[Builder], footer: str, title: str) -> bytes:
    """Pages from `builders` (a builder may add pages after its own), numbered "page i / n", as
    PDF bytes (no creation date, so the same content gives the same bytes)."""
    pages: list[Page] = []
    for build in builders:
        page = Page()
        pages += [page, *(build(page) or ())]
    buffer = io.BytesIO()
    meta = {"Title": title, "Creator": "qualiphone", "Producer": "qualiphone (matplotlib)",
            "CreationDate": None}
    with PdfPages(buffer, metadata=meta) as pdf:
        for number, page in enumerate(pages, start=1):
            page.footer(footer, number, len(pages))
            pdf.savefig(page.fig)
    return buffer.getvalue()
