"""The numbered text lines of a PBX file, however it was saved or rotated.

* Compressed files (logrotate's gzip, or bzip2 and xz) are read transparently, told by their
  first bytes rather than their name; one that is damaged or still being compressed is refused
  whole (`SourceFileError`), so that nothing of it is stored.
* A UTF-8 byte-order mark (Excel's "CSV UTF-8", qualiphone's own exports) is dropped; a UTF-16
  file, a ZIP archive (an Excel workbook) or zstd data is refused with the fix.
* Bytes that are not UTF-8 and NUL bytes become U+FFFD (see `LineReader`).
* A last line without its end of line is being written by Asterisk: it is held back (`held`),
  neither read nor counted, so that the next import of the grown file reads it whole. A
  compressed file no longer grows: its cut last line is kept aside (`cut`) for the importer to
  keep as a reject, never read as a short row. A last line of blanks (the spaces psql ends its
  output with) is neither: it is read as a blank line.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

BOM = b"\xef\xbb\xbf"
def _gzip(raw: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, gzip.GzipFile(fileobj=raw))


def _bzip2(raw: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, bz2.BZ2File(raw))


def _xz(raw: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, lzma.LZMAFile(raw))


# First bytes -> (name, opener of the decompressed stream, closed by `open_source`); None:
# refused with the message.
_COMPRESSED: dict[bytes, tuple[str, Callable[[BinaryIO], BinaryIO] | None]] = {
    b"\x1f\x8b": ("gzip", _gzip),
    b"BZh": ("bzip2", _bzip2),
    b"\xfd7zXZ\x00": ("xz", _xz),
    b"\x28\xb5\x2f\xfd": ("zstd", None),
}
_REFUSED = {
    b"PK\x03\x04": "a ZIP archive (an Excel workbook?): save it as CSV UTF-8, or unzip it first",
    b"\xff\xfe": "UTF-16 text: save it as UTF-8 (in Excel: CSV UTF-8)",
    b"\xfe\xff": "UTF-16 text: save it as UTF-8 (in Excel: CSV UTF-8)",
}
_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError)


class SourceFileError(Exception):
    """A file that cannot be read at all (missing, unreadable, a directory, damaged, or not of
    the kind asked for). Nothing of it is stored."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class HeldLine:
    """The last line, held back because its end of line is not written yet."""

    number: int
    size: int  # bytes


def compression_of(head: bytes) -> str | None:
    return next((name for magic, (name, _) in _COMPRESSED.items() if head.startswith(magic)), None)


@contextmanager
def open_source(path: Path) -> Iterator[tuple[BinaryIO, BinaryIO, str | None]]:
    """(the readable bytes, the file on disk, the compression or None)."""
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise SourceFileError(path, "no such file; check the path") from None
    except IsADirectoryError:
        raise SourceFileError(path, "is a directory; give the file inside it") from None
    except PermissionError:
        raise SourceFileError(path, "permission denied; make it readable by this user") from None
    with raw:
        head = raw.read(8)
        raw.seek(0)
        for magic, reason in _REFUSED.items():
            if head.startswith(magic):
                raise SourceFileError(path, reason)
        name = compression_of(head)
        if name is None:
            yield raw, raw, None
            return
        opener = _COMPRESSED[next(m for m in _COMPRESSED if head.startswith(m))][1]
        if opener is None:
            raise SourceFileError(path, f"compressed with {name}: decompress it first "
                                        f"({name} -d {path.name})")
        with opener(raw) as stream:
            yield stream, raw, name


