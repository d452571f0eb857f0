"""What a file refused as one kind looks like instead, from its first lines: the command that
reads it, for the refusal's message (`ingest.batch.FileParse`, `sites learn`)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

_QUEUE_LOG = re.compile(r"\d{9,10}(\.\d+)?\|[^|]*\|[^|]*\|[^|]*\|[A-Z_]{3,}(\|.*)?")
_CDR_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_DISPOSITIONS = {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"}
_CEL_EVENTS = {"CHAN_START", "CHAN_END", "ANSWER", "HANGUP", "APP_START", "APP_END",
               "BRIDGE_ENTER", "BRIDGE_EXIT", "LINKEDID_END", "PARK_START", "PARK_END"}

# (what it is, the command that reads it)
PSQL_CEL = ("a psql dump of a CEL table", "ingest cel --psql")
QUEUE_LOG = ("an Asterisk queue_log", "ingest queue-log")
CDR = ("an Asterisk Master.csv (CDR)", "ingest cdr")
CEL = ("a cel_custom CSV (CEL)", "ingest cel")


def looks_like(lines: Iterable[str]) -> tuple[str, str] | None:
    """(what the lines look like, the command that reads them), or None when they look like
    nothing qualiphone reads."""
    for text in lines:
        stripped = text.strip()
        if not stripped:
            continue
        cells = [c.strip().lower() for c in stripped.strip("|").split("|")]
        if "eventtype" in cells and "eventtime" in cells:
            return PSQL_CEL
        if _QUEUE_LOG.fullmatch(stripped):
            return QUEUE_LOG
        try:
            fields = next(csv.reader([stripped]), [])
        except csv.Error:
            continue
        if fields and fields[0].strip() in _CEL_EVENTS:
            return CEL
        if 16 <= len(fields) <= 21 and _DISPOSITIONS & {f.strip() for f in fields} \
                and any(_CDR_TIME.fullmatch(f.strip()) for f in fields):
            return CDR
    return None


def hint(lines: Iterable[str], command: str) -> str:
    """" It looks like …: use …." when the lines look like a kind another command reads."""
    found = looks_like(lines)
    if found is None or found[1] == command:
        return ""
    return f" It looks like {found[0]}: {found[1]} reads it."
