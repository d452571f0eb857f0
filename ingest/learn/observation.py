"""What a PBX file says about one call, independently of the site directory.

`qualiphone sites learn` reads what the PBX wrote (CDR, CEL, queue_log, a recorded AMI capture)
without sites.toml: every call becomes one `Observation` — the caller's device, the number it
dialed, the contexts and queues it went through, the devices that were connected to it, the
machine application that answered it — and `ingest.learn.propose` turns many of them into a
proposed directory. Nothing here decides what is a switchboard call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

KINDS = ("cdr", "cel", "queue_log", "ami")


@dataclass(slots=True)
class Observation:
    """One call as the PBX recorded it. Times are UTC epoch seconds."""

    kind: str  # the source: cdr, cel, queue_log, ami
    path: str
    line: int | None
    key: str  # the caller channel's uniqueid (the call key the importers use)
    arrival: float | None
    caller_device: str  # the caller channel without its -xxxxxxxx suffix ("" if unknown)
    dialed: str | None
    contexts: list[str] = field(default_factory=list)  # the caller's dialplan contexts, in order
    queues: list[str] = field(default_factory=list)
    # devices connected to the caller: (device, seconds after the arrival or None); real devices
    # first, a Local channel only when no real device shows behind it
    answered: list[tuple[str, float | None]] = field(default_factory=list)
    rang: list[str] = field(default_factory=list)  # devices that were rung
    # devices an outside number was dialed through (Dial(SIP/sipus1/0612…)): trunks
    dialed_out: list[str] = field(default_factory=list)
    via_peer: list[str] = field(default_factory=list)  # devices dialed as EXTENSION@PEER
    machine: tuple[str, str] | None = None  # (application, context) that answered the caller
    voicemail: str | None = None  # the context where VoiceMail() took the call
    reached_person_path: bool = False  # the call went to a Dial or a Queue (not only a machine)
    example: str = ""  # one raw line, to show as evidence


def _head(path: Path, lines: int = 20) -> list[str]:
    """The first non-blank lines of a file (compressed files and BOMs included)."""
    from ingest.batch import LineReader

    head: list[str] = []
    for _, raw in LineReader(path, hold_partial=False):
        text = raw.strip()
        if text:
            head.append(text)
        if len(head) >= lines:
            break
    return head


def is_cel_table(path: Path) -> bool:
    """Whether the file is a psql dump of a CEL table (read by `ingest cel --psql`)."""
    from ingest.sniff import PSQL_CEL, looks_like

    return looks_like(_head(path, 1)) == PSQL_CEL


def sniff(path: Path) -> str:
    """The kind of a PBX file from its first non-blank lines: cdr, cel, queue_log or ami."""
    head = _head(path)
    if any(line.startswith(("Asterisk Call Manager", "Event:", "Response:", "Action:"))
           or "Examining AMI" in line for line in head):
        return "ami"
    first = head[0] if head else ""
    from ingest.sniff import PSQL_CEL, looks_like

    if looks_like([first]) == PSQL_CEL:
        return "cel"
    if first.count("|") >= 4 and first.split("|", 1)[0].isdigit():
        return "queue_log"
    if first.startswith('"') and first.split(",", 1)[0].strip('"').isupper() and \
            first.split(",", 1)[0].strip('"').replace("_", "").isalpha():
        return "cel"
    return "cdr"


def observe_file(path: Path, kind: str, tz: ZoneInfo, *, usegmtime: bool = False,
                 layout: str = "auto") -> Iterator[Observation]:
    """Every call of one file as an Observation (bad lines are left out: learning is evidence)."""
    lines = numbered(path)
    if kind == "cdr":
        from ingest.learn.from_cdr import observe_cdr

        yield from observe_cdr(lines, str(path), tz, usegmtime=usegmtime, layout=layout)
    elif kind == "cel":
        from ingest.learn.from_events import observe_cel

        yield from observe_cel(lines, str(path), tz)
    elif kind == "queue_log":
        from ingest.learn.from_events import observe_queue_log

        yield from observe_queue_log(lines, str(path))
    elif kind == "ami":
        from ingest.learn.from_ami import observe_ami

        yield from observe_ami(path)
    else:
        raise ValueError(f'unknown kind "{kind}"; expected one of {", ".join(KINDS)}')


def numbered(path: Path) -> Iterable[tuple[int, str]]:
    from ingest.batch import LineReader

    return LineReader(path)


def check_readable(path: Path, kind: str, tz: ZoneInfo, *, usegmtime: bool = False,
                   layout: str = "auto") -> None:
    """Raise SourceFileError, as the importers do, for a file that is empty or of which no
    line reads as a record of `kind` (a PDF, a queue_log read as CDR, a psql dump …)."""
    from ingest.lines import SourceFileError

    nonblank, records, reasons = _records(path, kind, tz, usegmtime=usegmtime, layout=layout)
    if nonblank == 0:
        raise SourceFileError(path, "is empty: nothing to learn from it")
    if records:
        return
    from ingest.batch import first_reasons
    from ingest.records import Reject
    from ingest.sniff import looks_like

    which = "only line was" if nonblank == 1 else f"{nonblank} lines were"
    shown = first_reasons([Reject(n, reason, "") for n, reason in reasons[:3]])
    head = [text for _, text in zip(range(20), (t for _, t in numbered(path)), strict=False)]
    found = looks_like(head)
    other = found[1].split()[1] if found is not None else None  # cdr, cel, queue-log
    guess = f" It looks like {found[0]}: --kind {other.replace('-', '_')}." \
        if found is not None and other and other.replace("-", "_") != kind else ""
    raise SourceFileError(path, (
        f"does not read as a {kind} file: its {which} all rejected ({shown}); nothing to learn "
        "from it. Check that --kind fits the file (cdr, cel, queue_log, ami) and the PBX's "
        f"settings (--pbx, cdr_layout).{guess}"))


def _records(path: Path, kind: str, tz: ZoneInfo, *, usegmtime: bool,
             layout: str) -> tuple[int, int, list[tuple[int | None, str]]]:
    """(non-blank lines, records read, (line, reason) of the first rejected lines)."""
    nonblank = sum(1 for _, text in numbered(path) if text.strip())
    reasons: list[tuple[int | None, str]] = []
    records = 0
    if kind == "cdr":
        from ingest.cdr_layout import CdrStats, Clock, LayoutChooser, RowReader

        reader = RowReader(LayoutChooser(layout), Clock(None if usegmtime else tz), CdrStats())
        reader.read(numbered(path))
        records = reader.stats.rows
        reasons = [(r.line, r.reason) for r in reader.rejects[:3]]
    elif kind == "cel":
        from ingest.cel_read import read_cel_any
        from ingest.records import Reject

        for item in read_cel_any(list(numbered(path)), tz):
            if not isinstance(item, Reject):
                records += 1
            elif len(reasons) < 3:
                reasons.append((item.line, item.reason))
    elif kind == "queue_log":
        from ingest.queue_log import parse_queue_log_line
        from ingest.records import RecordError

        for number, text in numbered(path):
            try:
                parse_queue_log_line(text) if text.strip() else None
                records += bool(text.strip())
            except RecordError as exc:
                if len(reasons) < 3:
                    reasons.append((number, str(exc)))
    else:
        from ingest.ami.replay import read_capture

        records = sum(1 for m in read_capture(path) if m.kind == "event")
        reasons = [(None, "no AMI event (Event: …) in it")]
    return nonblank, records, reasons
