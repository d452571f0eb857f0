"""A report (`reports.document.Document`) as A4 PDF bytes, typeset by Typst.

The document goes to one template (templates/document.typ) as JSON; Typst lays out the pages
(headings kept with what follows, tables running over pages with their header repeated, page
numbers) and embeds the SVG charts as they are (see qualiphone.typeset for the fonts and why the same
document gives the same bytes).
"""

from __future__ import annotations

import json
from pathlib import Path

from qualiphone.typeset import typeset
from reports.document import Document, to_data

TEMPLATE = Path(__file__).with_name("templates") / "document.typ"


def pdf_data(doc: Document) -> str:
    """What the template reads: the document as JSON."""
    return json.dumps({"title": doc.title, "footer": doc.footer,
                       "blocks": [to_data(b) for b in doc.blocks]}, ensure_ascii=False)


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes (no creation date: the same document gives the same bytes)."""
    return typeset(TEMPLATE, pdf_data(doc))
