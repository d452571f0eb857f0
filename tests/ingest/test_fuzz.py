"""Fuzz suite, bounded for CI: hypothesis mutates simulated and real lines of every importer's
kind (simulator.mutate) and imports them into SQLite and PostgreSQL (simulator.fuzz_run). No
import may crash, and every call whose lines were all left untouched must still be stored.
bench/fuzz.py runs the same with 100,000 mutated lines per source."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import load_config
from ingest.finalize import CaptureContext
from monitor.store import Store
from simulator.fuzz_run import SOURCES, Sample, make_sample, run_once

SAMPLE_LINES = {"cdr": 400, "queue_log": 400, "cel": 1_200, "csv": 250}
EXAMPLES = 12


@pytest.fixture(scope="session")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulator.month import write_month

    out = tmp_path_factory.mktemp("fuzz-day")
    write_month(load_config(), "2026-10", out, seed=13, days=1)
    return out


@pytest.fixture(scope="session")
def samples(simulated_day: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    import os

    os.environ.setdefault("QUALIPHONE_PSEUDONYM_KEY", "test-key")
    ctx = CaptureContext.create(load_config())
    work = tmp_path_factory.mktemp("fuzz-samples")
    return {name: make_sample(source, source.simulated(simulated_day, ctx.config)
                              [:SAMPLE_LINES[name]], ctx, work)
            for name, source in SOURCES.items()}


def _real_files(real: Path, name: str) -> list[Path]:
    return sorted(p for pattern in SOURCES[name].real for p in real.glob(pattern))


@pytest.mark.parametrize("name", list(SOURCES))
def test_mutated_lines_never_crash_an_importer_nor_cost_a_good_call(
        store: Store, capture: CaptureContext, samples: dict[str, Sample], real_data: Path,
        tmp_path: Path, name: str) -> None:
    sample = samples[name]
    assert len(sample.calls) >= 20  # the oracle has calls to lose
    real = [make_sample(SOURCES[name], path.read_text(encoding="utf-8", errors="replace")
                        .splitlines(), capture, tmp_path) for path in _real_files(real_data, name)]

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.02, 0.4))
    def check(seed: int, rate: float) -> None:
        rng = random.Random(seed)  # the mutations: drawn from the seed (hypothesis picks it)
        tally = run_once(store, capture, sample, rng, rate, tmp_path)
        assert tally.crashes == [] and tally.refused == 0
        assert tally.lost == [], f"{len(tally.lost)} of {tally.good_calls} good calls lost"
        if real:  # the real recordings: nothing of theirs may crash an importer
            other = run_once(store, capture, rng.choice(real), rng, rate, tmp_path)
            assert other.crashes == []

    check()
