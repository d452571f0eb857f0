"""Messages spoken by espeak-ng (voice fr) and shaped with sox, rendered once per session.

espeak-ng and sox are Debian packages (.ci/run installs them); without them the audio tests
are skipped locally and fail in CI (skip_or_fail).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from afterhours.audio import Audio, Features, features, read_wav
from afterhours.similarity import RefKey
from config import SHIPPED_DIR, Config
from simulator.messages import REFERENCE_KINDS, render_message, tools_available
from tests.conftest import skip_or_fail

# Sites with references in the tests: same template, names that sound alike (9e / 19e / 10e),
# lunch-time and Thursday hours (13, 18), the centre (long area text).
SITES = ("eps-centre", "eps-05", "eps-09", "eps-10", "eps-11", "eps-13", "eps-19")


@pytest.fixture(scope="session")
def tools() -> None:
    if not tools_available():
        skip_or_fail("espeak-ng and sox are not installed (apt-get install -y espeak-ng sox)")


@pytest.fixture(scope="session")
def message_cache(tmp_path_factory: pytest.TempPathFactory, tools: None) -> Path:
    return tmp_path_factory.mktemp("messages")


@pytest.fixture(scope="session")
def rendered(config: Config, message_cache: Path) -> dict[tuple[str, str], Path]:
    """(site, kind) → the rendered WAV, for SITES and every reference kind."""
    return {(s, k): render_message(config.site(s), k, message_cache) for s in SITES for k in REFERENCE_KINDS}


@pytest.fixture(scope="session")
def ref_features(rendered: dict[tuple[str, str], Path]) -> dict[RefKey, Features]:
    return {RefKey(s, k): features(read_wav(p)) for (s, k), p in rendered.items()}


@pytest.fixture(scope="session")
def sox(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Audio]:
    """sox(source, output options, effects, suffix) → the output read back.

    A non-WAV suffix (".gsm") is a codec round trip: written in that format, decoded to PCM.
    """
    folder = tmp_path_factory.mktemp("sox")
    counter = iter(range(10**6))

    def run(source: Path, options: tuple[str, ...] = (), effects: tuple[str, ...] = (),
            suffix: str = ".wav") -> Audio:
        out = folder / f"out{next(counter)}{suffix}"
        subprocess.run(["sox", str(source), *options, str(out), *effects], check=True, capture_output=True)
        if suffix != ".wav":
            back = out.with_suffix(".pcm.wav")
            subprocess.run(["sox", str(out), "-e", "signed", "-b", "16", str(back)], check=True,
                           capture_output=True)
            out = back
        return read_wav(out)

    return run


def with_noise(audio: Audio, snr_db: float, seed: int = 1) -> Audio:
    """White noise at `snr_db` under the speech level."""
    x = audio.samples
    level = np.sqrt(np.mean(x[np.abs(x) > 0.01] ** 2))
    noise = np.random.default_rng(seed).normal(0.0, level * 10 ** (-snr_db / 20), len(x))
    return Audio(x + noise, audio.rate)


def shipped_config_dir(directory: Path, broken: str | None = "eps-09", kind: str = "missing",
                       afterhours: str = "") -> Path:
    """A copy of the shipped config with its own simulation.toml and afterhours.toml."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("settings.toml", "sites.toml", "closures.toml"):
        shutil.copy(SHIPPED_DIR / name, directory / name)
    if broken:
        (directory / "simulation.toml").write_text(
            f'[simulation]\nbroken_message_site = "{broken}"\nbroken_message_kind = "{kind}"\n')
    if afterhours:
        (directory / "afterhours.toml").write_text(afterhours)
    return directory
