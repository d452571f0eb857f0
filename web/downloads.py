"""Tables as CSV and XLSX downloads, safe to open in a spreadsheet.

OWASP's CSV-injection rule: a text cell starting with =, +, -, @, a tab or a carriage return
would be read as a formula; it is written with a leading apostrophe. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM (so that a spreadsheet reads the accents), `;`-separated."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([[neutralise(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode()


def xlsx_bytes(sheet: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([neutralise(h) for h in header])
    for row in rows:
        ws.append([neutralise(v) for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def columns_table(cols: dict[str, list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """A dict of columns as (header, rows)."""
    header = list(cols)
    return header, [list(row) for row in zip(*cols.values(), strict=True)]
