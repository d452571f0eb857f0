"""A Latin cut of DejaVu Sans (the font matplotlib ships) for the PDF statements.

Matplotlib embeds a subset of every font it uses in each PDF, and subsetting the full DejaVu
Sans (6 000 glyphs, OpenType layout tables matplotlib does not use) costs about 0.3 s per
document, a third of a statement's time. The same glyphs for French text and the few symbols
the reports print, without the layout tables, are cut once per machine into a cache directory
and registered with matplotlib as "DejaVu Sans Latin" (renamed, as the Bitstream Vera licence
asks of modified fonts). Should anything fail, the reports simply use DejaVu Sans.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import matplotlib
from matplotlib import font_manager

FAMILY = "DejaVu Sans Latin"
STYLES = {"DejaVuSans.ttf": "", "DejaVuSans-Bold.ttf": "Bold"}
UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2010, 0x2050), 0x2192, 0x2212,
            0x2264, 0x2265, 0x221E, 0x20AC, 0x25A0, 0x25CF]
_log = logging.getLogger(__name__)
_ready: list[str] = []


def _cache_dir() -> Path:
    tag = hashlib.sha256(f"{matplotlib.__version__}{UNICODES}".encode()).hexdigest()[:12]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path(tempfile.gettempdir()))
    return Path(base) / f"qualiphone-fonts-{tag}"


def _cut(source: Path, target: Path, style: str) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "MATH", "FFTM"]
    options.name_IDs = ["*"]
    options.glyph_names = True
    font = TTFont(source)
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=UNICODES)
    cutter.subset(font)
    full = f"{FAMILY} {style}".strip()
    for record in font["name"].names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID in (3, 4):
            record.string = full
        elif record.nameID == 6:
            record.string = full.replace(" ", "").replace("Bold", "-Bold")
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    font.save(partial)
    partial.replace(target)  # atomic: concurrent runs never read half a file


def families() -> list[str]:
    """The sans-serif families the reports ask for, the Latin cut first when available."""
    if not _ready:
        try:
            folder = _cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            source = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            for name, style in STYLES.items():
                target = folder / name.replace("DejaVuSans", "DejaVuSansLatin")
                if not target.exists():
                    _cut(source / name, target, style)
                font_manager.fontManager.addfont(str(target))
            _ready.append(FAMILY)
        except Exception as exc:  # a read-only disk, an old fontTools: plain DejaVu Sans
            _log.warning("could not prepare the Latin cut of DejaVu Sans (%s); using the full font",
                         exc)
            _ready.append("DejaVu Sans")
    return [*dict.fromkeys([_ready[0], "DejaVu Sans"])]
