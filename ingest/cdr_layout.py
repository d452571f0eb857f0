"""Reading Asterisk cdr_csv rows: column layouts, line splitting and local times.

This is the row layer of `ingest.cdr`: it knows where each field sits and how Asterisk writes
it, checks each row on its own and keeps the good ones as small `CdrRow` tuples; it knows
nothing about calls.

Layouts (reference §5.1): cdr_csv writes the 16 base columns, then `uniqueid` (loguniqueid),
`userfield` (loguserfield) and `peeraccount, linkedid, sequence` (newcdrcolumns). 17 and 20
columns are ambiguous (uniqueid or userfield); `19-custom` is the `Master.csv` mapping of
Asterisk's cdr_custom.conf.sample (clid first, accountcode after amaflags, uniqueid, userfield,
sequence), which some installs write instead of cdr_csv. In "auto" mode each column count gets
its layout from the first rows of that count (`LayoutChooser`).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ingest.plausible import TimeWindow
from ingest.records import Reject, unexpected
from monitor.timeutil import local_candidates, local_to_epoch

FIELDS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield", "peeraccount", "linkedid", "sequence",
)
BASE = FIELDS[:16]
# What the parser reads from every row, in this order (`Layout.read`); absent columns read "".
READ = (
    "accountcode", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "uniqueid", "linkedid",
    "sequence",
)
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
_POS = {name: i for i, name in enumerate(READ)}
_new = tuple.__new__
_intern = sys.intern
DETECT_ROWS = 50  # rows of one column count looked at before deciding an ambiguous layout


class Layout:
    """Where each field of a row sits; `read` picks the READ fields with one itemgetter."""

    __slots__ = ("_get", "columns", "name", "width")

    def __init__(self, name: str, columns: tuple[str, ...]) -> None:
        self.name, self.columns, self.width = name, columns, len(columns)
        missing = self.width  # `read` appends one "" so absent fields point at it
        self._get = itemgetter(*(columns.index(f) if f in columns else missing for f in READ))

    def read(self, fields: list[str]) -> tuple[str, ...]:
        """The READ fields of a split row that has `width` columns (the list is extended)."""
        fields.append("")
        return self._get(fields)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Layout({self.name!r})"


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("16", BASE),
        Layout("17-uniqueid", (*BASE, "uniqueid")),
        Layout("17-userfield", (*BASE, "userfield")),
        Layout("18", (*BASE, "uniqueid", "userfield")),
        Layout("19", (*BASE, *NEW_COLUMNS)),
        Layout("20-uniqueid", (*BASE, "uniqueid", *NEW_COLUMNS)),
        Layout("20-userfield", (*BASE, "userfield", *NEW_COLUMNS)),
        Layout("21", (*BASE, "uniqueid", "userfield", *NEW_COLUMNS)),
        Layout("19-custom", (
            "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata",
            "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
            "accountcode", "uniqueid", "userfield", "sequence",
        )),
    )
}
# Candidates per column count, the standard cdr_csv one first (it wins a tied vote).
BY_WIDTH: dict[int, tuple[str, ...]] = {
    16: ("16",), 17: ("17-uniqueid", "17-userfield"), 18: ("18",), 19: ("19", "19-custom"),
    20: ("20-uniqueid", "20-userfield"), 21: ("21",),
}
# A requested layout name -> the candidates it allows ("20" of settings.toml: either kind).
REQUESTS: dict[str, tuple[str, ...]] = {"20": BY_WIDTH[20], **{n: (n,) for n in LAYOUTS}}


def uniqueid_epoch(value: str) -> float | None:
    """The creation epoch in a uniqueid `<epoch>.<n>` or `<systemname>-<epoch>.<n>`, else None."""
    head, dot, counter = value.rpartition("-")[2].partition(".")
    if dot and len(head) >= 9 and head.isdigit() and counter.isdigit():
        return float(head)
    return None


def looks_like_date(value: str) -> bool:
    return len(value) == 19 and value[4] == "-" and value[10] == " " and value[13] == ":"


def plausible(name: str, fields: list[str]) -> bool:
    """Whether a row of the layout's width reads sensibly with that layout."""
    if name in ("17-uniqueid", "20-uniqueid"):
        return uniqueid_epoch(fields[16]) is not None
    if name in ("17-userfield", "20-userfield"):
        return uniqueid_epoch(fields[16]) is None
    if name == "19-custom":
        return looks_like_date(fields[8])
    return looks_like_date(fields[9]) and not looks_like_date(fields[8])


