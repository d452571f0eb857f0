"""Cells a spreadsheet will not run: the OWASP rule against CSV and formula injection.

Every CSV and XLSX qualiphone writes passes its cells through `safe_cell` (or `safe_row`): a
text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so
that Excel, LibreOffice and Google Sheets show it as text instead of evaluating it
(`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, DDE). Numbers stay numbers: int and float values are
never touched, nor is a text that is exactly a number ("-5", "+33199000105", "12,5"), which a
spreadsheet reads as that number and nothing else. The rule is idempotent (`'=x` stays `'=x`).
XLSX cells also lose the control characters the format cannot hold (openpyxl refuses them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def needs_quote(text: str) -> bool:
    """Whether a spreadsheet could take `text` for a formula."""
    return text.startswith(TRIGGERS) and not _NUMBER.fullmatch(text)


def safe_cell(value: Any) -> Any:
    """`value` as a cell: a text that could be a formula gets a leading `'`; others unchanged."""
    if isinstance(value, str) and needs_quote(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class SafeWriter:
    """A csv.writer whose rows go through `safe_row`."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self.writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_xlsx_cell(value: Any) -> Any:
    """`safe_cell` for XLSX: also replaces the control characters XML cannot hold by U+FFFD."""
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("\ufffd", value)
    return safe_cell(value)


def safe_xlsx_row(values: Iterable[Any]) -> list[Any]:
    return [safe_xlsx_cell(v) for v in values]


def unquote(text: str) -> str:
    """A cell read back from one of our exports: the `'` that `safe_cell` added is dropped."""
    if text.startswith("'") and needs_quote(text[1:]):
        return text[1:]
    return text
