"""What an import found, kept in order between reading the file and writing the store.

The file is read before the store's transaction begins (a SQLite writer holds the database
while it writes, so it writes quickly, after the parse). Items stay in memory up to `limit`,
then go in chunks to an anonymous temporary file of this process, so that an import's memory
does not grow with the file. Items are plain data (tuples of str, int, float, bool, None)
written with `marshal`, several times quicker than pickling objects (which cost 12 s of a
642,000-call import).
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterator
from typing import IO, Generic, TypeVar

T = TypeVar("T")


class Spool(Generic[T]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._buffer: list[T] = []
        self._file: IO[bytes] | None = None

    def append(self, item: T) -> None:
        self._buffer.append(item)
        self.count += 1
        if len(self._buffer) >= self.limit:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
            marshal.dump(self._buffer, self._file)
            self._buffer = []

    def chunks(self) -> Iterator[list[T]]:
        """The items in the order they came, in lists of at most `limit`."""
        if self._file is not None:
            self._file.seek(0)
            while True:
                try:
                    yield marshal.load(self._file)  # our own file, written just above
                except EOFError:
                    break
        if self._buffer:
            yield self._buffer

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = []

    def __enter__(self) -> Spool[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