def vote(names: tuple[str, ...], rows: list[list[str]]) -> Layout:
    """The candidate layout that reads most of the rows sensibly (the first on a tie)."""
    scores = [sum(plausible(n, f) for f in rows) for n in names]
    return LAYOUTS[names[scores.index(max(scores))]]


Pending = tuple[int, str, list[str]]  # line number, raw text, split fields


class LayoutChooser:
    """The layout of each column count: fixed when unambiguous, else voted on the first rows."""

    def __init__(self, requested: str) -> None:
        if requested == "auto":
            self.allowed = dict(BY_WIDTH)
        elif requested in REQUESTS:
            names = REQUESTS[requested]
            self.allowed = {LAYOUTS[names[0]].width: names}
        else:
            known = ", ".join(["auto", "20", *LAYOUTS])
            raise ValueError(f'unknown CDR layout "{requested}"; expected one of {known}')
        self.requested = requested
        self.fixed = {w: LAYOUTS[n[0]] for w, n in self.allowed.items() if len(n) == 1}
        self._pending: dict[int, list[Pending]] = {}

    def expected(self) -> str:
        """The column counts this chooser accepts, for a reject reason."""
        widths = sorted(self.allowed)
        if self.requested == "auto":
            return f"expected {widths[0]} to {widths[-1]}"
        return f'expected {widths[0]} for layout "{self.requested}"'

    def hint(self, layout: Layout, fields: list[str]) -> str:
        """For a bad row read with a requested layout: the layout that would read it."""
        if self.requested == "auto" or plausible(layout.name, fields):
            return ""
        for name in BY_WIDTH.get(layout.width, ()):
            if name != layout.name and plausible(name, fields):
                return f' (the row reads as layout "{name}": pass --layout auto)'
        return ""

    def feed(self, item: Pending) -> list[tuple[Pending, Layout]]:
        """Hold a row of an undecided column count; release the held rows once decided."""
        width = len(item[2])
        held = self._pending.setdefault(width, [])
        held.append(item)
        return self._decide(width) if len(held) >= DETECT_ROWS else []

    def flush(self) -> list[tuple[Pending, Layout]]:
        """Decide every column count still held (end of input) and release its rows."""
        return [ready for width in list(self._pending) for ready in self._decide(width)]

    def _decide(self, width: int) -> list[tuple[Pending, Layout]]:
        held = self._pending.pop(width)
        layout = self.fixed[width] = vote(self.allowed[width], [f for _, _, f in held])
        return [(item, layout) for item in held]


class RowSplitter:
    """Splits one line at a time with the csv module, never reading into the next line.

    The csv reader pulls its input from this object, which hands over exactly one line, so a
    quote left open by a cut line is an error for that line instead of swallowing the file.
    """

    __slots__ = ("_line", "_reader")

    def __init__(self) -> None:
        self._line: str | None = None
        self._reader = csv.reader(self, strict=True)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._line
        if line is None:
            raise StopIteration
        self._line = None
        return line

    def split(self, text: str) -> list[str]:
        """The fields of one line (Asterisk quoting: "…" with doubled quotes); csv.Error if bad."""
        self._line = text
        try:
            return next(self._reader)
        finally:
            self._line = None


