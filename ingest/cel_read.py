"""Read CEL rows: cel_custom CSV (the batch source) and psql dumps of a CEL table.

Both readers are pure: numbered lines in, `CelRecord`s and `Reject`s out, one bad row never
stopping the file. Times become UTC epoch seconds (float) exact to the microsecond: the text
`<seconds>.<usec>` is turned into a float once, by `float()`, so the same instant read from a
CSV file and from a table dump gives the same float.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ingest.plausible import TimeWindow
from ingest.records import RecordError, Reject, unexpected
from monitor.timeutil import local_to_epoch

# The de-facto cel_custom mapping (reference §7): 20 columns, all quoted.
CSV_COLUMNS = 20
_EPOCH = re.compile(r"\d{1,12}(\.\d{1,9})?", re.ASCII)
_LOCAL_FORMATS = (("%Y-%m-%d %H:%M:%S.%f", 1e-6), ("%Y-%m-%d %H:%M:%S", 1.0))
_UNIQUEID_EPOCH = re.compile(r"(?:.*-)?(\d{9,12})\.\d+", re.ASCII)
_TABLE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?", re.ASCII
)
_TABLE_RULE = re.compile(r"[-+|\s]+")
_TABLE_FOOTER = re.compile(r"\(\d+ rows?\)")
# Table column -> CelRecord field (PostgreSQL's cel table names the channel "channame").
_TABLE_FIELDS = {
    "eventtype": "eventtype", "cid_name": "cid_name", "cid_num": "cid_num", "cid_ani": "cid_ani",
    "cid_dnid": "cid_dnid", "exten": "exten", "context": "context", "channame": "channel",
    "channel": "channel", "appname": "appname", "appdata": "appdata",
    "accountcode": "accountcode", "uniqueid": "uniqueid", "linkedid": "linkedid", "peer": "peer",
    "userfield": "userfield", "extra": "extra", "eventextra": "extra",
}
_TABLE_REQUIRED = ("eventtype", "eventtime", "uniqueid", "linkedid")


@dataclass(frozen=True, slots=True)
class CelRecord:
    """One CEL event. `eventtime` is UTC epoch seconds; `line`/`raw` locate it in its file."""

    eventtype: str
    eventtime: float
    cid_name: str = ""
    cid_num: str = ""
    cid_ani: str = ""
    cid_dnid: str = ""
    exten: str = ""
    context: str = ""
    channel: str = ""
    appname: str = ""
    appdata: str = ""
    accountcode: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    peer: str = ""
    userfield: str = ""
    extra: str = ""
    resolution: float = 1e-6  # 1.0 when the file wrote whole-second local times
    line: int | None = field(default=None, compare=False)
    raw: str = field(default="", compare=False, repr=False)


def read_cel_csv(lines: Iterable[tuple[int, str]], tz: ZoneInfo,
                 window: TimeWindow | None = None) -> Iterator[CelRecord | Reject]:
    """cel_custom rows in the 20-column order of reference §7; blank lines are skipped.

    `eventtime` is `<epoch>.<usec>` (dateformat unset) or a local time
    `YYYY-MM-DD HH:MM:SS[.ffffff]` in `tz` (dateformat set); outside `window`, a reject.
    """
    for number, text in lines:
        if not text.strip():
            continue
        try:
            yield _csv_record(number, text, tz, window)
        except RecordError as exc:
            yield Reject(number, str(exc), text)
        except Exception as exc:  # one line never costs the others
            yield Reject(number, unexpected(exc), text)


def _csv_record(number: int, text: str, tz: ZoneInfo, window: TimeWindow | None) -> CelRecord:
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise RecordError(f"malformed CSV ({exc}); cel_custom writes every field in double quotes"
                          ) from None
    if len(fields) != CSV_COLUMNS:
        raise RecordError(
            f"wrong column count: {len(fields)} columns, expected {CSV_COLUMNS} (the usual "
            "cel_custom mapping: eventtype, eventtime, ..., eventextra); check the mappings "
            "section of cel_custom.conf"
        )
    (eventtype, eventtime, cid_name, cid_num, cid_ani, _rdnis, cid_dnid, exten, context, channel,
     appname, appdata, _amaflags, accountcode, uniqueid, linkedid, peer, userfield, _userdeftype,
     extra) = fields
    when, resolution = _csv_time(eventtime, uniqueid, tz)
    if window is not None:
        window.check(when, "eventtime", None if _EPOCH.fullmatch(eventtime.strip()) else eventtime)
    return CelRecord(eventtype, when, cid_name, cid_num, cid_ani, cid_dnid, exten, context,
                     channel, appname, appdata, accountcode, uniqueid, linkedid, peer, userfield,
                     extra, resolution, number, text)


def _csv_time(text: str, uniqueid: str, tz: ZoneInfo) -> tuple[float, float]:
    """(UTC epoch, resolution) of a cel_custom eventtime."""
    value = text.strip()
    if _EPOCH.fullmatch(value):
        return float(value), 1e-6 if "." in value else 1.0
    for fmt, resolution in _LOCAL_FORMATS:
        try:
            naive = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        # A uniqueid starts with the channel's creation second: it picks the right occurrence
        # of a local time repeated when clocks go back (monitor.timeutil's DST rule).
        try:
            return local_to_epoch(naive, tz, prefer_after=uniqueid_epoch(uniqueid)), resolution
        except (OverflowError, ValueError):  # a year no zone can convert (0001, 9999)
            break
    raise RecordError(
        f'bad eventtime "{text}": expected epoch seconds with microseconds ("1718000015.240101") '
        'or a local time "YYYY-MM-DD HH:MM:SS.ffffff"; leave dateformat unset in cel.conf'
    )


def uniqueid_epoch(uniqueid: str) -> float | None:
    """The creation second written in an Asterisk uniqueid (`[system-]epoch.counter`)."""
    match = _UNIQUEID_EPOCH.fullmatch(uniqueid.strip())
    return float(match.group(1)) if match else None


CHECK_SECONDS = 2.0  # a CHAN_START's eventtime within this of its uniqueid's second: same moment


@dataclass(frozen=True)
class NaiveTimes:
    """What a CEL table's CHAN_START rows say of its eventtimes written without an offset: how
    many name a uniqueid second (`rows`), how many agree with it read as UTC and read as local
    time in the PBX's zone, and the commonest gap (eventtime read as UTC − uniqueid) otherwise."""

    rows: int = 0
    utc: int = 0
    local: int = 0
    gap: float | None = None

    @property
    def verdict(self) -> str:
        """ "utc", "local", "unknown" (they agree with neither) or "none" (nothing to tell)."""
        if not self.rows:
            return "none"
        if max(self.utc, self.local) * 2 < self.rows:
            return "unknown"
        return "local" if self.local > self.utc else "utc"


