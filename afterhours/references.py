"""Reference recordings: what each site's messages should sound like.

Stored under the data directory as `afterhours/references/<site>/<kind>.wav` (8 kHz, 16-bit
mono) with a `<kind>.json` beside it (source file, checksum, lengths, when). Kinds:

* `closed`  the after-hours message (required for a probe verdict);
* `closure` the planned-closure message (optional: without it, closures expect `closed`);
* `daytime` the daytime greeting (optional: lets a probe tell "the daytime greeting").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from afterhours.audio import Features, features, read_wav, write_wav
from afterhours.similarity import FPS, MIN_SPEECH_SECONDS, RefKey
from config import Config

KINDS = ("closed", "closure", "daytime")


class ReferenceError(Exception):
    """A reference cannot be registered or is missing (the message says what to do)."""


@dataclass(frozen=True)
class Reference:
    site: str
    kind: str
    path: Path
    source: str
    sha256: str
    seconds: float
    speech_seconds: float
    registered_at: str

    @property
    def key(self) -> RefKey:
        return RefKey(self.site, self.kind)


def references_dir() -> Path:
    from monitor.store.engine import data_dir

    return data_dir() / "afterhours" / "references"


def register(config: Config, site_id: str, kind: str, source: Path, *,
             root: Path | None = None) -> Reference:
    """Copy `source` (any WAV the reader knows) as the site's reference of `kind`."""
    config.site(site_id)  # UnknownSite names the known sites
    if kind not in KINDS:
        raise ReferenceError(f'reference kind "{kind}" is not one of {", ".join(KINDS)}')
    audio = read_wav(source)
    feats = features(audio)
    speech = float(feats.active.sum()) / FPS
    if speech < MIN_SPEECH_SECONDS:
        raise ReferenceError(f'"{source}" holds {speech:.1f} s of sound; a reference needs at least '
                             f"{MIN_SPEECH_SECONDS:.0f} s: check the file")
    folder = (root or references_dir()) / site_id
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"{kind}.wav"
    write_wav(wav, audio)
    ref = Reference(site_id, kind, wav, str(source), hashlib.sha256(Path(source).read_bytes()).hexdigest(),
                    round(audio.seconds, 3), round(feats.speech_seconds, 3),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in ref.__dict__.items()}
    (folder / f"{kind}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    _FEATURES.pop(wav, None)
    return ref


def list_references(root: Path | None = None) -> list[Reference]:
    """Every registered reference, by site then kind."""
    found = []
    for meta in sorted((root or references_dir()).glob("*/*.json")):
        data = json.loads(meta.read_text())
        data["path"] = meta.with_suffix(".wav")
        if data["path"].exists():
            found.append(Reference(**data))
    return found


_FEATURES: dict[Path, tuple[float, Features]] = {}


def load_features(refs: list[Reference]) -> dict[RefKey, Features]:
    """Features of the references (cached in memory while the files are unchanged)."""
    result = {}
    for ref in refs:
        mtime = ref.path.stat().st_mtime
        cached = _FEATURES.get(ref.path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, features(read_wav(ref.path)))
            _FEATURES[ref.path] = cached
        result[ref.key] = cached[1]
    return result


def register_simulated(config: Config, sites: list[str] | None = None, *, root: Path | None = None,
                       cache_dir: Path | None = None) -> list[Reference]:
    """Register the built-in simulator's messages (espeak-ng) as the references of `sites`.

    The simulated broken site gets its correct message here: the fault is in what its
    simulated PBX plays, not in what it should play.
    """
    from simulator.messages import REFERENCE_KINDS, render_message

    done = []
    for site_id in sites or config.site_ids:
        for kind in REFERENCE_KINDS:
            path = render_message(config.site(site_id), kind, cache_dir)
            done.append(register(config, site_id, kind, path, root=root))
    return done
