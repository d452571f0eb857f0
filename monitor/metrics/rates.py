"""Rates with their 95 % Wilson score interval: an hour with 4 calls is not a verdict.

All functions take counts (arrays or scalars) and return float arrays; a rate over n = 0 is
NaN, never an exception.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def rate(successes: ArrayLike, n: ArrayLike) -> np.ndarray:
    """successes / n, NaN where n == 0."""
    k, m = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m > 0, k / np.where(m > 0, m, 1.0), np.nan)


def wilson_interval(successes: ArrayLike, n: ArrayLike,
                    z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (low, high) of the proportion successes / n; NaN where n == 0.

    Unlike p ± z·sqrt(p(1-p)/n) it stays within [0, 1] and is not empty at p = 0 or 1:
    0 of 4 gives [0, 0.490], 4 of 4 gives [0.510, 1].
    """
    k, m = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    safe = np.where(m > 0, m, 1.0)
    p = k / safe
    z2 = z * z
    denominator = 1.0 + z2 / safe
    centre = (p + z2 / (2.0 * safe)) / denominator
    half = z / denominator * np.sqrt(np.maximum(p * (1.0 - p) / safe + z2 / (4.0 * safe * safe), 0))
    low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    low = np.where((m > 0) & (k <= 0), 0.0, low)
    high = np.where((m > 0) & (k >= m), 1.0, high)
    return low, high
