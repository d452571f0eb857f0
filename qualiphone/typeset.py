"""Typst, the typesetter of every PDF qualiphone writes (statements, synthesis, call sheets).

A template (a .typ file beside the module that owns it) receives its data as JSON in
`sys.inputs.doc` and shows its strings as text (never parsed as markup). The fonts are the
DejaVu Sans files matplotlib ships, and no system font is read, so the same data gives the same
bytes on every machine (templates set `document(date: none)`).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import typst

_compiler: dict[int, typst.Compiler] = {}  # one per process


def font_dir() -> str:
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")


def compiler() -> typst.Compiler:
    """This process's Typst compiler (it keeps its fonts loaded between documents)."""
    pid = os.getpid()
    if pid not in _compiler:
        _compiler.clear()
        _compiler[pid] = typst.Compiler(font_paths=[font_dir()], ignore_system_fonts=True)
    return _compiler[pid]


def typeset(template: Path, data: str) -> bytes:
    """Compile `template` with `data` (JSON, in sys.inputs.doc) to PDF bytes.

    Typst runs threads of its own: a process forked after it ran can hang in it, so callers
    that fork workers typeset in the parent process only (reports.build does)."""
    out = compiler().compile(template.read_bytes(), format="pdf", sys_inputs={"doc": data})
    assert isinstance(out, bytes)
    return out
