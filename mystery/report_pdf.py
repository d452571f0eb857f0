"""The campaign report as PDF (typeset by Typst) and as HTML, from one document
(`mystery.report_doc`, charts drawn once), like the monthly statements."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mystery.analysis import CampaignAnalysis
from mystery.report_doc import campaign_document
from reports.html import render_html
from reports.pdf import render_pdf


def write_report(a: CampaignAnalysis, pdf: Path | None = None, html: Path | None = None,
                 generated: dt.datetime | None = None) -> None:
    """Write the report as an A4 PDF to `pdf` and as one self-contained HTML page to `html`."""
    doc = campaign_document(a, generated)
    if pdf is not None:
        pdf.write_bytes(render_pdf(doc))
    if html is not None:
        html.write_text(render_html(doc), encoding="utf-8")


def write_report_pdf(a: CampaignAnalysis, path: Path) -> None:
    """Write the report as an A4 PDF to `path`."""
    write_report(a, pdf=path)