def naive_times(lines: Iterable[tuple[int, str]], tz: ZoneInfo) -> NaiveTimes:
    """Read the writing zone of a CEL table's naive eventtimes off its CHAN_START rows: a
    channel's uniqueid (`epoch.counter`) holds the UTC second it was created, its CHAN_START
    the same moment as the PBX wrote it (cel_pgsql: local time unless `usegmtime = yes`)."""
    header: list[str] | None = None
    framed = False
    rows = utc = local = 0
    gaps: dict[int, int] = {}
    for _, text in lines:
        stripped = text.strip()
        if not stripped or _TABLE_RULE.fullmatch(stripped) or _TABLE_FOOTER.fullmatch(stripped):
            continue
        if header is None:
            framed = stripped.startswith("|")
            header = [c.lower() for c in _cells(stripped, framed)]
            if any(c not in header for c in _TABLE_REQUIRED):
                break
            continue
        cells = _cells(stripped, framed)
        if len(cells) != len(header):
            continue
        values = dict(zip(header, cells, strict=True))
        match = _TABLE_TIME.fullmatch(values["eventtime"])
        created = uniqueid_epoch(values["uniqueid"])
        if values["eventtype"] != "CHAN_START" or not match or match.group(8) or match.group(9) \
                or created is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
            wall = dt.datetime(year, month, day, hour, minute, second)
            gap = calendar.timegm(wall.timetuple()) - created
            offset = dt.datetime.fromtimestamp(created, tz).utcoffset()
        except (ValueError, OverflowError, OSError):
            continue
        rows += 1
        utc += abs(gap) <= CHECK_SECONDS
        local += offset is not None and abs(gap - offset.total_seconds()) <= CHECK_SECONDS
        gaps[round(gap / 900) * 900] = gaps.get(round(gap / 900) * 900, 0) + 1
    common = max(gaps, key=lambda g: gaps[g]) if gaps else None
    return NaiveTimes(rows, utc, local, None if common is None else float(common))


