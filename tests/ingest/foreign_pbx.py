"""The simulator's PBX files as another PBX would name the same calls.

The built-in simulator names things the way the shipped sites.toml expects (PJSIP/eps05-201,
Local/201@eps05-agents, queue std-05, contexts in-eps-05 / msg-eps-05 / vm-eps-05, DID
0199000105). A real PBX does not: `foreign()` rewrites every identifier of a CDR file (same
calls, same times) so that the shipped directory matches nothing but what is asked to stay:

* phones are named after their extension: PJSIP/eps05-201 → PJSIP/0501 (or PJSIP/201 with
  `single_site`), Local members → Local/0501@from-queue;
* queues file05, inbound contexts ivr-05, message contexts nuit-05, voicemail boite-05;
* the DIDs, unless `keep_dids`, are written as their last four digits (0199000105 → 0105).

`foreign_sites()` is the "correct directory" for the rewritten files: the shipped sites.toml
with the same renaming, written by hand as an installer who knew the PBX would.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from config import SHIPPED_DIR, load_config

_SITE = r"eps(centre|\d\d)"


def _num(site: str) -> str:
    return "01" if site == "centre" else site


def foreign_line(line: str, *, keep_dids: bool = False, single_site: bool = False) -> str:
    def phone(m: re.Match[str]) -> str:
        ext = int(m.group(2)) - 200
        return f"PJSIP/{2}{ext:02d}" if single_site else f"PJSIP/{_num(m.group(1))}{ext:02d}"

    def member(m: re.Match[str]) -> str:
        ext = int(m.group(1)) - 200
        name = f"2{ext:02d}" if single_site else f"{_num(m.group(2))}{ext:02d}"
        return f"Local/{name}@from-queue"

    line = re.sub(rf"PJSIP/{_SITE}-(\d\d\d)", phone, line)
    line = re.sub(rf"Local/(\d\d\d)@{_SITE}-agents", member, line)
    line = re.sub(rf"\b{_SITE}-agents\b", "from-queue", line)
    line = re.sub(r"\bstd-(centre|\d\d)\b", lambda m: f"file{_num(m.group(1))}", line)
    line = re.sub(r"\bin-eps-(centre|\d\d)\b", lambda m: f"ivr-{_num(m.group(1))}", line)
    line = re.sub(r"\bmsg-eps-(centre|\d\d)\b", lambda m: f"nuit-{_num(m.group(1))}", line)
    line = re.sub(r"\bvm-eps-(centre|\d\d)\b", lambda m: f"boite-{_num(m.group(1))}", line)
    if not keep_dids:
        line = re.sub(r'"01990001(\d\d)"', r'"01\1"', line)
    return line


def foreign(source: Path, target: Path, *, keep_dids: bool = False, single_site: bool = False,
            days: tuple[str, ...] | None = None) -> Path:
    """Rewrite a simulated Master.csv; `days` keeps only rows starting on those dates."""
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as out:
        for line in src:
            if days and not any(f',"{d} ' in line for d in days):
                continue
            if single_site and '"0199000105"' not in line and "eps05" not in line \
                    and "eps-05" not in line:
                continue
            out.write(foreign_line(line, keep_dids=keep_dids, single_site=single_site))
    return target


def foreign_sites(directory: Path, *, keep_dids: bool = False) -> Path:
    """A config dir whose sites.toml names what `foreign()` writes (the correct directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("settings.toml", "closures.toml"):
        shutil.copy(SHIPPED_DIR / name, directory / name)
    text = (SHIPPED_DIR / "sites.toml").read_text(encoding="utf-8")
    config = load_config(SHIPPED_DIR)
    for site in config.sites:
        n = _num(site.id.removeprefix("eps-"))
        old = site.id.removeprefix("eps-")
        text = text.replace(f'staff_devices = ["PJSIP/eps{old}-*", "Local/*@eps{old}-agents"]',
                            f'staff_devices = ["PJSIP/{n}*"]')
        text = text.replace(f'queues = ["std-{old}"]', f'queues = ["file{n}"]')
        text = text.replace(f'contexts = ["in-eps-{old}"]', f'contexts = ["ivr-{n}"]')
        text = text.replace(f'message_contexts = ["msg-eps-{old}"]',
                            f'message_contexts = ["nuit-{n}"]')
        text = text.replace(f'voicemail_contexts = ["vm-eps-{old}"]',
                            f'voicemail_contexts = ["boite-{n}"]')
        if not keep_dids:
            number = site.numbers[0]
            text = text.replace(f'dids = ["0{number[3:]}", "{number}"]', f'dids = ["01{number[-2:]}"]')
    (directory / "sites.toml").write_text(text, encoding="utf-8")
    load_config(directory)
    return directory


def shipped_copy(directory: Path) -> Path:
    """A copy of the shipped config dir (to be patched by `sites apply`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("settings.toml", "closures.toml", "sites.toml"):
        shutil.copy(SHIPPED_DIR / name, directory / name)
    return directory
