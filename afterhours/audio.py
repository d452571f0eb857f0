"""Audio for message checks: WAV reading (PCM, float, G.711), 8 kHz resampling, the telephone
band, level normalisation, speech activity and the log-mel features the comparison uses.

Everything is numpy/scipy; signals are float64 mono in [-1, 1] at `RATE` once loaded.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path
from types import ModuleType

import numpy as np

RATE = 8000  # what a telephone line carries; every signal is brought to it
BAND = (300.0, 3400.0)  # the telephone band
FRAME = 512  # analysis window (64 ms at 8 kHz), half overlapping
HOP = 256  # 32 ms between frames: 31.25 frames per second
FLOOR_DB = 30.0  # spectral floor below the mean speech energy of a band (masks line noise)
N_MELS = 24
NOISE_FLATNESS = 0.4  # median spectral flatness above which sound is only noise
TARGET_DBFS = -20.0  # speech level after normalisation
_FORMATS = {1: "pcm", 3: "float", 6: "alaw", 7: "ulaw"}


class AudioError(Exception):
    """A recording cannot be read: names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f'cannot read audio "{path}": {reason}')


@dataclass(frozen=True)
class Audio:
    """A mono signal at `rate` Hz."""

    samples: np.ndarray
    rate: int = RATE

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


# ---- reading and writing ---------------------------------------------------------------------

def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The RIFF chunks of a WAV file; a data chunk cut short (a recording in progress) is kept."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.setdefault(cid, data[pos + 8:pos + 8 + size])
        pos += 8 + size + (size & 1)
    return chunks


def _g711(codes: np.ndarray, law: str) -> np.ndarray:
    """Decode A-law or µ-law bytes to 16-bit linear values."""
    if law == "ulaw":
        u = ~codes.astype(np.int32) & 0xFF
        exponent, mantissa = (u >> 4) & 7, u & 0x0F
        value = (((mantissa << 3) + 0x84) << exponent) - 0x84
        return np.where(u & 0x80, -value, value).astype(np.float64)
    a = codes.astype(np.int32) ^ 0x55
    exponent, mantissa = (a >> 4) & 7, a & 0x0F
    shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    value = np.where(exponent == 0, (mantissa << 4) + 8, shifted)
    return np.where(a & 0x80, value, -value).astype(np.float64)


