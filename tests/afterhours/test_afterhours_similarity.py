"""Verdicts on messages spoken by espeak-ng and degraded as a telephone line would.

The references are the simulator's messages of seven sites (closed, closure, daytime); each case
plays something to a probe of eps-09 and checks what `assess` decides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from afterhours.audio import Audio, Features, read_wav
from afterhours.similarity import (
    IDENTITY_MIN,
    MATCH_MIN,
    TRUNCATED_BELOW,
    Assessment,
    RefKey,
    Verdict,
    assess,
    compare,
)
from config import Config
from simulator.messages import message_text, synthesise
from tests.afterhours.conftest import with_noise

CLOSED_09 = RefKey("eps-09", "closed")
Rendered = dict[tuple[str, str], Path]
Sox = Callable[..., Audio]


def judge(audio: Audio, refs: dict[RefKey, Features], expected: RefKey = CLOSED_09) -> Assessment:
    return assess(audio, refs, expected)


def test_the_expected_message_on_a_clean_line(rendered: Rendered, ref_features: dict) -> None:
    result = judge(read_wav(rendered["eps-09", "closed"]), ref_features)
    assert result.verdict is Verdict.EXPECTED and result.best == CLOSED_09
    assert result.match is not None and result.match.similarity > 0.99 and result.match.coverage > 0.99
    assert 25.0 < result.speech_seconds < 29.0


@pytest.mark.parametrize("line", ["band-ulaw-16k-noise25", "gsm", "quiet-offset-alaw", "noise20"])
def test_the_expected_message_through_a_telephone_line(line: str, rendered: Rendered, ref_features: dict,
                                                        sox: Sox) -> None:
    source = rendered["eps-09", "closed"]
    if line == "band-ulaw-16k-noise25":
        audio = with_noise(sox(source, ("-r", "16000", "-e", "u-law"), ("sinc", "300-3400")), 25)
    elif line == "gsm":
        audio = sox(source, (), (), suffix=".gsm")
    elif line == "quiet-offset-alaw":
        audio = sox(source, ("-e", "a-law"), ("vol", "0.1", "pad", "0.7", "0"))
    else:
        audio = with_noise(read_wav(source), 20, seed=4)
    result = judge(audio, ref_features)
    assert result.verdict is Verdict.EXPECTED, result.scores
    own = result.scores[str(CLOSED_09)]
    runner_up = max(w for k, (_, w) in result.scores.items() if k != str(CLOSED_09))
    assert own[1] - runner_up > 0.05, (own, runner_up)  # a clear margin on the worst stretch


@pytest.mark.parametrize("other", ["eps-19", "eps-10"])
def test_another_sites_message(other: str, rendered: Rendered, ref_features: dict) -> None:
    audio = with_noise(read_wav(rendered[other, "closed"]), 25, seed=2)
    result = judge(audio, ref_features)
    assert result.verdict is Verdict.OTHER_SITE
    assert result.best == RefKey(other, "closed")
    assert result.expected is not None and result.expected.worst < result.match.worst - 0.05  # type: ignore[union-attr]


def test_a_truncated_message(rendered: Rendered, ref_features: dict) -> None:
    x = read_wav(rendered["eps-09", "closed"]).samples
    result = judge(with_noise(Audio(x[: int(len(x) * 0.45)]), 30), ref_features)
    assert result.verdict is Verdict.TRUNCATED and result.best == CLOSED_09
    assert result.match is not None and 0.35 < result.match.coverage < TRUNCATED_BELOW


def test_the_daytime_greeting_followed_by_ringback(rendered: Rendered, ref_features: dict) -> None:
    greeting = read_wav(rendered["eps-09", "daytime"]).samples
    t = np.arange(15 * 8000) / 8000
    ringback = 0.1 * np.sin(2 * np.pi * 440 * t) * ((t % 5.0) < 1.5)
    result = judge(Audio(np.concatenate([greeting, ringback])), ref_features)
    assert result.verdict is Verdict.DAYTIME and result.best == RefKey("eps-09", "daytime")


@pytest.mark.parametrize("level", [0.0, 10 ** (-60 / 20), 10 ** (-30 / 20)])
def test_silence_or_line_noise(level: float, ref_features: dict) -> None:
    noise = np.random.default_rng(3).normal(0.0, level, 20 * 8000) if level else np.zeros(20 * 8000)
    result = judge(Audio(noise), ref_features)
    assert result.verdict is Verdict.SILENCE and result.scores == {}


def test_closure_and_after_hours_messages_are_told_apart(rendered: Rendered, ref_features: dict) -> None:
    closure = read_wav(rendered["eps-09", "closure"])
    assert judge(closure, ref_features).verdict is Verdict.WRONG_KIND
    assert judge(closure, ref_features, RefKey("eps-09", "closure")).verdict is Verdict.EXPECTED
    evening = judge(read_wav(rendered["eps-09", "closed"]), ref_features, RefKey("eps-09", "closure"))
    assert evening.verdict is Verdict.WRONG_KIND


def test_an_outdated_message_or_an_unknown_voice_is_unrecognised(config: Config, ref_features: dict,
                                                                  tmp_path: Path) -> None:
    outdated = message_text(config.site("eps-09"), "closed").replace(
        "du lundi au vendredi de 8 heures 30 à 17 heures", "le lundi et le mardi de 10 heures à 12 heures")
    synthesise(outdated, tmp_path / "old.wav")
    old = judge(read_wav(tmp_path / "old.wav"), ref_features)
    assert old.verdict is Verdict.UNRECOGNISED
    assert old.expected is not None and old.expected.similarity > MATCH_MIN > 0  # same family …
    assert old.expected.worst < IDENTITY_MIN  # … but some words differ
    synthesise("Le numéro que vous avez demandé n'est plus attribué.", tmp_path / "other.wav")
    assert judge(read_wav(tmp_path / "other.wav"), ref_features).verdict is Verdict.UNRECOGNISED


def test_compare_is_level_and_offset_invariant(rendered: Rendered, ref_features: dict) -> None:
    x = read_wav(rendered["eps-13", "closed"]).samples
    moved = Audio(np.concatenate([np.zeros(1234), 0.2 * x]))
    from afterhours.audio import features

    match = compare(features(moved), ref_features[RefKey("eps-13", "closed")])
    assert match.similarity > 0.99 and match.worst > 0.97 and match.coverage > 0.99


def test_verdict_failures() -> None:
    assert not Verdict.EXPECTED.is_failure and not Verdict.ERROR.is_failure
    assert all(v.is_failure for v in Verdict if v not in (Verdict.EXPECTED, Verdict.ERROR))
