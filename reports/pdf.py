"""A report (`reports.document.Document`) as A4 PDF bytes, typeset by Typst.

The document goes to one template (templates/document.typ) as JSON; Typst lays out the pages
(headings kept with what follows, tables running over pages with their header repeated, page
numbers) and embeds the SVG charts as they are. The fonts are the DejaVu Sans files matplotlib
ships (no system font is read), so the same document gives the same bytes on every machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import typst

from reports.document import Document, to_data

TEMPLATE = Path(__file__).with_name("templates") / "document.typ"
_compiler: dict[int, typst.Compiler] = {}  # one per process (worker processes are forked)


def font_dir() -> str:
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")


def compiler() -> typst.Compiler:
    """This process's Typst compiler (it keeps its fonts loaded between documents)."""
    pid = os.getpid()
    if pid not in _compiler:
        _compiler.clear()
        _compiler[pid] = typst.Compiler(font_paths=[font_dir()], ignore_system_fonts=True)
    return _compiler[pid]


def typeset(template: Path, data: str) -> bytes:
    """Compile `template` with `data` (JSON, in sys.inputs.doc) to PDF bytes.

    Typst runs threads of its own: a process forked after it ran can hang in it, so
    reports.build only typesets in the parent process (workers send the JSON back)."""
    out = compiler().compile(template.read_bytes(), format="pdf", sys_inputs={"doc": data})
    assert isinstance(out, bytes)
    return out


def pdf_data(doc: Document) -> str:
    """What the template reads: the document as JSON."""
    return json.dumps({"title": doc.title, "footer": doc.footer,
                       "blocks": [to_data(b) for b in doc.blocks]}, ensure_ascii=False)


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes (no creation date: the same document gives the same bytes)."""
    return typeset(TEMPLATE, pdf_data(doc))
