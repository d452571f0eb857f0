"""Master.csv rows read with polars and checked strictly, column by column.

`read_rows` decides the column count and layout exactly as the reference `LayoutChooser` would
(the first rows of that count, split by the reference's own splitter), reads the ordinary lines
with polars and keeps, as typed columns, the rows whose every field has the plain shape Asterisk
writes: times `YYYY-MM-DD HH:MM:SS` in a plausible window and in order, whole seconds,
identifiers and channel names without blanks, a known disposition, a linkedid. Every other line
is *delegated*: the reference importer reads it (and rejects it with its reason when it must).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from ingest.cdr_layout import DETECT_ROWS, READ, Layout, LayoutChooser, RowSplitter, vote
from ingest.columnar.batch import WholeFile
from ingest.columnar.clock import local_to_utc, naive_seconds
from ingest.columnar.lines import FileLines, csv_line_pattern
from ingest.plausible import TimeWindow

DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION")
LOOK_AHEAD = 5000  # lines read by the reference splitter to find the layout's first rows
# Longest ordinary value of each column (bytes); identifiers, channels and numbers are bounded
# well inside the store's columns (dialed 32, caller 64, call key and device 128).
MAX_BYTES = {
    "accountcode": 64, "src": 32, "dst": 32, "dcontext": 64, "clid": 128, "channel": 96,
    "dstchannel": 96, "lastapp": 32, "lastdata": 256, "disposition": 16, "amaflags": 16,
    "uniqueid": 64, "userfield": 128, "peeraccount": 64, "linkedid": 64,
}
NON_EMPTY = ("channel", "uniqueid", "linkedid")
NO_BLANK = ("channel", "dstchannel", "uniqueid", "linkedid")  # the reference strips channels
DIGITS = {"duration": r"^[0-9]{1,9}$", "billsec": r"^[0-9]{1,9}$", "sequence": r"^[0-9]{0,9}$"}


@dataclass
class CdrRows:
    """The strictly checked rows (typed columns, `line` 1-based) and the delegated lines."""

    layout: Layout
    width: int
    rows: pl.DataFrame
    delegated: np.ndarray  # 0-based indexes (in the whole file) of the lines left to the reference


def choose_layout(lines: FileLines, requested: str) -> tuple[Layout, int, list[int]]:
    """(layout, width, the lines that voted) as the reference would decide for the file's
    commonest column count among its first lines; WholeFile when that is not decidable here."""
    chooser = LayoutChooser(requested)
    splitter = RowSplitter()
    split: list[tuple[int, list[str]]] = []
    for index in range(min(len(lines), LOOK_AHEAD)):
        text = lines.text(index)
        if not text or text.isspace():
            continue
        try:
            split.append((index, splitter.split(text)))
        except csv.Error:
            continue
    widths = [len(f) for _, f in split]
    if not widths:
        raise WholeFile("no row to read")
    width = max(set(widths), key=widths.count)
    if width not in chooser.allowed:
        raise WholeFile(f"{width} columns is no layout")
    voters = [(i, f) for i, f in split if len(f) == width][:DETECT_ROWS]
    if width in chooser.fixed:
        return chooser.fixed[width], width, []
    if len(voters) < DETECT_ROWS and len(lines) > LOOK_AHEAD:
        raise WholeFile("too few rows of the layout to vote on")
    return vote(chooser.allowed[width], [f for _, f in voters]), width, [i for i, _ in voters]


def ordinary_lines(lines: FileLines, requested: str) -> tuple[Layout, int, list[int], np.ndarray]:
    """(layout, width, the lines it was voted on, mask of the ordinary lines) of a file."""
    layout, width, voting = choose_layout(lines, requested)
    if "linkedid" not in layout.columns or "uniqueid" not in layout.columns:
        raise WholeFile(f'layout "{layout.name}" has no linkedid')
    ordinary = lines.matching(csv_line_pattern(width))
    if ordinary.sum() < len(lines) / 2:
        raise WholeFile("most lines are not ordinary")
    return layout, width, voting, ordinary


def read_fields(lines: FileLines, ordinary: np.ndarray, layout: Layout,
                names: tuple[str, ...] = READ) -> pl.DataFrame:
    """The fields `names` of the ordinary lines, with their 1-based `line`."""
    index = np.flatnonzero(ordinary)
    wanted = [(i, name) for i, name in enumerate(layout.columns) if name in names]
    frame = pl.read_csv(lines.select(ordinary), has_header=False, infer_schema=False,
                        columns=[i for i, _ in wanted], quote_char='"',
                        empty_string_is_null=False, raise_if_empty=False)
    frame.columns = [name for _, name in wanted]
    if len(frame) != len(index):
        raise WholeFile("the CSV reader and the line check disagree")
    return frame.with_columns(line=pl.Series(index + 1 + lines.base, dtype=pl.Int64()))


def read_rows(lines: FileLines, ordinary: np.ndarray, layout: Layout, width: int,
              tz: ZoneInfo | None, window: TimeWindow | None = None) -> CdrRows:
    """The checked rows of some lines (`lines` may be a part of the file: its `base`); rows
    outside the plausible `window` are left to the reference, which rejects them."""
    frame = read_fields(lines, ordinary, layout)
    rows, good = _typed(frame, tz)
    if window is not None and len(rows):
        start, end = rows["start"].to_numpy(), rows["end"].to_numpy()
        good &= (start >= window.earliest) & (start <= window.latest) & (end <= window.latest)
    index = np.flatnonzero(ordinary)
    delegated = np.union1d(np.flatnonzero(~ordinary), index[~good]) + lines.base
    return CdrRows(layout, width, rows.filter(pl.Series(good)), delegated)


def _checks(frame: pl.DataFrame) -> pl.Expr:
    """Every field in its ordinary shape (printable ASCII is proven by the line pattern)."""
    checks = [pl.col(name).str.len_bytes() <= size for name, size in MAX_BYTES.items()
              if name in frame.columns]
    checks += [pl.col(name) != "" for name in NON_EMPTY]
    checks += [~pl.col(name).str.contains(" ", literal=True) for name in NO_BLANK]
    checks += [pl.col(name).str.contains(pattern) for name, pattern in DIGITS.items()]
    checks.append(pl.col("disposition").is_in(DISPOSITIONS))
    return pl.all_horizontal(checks)


def _typed(frame: pl.DataFrame, tz: ZoneInfo | None) -> tuple[pl.DataFrame, np.ndarray]:
    """Typed columns and the mask of rows that are ordinary in every field."""
    good = frame.select(_checks(frame)).to_series().to_numpy()
    n = len(frame)
    parsed = [naive_seconds(frame[name]) for name in ("start", "answer", "end")]
    utc, ok = local_to_utc(np.concatenate([p[0] for p in parsed]),
                           np.concatenate([p[1] for p in parsed]), tz)  # one look-up per hour
    times = {name: utc[i * n:(i + 1) * n] for i, name in enumerate(("start", "answer", "end"))}
    oks = {name: ok[i * n:(i + 1) * n] for i, name in enumerate(("start", "answer", "end"))}
    good &= oks["start"] & oks["end"] & (oks["answer"] | (frame["answer"] == "").to_numpy())
    answered = (frame["answer"] != "").to_numpy()
    start, answer, end = times["start"], times["answer"], times["end"]
    good &= (end >= start) & (~answered | ((answer >= start) & (answer <= end)))
    typed = frame.select(
        "line", "accountcode", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
        "lastdata", "disposition", "uniqueid", "linkedid",
        pl.Series("start", start), pl.Series("answer", answer),
        pl.Series("end", end), pl.col("duration").cast(pl.Int64(), strict=False),
        pl.when(pl.col("sequence") == "").then(-1)
        .otherwise(pl.col("sequence").cast(pl.Int64(), strict=False)).alias("sequence"),
    ).with_columns(answer=pl.when(pl.Series(answered)).then(pl.col("answer")).otherwise(None))
    return typed, good