def _decode(fmt: bytes, raw: bytes) -> tuple[np.ndarray, int]:
    tag, channels, rate = struct.unpack("<HHI", fmt[:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    kind = _FORMATS.get(tag)
    if kind is None or channels < 1:
        raise ValueError(f"unsupported WAV encoding (format tag {tag}); convert it with "
                         "`sox IN -r 8000 -c 1 -e signed -b 16 OUT.wav`")
    width = max(1, bits // 8) if kind in ("pcm", "float") else 1
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    if kind in ("alaw", "ulaw"):
        x = _g711(np.frombuffer(raw, np.uint8), kind) / 32768.0
    elif kind == "float":
        x = np.frombuffer(raw, "<f4" if width == 4 else "<f8").astype(np.float64)
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8) / float(1 << 23)
    else:
        x = np.frombuffer(raw, f"<i{width}").astype(np.float64) / float(1 << (8 * width - 1))
    return x.reshape(-1, channels).mean(axis=1), rate


def read_wav(path: Path | str) -> Audio:
    """A WAV file (PCM 8-32 bit, float, A-law, µ-law; any rate; channels averaged) at 8 kHz."""
    try:
        chunks = _chunks(Path(path).read_bytes())
        if b"fmt " not in chunks or b"data" not in chunks:
            raise ValueError("no fmt or data chunk")
        samples, rate = _decode(chunks[b"fmt "], chunks[b"data"])
    except OSError as exc:
        raise AudioError(path, exc.strerror or str(exc)) from None
    except (ValueError, struct.error) as exc:
        raise AudioError(path, str(exc)) from None
    return Audio(resample(samples, rate), RATE)


def write_wav(path: Path | str, audio: Audio) -> None:
    """16-bit PCM mono WAV."""
    pcm = np.clip(np.round(audio.samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.rate)
        out.writeframes(pcm.tobytes())


def _signal() -> ModuleType:
    """scipy.signal, imported when audio is first processed (1.4 s of imports that the
    commands reading probe records, such as `report monthly`, never need)."""
    from scipy import signal

    return signal


# ---- conditioning ----------------------------------------------------------------------------

def resample(x: np.ndarray, rate: int, to: int = RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from `rate` to `to` Hz."""
    if rate == to or len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    g = gcd(int(rate), int(to))
    return _signal().resample_poly(x, to // g, rate // g)


@lru_cache(maxsize=4)
def _band_sos(rate: int) -> np.ndarray:
    high = min(BAND[1], 0.45 * rate)
    return _signal().butter(4, [BAND[0], high], btype="bandpass", fs=rate, output="sos")


def telephone_band(audio: Audio) -> Audio:
    """Keep 300-3400 Hz, as a telephone line does."""
    if len(audio.samples) < 64:
        return audio
    return Audio(_signal().sosfiltfilt(_band_sos(audio.rate), audio.samples), audio.rate)


def frame_levels(x: np.ndarray, frame: int = FRAME, hop: int = HOP) -> np.ndarray:
    """RMS level of each frame, in dBFS."""
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    return 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def activity(levels: np.ndarray, min_dbfs: float = -55.0, above_floor: float = 12.0) -> np.ndarray:
    """Frames with sound: 12 dB over the noise floor and over -55 dBFS.

    The floor is the 10th percentile of the levels, or 20 dB under the loudest frame when the
    signal has no pauses (music, a tone). Runs shorter than 3 frames (clicks) are dropped.
    """
    if len(levels) == 0:
        return np.zeros(0, dtype=bool)
    floor = min(float(np.percentile(levels, 10)), float(np.max(levels)) - 20.0)  # no pause: sound throughout
    active = levels > max(floor + above_floor, min_dbfs)
    opened = _signal().convolve(active.astype(int), np.ones(3, dtype=int), mode="same") >= 3
    return _signal().convolve(opened.astype(int), np.ones(3, dtype=int), mode="same") > 0


def onset(x: np.ndarray) -> int:
    """Index of the first sample of sound, the same for two recordings of one message.

    Coarse: the 4 ms envelope rises 12 dB over the floor (10th percentile, at most 20 dB under
    the peak) and over -50 dBFS. Fine: within the next 300 ms, the first sample 20 dB under the
    first syllable's peak — a level well above line noise, so noise does not move the start.
    """
    if len(x) < 64:
        return 0
    env = np.sqrt(np.convolve(x ** 2, np.ones(32) / 32, mode="same"))
    floor = min(float(np.percentile(env, 10)), float(np.max(env)) * 10 ** (-20 / 20))
    above = np.flatnonzero(env > max(4.0 * floor, 10 ** (-50 / 20)))
    if not len(above):
        return 0
    start = int(above[0])
    window = env[start:start + int(0.3 * RATE)]
    return start + int(np.argmax(window >= float(window.max()) * 10 ** (-20 / 20)))


def normalise(audio: Audio, target_dbfs: float = TARGET_DBFS) -> Audio:
    """Scale so that the active frames' level is `target_dbfs` (a silent signal is unchanged)."""
    levels = frame_levels(audio.samples)
    active = activity(levels)
    if not active.any():
        return audio
    gain = 10 ** ((target_dbfs - float(np.mean(levels[active]))) / 20.0)
    return Audio(np.clip(audio.samples * gain, -1.0, 1.0), audio.rate)


def condition(audio: Audio) -> Audio:
    """What every comparison starts from: 8 kHz, telephone band, normalised level."""
    if audio.rate != RATE:
        audio = Audio(resample(audio.samples, audio.rate), RATE)
    return normalise(telephone_band(audio))


# ---- features --------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _mel_bank(n_fft: int = FRAME, rate: int = RATE, n_mels: int = N_MELS) -> np.ndarray:
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_mel = np.linspace(mel(BAND[0]), mel(BAND[1]), n_mels + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    bank = np.zeros((n_mels, len(freqs)))
    for k in range(n_mels):
        lo, mid, hi = edges[k:k + 3]
        bank[k] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank


@dataclass(frozen=True)
class Features:
    """Per frame: a unit-length log-mel vector, whether it carries sound, its level."""

    vectors: np.ndarray  # frames x N_MELS
    active: np.ndarray  # frames, bool
    levels: np.ndarray  # frames, dBFS
    flatness: np.ndarray  # frames: spectral flatness in the band (white noise ~0.5, speech < 0.3)

    @property
    def frames(self) -> int:
        return len(self.active)

    @property
    def speech_seconds(self) -> float:
        """From the first to the last frame with sound."""
        idx = np.flatnonzero(self.active)
        return 0.0 if len(idx) == 0 else (idx[-1] - idx[0] + 1) * HOP / RATE

    def trimmed(self) -> Features:
        """Without the silence before the first and after the last frame with sound."""
        idx = np.flatnonzero(self.active)
        if len(idx) == 0:
            return self
        s = slice(idx[0], idx[-1] + 1)
        return Features(self.vectors[s], self.active[s], self.levels[s], self.flatness[s])

    @property
    def noise_like(self) -> bool:
        """The sound is a steady hiss (flat spectrum), not speech, music or tones."""
        return bool(self.active.any()) and float(np.median(self.flatness[self.active])) > NOISE_FLATNESS


def features(audio: Audio) -> Features:
    """Log-mel (300-3400 Hz, 24 bands, 64 ms windows every 32 ms), robust to the line.

    Frames start 10 ms before the first sound (no sub-frame offset between two recordings of
    one message); a spectral floor 30 dB under the mean speech energy hides line noise and
    codec artefacts; removing each band's mean over the sounding frames cancels the level and
    the channel's fixed colouring; unit-length vectors compare by a dot product (cosine).
    """
    x = condition(audio).samples
    x = x[max(0, onset(x) - 80):]  # frames start 10 ms before the first sound: sub-frame offsets
    levels = frame_levels(x)
    if len(x) < FRAME:
        x = np.pad(x, (0, FRAME - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP] * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = power @ _mel_bank().T
    active = activity(levels)
    speech = mel[active] if active.any() else mel
    floor = 10 ** (-FLOOR_DB / 10) * float(np.mean(speech)) + 1e-12
    logmel = np.log(mel + floor)
    logmel -= logmel[active].mean(axis=0) if active.any() else logmel.mean(axis=0)
    norms = np.linalg.norm(logmel, axis=1, keepdims=True)
    band = power[:, _band_bins()] + 1e-20
    flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    return Features(logmel / np.maximum(norms, 1e-9), active, levels, flatness)


@lru_cache(maxsize=1)
def _band_bins() -> np.ndarray:
    freqs = np.fft.rfftfreq(FRAME, 1.0 / RATE)
    return np.flatnonzero((freqs >= BAND[0]) & (freqs <= BAND[1]))