class LineReader:
    """Numbered, UTF-8-decoded lines of a file (iterate it; `replay()` reads them again).

    Bytes that are not UTF-8 (a caller name written in another encoding) are replaced by U+FFFD
    and the line is kept: the fields qualiphone reads are ASCII, so dropping the line would lose
    a real call. NUL bytes (a crash can leave runs of them in a log file; PostgreSQL stores no
    NUL in text) are replaced the same way. Such lines are counted in `replaced`; a field that
    matters and is damaged is rejected by the parser with its own reason.
    """

    def __init__(self, path: Path, on_bytes: Callable[[int], None] | None = None, *,
                 hold_partial: bool = True, limit: int | None = None) -> None:
        self.path = path
        self.lines = 0
        self.nonblank = 0  # lines with something else than white space
        self.replaced = 0
        self.held: HeldLine | None = None
        self.cut: tuple[int, str] | None = None  # a compressed file's cut last line
        self.partial: tuple[int, str] | None = None  # the held line's number and text, known
        # from the first read on (`replay` too), for a parser that must know whose row it is
        self.compression: str | None = None
        self.hold_partial = hold_partial
        self.limit = limit  # bytes of a plain file read (its size when the import began)
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self._read(count=True)

    def replay(self) -> Iterator[tuple[int, str]]:
        """The same lines again, neither counted nor reported (for a parser's first pass)."""
        return self._read(count=False)

    def _read(self, *, count: bool) -> Iterator[tuple[int, str]]:
        with open_source(self.path) as (stream, raw, compression):
            self.compression = compression
            progress = _Progress(raw, self._on_bytes if count else None, compression is not None)
            try:
                yield from self._lines(stream, progress, count)
            except _DAMAGED as exc:
                raise SourceFileError(self.path, f"the {compression} file is damaged or "
                                      f"incomplete ({exc}); if it is being compressed now, "
                                      "import it once that is done") from None
            finally:
                progress.flush()

    def _lines(self, stream: BinaryIO, progress: _Progress,
               count: bool) -> Iterator[tuple[int, str]]:
        left = self.limit if self.limit is not None and self.compression is None else -1
        advance = progress.advance if progress.on_bytes is not None else None
        hold = self.hold_partial
        for number, data in enumerate(stream, start=1):
            if left >= 0:  # the file grows while it is read: read what it was
                if left == 0:
                    return
                data, left = data[:left], max(left - len(data), 0)
            if advance is not None:
                advance(len(data))
            if number == 1 and data.startswith(BOM):
                data = data[len(BOM):]
            if hold and not data.endswith(b"\n") and not data.isspace():  # (blanks: a blank line,
                self._cut(number, data, count)  # e.g. the spaces psql ends its output with)
                return
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = self._decode(data, count)
            else:
                if "\0" in text:
                    text = self._decode(data, count)
            if count:
                self.lines = number
                if text and not text.isspace():
                    self.nonblank += 1
            yield number, text.rstrip("\r\n")

    def _cut(self, number: int, data: bytes, count: bool) -> None:
        """The last line has no end of line: held back, or kept aside (compressed file)."""
        if self.compression is None:
            self.partial = (number, data.decode("utf-8", errors="replace"))
        if count and self.compression is None:
            self.held = HeldLine(number, len(data))
        elif count:
            self.cut = (number, self._decode(data, count))

    def _decode(self, data: bytes, count: bool) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.replaced += count
            return data.decode("utf-8", errors="replace").replace("\0", "\ufffd")
        if "\0" in text:
            self.replaced += count
            text = text.replace("\0", "\ufffd")
        return text


class _Progress:
    """Reports the bytes of the file on disk read so far (for a compressed file, the compressed
    bytes, from the position in the file)."""

    EVERY = 1 << 20  # bytes between two reports: a report per line cost ~10 % of an import

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None,
                 compressed: bool) -> None:
        self.raw, self.on_bytes, self.compressed, self.done = raw, on_bytes, compressed, 0
        self.pending = 0

    def advance(self, decoded: int) -> None:
        if self.on_bytes is None:
            return
        if not self.compressed:
            self.pending += decoded
            if self.pending >= self.EVERY:
                self.on_bytes(self.pending)
                self.pending = 0
            return
        position = self.raw.tell()
        if position > self.done:
            self.on_bytes(position - self.done)
            self.done = position

    def flush(self) -> None:
        """Report what was read since the last report."""
        if self.on_bytes is not None and self.pending:
            self.on_bytes(self.pending)
            self.pending = 0