class Clock:
    """`YYYY-MM-DD HH:MM:SS` to UTC epoch seconds, in a zone (None: the text is UTC).

    Each distinct minute is resolved once; an ambiguous local time (clocks going back) goes
    through `monitor.timeutil.local_to_epoch` with the caller's hints.
    """

    SEEN_LIMIT = 1 << 12  # both caches are cleared when full: memory stays flat on a big file

    def __init__(self, tz: ZoneInfo | None) -> None:
        self.tz = tz
        self._minutes: dict[str, tuple[float, float]] = {}
        # Recent unambiguous times, read by the parser's hot loop before calling `read`.
        self.seen: dict[str, float] = {}

    def read(self, text: str, uniqueid: str = "", after: float | None = None) -> float:
        """Epoch of a time; `uniqueid` (its creation epoch) or `after` pick an ambiguous one."""
        minute = self._minutes.get(text[:16]) or self._minute(text[:16])
        second = text[17:]
        if len(text) != 19 or text[16] != ":" or not second.isdigit() or second > "59":
            raise ValueError(text)
        first, other = minute
        if first == other or self.tz is None:
            if len(self.seen) >= self.SEEN_LIMIT:
                self.seen.clear()
            epoch = self.seen[text] = first + int(second)
            return epoch
        naive = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        return local_to_epoch(naive, self.tz, near=uniqueid_epoch(uniqueid), prefer_after=after)

    def _minute(self, prefix: str) -> tuple[float, float]:
        if len(prefix) != 16 or prefix[4] != "-" or prefix[7] != "-" or prefix[10] != " " \
                or prefix[13] != ":":
            raise ValueError(prefix)
        if len(self._minutes) >= self.SEEN_LIMIT:
            self._minutes.clear()
        naive = dt.datetime.strptime(prefix, "%Y-%m-%d %H:%M")
        if self.tz is None:
            epoch = float(calendar.timegm(naive.timetuple()))
            found = (epoch, epoch)
        else:
            options = local_candidates(naive, self.tz)
            found = (options[0], options[-1])
        self._minutes[prefix] = found
        return found


class CdrRow(NamedTuple):
    """One good row, reduced to what call assembly needs (times are UTC epochs)."""

    line: int
    raw: str
    accountcode: str
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    disposition: str
    uniqueid: str
    linkedid: str
    sequence: int


@dataclass
class CdrStats:
    """What became of every line of one parse (for summaries and for tests)."""

    lines: int = 0
    blank: int = 0
    rows: int = 0  # good rows
    rejected_rows: int = 0
    calls: int = 0
    call_rows: int = 0
    skipped_rows: int = 0
    rejected_calls: int = 0
    rejected_call_rows: int = 0
    layouts: dict[int, str] = field(default_factory=dict)  # column count -> layout name
    skipped_lines: list[int] = field(default_factory=list)  # when keep_lines (tests)
    keep_lines: bool = True


