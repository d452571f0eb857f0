"""The TOML patch `qualiphone sites learn --write` produces, and `qualiphone sites apply`.

A patch lists, per site, only the values to ADD to sites.toml, each with its evidence as a
comment, and the numbers whose site could not be told as `[[unassigned]]` blocks with an empty
`site = ""` for a person to fill in. Applying adds the values to the sites' lists (never removes
or reorders anything), keeps every comment of sites.toml (tomlkit), refuses a result that the
configuration loader would refuse, and keeps the previous file as sites.toml.YYYYmmdd-HHMMSS.bak.
"""

from __future__ import annotations

import datetime as dt
import difflib
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from config import ConfigError, load_config
from ingest.learn.propose import KEYS, Evidence, Learned

HEADER = """\
# qualiphone sites learn: what the PBX files show and {sites} lacks.
# Files read: {files}
# Review every value: delete what is wrong, fill in what is asked ([[unassigned]] blocks).
# Nothing changes until a person applies it:
#   qualiphone sites apply THIS_FILE --dry-run     (shows the change to sites.toml)
#   qualiphone sites apply THIS_FILE               (writes it; the old file is kept as a dated .bak)
"""


class PatchError(Exception):
    """A patch that cannot be applied; the message names the file, the block and the fix."""


def _quote(text: str) -> str:
    return tomlkit.string(text).as_string()


def _evidence(value: str, ev: Evidence) -> str:
    note = f"; {ev.note}" if ev.note else ""
    examples = f" (e.g. {ev.examples[0]})" if ev.examples else ""
    return f"#   {value}: {ev.calls} calls{note}{examples}"


def render_patch(learned: Learned, sites_path: Path) -> str:
    files = ", ".join(f"{Path(p).name} ({kind}, {n} calls)" for p, kind, n in learned.files)
    out = [HEADER.format(sites=sites_path, files=files or "none")]
    for p in learned.sites.values():
        if p.empty:
            continue
        out.append(f"[[site]]\nid = {_quote(p.site)}\n# {p.calls} calls of this site in the files")
        for key in KEYS:
            values = p.adds[key]
            if not values:
                continue
            out.append(f"# {key}:")
            out.extend(_evidence(v, ev) for v, ev in values.items())
            out.append(f"{key} = [{', '.join(_quote(v) for v in values)}]")
        out.append("")
    for u in learned.unassigned:
        head = f'dialed "{u.dialed}"' if u.dialed else "no dialed number"
        via = "; ".join(part for part in (
            f"queues {', '.join(u.queues)}" if u.queues else "",
            f"contexts {', '.join(u.contexts)}" if u.contexts else "") if part)
        example = f", e.g. {u.evidence.examples[0]}" if u.evidence.examples else ""
        out.append(f"[[unassigned]]\n# {u.evidence.calls} inbound calls, {head}"
                   f"{f' ({via})' if via else ''}{example}.\n"
                   "# Which site is it? Set site to its id (e.g. \"eps-12\"), or delete this block.")
        out.append('site = ""')
        if u.dialed:
            out.append(f"dids = [{_quote(u.dialed)}]")
        if u.queues:
            out.append(f"queues = [{', '.join(_quote(q) for q in u.queues)}]")
        out.append("")
    if learned.forwarded:
        shown = ", ".join(f"{d} ({n} calls)" for d, n in learned.forwarded.most_common())
        out.append(f"# Calls answered through a trunk (forwarded outside the PBX): {shown}.\n"
                   "# They stay 'unknown device' unless a person of the site answers there: then\n"
                   "# add that trunk to the site's staff_devices by hand.")
    return "\n".join(out).rstrip() + "\n"


@dataclass
class Applied:
    text: str  # the new sites.toml
    added: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # site -> key -> values
    skipped: list[str] = field(default_factory=list)  # unassigned blocks left without a site


def apply_patch(sites_path: Path, patch_path: Path) -> Applied:
    """The new sites.toml text with the patch's values added (validated, not yet written)."""
    try:
        patch = tomllib.loads(patch_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"{patch_path}: cannot read it ({exc}); give the file `sites learn "
                         "--write` wrote") from None
    except tomllib.TOMLDecodeError as exc:
        raise PatchError(f"{patch_path}: not valid TOML ({exc}); fix the line it names") from None
    doc = tomlkit.parse(sites_path.read_text(encoding="utf-8"))
    tables = {str(t.get("id")): t for t in doc.get("site", [])}
    result = Applied("")
    blocks = [(f"[[site]] {i + 1}", b, b.get("id")) for i, b in enumerate(patch.get("site", []))]
    for i, block in enumerate(patch.get("unassigned", [])):
        name = f"[[unassigned]] {i + 1}"
        if not str(block.get("site", "")).strip():
            what = ", ".join(block.get("dids", []) + block.get("queues", [])) or "?"
            result.skipped.append(f"{name} ({what}): no site given")
            continue
        blocks.append((name, block, block.get("site")))
    for name, block, site_id in blocks:
        _add_block(patch_path, name, block, str(site_id), tables, result)
    result.text = tomlkit.dumps(doc)
    _validate(sites_path, result.text)
    return result


def _add_block(patch_path: Path, name: str, block: dict[str, Any], site_id: str,
               tables: dict[str, Any], result: Applied) -> None:
    table = tables.get(site_id)
    if table is None:
        known = ", ".join(list(tables)[:3])
        raise PatchError(f'{patch_path}: {name}: site "{site_id}" is not in sites.toml; '
                         f"use one of its ids ({known}, …)")
    for key, values in block.items():
        if key in ("id", "site"):
            continue
        if key not in KEYS:
            raise PatchError(f'{patch_path}: {name}: key "{key}" cannot be learned; expected one '
                             f"of {', '.join(KEYS)}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PatchError(f'{patch_path}: {name}: {key} is "{values}"; expected a list of '
                             "strings")
        current = table.get(key)
        if current is None:
            table[key] = current = tomlkit.array()
        new = [v for v in values if v not in current]
        current.extend(new)
        if new:
            result.added.setdefault(site_id, {}).setdefault(key, []).extend(new)


def _validate(sites_path: Path, text: str) -> None:
    """Load the whole configuration with the new sites.toml; refuse what the loader refuses."""
    with tempfile.TemporaryDirectory() as tmp:
        for other in sites_path.parent.glob("*.toml"):
            shutil.copy(other, Path(tmp) / other.name)
        (Path(tmp) / "sites.toml").write_text(text, encoding="utf-8")
        try:
            load_config(tmp)
        except ConfigError as exc:
            reason = str(exc).replace(tmp, str(sites_path.parent))
            raise PatchError(f"the patched sites.toml would be refused: {reason}") from None


def diff(sites_path: Path, new_text: str) -> str:
    old = sites_path.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new_text.splitlines(keepends=True),
                                        str(sites_path), f"{sites_path} (patched)"))


def write_sites(sites_path: Path, text: str) -> Path:
    """Replace sites.toml, keeping the previous version as sites.toml.YYYYmmdd-HHMMSS.bak (one
    per apply: a second apply never overwrites the first one's backup)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = sites_path.with_name(f"{sites_path.name}.{stamp}.bak")
    n = 1
    while backup.exists():  # two applies within one second
        n += 1
        backup = sites_path.with_name(f"{sites_path.name}.{stamp}-{n}.bak")
    shutil.copy2(sites_path, backup)
    tmp = sites_path.with_name(sites_path.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(sites_path)
    return backup
