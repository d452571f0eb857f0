"""Secrets kept in files (AMI secret, wallboard token): only their owner may read them."""

from __future__ import annotations

import stat
from pathlib import Path


def read_private_file(path: Path, label: str, error: type[Exception]) -> str:
    """The text of `path`, refused with `error` when missing or readable by group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f'{label} "{path}" does not exist; check the path') from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(f'{label} "{path}" is readable by group or others '
                    f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    return path.read_text(encoding="utf-8")
