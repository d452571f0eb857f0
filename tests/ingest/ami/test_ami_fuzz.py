"""Fuzz: mutated real and simulated AMI frames through the parser, the tracker and the listener,
on SQLite and PostgreSQL, a bounded number of examples (bench/fuzz_ami.py runs 100,000).

What must hold whatever the mutation (tests/ingest/ami/fuzz_frames.py lists them: hostile
values, NUL bytes, nan/1e20 Timestamps, cut, doubled, renamed, split or dropped frames, invalid
UTF-8, 300 KB values …): nothing raises out of the parser or the listener, no handler or
finalize error, and every call none of whose frames was touched is stored as without mutation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import Config
from ingest.ami.listener import Listener
from ingest.ami.protocol import FrameParser
from ingest.finalize import CaptureContext
from monitor.store import Store
from tests.ingest.ami import fuzz_frames as fz
from tests.ingest.ami.ami_support import FakePbx, capture_context, run

pytestmark = pytest.mark.realdata
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def fuzz(examples: int) -> settings:
    return settings(deadline=None, max_examples=examples, suppress_health_check=_HEALTH)

Source = tuple[CaptureContext, list[fz.Frame], set[str]]


@pytest.fixture(scope="module")
def sources(config: Config, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Source]:
    """The real recordings (read in place) and a simulated morning of two sites."""
    from tests.conftest import REAL, skip_or_fail

    if not REAL.is_dir():
        skip_or_fail(f"real recordings not found at {REAL} (set QUALIPHONE_SHARED)")
    real_ctx = capture_context(tmp_path_factory.mktemp("fuzz") / "config")
    sim_ctx = CaptureContext.create(config)
    out: dict[str, Source] = {}
    sim = fz.simulated_stream(config, ["eps-05", "eps-07"], dt.date(2026, 10, 5), limit=60)
    out["simulated"] = (sim_ctx, sim, fz.expected_calls(sim_ctx, sim))
    for name, stream in fz.real_streams(REAL).items():
        out[name] = (real_ctx, stream, fz.expected_calls(real_ctx, stream))
    assert sum(len(e) for _, _, e in out.values()) > 30  # calls to lose, or the test proves little
    return out


NAMES = ["simulated", *fz.REAL_CAPTURES]
_mutation = st.tuples(st.integers(0, 10**6), st.sampled_from(fz.KINDS), st.integers(0, 2**20))


def _mutations(stream: list[fz.Frame], drawn: list[tuple[int, str, int]]) -> list[fz.Mutation]:
    return [fz.Mutation(i % len(stream), kind, param) for i, kind, param in drawn]


@fuzz(80)
@given(name=st.sampled_from(NAMES), drawn=st.lists(_mutation, min_size=1, max_size=12),
       reads=st.lists(st.integers(1, 65536), min_size=1, max_size=8).map(
           lambda sizes: [max(s, 512) if i else s for i, s in enumerate(sizes)]))
def test_the_parser_survives_mutated_frames(sources: dict[str, Source], name: str,
                                            drawn: list[tuple[int, str, int]],
                                            reads: list[int]) -> None:
    _, stream, _ = sources[name]
    mutations = _mutations(stream, drawn)
    data, _ = fz.apply(stream, mutations)
    blob, parser, out, pos, n = b"".join(data), FrameParser(), [], 0, 0
    while pos < len(blob):  # reads of the drawn sizes, as a socket cuts them
        size = reads[n % len(reads)]
        out += parser.feed(blob[pos:pos + size])
        pos, n = pos + size, n + 1
    mutated = {m.frame for m in mutations}
    want = [f.headers for i, f in enumerate(stream) if i not in mutated]
    got = iter(m.headers for m in out)
    assert all(any(h == w for h in got) for w in want), "an untouched frame was lost or changed"


@fuzz(40)
@given(name=st.sampled_from(NAMES), drawn=st.lists(_mutation, min_size=1, max_size=25))
def test_the_listener_survives_mutated_streams(sources: dict[str, Source], store: Store, name: str,
                                               drawn: list[tuple[int, str, int]]) -> None:
    """On SQLite and PostgreSQL (the `store` fixture): NUL bytes and over-long fields reach the
    store's write path, which must isolate them."""
    ctx, stream, expected = sources[name]
    data, touched = fz.apply(stream, _mutations(stream, drawn))
    fz.wipe(store)
    result = fz.fold(ctx, store, data)
    stats = result.listener.stats
    assert stats.handler_errors == 0 and stats.finalize_errors == 0
    assert fz.calls_lost(store, expected, touched) == set()


@fuzz(4)
@given(drawn=st.lists(_mutation, min_size=5, max_size=40))
def test_a_mutated_stream_over_a_socket(sources: dict[str, Source], sqlite_store: Store,
                                        drawn: list[tuple[int, str, int]]) -> None:
    """The same through the real client and `Listener.run` on loopback."""
    ctx, stream, expected = sources["simulated"]
    data, touched = fz.apply(stream, _mutations(stream, drawn))
    blob = b"".join(data)
    fz.wipe(sqlite_store)

    async def scenario() -> Listener:
        pbx = await FakePbx(on_login=lambda s: s.send(blob)).start()
        listener = Listener(ctx, sqlite_store, host="127.0.0.1", port=pbx.port,
                            username="qualimon", secret=pbx.secret, ping_interval=30.0,
                            flush_interval=0.05)
        await listener.run(duration=1.5)
        await pbx.close()
        return listener

    listener = run(scenario(), timeout=30)
    assert isinstance(listener, Listener)
    assert listener.stats.handler_errors == 0 and listener.stats.finalize_errors == 0
    assert listener.client.stats.connections == 1 and listener.stats.gaps == []
    # calls still open at the stop are written incomplete: stored too
    assert fz.calls_lost(sqlite_store, expected, touched) == set()


def test_the_fuzz_streams_are_read_in_place(sources: dict[str, Source]) -> None:
    """The recordings are opened from ../shared, never copied into the repository."""
    repo = Path(__file__).resolve().parents[3]
    assert not list(repo.rglob("queue-reload-asterisk-22.9.0.raw"))
    assert all(len(stream) > 50 for _, stream, _ in sources.values())