class RowReader:
    """Splits, checks and converts rows; good rows become CdrRow tuples, bad ones Rejects (in
    `rejects`, until the caller takes them)."""

    def __init__(self, chooser: LayoutChooser, clock: Clock, stats: CdrStats,
                 window: TimeWindow | None = None) -> None:
        self.chooser, self.clock, self.stats, self.window = chooser, clock, stats, window
        self.rows: list[CdrRow] = []  # filled by `read` only
        self.rejects: list[Reject] = []
        self.rejected: dict[str, int] = {}  # linkedid/uniqueid/channel of a bad row -> its line
        self._widths: set[int] = set()
        self._splitter = RowSplitter()

    def read(self, lines: Iterable[tuple[int, str]]) -> None:
        """Read a whole input, keeping its good rows in `rows`."""
        rows = self.rows
        for number, text in lines:
            rows.extend(self.read_line(number, text))
        rows.extend(self.finish())

    def read_line(self, number: int, text: str) -> list[CdrRow]:
        """The good rows one line gives: none, its own, or the rows of its column count held
        until that count's layout was decided."""
        stats, chooser = self.stats, self.chooser
        stats.lines += 1
        if not text or text.isspace():
            stats.blank += 1
            return []
        try:
            fields = self._splitter.split(text)
        except csv.Error as exc:
            self.reject(number, split_problem(exc, len(text)), text)
            return []
        found = chooser.fixed.get(len(fields))
        if found is not None:
            row = self.add(number, text, fields, found)
            return [] if row is None else [row]
        if len(fields) in chooser.allowed:
            return [row for (n, t, f), lay in chooser.feed((number, text, fields))
                    if (row := self.add(n, t, f, lay)) is not None]
        self.reject(number, f"wrong column count: {len(fields)} columns, "
                    f"{chooser.expected()}; check cdr.conf or pass --layout", text)
        return []

    def finish(self) -> list[CdrRow]:
        """The rows still held at the end of the input; the layouts go into the stats."""
        rows = [row for (n, t, f), lay in self.chooser.flush()
                if (row := self.add(n, t, f, lay)) is not None]
        self.stats.layouts = {w: self.chooser.fixed[w].name for w in sorted(self._widths)}
        return rows

    def take_rejects(self) -> list[Reject]:
        taken, self.rejects = self.rejects, []
        return taken

    def add(self, number: int, text: str, fields: list[str], layout: Layout) -> CdrRow | None:
        """Check one split row: its CdrRow, or None when it is rejected (with the reason)."""
        try:
            row = self._add(number, text, fields, layout)
        except Exception as exc:  # one row never costs the others
            self.reject(number, unexpected(exc), text)
            return None
        if row is not None:
            self.stats.rows += 1
        return row

    def _add(self, number: int, text: str, fields: list[str], layout: Layout) -> CdrRow | None:
        self._widths.add(layout.width)
        v = layout.read(fields)
        (acc, src, dst, dctx, chan, dchan, app, data, t_start, t_answer, t_end, dur, bill,
         disp, uid, lid, seq) = v
        if not (_digits(dur) and _digits(bill)) and (problem := _bad_seconds(dur, bill)):
            problem += self.chooser.hint(layout, fields)
            self.reject(number, problem, text, lid or uid or chan)
            return None
        name, read, seen = "start", self.clock.read, self.clock.seen
        try:
            start = seen.get(t_start) or read(t_start, uid)
            name = "answer"
            answer = (seen.get(t_answer) or read(t_answer, "", start)) if t_answer else None
            name = "end"
            end = seen.get(t_end) or read(t_end, "", start)
        except (ValueError, OverflowError):  # not a time, or a year no zone can convert
            problem = self._time_problem(name, v[_POS[name]]) + self.chooser.hint(layout, fields)
            self.reject(number, problem, text, lid or uid or chan)
            return None
        window = self.window
        if window is not None and not (window.earliest <= start <= window.latest
                                       and end <= window.latest):
            name, shown = ("start", t_start) if window.problem(start, "") else ("end", t_end)
            self.reject(number, window.outside(name, shown), text, lid or uid or chan)
            return None
        if end < start or (answer is not None and not start <= answer <= end):
            problem = _bad_order(start, answer, end, v) or "times out of order"
            self.reject(number, problem, text, lid or uid or chan)
            return None
        # Fields shared by many rows are interned; linkedid shares uniqueid's string when equal.
        return _new(CdrRow, (  # type: ignore[no-any-return]
            number, text, _intern(acc), src, _intern(dst), _intern(dctx), chan, dchan,
            _intern(app), _intern(data), start, answer, end, int(dur), _intern(disp), uid,
            uid if lid == uid else lid, int(seq) if _digits(seq) else -1,
        ))

    def _time_problem(self, name: str, text: str) -> str:
        """Why a time could not be read: outside the plausible window, or not a time."""
        if self.window is not None and looks_like_date(text) and _digits(text[:4]) \
                and self.window.year_outside(int(text[:4])):
            return self.window.outside(name, text)
        return f'bad {name} time "{text}": expected YYYY-MM-DD HH:MM:SS'

    def reject(self, number: int, reason: str, text: str, key: str = "") -> None:
        self.stats.rejected_rows += 1
        self.rejects.append(Reject(number, reason, text))
        if key:
            self.rejected.setdefault(key, number)


def split_problem(exc: csv.Error, length: int) -> str:
    """The reject reason of a line the csv module cannot split."""
    if "field larger than field limit" in str(exc):
        return (f"a field longer than {csv.field_size_limit():,} characters (the line has "
                f"{length:,}): not a Master.csv row")
    return f"bad quoting: {exc}; the line was cut or edited"


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit also accepts '²' and other digits int() refuses."""
    return text.isdigit() and text.isascii()


def _bad_seconds(duration: str, billsec: str) -> str | None:
    """Why duration or billsec is not a count of seconds, or None when both are."""
    for name, value in (("duration", duration), ("billsec", billsec)):
        if value.startswith("-") and _digits(value[1:]):
            return f'negative {name} "{value}"'
        if not _digits(value):
            return f'{name} "{value}" is not a whole number of seconds'
    return None


def _bad_order(start: float, answer: float | None, end: float, v: tuple[str, ...]) -> str | None:
    """Why the row's times are out of order, or None."""
    t_start, t_answer, t_end = v[_POS["start"]], v[_POS["answer"]], v[_POS["end"]]
    if answer is not None and answer < start:
        return f'answer before start: start "{t_start}", answer "{t_answer}"'
    if end < start:
        return f'end before start: start "{t_start}", end "{t_end}"'
    if answer is not None and end < answer:
        return f'end before answer: answer "{t_answer}", end "{t_end}"'
    return None
