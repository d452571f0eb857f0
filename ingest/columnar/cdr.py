"""`qualiphone ingest cdr`'s fast path: Master.csv read and assembled over columns.

Delegated to the reference (`ingest.cdr.parse_cdr`, then `CaptureContext.finalize`):
* lines that are not ordinary (`cdr_rows`), and the groups (linkedid) of their calls — any
  group whose key or first channel is the linkedid, uniqueid or channel of such a line;
* the call shapes `cdr_calls` leaves open, and the calls `finalize` would refuse;
* whole files it does not read: no linkedid column, several column counts, a row without a
  linkedid (grouping by uniqueid or channel, Local halves joined across groups), gzip.
The reference reads the delegated lines together with the rows the layout was voted on, so
that it decides the same layout; the items it builds from those extra rows alone are dropped.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable

import numpy as np
import polars as pl

from ingest.cdr import parse_cdr
from ingest.cdr_layout import READ, Layout, LayoutChooser, RowSplitter
from ingest.columnar.batch import ColumnarImporter, FastPart, WholeFile
from ingest.columnar.cdr_calls import assemble
from ingest.columnar.cdr_rows import CdrRows, read_rows
from ingest.columnar.finalize import complete_builders
from ingest.columnar.lines import FileLines
from ingest.finalize import CaptureContext
from monitor.call import Source


class ColumnarCdr(ColumnarImporter):
    """The fast Master.csv importer (`run_batch` calls `parse_file`)."""

    source = Source.CDR

    def __init__(self, layout: str = "auto", usegmtime: bool = False) -> None:
        LayoutChooser(layout)  # an unknown layout fails here, as in the reference
        self.layout, self.usegmtime = layout, usegmtime

    def reference(self) -> Callable[..., object]:
        return functools.partial(parse_cdr, layout=self.layout, usegmtime=self.usegmtime)

    def fast_part(self, lines: FileLines, ctx: CaptureContext) -> FastPart:
        rows = read_rows(lines, self.layout, None if self.usegmtime else ctx.pbx.tz)
        taint = _delegated_keys(lines, rows)
        fast = rows.rows
        if fast.select((pl.col("linkedid") == "").any()).item():
            raise WholeFile("a row without linkedid")
        keys = fast.group_by("linkedid").agg(
            first=pl.col("channel").sort_by("start", "sequence", "line").first())
        tainted = keys.filter(pl.col("linkedid").is_in(taint.implode())
                              | pl.col("first").is_in(taint.implode()))["linkedid"]
        groups = fast.select(index=pl.col("line") - 1, group=pl.col("linkedid"))
        assembled = assemble(fast.filter(~pl.col("linkedid").is_in(tainted.implode())), ctx)
        builders = complete_builders(assembled.builders.with_columns(group=pl.col("linkedid")))
        return FastPart(builders, assembled.skipped, groups, rows.delegated,
                        pl.concat([tainted, assembled.delegated]).alias("group"),
                        np.array(rows.voting, dtype=np.int64))


def _delegated_keys(lines: FileLines, rows: CdrRows) -> pl.Series:
    """The linkedid, uniqueid and channel of every delegated line that reads as a row of the
    file's layout; WholeFile when one reads as a row of another layout or has no linkedid."""
    splitter, chooser = RowSplitter(), LayoutChooser("auto")
    keys: set[str] = set()
    for index in rows.delegated.tolist():
        text = lines.text(index)
        if not text or text.isspace():
            continue
        try:
            fields = splitter.split(text)
        except csv.Error:
            continue
        if len(fields) != rows.width:
            if len(fields) in chooser.allowed:
                raise WholeFile("rows of several column counts")
            continue
        value = dict(zip(READ, _read(rows.layout, fields), strict=True))
        if not value["linkedid"]:
            raise WholeFile("a row without linkedid")
        keys.update((value["linkedid"], value["uniqueid"], value["channel"]))
    return pl.Series("key", sorted(keys), dtype=pl.String())


def _read(layout: Layout, fields: list[str]) -> tuple[str, ...]:
    return layout.read(list(fields))

