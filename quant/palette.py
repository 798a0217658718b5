"""Stage 3 — run a palette method on a histogram and turn its clusters into colors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .colorspace import to_rgb8
from .methods import BaselineMethod, ClusteringMethod
from .numeric import is_integer, weighted_means

if TYPE_CHECKING:
    from .pipeline import Prepared

K_MIN, K_MAX = 2, 256
#: The powers of two from K_MIN to K_MAX: the study's sweep, and the page's quick picks and k axis.
DOUBLING_KS = tuple(2**e for e in range(1, 9))


@dataclass(frozen=True)
class Palette:
    """The result of the palette stage.

    Attributes
    ----------
    colors : ndarray of uint8, shape (m, 3)
        The palette, m ≤ k, without duplicates, sorted by packed RGB.
    labels : ndarray of intp, shape (n,)
        For each histogram entry, its row in `colors`.
    method, space, k, seed, params
        What produced it.
    notices : tuple of str
        What the user should know (fewer colors than asked, …).
    seconds : float
        Wall time of the stage.
    """

    colors: np.ndarray
    labels: np.ndarray
    method: str
    space: str
    k: int
    seed: int
    params: dict[str, Any]
    notices: tuple[str, ...]
    seconds: float


def check_k(k: int) -> int:
    if not is_integer(k) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, not {k!r}")
    return int(k)


def build_palette(prepared: Prepared, k: int, seed: int) -> Palette:
    """Choose at most `k` colors with the prepared method: the palette stage.

    `prepared` (from `quant.prepare`) holds the image, its histogram, the
    method, space and parameters, and the work they share across every k.
    An image with transparency keeps one slot for it, so its palette has at
    most 255 colors.
    """
    k = check_k(k)
    hist = prepared.hist
    started = time.perf_counter()
    notices = []
    if prepared.image.opaque is not None and k == K_MAX:
        k = K_MAX - 1
        notices.append("one palette slot is kept for transparency, so at most 255 colors are used")
    if len(hist) == 0:
        colors, labels = np.zeros((0, 3), np.uint8), np.zeros(0, np.intp)
        notices.append("the image is fully transparent")
    elif len(hist) <= k:
        colors, labels = hist.colors, np.arange(len(hist))
        notices.append(f"the image has only {len(hist)} distinct colors, so all of them are kept")
    else:
        colors, working_labels = _run(prepared, k, seed)
        labels = working_labels[prepared.working.parent]
    colors, labels = _deduplicate(colors, labels)
    return Palette(
        colors,
        labels,
        prepared.method.name,
        prepared.space,
        k,
        seed,
        prepared.params,
        tuple(notices),
        time.perf_counter() - started,
    )


def _run(prepared: Prepared, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (palette colors, label per working entry) for one method."""
    method, working = prepared.method, prepared.working
    if isinstance(method, BaselineMethod):
        from scipy.spatial import cKDTree

        colors = method.palette(prepared.image, k, seed=seed, **prepared.params)
        return colors, cKDTree(colors.astype(np.float64)).query(working.colors)[1]
    assert isinstance(method, ClusteringMethod)
    labels = method.cluster(prepared.points, working.weights, k, seed=seed, **prepared.cluster_args)
    means, _ = weighted_means(prepared.points, working.weights, labels)
    return to_rgb8(means, prepared.space), labels


def _deduplicate(colors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop palette rows no entry uses and merge rows that rounded to the same color."""
    used = np.unique(labels)
    unique_colors, inverse = np.unique(colors[used], axis=0, return_inverse=True)
    row_of = np.zeros(len(colors), dtype=np.intp)
    row_of[used] = inverse.ravel()
    return unique_colors, row_of[labels]
