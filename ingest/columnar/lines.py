"""A PBX file as numbered lines held in one buffer, and the lines proven ordinary.

`FileLines` numbers lines exactly as `ingest.batch.LineReader` does (split on b"\\n", the last
line counted even without its newline), but keeps them as offsets into the file's bytes. A line
is *ordinary* when a strict regular expression (RE2, run by pyarrow over every line at once)
proves it printable ASCII in the exact shape the importer expects, e.g. 21 CSV fields each either
bare (no quote, no comma) or quoted with doubled inner quotes. On such lines any correct CSV
parser gives what Python's csv module gives, so they can be handed to polars' multi-threaded
reader; every other line (blank, NUL, control characters, bytes that are not ASCII, a cut or
badly quoted line, another column count…) is left to the reference importer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.lines import _DAMAGED, BOM, HeldLine, SourceFileError, open_source

NEWLINE = 10
# Printable ASCII without the double quote, and without the quote and the comma.
_QUOTED = r'"(?:[\x20\x21\x23-\x7e]|"")*"'
_BARE = r"[\x20\x21\x23-\x2b\x2d-\x7e]*"
CSV_FIELD = f"(?:{_QUOTED}|{_BARE})"


def csv_line_pattern(width: int) -> str:
    """RE2 pattern of a strict CSV line of exactly `width` fields, newline included."""
    return f"^{CSV_FIELD}(?:,{CSV_FIELD}){{{width - 1}}}\n$"


def read_bytes(path: Path) -> bytes:
    """The whole file, with the importer's errors for a file that cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceFileError(path, "no such file; check the path") from None
    except IsADirectoryError:
        raise SourceFileError(path, "is a directory; give the file inside it") from None
    except PermissionError:
        raise SourceFileError(path, "permission denied; make it readable by this user") from None


@dataclass
class Source:
    """A file's bytes as `ingest.lines.LineReader` reads them: decompressed, without its BOM,
    cut at `limit` (a plain file's size when the import began), the last line without its end
    of line held back (`held`) or, in a compressed file, kept aside (`cut`: line, text)."""

    data: bytes
    compression: str | None = None
    held: HeldLine | None = None
    cut: tuple[int, str] | None = None
    cut_replaced: bool = False  # the cut line had bytes that are not UTF-8 (or a NUL)


def read_source(path: Path, limit: int | None = None) -> Source:
    """The whole file as the reference reads it (see `Source`)."""
    with open_source(path) as (stream, _, compression):
        try:
            data = stream.read()
        except _DAMAGED as exc:
            raise SourceFileError(path, f"the {compression} file is damaged or incomplete "
                                  f"({exc}); if it is being compressed now, import it once "
                                  "that is done") from None
    if limit is not None and compression is None:
        data = data[:limit]
    first_end = data.find(b"\n")
    if data.startswith(BOM):
        data = data[len(BOM):]
        first_end = first_end - len(BOM) if first_end >= 0 else -1
    found = Source(data, compression)
    if data and not data.endswith(b"\n") and data[data.rfind(b"\n") + 1:].isspace():
        found.data = data + b"\n"  # a last line of blanks is a blank line (LineReader)
    elif data and not data.endswith(b"\n"):
        start = data.rfind(b"\n") + 1
        number = data.count(b"\n", 0, start) + 1
        partial = data[start:]
        if compression is None:
            found.held = HeldLine(number, len(partial))
        else:
            text, found.cut_replaced = decoded(partial)
            found.cut = (number, text)
        found.data = data[:start]
    return found


