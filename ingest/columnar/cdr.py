"""`qualiphone ingest cdr`'s fast path: Master.csv read and assembled over columns.

Delegated to the reference (`ingest.cdr.parse_cdr`, then `CaptureContext.finalize`):
* lines that are not ordinary (`cdr_rows`), and the groups (linkedid) of their calls — any
  group whose key or first channel is the linkedid, uniqueid or channel of such a line;
* the call shapes `cdr_calls` leaves open, and the calls `finalize` would refuse;
* the calls whose rows fall into runs more than RUN_GAP apart (stored apart by the reference);
* whole files it does not read: no linkedid column, several column counts, a row without a
  linkedid (grouping by uniqueid or channel, Local halves joined across groups), a last line
  held back (still being written: the call it may complete is the reference's reject).
The reference reads the delegated lines together with the rows the layout was voted on, so
that it decides the same layout; the items it builds from those extra rows alone are dropped.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable

import numpy as np
import polars as pl

from ingest.cdr import RUN_GAP, parse_cdr
from ingest.cdr_layout import READ, Layout, LayoutChooser, RowSplitter
from ingest.columnar.batch import (
    SUB_BITS,
    ColumnarImporter,
    FastPart,
    WholeFile,
    cuts,
    merged_parts,
)
from ingest.columnar.cdr_calls import assemble
from ingest.columnar.cdr_rows import ordinary_lines, read_fields, read_rows
from ingest.columnar.finalize import complete_builders
from ingest.columnar.lines import FileLines
from ingest.finalize import CaptureContext
from monitor.call import Source

CHUNK_LINES = 250_000  # lines read and assembled at once


class ColumnarCdr(ColumnarImporter):
    """The fast Master.csv importer (`run_batch` calls `parse_file`)."""

    source = Source.CDR
    streamed = True  # parse_cdr gives a call when its last row is read
    whole_when_held = True  # the call a held-back row may complete: parse_cdr's HELD_ROW

    def __init__(self, layout: str = "auto", usegmtime: bool = False) -> None:
        LayoutChooser(layout)  # an unknown layout fails here, as in the reference
        self.layout, self.usegmtime = layout, usegmtime

    def reference(self) -> Callable[..., object]:
        return functools.partial(parse_cdr, layout=self.layout, usegmtime=self.usegmtime)

    def fast_part(self, lines: FileLines, ctx: CaptureContext) -> FastPart:
        """The file in parts of about CHUNK_LINES lines cut where no linkedid spans two parts
        (memory stays bounded; calls never straddle a cut)."""
        layout, width, voting, ordinary = ordinary_lines(lines, self.layout)
        odd = _keys_of(lines, np.flatnonzero(~ordinary), layout, width)
        keys = read_fields(lines, ordinary, layout, ("linkedid",)) if len(lines) > CHUNK_LINES \
            else pl.DataFrame(schema={"linkedid": pl.String(), "line": pl.Int64()})
        parts = [self._part(lines, lines.part(lo, hi), ordinary[lo:hi], layout, width, odd, ctx)
                 for lo, hi in cuts(len(lines), keys.rename({"linkedid": "key"}), CHUNK_LINES)]
        return merged_parts(parts, np.array(voting, dtype=np.int64))

    def _part(self, whole: FileLines, lines: FileLines, ordinary: np.ndarray, layout: Layout,
              width: int, odd: set[str], ctx: CaptureContext) -> FastPart:
        tz = None if self.usegmtime else ctx.pbx.tz
        rows = read_rows(lines, ordinary, layout, width, tz, ctx.window)
        taint = pl.Series("key", sorted(odd | _keys_of(whole, rows.delegated[
            ordinary[rows.delegated - lines.base]], layout, width)), dtype=pl.String())
        fast = rows.rows
        if fast.select((pl.col("linkedid") == "").any()).item():
            raise WholeFile("a row without linkedid")
        keys = fast.group_by("linkedid").agg(
            first=pl.col("channel").sort_by("start", "sequence", "line").first())
        tainted = keys.filter(pl.col("linkedid").is_in(taint.implode())
                              | pl.col("first").is_in(taint.implode()))["linkedid"]
        groups = fast.select(index=pl.col("line") - 1, group=pl.col("linkedid"))
        tainted = pl.concat([tainted, _runs_apart(fast)])
        assembled = assemble(fast.filter(~pl.col("linkedid").is_in(tainted.implode())), ctx)
        closes = _closes(fast)
        builders = complete_builders(_streamed(assembled.builders, closes)
                                     .with_columns(group=pl.col("linkedid")))
        return FastPart(builders, _streamed(assembled.skipped, closes), groups, rows.delegated,
                        pl.concat([tainted, assembled.delegated]).alias("group"))


def _runs_apart(rows: pl.DataFrame) -> pl.Series:
    """The linkedids whose rows fall into runs more than RUN_GAP apart (`ingest.cdr._runs_apart`
    splits them into calls stored apart): left to the reference."""
    gaps = rows.sort("linkedid", "start", "sequence", "line").with_columns(
        until=pl.col("end").cum_max().shift(1).over("linkedid"))
    return gaps.filter(pl.col("start") > pl.col("until") + RUN_GAP)["linkedid"].unique()


def _closes(rows: pl.DataFrame) -> pl.DataFrame:
    """Per call (its first line): the line of its last row, where parse_cdr gives it."""
    return rows.group_by("linkedid").agg(first=pl.col("line").min(), close=pl.col("line").max()) \
        .select("first", "close")


def _streamed(items: pl.DataFrame, closes: pl.DataFrame) -> pl.DataFrame:
    """Items (`order`: their first line) placed where parse_cdr gives them: after the rejects
    of their last line (`ingest.columnar.batch.stream_order`)."""
    if items.is_empty():
        return items
    return items.join(closes, left_on="order", right_on="first", how="left",
                      maintain_order="left").with_columns(
        order=pl.col("close") * (1 << SUB_BITS) + (1 << (SUB_BITS - 1))).drop("close")


def _keys_of(lines: FileLines, indexes: np.ndarray, layout: Layout, width: int) -> set[str]:
    """The linkedid, uniqueid and channel of every delegated line that reads as a row of the
    file's layout; WholeFile when one reads as a row of another layout or has no linkedid."""
    splitter, chooser = RowSplitter(), LayoutChooser("auto")
    keys: set[str] = set()
    for index in indexes.tolist():
        text = lines.text(index)
        if not text or text.isspace():
            continue
        try:
            fields = splitter.split(text)
        except csv.Error:
            continue
        if len(fields) != width:
            if len(fields) in chooser.allowed:
                raise WholeFile("rows of several column counts")
            continue
        value = dict(zip(READ, layout.read(list(fields)), strict=True))
        if not value["linkedid"]:
            raise WholeFile("a row without linkedid")
        keys.update((value["linkedid"], value["uniqueid"], value["channel"]))
    return keys
