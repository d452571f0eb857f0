"""How large a file the columnar importers read in memory, from the memory the machine has.

A columnar import holds the file and its calls: its peak RSS is at most about PEAK_BASE plus
PEAK_PER_BYTE times the file (uncompressed), measured on CDR, CEL and queue_log files of 400k
rows to three years of the 17 sites. A larger file is read by the streaming reference, whose
memory stays bounded (about 300 MB) but which is 4× slower.

`capture.import_memory_mb` in settings.toml sets the budget; 0 (the default) takes a quarter
of the memory available when the import starts (`MemAvailable`, and the limits of the process's
own cgroup and of those above it: a container, a systemd service's MemoryMax=), and never less
than what FLOOR_BYTES of file needs.
"""

from __future__ import annotations

from pathlib import Path

MIB = 1024 * 1024
PEAK_BASE = 450 * MIB
PEAK_PER_BYTE = 4.0  # measured: CEL 2.4, CDR 2.5 (a year) to 2.9 (3 years), queue_log 3.5,
# a Master.csv read whole by the reference (a held-back last line) 3.6
FLOOR_BYTES = 300 * MIB  # read as columns with the automatic budget, whatever the machine
AUTO_SHARE = 0.25  # of the available memory, with the automatic budget
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")
OWN_CGROUP = Path("/proc/self/cgroup")


def columnar_limit(budget_mb: int = 0) -> int:
    """Bytes of file (uncompressed) the columnar importer reads in memory with a budget of
    `budget_mb` MB (0: automatic)."""
    if budget_mb > 0:
        return max(0, int((budget_mb * MIB - PEAK_BASE) / PEAK_PER_BYTE))
    available = available_memory()
    if available is None:
        return FLOOR_BYTES
    return max(FLOOR_BYTES, int((available * AUTO_SHARE - PEAK_BASE) / PEAK_PER_BYTE))


def available_memory(meminfo: Path = MEMINFO, cgroup: Path = CGROUP,
                     own: Path = OWN_CGROUP) -> int | None:
    """Bytes this process can still take: the kernel's MemAvailable, or less when a cgroup
    limit leaves less — the process's own cgroup (v2, or v1's memory controller, from
    /proc/self/cgroup) and every cgroup above it; None when nothing can be read (not Linux)."""
    found: list[int] = []
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    for directory, limit_file, used_file in _cgroups(cgroup, own):
        try:
            limit = (directory / limit_file).read_text(encoding="ascii").strip()
            if limit != "max":  # v1 without a limit gives a huge number: min() ignores it
                used = int((directory / used_file).read_text(encoding="ascii").strip())
                found.append(max(0, int(limit) - used))
        except (OSError, ValueError):
            continue
    return min(found) if found else None


V2 = ("memory.max", "memory.current")
V1 = ("memory.limit_in_bytes", "memory.usage_in_bytes")


def _cgroups(root: Path, own: Path) -> list[tuple[Path, str, str]]:
    """(directory, limit file, usage file) of the process's cgroups, its own and each parent up
    to the root of the hierarchy (a limit set on a parent holds too); the roots when
    /proc/self/cgroup cannot be read."""
    places: list[tuple[Path, str, str]] = []
    try:
        lines = own.read_text(encoding="ascii").splitlines()
    except (OSError, ValueError):
        lines = []
    for line in lines:
        _, controllers, where = [*line.split(":", 2), "", ""][:3]
        if controllers == "":
            base, files = root, V2
        elif "memory" in controllers.split(","):
            base, files = root / "memory", V1
        else:
            continue
        directory = base / where.strip().lstrip("/")
        while True:
            places.append((directory, *files))
            if directory == base or base not in directory.parents:
                break
            directory = directory.parent
    if not places:
        places = [(root, *V2), (root / "memory", *V1)]
    return places
