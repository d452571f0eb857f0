"""Which files the columnar importers read in memory: the budget of settings.toml, or a share
of the memory the machine has (`ingest.columnar.memory`)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from config import ConfigError
from ingest.batch import run_batch
from ingest.columnar import memory
from ingest.columnar.cdr import ColumnarCdr
from ingest.finalize import CaptureContext
from monitor.store import Store
from tests.ingest.hostile_support import write_lines
from tests.ingest.test_columnar_hardening import _calls, _recorded

MIB = memory.MIB


def _meminfo(tmp_path: Path, available_kb: int | None) -> Path:
    path = tmp_path / "meminfo"
    lines = ["MemTotal:       24684436 kB", "MemFree:        18834028 kB"]
    if available_kb is not None:
        lines.append(f"MemAvailable:   {available_kb} kB")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _cgroup(tmp_path: Path, limit: str, current: int) -> Path:
    path = tmp_path / "cgroup"
    path.mkdir()
    (path / "memory.max").write_text(limit + "\n", encoding="ascii")
    (path / "memory.current").write_text(f"{current}\n", encoding="ascii")
    return path


def _own(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proc-self-cgroup"
    path.write_text(text, encoding="ascii")
    return path


def test_available_memory_is_the_smaller_of_the_kernel_and_the_container(tmp_path: Path) -> None:
    meminfo = _meminfo(tmp_path, 8 * 1024 * 1024)  # 8 GiB
    v2_root = _own(tmp_path, "0::/\n")
    assert memory.available_memory(meminfo, tmp_path / "none", v2_root) == 8 << 30
    cgroup = _cgroup(tmp_path, str(3 << 30), 1 << 30)  # a 3 GiB container using 1 GiB
    assert memory.available_memory(meminfo, cgroup, v2_root) == 2 << 30
    (cgroup / "memory.max").write_text("max\n", encoding="ascii")
    assert memory.available_memory(meminfo, cgroup, v2_root) == 8 << 30
    assert memory.available_memory(_meminfo(tmp_path, None), tmp_path / "none", v2_root) is None
    assert memory.available_memory(tmp_path / "absent", tmp_path / "none", v2_root) is None
    meminfo = _meminfo(tmp_path, 8 * 1024 * 1024)
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text(f"{4 << 30}\n", encoding="ascii")
    (v1 / "memory" / "memory.usage_in_bytes").write_text(f"{3 << 30}\n", encoding="ascii")
    v1_root = _own(tmp_path, "4:memory:/\n1:cpu:/\n")
    assert memory.available_memory(meminfo, v1, v1_root) == 1 << 30
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n",
                                                          encoding="ascii")
    assert memory.available_memory(meminfo, v1, v1_root) == 8 << 30


def test_the_process_own_cgroup_and_its_parents_count(tmp_path: Path) -> None:
    """A service with MemoryMax= (systemd, cgroup v2): its own cgroup's limit holds, and a
    parent's tighter one too; the root's unlimited value says nothing."""
    meminfo = _meminfo(tmp_path, 16 * 1024 * 1024)  # 16 GiB available on the host
    root = tmp_path / "cg"
    service = root / "system.slice" / "qualiphone.service"
    service.mkdir(parents=True)
    (root / "memory.max").write_text("max\n", encoding="ascii")
    (service / "memory.max").write_text(f"{2 << 30}\n", encoding="ascii")
    (service / "memory.current").write_text(f"{1 << 29}\n", encoding="ascii")
    own = _own(tmp_path, "0::/system.slice/qualiphone.service\n")
    assert memory.available_memory(meminfo, root, own) == (2 << 30) - (1 << 29)
    (root / "system.slice" / "memory.max").write_text(f"{1 << 30}\n", encoding="ascii")
    (root / "system.slice" / "memory.current").write_text(f"{3 << 28}\n", encoding="ascii")
    assert memory.available_memory(meminfo, root, own) == (1 << 30) - (3 << 28)
    v1 = _own(tmp_path, "4:memory:/process_api/abc\n")  # v1: under the memory controller
    (root / "memory" / "process_api" / "abc").mkdir(parents=True)
    (root / "memory" / "process_api" / "abc" / "memory.limit_in_bytes").write_text(
        f"{1 << 31}\n", encoding="ascii")
    (root / "memory" / "process_api" / "abc" / "memory.usage_in_bytes").write_text(
        "0\n", encoding="ascii")
    assert memory.available_memory(meminfo, root, v1) == 1 << 31


def test_the_automatic_budget_is_a_share_of_the_available_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 16 << 30)
    limit = memory.columnar_limit(0)
    assert limit == int((4 * 1024 * MIB - memory.PEAK_BASE) / memory.PEAK_PER_BYTE)
    assert limit > memory.FLOOR_BYTES  # a year of CDR of the 17 sites (330 MB) is read as columns
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 30)
    assert memory.columnar_limit(0) == memory.FLOOR_BYTES  # a small machine: never less
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.columnar_limit(0) == memory.FLOOR_BYTES


def test_a_budget_set_in_settings_is_taken_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 64 << 30)
    assert memory.columnar_limit(1000) == int((1000 * MIB - memory.PEAK_BASE) / 4.0)
    assert memory.columnar_limit(400) == 0  # below the base: every file streams


def test_the_setting_decides_which_files_stream(sqlite_store: Store, capture: CaptureContext,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`capture.import_memory_mb` reaches the importer: a budget too small for the file sends
    it to the streaming reference, which stores the same calls."""
    seen = _recorded(monkeypatch)
    path = write_lines(tmp_path / "Master.csv", _calls("cdr"))
    small = dataclasses.replace(capture.config.capture, import_memory_mb=1)
    tight = dataclasses.replace(capture, config=dataclasses.replace(capture.config,
                                                                    capture=small))
    assert run_batch(sqlite_store, "cdr", path, ColumnarCdr(), tight).counts.imported == 40
    assert seen == []
    assert run_batch(sqlite_store, "cdr", path, ColumnarCdr(), capture, again=True) \
        .counts.duplicates == 40
    assert seen == ["Master.csv"]


def test_a_budget_that_is_not_a_whole_number_is_refused(tmp_path: Path) -> None:
    from config import SHIPPED_DIR, load_config

    target = tmp_path / "config"
    shutil.copytree(SHIPPED_DIR, target)
    settings = target / "settings.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "import_memory_mb = 0", 'import_memory_mb = "lots"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="import_memory_mb"):
        load_config(target)