def read_cel_table(lines: Iterable[tuple[int, str]], naive_tz: ZoneInfo | None = None,
                   window: TimeWindow | None = None) -> Iterator[CelRecord | Reject]:
    """A `|`-separated CEL table with a header row naming the columns (psql output).

    Accepts psql's aligned output (optional `---+---` rule and `(N rows)` footer) and tables
    framed by `|` on both sides. Columns are found by name, in any order; unknown ones (id,
    amaflags, …) are ignored. `eventtime` is a PostgreSQL timestamp: with an offset it is read
    with it; without one it is UTC, as Wazo reads it, unless `naive_tz` names the zone the PBX
    wrote it in (cel_pgsql writes local time unless `usegmtime = yes`).
    """
    header: list[str] | None = None
    framed = False
    unread = ""  # why the rows cannot be read: the header lacks a column
    for number, text in lines:
        stripped = text.strip()
        if not stripped or _TABLE_RULE.fullmatch(stripped) or _TABLE_FOOTER.fullmatch(stripped):
            continue
        if unread:  # every line is a reject: a file that is no CEL table is refused whole
            yield Reject(number, unread, text)
            continue
        if header is None:
            framed = stripped.startswith("|")
            header = [c.lower() for c in _cells(stripped, framed)]
            missing = [c for c in _TABLE_REQUIRED if c not in header]
            if missing:
                yield Reject(number, f"table header lacks the column(s) {', '.join(missing)}; "
                             "export the cel table with all its columns", text)
                unread = (f"not read: the table header (line {number}) lacks the column(s) "
                          f"{', '.join(missing)}")
            continue
        try:
            record = _table_record(header, _cells(stripped, framed), number, text, naive_tz)
            if window is not None:
                window.check(record.eventtime, "eventtime")
            yield record
        except RecordError as exc:
            yield Reject(number, str(exc), text)
        except Exception as exc:  # one line never costs the others
            yield Reject(number, unexpected(exc), text)


def _cells(stripped: str, framed: bool) -> list[str]:
    if framed:
        stripped = stripped.removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in stripped.split("|")]


def _table_record(header: list[str], cells: list[str], number: int, text: str,
                  naive_tz: ZoneInfo | None) -> CelRecord:
    if len(cells) != len(header):
        raise RecordError(f"wrong column count: {len(cells)} columns, the header names "
                          f"{len(header)}; a value may contain '|'")
    values = dict(zip(header, cells, strict=True))
    kwargs: dict[str, Any] = {
        name: values[column] for column, name in _TABLE_FIELDS.items() if column in values
    }
    when = table_time(values["eventtime"], naive_tz, uniqueid_epoch(values["uniqueid"]))
    return CelRecord(eventtime=when, line=number, raw=text, **kwargs)


def table_time(text: str, naive_tz: ZoneInfo | None = None, hint: float | None = None) -> float:
    """UTC epoch of a PostgreSQL timestamp as psql prints it (`2021-02-10 15:39:11.4256+00`).

    Without an offset the time is UTC, or local time in `naive_tz` (an ambiguous local time is
    taken at its first occurrence not before `hint`, the uniqueid's creation second).
    """
    match = _TABLE_TIME.fullmatch(text.strip())
    if not match:
        raise RecordError(f'bad eventtime "{text}": expected a timestamp such as '
                          '"2021-02-10 15:39:11.425631+00"')
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        whole = calendar.timegm(moment.timetuple())
        if sign:
            offset = int(off_h) * 3600 + int(off_m or 0) * 60
            whole -= offset if sign == "+" else -offset
        elif naive_tz is not None and not zulu:
            whole = int(local_to_epoch(moment, naive_tz, prefer_after=hint))
    except (ValueError, OverflowError):
        raise RecordError(f'bad eventtime "{text}": not a real date and time') from None
    return float(f"{whole}.{(fraction or '').ljust(6, '0')}")


def in_time_order(records: Iterable[CelRecord]) -> list[CelRecord]:
    """Records sorted by eventtime (stable); LINKEDID_END last among records of equal time.

    Needed for table dumps, which may list rows in any order; cel_custom files are written
    in order already.
    """
    return sorted(records, key=lambda r: (r.eventtime, r.eventtype == "LINKEDID_END"))


def is_table(numbered: list[tuple[int, str]]) -> bool:
    """Whether the lines are a psql dump of a CEL table (a header naming eventtype and
    eventtime), not a cel_custom CSV."""
    from ingest.sniff import PSQL_CEL, looks_like

    first = next((text for _, text in numbered if text.strip()), "")
    return looks_like([first]) == PSQL_CEL


def read_cel_any(numbered: list[tuple[int, str]], tz: ZoneInfo) -> Iterator[CelRecord | Reject]:
    """A cel_custom CSV, or a psql dump of a CEL table (its rows put in time order, times
    without an offset read as the CHAN_START rows say: `naive_times`), for reading without a
    site directory (`sites learn`, `sites check`)."""
    if not is_table(numbered):
        yield from read_cel_csv(numbered, tz)
        return
    naive = tz if naive_times(numbered, tz).verdict == "local" else None
    items = list(read_cel_table(numbered, naive))
    yield from (item for item in items if isinstance(item, Reject))
    yield from in_time_order(item for item in items if isinstance(item, CelRecord))

