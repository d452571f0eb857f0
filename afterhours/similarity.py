"""Is the recorded message the expected one? Alignment of log-mel features, then a verdict.

Method:

* both signals go through `audio.features` (8 kHz, telephone band, level and channel
  normalised, framed from the first sound, silence trimmed);
* frame cost: 1 - cosine of the two log-mel vectors;
* alignment: dynamic time warping with slopes between 1/2 and 2 (symmetric weights), a free
  start within `START_SLACK` and an open end: the alignment stops when either signal is used
  up, so a truncated message still aligns with the beginning of its reference;
* `similarity` = 1 - mean cost along the best path: is it this family of message at all?
  `worst` = 1 - the highest mean cost over `WORST_WINDOW` consecutive path steps: messages of
  one template differ only in a few words (site name, hours, number), which a mean over 28 s
  hides but a 0.6 s stretch shows; the site is decided on `worst`, best reference wins;
* `coverage` = share of the reference the recording reached (truncation).

Measured on espeak-ng messages (tests/afterhours): the site's own message scores `worst`
0.76-1.00 (clean 1.00, GSM 0.93, 16 kHz µ-law + noise at 25 dB SNR 0.91, noise at 20 dB 0.76)
against 0.47-0.78 for the best other reference; a message of the same template with other
hours or another site's name scores 0.00-0.40 against the expected reference; unrelated
speech has `similarity` about 0.5.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from afterhours.audio import HOP, RATE, Audio, Features, features

FPS = RATE / HOP
START_SLACK = int(1.0 * FPS)  # frames of offset tolerated at the start of either signal
WORST_WINDOW = int(0.6 * FPS)  # path steps of the stretch `worst` is taken over
MIN_SPEECH_SECONDS = 1.0  # less sound than this is "silence"
MATCH_MIN = 0.75  # `similarity` below this: not this message family
IDENTITY_MIN = 0.50  # `worst` below this: some words differ (another site, other hours)
TIE_MARGIN = 0.02  # the expected reference wins ties on `worst` within this margin
TRUNCATED_BELOW = 0.85  # the recording reached less than this share of its reference


class Verdict(enum.StrEnum):
    """What a probe heard."""

    EXPECTED = "expected"  # the site's own after-hours (or closure) message, in full
    TRUNCATED = "truncated"  # the site's message, cut short
    OTHER_SITE = "other_site"  # another site's message
    WRONG_KIND = "wrong_kind"  # the site's closure message on an ordinary evening, or the reverse
    DAYTIME = "daytime"  # the daytime greeting (the after-hours switch did not happen)
    UNRECOGNISED = "unrecognised"  # sound, but none of the references (e.g. outdated hours)
    SILENCE = "silence"  # answered, nothing audible but line noise
    NO_ANSWER = "no_answer"  # not answered: rang out, busy, congestion, no route
    ERROR = "error"  # the probe could not be placed or its fate is unknown (not a site failure)

    @property
    def is_failure(self) -> bool:
        return self not in (Verdict.EXPECTED, Verdict.ERROR)


@dataclass(frozen=True, order=True)
class RefKey:
    """A reference recording: a site and its kind (closed, closure, daytime)."""

    site: str
    kind: str

    def __str__(self) -> str:
        return f"{self.site}/{self.kind}"


@dataclass(frozen=True)
class Match:
    similarity: float  # 1 - mean cost along the path
    worst: float  # 1 - mean cost of the worst WORST_WINDOW stretch
    coverage: float  # share of the reference reached


NO_MATCH = Match(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    best: RefKey | None = None
    match: Match | None = None  # against `best`
    expected: Match | None = None  # against the expected reference
    speech_seconds: float = 0.0
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # ref: (similarity, worst)


def _dtw(cost: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open-begin DTW of one recording against R references at once (cost: R x n x m).

    Steps (1,1) (1,2) (2,1) with symmetric weights (2c diagonal, 2c + c slanted); reference r
    uses its first widths[r] columns. Returns the step into each cell (0 diagonal, 1 from
    (i-1, j-2), 2 from (i-2, j-1), 3 a free start), the mean path cost into each cell of the
    last row (R x m) and into the last column of each reference (R x n).
    """
    R, n, m = cost.shape
    inf, refs = np.inf, np.arange(R)
    slant_j = np.full_like(cost, inf)
    slant_j[:, :, 1:] = 2 * cost[:, :, :-1] + cost[:, :, 1:]
    slant_i = np.full_like(cost, inf)
    slant_i[:, 1:] = 2 * cost[:, :-1] + cost[:, 1:]
    step = np.full((R, n, m), 3, dtype=np.int8)
    last_col = np.full((R, n), inf)
    pad = (R, m + 2)  # 2 columns of padding on the left
    prev2, w_prev2 = np.full(pad, inf, cost.dtype), np.ones(pad, cost.dtype)
    prev1, w_prev1 = np.full(pad, inf, cost.dtype), np.ones(pad, cost.dtype)
    s = min(START_SLACK, m)
    prev1[:, 2:2 + s] = cost[:, 0, :s]
    last_col[:, 0] = prev1[refs, widths + 1]
    for i in range(1, n):
        d, w = prev1[:, 1:-1] + 2 * cost[:, i], w_prev1[:, 1:-1] + 2
        k = np.zeros((R, m), dtype=np.int8)
        for code, dd, ww in ((1, prev1[:, :-2] + slant_j[:, i], w_prev1[:, :-2] + 3),
                             (2, prev2[:, 1:-1] + slant_i[:, i], w_prev2[:, 1:-1] + 3)):
            better = dd < d
            d, w, k = np.where(better, dd, d), np.where(better, ww, w), np.where(better, code, k)
        if i < START_SLACK:  # a free start in the first column
            better = cost[:, i, 0] <= d[:, 0]
            d[:, 0] = np.where(better, cost[:, i, 0], d[:, 0])
            w[:, 0], k[:, 0] = np.where(better, 1.0, w[:, 0]), np.where(better, 3, k[:, 0])
        step[:, i] = k
        prev2, w_prev2 = prev1, w_prev1
        prev1, w_prev1 = np.full(pad, inf, cost.dtype), np.ones(pad, cost.dtype)
        prev1[:, 2:], w_prev1[:, 2:] = d, w
        last_col[:, i] = d[refs, widths - 1] / w[refs, widths - 1]
    return step, prev1[:, 2:] / w_prev1[:, 2:], last_col


