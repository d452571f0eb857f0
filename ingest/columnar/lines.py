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

from ingest.lines import SourceFileError

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
        raw = self.data[self.starts[index]:self.ends[index]]
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    def is_utf8(self, index: int) -> bool:
        try:
            self.data[self.starts[index]:self.ends[index]].decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def numbered(self, indexes: np.ndarray) -> list[tuple[int, str]]:
        """(line number, text) of some lines, in file order, for the reference importer."""
        return [(int(i) + 1, self.text(int(i))) for i in np.sort(indexes)]

    def replaced(self, indexes: np.ndarray) -> int:
        """How many of these lines have bytes that are not UTF-8 (LineReader's `replaced`)."""
        return sum(not self.is_utf8(int(i)) for i in indexes)

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
