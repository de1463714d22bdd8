"""Argument checks, seeding and 3D slicing shared by the generators."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

#: Names of the 13 slices saved from one 3D configuration, in saving order.
SLICE_NAMES: tuple[str, ...] = (
    "z-surface-0",
    "z-surface-1",
    "z-1/4",
    "z-1/2",
    "z-3/4",
    "x-0",
    "x-1/4",
    "x-1/2",
    "x-3/4",
    "y-0",
    "y-1/4",
    "y-1/2",
    "y-3/4",
)
N_SLICES = len(SLICE_NAMES)


def check_count(n: object, name: str = "n") -> int:
    """Return ``n`` as an int >= 1 or raise a ValueError naming it."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return int(n)


def check_size(size: object, even: bool = False) -> int:
    """Return the lattice side as an int >= 8 (even if ``even``) or raise."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    if even and size % 2:
        raise ValueError(
            f"size must be even for the checkerboard update of a periodic lattice, "
            f"got {size}; use {size + 1} and crop if you need an odd size"
        )
    return int(size)


def check_range(
    value: float | Sequence[float],
    name: str,
    lo: float,
    hi: float,
    lo_open: bool = False,
) -> tuple[float, float]:
    """Validate a scalar or a ``(low, high)`` pair inside ``[lo, hi]``.

    Returns the pair ``(low, high)``; a scalar gives ``(value, value)``.
    """
    pair = np.atleast_1d(np.asarray(value, dtype=float))
    if pair.ndim != 1 or pair.size not in (1, 2):
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    low, high = float(pair[0]), float(pair[-1])
    bad_lo = (low <= lo) if lo_open else (low < lo)
    if not (np.isfinite(low) and np.isfinite(high)) or bad_lo or high > hi or low > high:
        bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise ValueError(f"{name} must lie in {bound} with low <= high, got {value!r}")
    return low, high


def spawn_generators(seed: int | np.random.SeedSequence, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (same seed, same streams)."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(child) for child in ss.spawn(n)]


def draw_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """``n`` values uniform in ``[low, high]`` (all equal to ``low`` if the range is empty)."""
    if high == low:
        return np.full(n, low)
    return rng.uniform(low, high, n)


def slices13(vol: np.ndarray) -> np.ndarray:
    """The 13 equally spaced 2D cuts of a cubic (L, L, L) volume indexed ``[z, y, x]``.

    The two open z-surfaces, three interior z-slices at L/4, L/2, 3L/4, and four x- and
    four y-slices at 0, L/4, L/2, 3L/4 (periodic directions, so 0 is an interior plane).
    Order as in :data:`SLICE_NAMES`. Returns an array of shape (13, L, L).
    """
    L = vol.shape[0]
    q = [0, L // 4, L // 2, (3 * L) // 4]
    cuts = [vol[0], vol[L - 1], vol[q[1]], vol[q[2]], vol[q[3]]]
    cuts += [vol[:, :, x] for x in q]
    cuts += [vol[:, y, :] for y in q]
    return np.stack(cuts)
