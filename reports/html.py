"""A report (`reports.document.Document`) as one self-contained HTML page: styles inline, charts
as inline SVG (text kept as text), no script, no font, image or style fetched from anywhere."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from reports.document import (
    Block,
    Boxes,
    Chart,
    Columns,
    Document,
    Heading,
    PageBreak,
    Para,
    Table,
    Title,
    Verdicts,
)

CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:60rem;
margin:0 auto;padding:1.5rem;line-height:1.45;font-size:15px}
header{border-top:8px solid #1f4e79;padding-top:.8rem}
.kicker,.muted{color:#5f6368;font-size:.85rem}
h1{color:#1f4e79;margin:.3rem 0;font-size:1.8rem}
h2{color:#1f4e79;margin-top:2rem;font-size:1.3rem}
h3{color:#1f4e79;font-size:1.05rem}
.subject{display:flex;justify-content:space-between;font-size:1.3rem;font-weight:bold}
.commitment{background:#eef2f7;padding:.5rem .8rem;font-weight:bold;color:#1f4e79}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.6rem;
margin:1rem 0}
.figure{background:#eef2f7;padding:.6rem}
.figure .value{font-size:1.7rem;font-weight:bold}
.good{color:#2e7d32}.bad{color:#c62828}.alert{color:#c62828;font-weight:bold}
table{border-collapse:collapse;margin:.6rem 0;width:100%;font-size:.9rem}
th{background:#eef2f7;text-align:left}
th,td{padding:.25rem .5rem;border-bottom:1px solid #c8ccd0;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
table.verdicts td{vertical-align:middle}
.state{display:inline-block;padding:.15rem .45rem;border-radius:3px;color:#fff;font-weight:bold;
font-size:.8rem;text-transform:uppercase;white-space:nowrap}
.met{background:#2e7d32}.not_met{background:#c62828}.no_data{background:#5f6368}
.figure-met{color:#2e7d32}.figure-not_met{color:#c62828}.figure-no_data{color:#5f6368}
.chart{margin:1rem 0}.chart svg{width:100%;height:auto}
figcaption{font-weight:bold;font-size:.95rem}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
footer{margin-top:2rem;border-top:1px solid #c8ccd0;padding-top:.5rem}
@media print{body{max-width:none}}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "",
               alert_column: int | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)

    def cls(i: int, cell: str = "") -> str:
        names = (["n"] if align[i] == "r" else []) + \
            (["alert"] if i == alert_column and cell.strip() else [])
        indent = " style='padding-left:1.6rem'" if cell.startswith("   ") else ""
        return (f" class='{' '.join(names)}'" if names else "") + indent

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i, c)}>{esc(c.strip())}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def inline_svg(svg: str) -> str:
    """The SVG without its namespace declarations (HTML5 knows them; no URL in the page)."""
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)


def _title(b: Title) -> str:
    area = f" · {b.area}" if b.area else ""
    return (f"<header><div class=kicker>{esc(b.kicker)} · {esc(b.generated)}</div>"
            f"<h1>{esc(b.title)}</h1><div class=subject><span>{esc(b.subject + area)}</span>"
            f"<span>{esc(b.when)}</span></div><p class=commitment>{esc(b.commitment)}</p></header>")


def _boxes(b: Boxes) -> str:
    out = []
    for i in b.items:
        cls = "" if i.good is None else (" good" if i.good else " bad")
        out.append(f"<div class=figure><div class=muted>{esc(i.label)}</div>"
                   f"<div class='value{cls}'>{esc(i.value)}</div><div class=muted>{esc(i.note)}"
                   "</div></div>")
    return f"<div class=figures>{''.join(out)}</div>"


def _verdicts(b: Verdicts) -> str:
    rows = "".join(
        f"<tr><td><span class='state {v.state}'>{esc(v.word)}</span></td>"
        f"<td><b>{esc(v.name)}</b><br><span class=muted>{esc(v.detail)}</span></td>"
        f"<td class='n figure-{v.state}'><b>{esc(v.figure)}</b></td></tr>" for v in b.items)
    return f"<table class=verdicts><tbody>{rows}</tbody></table>"


def _chart(b: Chart) -> str:
    head = f"<figcaption>{esc(b.caption)}</figcaption>" if b.caption else ""
    return f"<figure class=chart>{head}{inline_svg(b.svg)}</figure>"


def _heading(b: Heading) -> str:
    note = f"<p class=muted>{esc(b.note)}</p>" if b.note else ""
    return f"<h{b.level}>{esc(b.text)}</h{b.level}>{note}"


def _para(b: Para) -> str:
    cls = " class=alert" if b.alert else (" class=muted" if b.size == "small" else "")
    return f"<p{cls}>{esc(b.text)}</p>"


def block_html(b: Block) -> str:
    if isinstance(b, Title):
        return _title(b)
    if isinstance(b, Heading):
        return _heading(b)
    if isinstance(b, Para):
        return _para(b)
    if isinstance(b, Boxes):
        return _boxes(b)
    if isinstance(b, Verdicts):
        return _verdicts(b)
    if isinstance(b, Table):
        return table_html(b.header, b.rows, b.align, b.alert_column)
    if isinstance(b, Chart):
        return _chart(b)
    if isinstance(b, Columns):
        return "<div class=pair>" + "".join(
            "<div>" + "".join(block_html(x) for x in part) + "</div>" for part in b.parts) + "</div>"
    assert isinstance(b, PageBreak)
    return ""


def render_html(doc: Document) -> str:
    """The document as a self-contained HTML page."""
    body = "".join(block_html(b) for b in doc.blocks)
    return (f"<!DOCTYPE html>\n<html lang=fr><head><meta charset=utf-8>"
            f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(doc.title)}</title><style>{CSS}</style></head><body>{body}"
            f"<footer class=muted>{esc(doc.footer)} · qualiphone</footer></body></html>\n")
