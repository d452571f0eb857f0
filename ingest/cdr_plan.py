"""The first of the CDR importer's two passes: after which line no more rows can join a call.

Asterisk writes a call's rows when its channels hang up, so they can be far apart in the file;
holding every row until the end made a 414 MB Master.csv peak at 1.85 GB. This pass reads the
file once, cheaply (split and layout, no times), and links the lines that the grouping of
`ingest.cdr` can put together: the same linkedid, else uniqueid; for rows with neither, the
same channel; for rows without linkedid, a `Local/…;2` half and the row that dialed its `;1`.
The linked lines form components (connected components of the line-token graph); the
second pass groups the rows of a component as soon as its last line is read, with the same
code as before (`ingest.cdr._grouped`), so the result is exactly that of the whole-file
grouping while memory holds only the calls still open. Token hashes that collide only join two
components: later, never wrong.

The layouts are decided here as the second pass would (the first rows of each column count), and
handed to it, so that no row waits for a layout there.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from ingest.cdr_layout import Layout, LayoutChooser, RowSplitter


@dataclass
class Plan:
    layouts: dict[int, Layout]  # column count -> the layout the second pass must use
    component: array[int]  # per line number: the component of its row
    last: bytearray  # per line number: 1 on the last line of its component
    held: int | None = None  # the component of the held-back last line (`held_row`)

    def closes(self, line: int) -> int | None:
        """The component whose last line is `line`, or None."""
        if line < len(self.last) and self.last[line]:
            return self.component[line]
        return None

    def component_of(self, line: int) -> int:
        """The component of a line (a line the first pass did not see: a component of its
        own, which closes only at the end)."""
        return self.component[line] if line < len(self.component) else -line


class _Tokens:
    """(line, token hash) pairs, in two compact arrays."""

    def __init__(self) -> None:
        self.lines, self.hashes = array("i"), array("q")
        self._getters: dict[str, itemgetter[tuple[str, ...]]] = {}

    def of_row(self, line: int, fields: list[str], layout: Layout) -> None:
        get = self._getters.get(layout.name)
        if get is None:
            missing = layout.width  # `fields` gets one "" at that position
            get = self._getters[layout.name] = itemgetter(*(  # type: ignore[arg-type]
                layout.columns.index(f) if f in layout.columns else missing
                for f in ("channel", "dstchannel", "uniqueid", "linkedid")))
        fields.append("")
        channel, dstchannel, uniqueid, linkedid = get(fields)
        key = linkedid or uniqueid
        self.lines.append(line)
        self.hashes.append(hash(key) if key else hash("\0channel\0" + channel))
        if not linkedid:  # ingest.cdr._attach_local_halves
            if channel.startswith("Local/") and channel.endswith(";2"):
                self._local(line, channel)
            if dstchannel.startswith("Local/") and dstchannel.endswith(";1"):
                self._local(line, dstchannel)

    def _local(self, line: int, channel: str) -> None:
        self.lines.append(line)
        self.hashes.append(hash("\0local\0" + channel[:-2]))


def plan(lines: Iterable[tuple[int, str]], requested_layout: str,
         held: Callable[[], tuple[int, str] | None] | None = None) -> Plan:
    """Read the lines once and link those whose rows may belong to one call; `held` gives,
    once they are read, the held-back last line (number, text) if there is one."""
    splitter, chooser, tokens = RowSplitter(), LayoutChooser(requested_layout), _Tokens()
    fixed, allowed, split, of_row = chooser.fixed, chooser.allowed, splitter.split, tokens.of_row
    last_line, last_row = 0, None
    for number, text in lines:
        last_line = number
        if not text or text.isspace():
            continue
        try:
            fields = split(text)
        except csv.Error:
            continue
        layout = fixed.get(len(fields))
        if layout is not None:
            of_row(number, fields, layout)
            last_row = (number, layout)
        elif len(fields) in allowed:
            for (n, _, f), lay in chooser.feed((number, "", fields)):
                of_row(n, f, lay)
                last_row = (n, lay)
    for (n, _, f), lay in chooser.flush():
        of_row(n, f, lay)
        last_row = (n, lay)
    partial = held() if held is not None else None
    if partial is None or last_row is None or not partial[1].strip():
        partial = None  # nothing held, or blanks: no row is being written
    else:
        held_row(tokens, partial, *last_row)
        last_line = partial[0]
    component, last = _components(tokens, last_line)
    return Plan(dict(chooser.fixed), component, last,
                None if partial is None else component[partial[0]])


def held_row(tokens: _Tokens, partial: tuple[int, str], last_line: int, layout: Layout) -> None:
    """Link the held-back last line (still being written) to the call it may belong to: the
    one of its linkedid or uniqueid when that field is already whole in it and another row has
    it, else the call of the last row read (Asterisk writes a call's rows one after the
    other)."""
    number, text = partial
    try:
        fields = next(csv.reader([text]), [])[:-1]  # the last field may be cut
    except csv.Error:
        fields = []
    known = set(tokens.hashes)
    for name in ("linkedid", "uniqueid"):
        at = layout.columns.index(name) if name in layout.columns else len(fields)
        if at < len(fields) and fields[at] and hash(fields[at]) in known:
            tokens.lines.append(number)
            tokens.hashes.append(hash(fields[at]))
            return
    for line in (number, last_line):
        tokens.lines.append(line)
        tokens.hashes.append(hash("\0held\0"))


def _components(tokens: _Tokens, last_line: int) -> tuple[array[int], bytearray]:
    """Per line number 0…last_line: its component, and whether it is the component's last line."""
    n = last_line + 1
    lines = np.frombuffer(tokens.lines, dtype=np.int32) if tokens.lines else \
        np.zeros(0, np.int32)
    hashes = np.frombuffer(tokens.hashes, dtype=np.int64) if tokens.hashes else \
        np.zeros(0, np.int64)
    unique, which = np.unique(hashes, return_inverse=True)
    if len(lines) <= SMALL_GRAPH:
        component = _joined(lines, which, n)
    else:
        component = _connected(lines, which, n, len(unique))
    last_of = np.zeros(int(component.max(initial=0)) + 1, dtype=np.int32)
    np.maximum.at(last_of, component, np.arange(n, dtype=np.int32))
    last = last_of[component] == np.arange(n, dtype=np.int32)
    return array("i", component.tobytes()), bytearray(last.astype(np.uint8).tobytes())


SMALL_GRAPH = 50_000  # tokens up to which lines are joined in Python (no scipy to import)


def _connected(lines: np.ndarray, which: np.ndarray, n: int, keys: int) -> np.ndarray:
    """Component of each of the n lines: scipy's connected components of the line-key graph."""
    from scipy.sparse import coo_matrix  # imported here: a second of start-up otherwise
    from scipy.sparse.csgraph import connected_components

    size = n + keys
    graph = coo_matrix((np.ones(len(lines), dtype=np.int8), (lines, n + which.astype(np.int32))),
                       shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n].astype(np.int32)


def _joined(lines: np.ndarray, which: np.ndarray, n: int) -> np.ndarray:
    """The same partition as `_connected`, by union-find over the few lines that have keys
    (a line's label is a line of its component; a line without a key is its own)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while (up := parent.get(root, root)) != root:
            root = up
        while x != root:  # path compression
            parent[x], x = root, parent.get(x, x)
        return root

    first: dict[int, int] = {}
    for line, key in zip(lines.tolist(), which.tolist(), strict=True):
        other = first.setdefault(key, line)
        a, b = find(line), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    component = np.arange(n, dtype=np.int32)
    for line in set(lines.tolist()):
        component[line] = find(line)
    return component
