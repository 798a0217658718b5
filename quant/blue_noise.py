"""A blue-noise threshold map, made by Ulichney's void-and-cluster method (1993).

The map is a permutation of ``0 … size² − 1`` on a torus: thresholding it at
any level gives points that are evenly spread, with no low-frequency clumps,
which is what makes blue-noise dithering look like fine grain instead of a
pattern. The shipped map (``quant/data/blue_noise_64.npy``) is made by::

    python -m quant.blue_noise

Energy is a toroidal Gaussian (σ = 1.5, Ulichney's choice) summed over the
set points and kept up to date as points come and go, so each step costs one
``size²`` add rather than a convolution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Where the shipped map lives, and its size.
MAP_FILE = Path(__file__).resolve().parent / "data" / "blue_noise_64.npy"
MAP_SIZE = 64
_SIGMA = 1.5


def void_and_cluster(size: int = MAP_SIZE, *, sigma: float = _SIGMA, seed: int = 0) -> np.ndarray:
    """A size×size blue-noise rank map: every integer ``0 … size² − 1`` once, as uint16."""
    kernel = _toroidal_gaussian(size, sigma)
    rng = np.random.default_rng(seed)
    pattern = np.zeros((size, size), bool)
    pattern.flat[rng.choice(size * size, size * size // 10, replace=False)] = True
    energy = _energy(pattern, kernel)
    # Phase 0: move the tightest cluster's point into the largest void until that changes nothing.
    while True:
        cluster = _tightest_cluster(pattern, energy)
        _toggle(pattern, energy, kernel, cluster)
        void = _largest_void(pattern, energy)
        if void == cluster:
            _toggle(pattern, energy, kernel, cluster)
            break
        _toggle(pattern, energy, kernel, void)
    ranks = np.zeros(size * size, np.int64)
    ones = int(pattern.sum())
    # Phase 1: rank the initial points, taking the tightest cluster away each time.
    shrinking, shrinking_energy = pattern.copy(), energy.copy()
    for rank in range(ones - 1, -1, -1):
        cluster = _tightest_cluster(shrinking, shrinking_energy)
        _toggle(shrinking, shrinking_energy, kernel, cluster)
        ranks[cluster] = rank
    # Phases 2 and 3: fill the largest void each time. (Ulichney's phase 3 picks the tightest cluster of
    # the empty points; with a Gaussian filling the whole torus that is the same point as the largest void.)
    for rank in range(ones, size * size):
        void = _largest_void(pattern, energy)
        _toggle(pattern, energy, kernel, void)
        ranks[void] = rank
    return ranks.reshape(size, size).astype(np.uint16)


def _toroidal_gaussian(size: int, sigma: float) -> np.ndarray:
    offsets = np.minimum(np.arange(size), size - np.arange(size))
    one_axis = np.exp(-(offsets**2) / (2 * sigma**2))
    return np.outer(one_axis, one_axis)


def _energy(pattern: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.real(np.fft.ifft2(np.fft.fft2(pattern.astype(float)) * np.fft.fft2(kernel)))


def _toggle(pattern: np.ndarray, energy: np.ndarray, kernel: np.ndarray, flat: int) -> None:
    row, col = divmod(flat, pattern.shape[1])
    sign = -1.0 if pattern[row, col] else 1.0
    pattern[row, col] = not pattern[row, col]
    energy += sign * np.roll(kernel, (row, col), axis=(0, 1))


def _tightest_cluster(pattern: np.ndarray, energy: np.ndarray) -> int:
    return int(np.argmax(np.where(pattern, energy, -np.inf)))


def _largest_void(pattern: np.ndarray, energy: np.ndarray) -> int:
    return int(np.argmin(np.where(pattern, np.inf, energy)))


def load_map() -> np.ndarray:
    """The shipped 64×64 map, as uint16 ranks."""
    return np.load(MAP_FILE)


if __name__ == "__main__":
    MAP_FILE.parent.mkdir(exist_ok=True)
    np.save(MAP_FILE, void_and_cluster())
    print(f"wrote {MAP_FILE}")
