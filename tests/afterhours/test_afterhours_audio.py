"""WAV reading (PCM, float, G.711, extensible, cut short), resampling, band, level, activity."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from afterhours.audio import (
    RATE,
    Audio,
    AudioError,
    activity,
    features,
    frame_levels,
    normalise,
    read_wav,
    telephone_band,
    write_wav,
)


def tone(freq: float, seconds: float = 1.0, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x ** 2) + 1e-20)


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", Audio(tone(440)))
    back = read_wav(tmp_path / "a.wav")
    assert back.rate == RATE and len(back.samples) == RATE
    assert np.max(np.abs(back.samples - tone(440))) < 1e-4


@pytest.mark.parametrize("encoding", [
    ("-b", "8", "-e", "unsigned"), ("-b", "24", "-e", "signed"), ("-b", "32", "-e", "floating-point"),
    ("-e", "u-law"), ("-e", "a-law"), ("-r", "16000", "-b", "16"), ("-r", "44100", "-c", "2"),
])
def test_every_encoding_a_pbx_writes_reads_alike(encoding: tuple[str, ...], tmp_path: Path,
                                                 sox: Callable[..., Audio]) -> None:
    write_wav(tmp_path / "ref.wav", Audio(tone(700) + tone(1300, amp=0.2)))
    ref = read_wav(tmp_path / "ref.wav").samples
    got = sox(tmp_path / "ref.wav", encoding).samples
    n = min(len(got), len(ref)) - 200
    error = got[100:n] - ref[100:n]
    assert rms_db(error) - rms_db(ref) < -30  # codec/resampling error 30 dB under the signal


def test_extensible_header_and_a_recording_still_being_written(tmp_path: Path) -> None:
    pcm = (tone(500) * 32767).astype("<i2").tobytes()
    guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, RATE, RATE * 2, 2, 16, 22, 16, 4) + guid
    size_unknown = 0xFFFFFFFF - 100  # MixMonitor has not finalised the header yet
    data = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + \
        b"data" + struct.pack("<I", size_unknown) + pcm[:-1]  # and half a sample at the end
    (tmp_path / "x.wav").write_bytes(data)
    got = read_wav(tmp_path / "x.wav").samples
    assert len(got) == RATE - 1 and abs(rms_db(got) - rms_db(tone(500))) < 0.1


def test_unreadable_files_name_the_file_and_the_fix(tmp_path: Path, sox: Callable[..., Audio]) -> None:
    (tmp_path / "text.wav").write_text("hello")
    with pytest.raises(AudioError, match=r'cannot read audio ".*text\.wav": not a RIFF/WAVE file'):
        read_wav(tmp_path / "text.wav")
    with pytest.raises(AudioError, match="No such file"):
        read_wav(tmp_path / "missing.wav")
    write_wav(tmp_path / "ref.wav", Audio(tone(700)))
    import subprocess

    subprocess.run(["sox", str(tmp_path / "ref.wav"), "-e", "gsm-full-rate", str(tmp_path / "gsm.wav")],
                   check=True, capture_output=True)
    with pytest.raises(AudioError, match=r"format tag 49\); convert it with `sox IN -r 8000"):
        read_wav(tmp_path / "gsm.wav")


def test_telephone_band_keeps_speech_frequencies_only() -> None:
    def through(freq: float) -> float:
        return rms_db(telephone_band(Audio(tone(freq))).samples[800:-800]) - rms_db(tone(freq))

    assert through(1000) > -1 and through(2500) > -1
    assert through(100) < -15 and through(3900) < -15


def test_normalise_and_activity() -> None:
    x = np.concatenate([np.zeros(RATE), tone(800, 2.0, amp=0.01), np.zeros(RATE)])
    x = x + np.random.default_rng(0).normal(0, 1e-4, len(x))
    levels = frame_levels(normalise(Audio(x)).samples)
    active = activity(levels)
    assert abs(np.mean(levels[active]) - (-20.0)) < 0.5
    seconds_active = active.sum() * 256 / RATE
    assert 1.9 < seconds_active < 2.2
    hiss = features(Audio(np.random.default_rng(1).normal(0, 0.05, 3 * RATE)))
    assert hiss.noise_like
    steady = features(Audio(tone(440, 3.0) + tone(660, 3.0)))  # music on hold: no pause, not noise
    assert steady.active.all() and not steady.noise_like


def test_features_do_not_depend_on_level_or_leading_silence() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([tone(f, 0.3) for f in rng.uniform(400, 3000, 12)])
    a = features(Audio(np.concatenate([np.zeros(100), x])))
    b = features(Audio(np.concatenate([np.zeros(777), 0.05 * x])))  # frames start at the first sound
    n = min(a.frames, b.frames)
    cos = np.sum(a.vectors[:n] * b.vectors[:n], axis=1)
    assert np.mean(cos[a.active[:n]]) > 0.99