_MOVES = {0: ((1, 1),), 1: ((0, 1), (1, 1)), 2: ((1, 0), (1, 1))}  # cells walked back per step


def _path(step: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the best path ending at (i, j)."""
    rows, cols = [i], [j]
    while step[i, j] != 3 and (i, j) != (0, 0):
        for di, dj in _MOVES[int(step[i, j])]:
            i, j = i - di, j - dj
            rows.append(i)
            cols.append(j)
    return np.array(rows), np.array(cols)


def _match(cost: np.ndarray, step: np.ndarray, last_row: np.ndarray, last_col: np.ndarray,
           width: int) -> Match:
    """The best open end of one reference's alignment, and the scores along its path."""
    n = len(last_col)
    j, i = int(np.argmin(last_row[:width])), int(np.argmin(last_col))
    end, mean = ((n - 1, j), last_row[j]) if last_row[j] <= last_col[i] else ((i, width - 1), last_col[i])
    if not np.isfinite(mean):
        return NO_MATCH
    rows, cols = _path(step, *end)
    local = cost[rows, cols]
    worst = _worst_stretch(local)
    return Match(max(0.0, 1.0 - float(mean)), max(0.0, 1.0 - worst), (end[1] + 1) / width)


def _worst_stretch(costs: np.ndarray) -> float:
    """The highest mean cost over WORST_WINDOW consecutive values."""
    window = min(len(costs), WORST_WINDOW)
    return float(np.max(np.convolve(costs, np.ones(window) / window, mode="valid")))


def compare_many(recording: Features, references: list[Features], batch: int = 8) -> list[Match]:
    """Similarity of a recording to each reference (silence trimmed, open end).

    References of similar length are aligned together (numpy works on a batch per row).
    """
    rec = recording.trimmed()
    refs = [r.trimmed() for r in references]
    results = [NO_MATCH] * len(refs)
    order = [k for k in sorted(range(len(refs)), key=lambda k: refs[k].frames) if refs[k].frames >= 2]
    if rec.frames < 2:
        return results
    for start in range(0, len(order), batch):
        group = order[start:start + batch]
        widths = np.array([refs[k].frames for k in group])
        m = int(widths.max())
        vectors = rec.vectors[: 2 * m + START_SLACK]  # slopes <= 2: later frames are off every path
        cost = np.full((len(group), len(vectors), m), np.inf, dtype=np.float32)
        for g, k in enumerate(group):
            cost[g, :, : widths[g]] = 1.0 - vectors @ refs[k].vectors.T
        step, last_row, last_col = _dtw(cost, widths)
        for g, k in enumerate(group):
            results[k] = _match(cost[g], step[g], last_row[g], last_col[g], int(widths[g]))
    return results


def compare(recording: Features, reference: Features) -> Match:
    """Similarity of a recording to one reference."""
    return compare_many(recording, [reference])[0]


def assess(recording: Audio | Features, references: Mapping[RefKey, Features],
           expected: RefKey) -> Assessment:
    """The verdict for an answered probe, against every registered reference."""
    rec = recording if isinstance(recording, Features) else features(recording)
    if float(rec.active.sum()) / FPS < MIN_SPEECH_SECONDS or rec.noise_like:
        return Assessment(Verdict.SILENCE, speech_seconds=rec.speech_seconds)
    keys = sorted(references)
    matches = dict(zip(keys, compare_many(rec, [references[k] for k in keys]), strict=True))
    scores = {str(k): (round(m.similarity, 4), round(m.worst, 4)) for k, m in matches.items()}
    own = matches.get(expected)
    found = {k: m for k, m in matches.items() if m.similarity >= MATCH_MIN and m.worst >= IDENTITY_MIN}
    if not found:
        return Assessment(Verdict.UNRECOGNISED, None, None, own, rec.speech_seconds, scores)
    best = max(found, key=lambda k: found[k].worst)
    if expected in found and found[expected].worst >= found[best].worst - TIE_MARGIN:
        best = expected
    return Assessment(_verdict(best, found[best], expected), best, found[best], own,
                      rec.speech_seconds, scores)


def _verdict(best: RefKey, match: Match, expected: RefKey) -> Verdict:
    if best.kind == "daytime":
        return Verdict.DAYTIME
    if best.site != expected.site:
        return Verdict.OTHER_SITE
    if best.kind != expected.kind:
        return Verdict.WRONG_KIND
    return Verdict.EXPECTED if match.coverage >= TRUNCATED_BELOW else Verdict.TRUNCATED
