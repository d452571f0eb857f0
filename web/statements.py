"""The statements and syntheses that `qualiphone report monthly` wrote, as the console lists
them: one directory (`qualiphone serve --reports DIR`), file names as reports.build names them.

A statement belongs to its site (releve-2026-10-eps-05.pdf, bilan-2026-eps-05.pdf); the
synthesis and the indicator table cover every site, so only accounts that see all sites list
them. A name that is not listed for the account is refused (404), whatever the URL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config import Config
from web.roles import User

_STATEMENT = re.compile(r"(releve|bilan)-(\d{4}(?:-\d{2})?)-(.+)\.(pdf|html)")
_SYNTHESIS = re.compile(r"synthese-(\d{4}(?:-\d{2})?)\.(pdf|html)")
TRACKING = "tableau-de-suivi-indicateurs.xlsx"
KIND_FR = {"releve": "Relevé mensuel", "bilan": "Bilan annuel", "synthese": "Synthèse",
           "tableau": "Tableau de suivi des indicateurs"}
MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Document:
    name: str
    kind: str  # releve | bilan | synthese | tableau
    period: str  # YYYY-MM or YYYY ("" for the tracking table)
    site: str | None  # None: every site
    fmt: str
    path: Path
    modified: float


def _parse(path: Path, sites: Sequence[str]) -> Document | None:
    name, when = path.name, path.stat().st_mtime
    if found := _STATEMENT.fullmatch(name):
        kind, period, site, fmt = found.groups()
        return Document(name, kind, period, site, fmt, path, when) if site in sites else None
    if found := _SYNTHESIS.fullmatch(name):
        return Document(name, "synthese", found.group(1), None, found.group(2), path, when)
    if name == TRACKING:
        return Document(name, "tableau", "", None, "xlsx", path, when)
    return None


def documents(directory: Path, config: Config, user: User) -> list[Document]:
    """The documents of `directory` the account may read, newest period first."""
    if not directory.is_dir():
        return []
    found = [d for p in directory.iterdir() if p.is_file()
             and (d := _parse(p, config.site_ids)) is not None]
    mine = [d for d in found if (d.site is None and not user.scoped)
            or (d.site is not None and user.sees(d.site))]
    order = {s: i for i, s in enumerate(config.site_ids)}
    return sorted(mine, key=lambda d: (d.period == "", _desc(d.period), d.site is not None,
                                       order.get(d.site or "", -1), d.fmt))


def _desc(period: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in period)  # newest first


def find(directory: Path, config: Config, user: User, name: str) -> Document | None:
    return next((d for d in documents(directory, config, user) if d.name == name), None)


def valid_month(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return False
    return 2000 <= int(text[:4]) <= dt.date.today().year + 1