def decoded(data: bytes) -> tuple[str, bool]:
    """A line's bytes as LineReader decodes them (U+FFFD for bytes that are not UTF-8 and for
    NUL), and whether anything was replaced."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace").replace("\0", "\ufffd"), True
    if "\0" in text:
        return text.replace("\0", "\ufffd"), True
    return text, False


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FileLines:
    """Lines of a file as [start, end) offsets (end excludes the newline); `data` ends with one."""

    data: bytes
    starts: np.ndarray  # int64, one per line
    ends: np.ndarray  # int64
    base: int = 0  # index in the whole file of this part's first line (see `part`)

    @classmethod
    def of(cls, raw: bytes) -> FileLines:
        data = raw if not raw or raw.endswith(b"\n") else raw + b"\n"
        buffer = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buffer == NEWLINE).astype(np.int64)
        starts = np.empty_like(ends)
        if len(ends):
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
        return cls(data, starts, ends)

    def part(self, lo: int, hi: int) -> FileLines:
        """Lines lo…hi-1 (indexes here are then relative to lo; `base` says where it starts)."""
        return FileLines(self.data, self.starts[lo:hi], self.ends[lo:hi], self.base + lo)

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def buffer(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.uint8)

    def as_binary(self) -> pa.LargeBinaryArray:
        """Every line with its newline, as one Arrow array over the file's bytes (no copy)."""
        offsets = np.empty(len(self) + 1, dtype=np.int64)
        offsets[:-1] = self.starts
        offsets[-1] = self.ends[-1] + 1 if len(self) else 0
        if len(self) and self.starts[0]:  # a part: offsets into its own slice of the buffer
            offsets -= self.starts[0]
            data = memoryview(self.data)[self.starts[0]:self.ends[-1] + 1]
            return pa.LargeBinaryArray.from_buffers(
                pa.large_binary(), len(self), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        return pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(self), [None, pa.py_buffer(offsets), pa.py_buffer(self.data)])

    def matching(self, pattern: str) -> np.ndarray:
        """Boolean mask of the lines that match an RE2 pattern (anchored by the caller)."""
        if not len(self):
            return np.zeros(0, dtype=bool)
        found = pc.match_substring_regex(self.as_binary(), pattern)
        # unpack the bit-packed result (pyarrow's to_numpy of booleans imports pandas)
        bits = np.frombuffer(found.buffers()[1], dtype=np.uint8)
        mask = np.unpackbits(bits, bitorder="little")[found.offset:found.offset + len(found)]
        return mask.astype(bool)

    def text(self, index: int) -> str:
        """Line `index` (0-based) as LineReader yields it: UTF-8 with U+FFFD, no line ending."""
        return decoded(self.data[self.starts[index]:self.ends[index]])[0].rstrip("\r\n")

    def is_replaced(self, index: int) -> bool:
        """Whether LineReader replaces bytes of this line (not UTF-8, or a NUL)."""
        return decoded(self.data[self.starts[index]:self.ends[index]])[1]

    def numbered(self, indexes: np.ndarray) -> list[tuple[int, str]]:
        """(line number, text) of some lines, in file order, for the reference importer."""
        return [(int(i) + 1, self.text(int(i))) for i in np.sort(indexes)]

    def replaced(self, indexes: np.ndarray) -> int:
        """How many of these lines have bytes LineReader replaces (its `replaced`)."""
        return sum(self.is_replaced(int(i)) for i in indexes)

    def nonblank_at_most(self, block: int = 1 << 16) -> np.ndarray:
        """Per line, the lines up to it (included) that surely hold something else than white
        space (an ASCII byte that is neither a space nor a control str.isspace() counts): a
        lower bound of LineReader's `nonblank` as it reads. Read `block` lines at a time, so
        that the masks stay small."""
        per = np.zeros(len(self), dtype=bool)
        buffer = self.buffer
        for lo in range(0, len(self), block):
            hi = min(lo + block, len(self))
            first = int(self.starts[lo])
            part = buffer[first:int(self.ends[hi - 1]) + 1]
            solid = ((part > 0x20) & (part < 0x80)) | (part < 0x09) | \
                ((part > 0x0d) & (part < 0x1c))
            per[lo:hi] = np.logical_or.reduceat(solid, self.starts[lo:hi] - first)
        return np.cumsum(per)

    def select(self, mask: np.ndarray) -> bytes:
        """The bytes of the selected lines, each with its newline (no copy for a whole file
        whose lines are all selected)."""
        if not len(self):
            return b""
        lo, hi = int(self.starts[0]), int(self.ends[-1]) + 1
        if mask.all():
            return self.data if (lo, hi) == (0, len(self.data)) else self.data[lo:hi]
        keep = np.repeat(mask, self.ends - self.starts + 1)
        return self.buffer[lo:hi][keep].tobytes()
