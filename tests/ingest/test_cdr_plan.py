"""The CDR first pass's components: the union-find used for few keys (no scipy to import)
gives the partition scipy's connected components give."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.cdr_plan import _connected, _joined


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for line, label in enumerate(labels.tolist()):
        groups.setdefault(label, set()).add(line)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("seed", range(40))
def test_union_find_and_scipy_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    pairs = int(rng.integers(0, 3 * n))
    keys = max(1, int(rng.integers(1, n + 2)))
    lines = rng.integers(0, n, pairs).astype(np.int32)
    which = rng.integers(0, keys, pairs)
    joined, connected = _joined(lines, which, n), _connected(lines, which, n, keys)
    assert _partition(joined) == _partition(connected)
    assert joined.min(initial=0) >= 0  # labels stay apart from component_of's -line


def test_a_long_chain_is_one_component() -> None:
    """Each key joins a line to the next: one component, whatever the order the pairs come in."""
    n = 2000
    lines = np.concatenate([np.arange(n - 1), np.arange(1, n)]).astype(np.int32)
    which = np.concatenate([np.arange(n - 1), np.arange(n - 1)])
    order = np.random.default_rng(0).permutation(len(lines))
    joined = _joined(lines[order], which[order], n + 3)
    assert _partition(joined) == {frozenset(range(n)), frozenset([n]), frozenset([n + 1]),
                                  frozenset([n + 2])}
