"""The reader reports the bytes it read for the progress bar in blocks, and all of them."""

from __future__ import annotations

import gzip
from pathlib import Path

from ingest.lines import LineReader


def test_progress_reports_every_byte_in_a_few_blocks(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_bytes(b"".join(b'"","0612345678","0199000105",%d\n' % i for i in range(100_000)))
    reports: list[int] = []
    lines = sum(1 for _ in LineReader(path, reports.append))
    assert lines == 100_000
    assert sum(reports) == path.stat().st_size  # the bar reaches its end
    assert len(reports) < 10  # not one report per line (about 3.4 MB: blocks of 1 MB)


def test_progress_of_a_compressed_file_counts_the_bytes_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv.gz"
    path.write_bytes(gzip.compress(b"".join(b"line %d\n" % i for i in range(50_000))))
    reports: list[int] = []
    assert sum(1 for _ in LineReader(path, reports.append)) == 50_000
    assert sum(reports) == path.stat().st_size
