"""Stage 3 — run a palette method on a histogram and turn its clusters into colors."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import numpy as np

from .colorspace import to_rgb8, to_space
from .histogram import Histogram, WeightedColors, reduce_histogram
from .load import LoadedImage
from .methods import BaselineMethod, ClusteringMethod, Method
from .numeric import is_integer, weighted_means

T = TypeVar("T")

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
    labels : ndarray of uint8, shape (n,)
        For each histogram entry, its row in `colors`: one byte each, since
        a palette has at most 256 rows (a big photo has millions of entries).
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

    def pixel_counts(self, counts: np.ndarray) -> np.ndarray:
        """Pixels per palette color, (m,) int64, from the histogram's `counts` the labels index."""
        return np.bincount(self.labels, weights=counts, minlength=len(self.colors)).astype(np.int64)


def check_k(k: int) -> int:
    if not is_integer(k) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, not {k!r}")
    return int(k)


class ComputedOnce:
    """Values computed on first use and kept on the instance.

    Two threads that ask for the same value at once may both compute it (the
    same value): cheaper than `functools.cached_property`'s Python 3.11 lock,
    which every instance of a class shares, so one session's work would block
    another's.
    """

    def _once(self, name: str, compute: Callable[[], T]) -> T:
        kept = self.__dict__.setdefault("_kept", {})
        if name not in kept:
            kept[name] = compute()
        return kept[name]


class PaletteWork(ComputedOnce):
    """The palette stage for one image and one method: what every k shares, and a palette at any k.

    Holds the image, its histogram, the method, the color space and the
    parameters, and computes on first use (or in `ready`) the work that
    doesn't depend on k: the color weights, the histogram reduced for
    clustering, its points in the color space, and the method's own
    `precompute`. Threads may share one. `quant.prepare` makes it, as a
    `quant.Prepared`, which adds the remap.
    """

    def __init__(self, image: LoadedImage, hist: Histogram, method: Method, space: str, params: dict[str, Any]):
        self.image, self.hist, self.method, self.space, self.params = image, hist, method, space, params

    @property
    def working(self) -> WeightedColors:
        """The histogram, reduced to at most `method.max_entries` weighted colors."""
        return self._once("working", self._reduce)

    @property
    def points(self) -> np.ndarray:
        """`working`'s colors in the color space, (m, 3) float64."""
        return self._once("points", lambda: to_space(self.working.colors, self.space))

    @property
    def cluster_args(self) -> dict[str, Any]:
        """Keyword arguments of every `cluster` call: the parameters, plus what `precompute` made."""
        return self._once("cluster_args", self._cluster_args)

    def ready(self) -> Self:
        """Do all the shared work now, so the first k's time doesn't include it; return self."""
        if isinstance(self.method, ClusteringMethod):
            _ = self.cluster_args  # computes the working set and the points on the way
        else:
            _ = self.working
        return self

    def palette(self, k: int, seed: int = 0) -> Palette:
        """At most `k` colors, 2…256, and each histogram color's label.

        An image with transparency keeps one slot for it, so its palette has
        at most 255 colors.
        """
        k = check_k(k)
        hist = self.hist
        started = time.perf_counter()
        notices = []
        if self.image.opaque is not None and k == K_MAX:
            k = K_MAX - 1
            notices.append("one palette slot is kept for transparency, so at most 255 colors are used")
        if len(hist) == 0:
            colors, labels = np.zeros((0, 3), np.uint8), np.zeros(0, np.intp)
            notices.append("the image is fully transparent")
        elif len(hist) <= k:
            colors, labels = hist.colors, np.arange(len(hist))
            notices.append(f"the image has only {len(hist)} distinct colors, so all of them are kept")
        else:
            colors, working_labels = self._run(k, seed)
            labels = working_labels[self.working.parent]
        colors, labels = _deduplicate(colors, labels)
        seconds = time.perf_counter() - started
        return Palette(colors, labels, self.method.name, self.space, k, seed, self.params, tuple(notices), seconds)

    def _run(self, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (palette colors, label per working entry) for one method."""
        method, working = self.method, self.working
        if isinstance(method, BaselineMethod):
            from scipy.spatial import cKDTree

            colors = method.palette(self.image, k, seed=seed, **self.params)
            return colors, cKDTree(colors.astype(np.float64)).query(working.colors)[1]
        assert isinstance(method, ClusteringMethod)
        labels = method.cluster(self.points, working.weights, k, seed=seed, **self.cluster_args)
        means, _ = weighted_means(self.points, working.weights, labels)
        return to_rgb8(means, self.space), labels

    def _reduce(self) -> WeightedColors:
        weigh = getattr(self.method, "weigh", None)
        weights = None if weigh is None else weigh(self.image, self.hist, **self.params)
        return reduce_histogram(self.hist, self.method.max_entries, weights=weights)

    def _cluster_args(self) -> dict[str, Any]:
        method = self.method
        assert isinstance(method, ClusteringMethod), "only clustering methods cluster"
        args = dict(self.params)
        if "space" in inspect.signature(method.cluster).parameters:
            args["space"] = self.space  # methods that need to know the space ask for it
        if method.precompute is not None:
            args.update(method.precompute(self.points, self.working.weights, **args))
        return args


def _deduplicate(colors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop palette rows no entry uses and merge rows that rounded to the same color."""
    used = np.unique(labels)
    unique_colors, inverse = np.unique(colors[used], axis=0, return_inverse=True)
    row_of = np.zeros(len(colors), dtype=np.uint8)  # at most 256 distinct rows
    row_of[used] = inverse.ravel()
    return unique_colors, row_of[labels]


def assign_palette(hist: Histogram, colors: np.ndarray, *, space: str = "rgb") -> Palette:
    """A given palette, with each histogram color labelled by its nearest palette color: no clustering.

    For mapping many images to one shared palette (``quant --shared-palette``):
    ``remap(hist, assign_palette(hist, colors))`` gives the palette indices.
    Unlike `PaletteWork.palette`, the colors are kept whole and in order, even
    those no pixel of this image uses, so every image mapped to them carries
    the same palette.

    Parameters
    ----------
    hist : Histogram
        The image's histogram.
    colors : array_like of uint8, shape (m, 3)
        The palette, 1 ≤ m ≤ 256 colors.
    space : {'rgb', 'lab', 'oklab'}
        Where "nearest" is measured.
    """
    from scipy.spatial import cKDTree

    from .colorspace import check_space

    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.dtype != np.uint8 or not 1 <= len(colors) <= K_MAX:
        raise ValueError(f"colors must be an (m, 3) uint8 array of 1…{K_MAX} colors, not {colors.dtype}{colors.shape}")
    space = check_space(space)
    started = time.perf_counter()
    if len(hist) == 0:
        labels = np.zeros(0, np.uint8)
    else:
        tree = cKDTree(to_space(colors, space))
        labels = tree.query(to_space(hist.colors, space))[1].astype(np.uint8)
    seconds = time.perf_counter() - started
    return Palette(colors, labels, "given", space, len(colors), 0, {}, (), seconds)
