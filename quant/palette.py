"""Stage 3 — run a palette method on a histogram and turn its clusters into colors."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.spatial import cKDTree

from .colorspace import check_space, to_rgb8, to_space
from .histogram import Histogram, WeightedColors, reduce_histogram
from .load import LoadedImage
from .methods import Method, get_method

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
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, not {k!r}")
    return int(k)


class Prepared:
    """The part of the palette stage that doesn't depend on k.

    For one image, histogram, method, space and parameters: the color
    weights, the histogram reduced for clustering, its points in the color
    space, and the method's own k-independent work (`Method.precompute`).
    Each is computed on first use (or by `ready`) and kept, so quantizing one
    image at many k (as a sweep does) pays for them once. Make it with
    `prepare`.

    Threads may share one: two that ask for the same part at once may both
    compute it (the same value), which beats `functools.cached_property`'s
    lock on Python 3.11, shared by every instance.
    """

    def __init__(self, image: LoadedImage, hist: Histogram, method: Method, space: str, params: dict[str, Any]):
        self.image, self.hist, self.method, self.space, self.params = image, hist, method, space, params
        self._kept: dict[str, Any] = {}

    @property
    def working(self) -> WeightedColors:
        return self._once("working", self._reduce)

    @property
    def points(self) -> np.ndarray:
        return self._once("points", lambda: to_space(self.working.colors, self.space))

    @property
    def cluster_args(self) -> dict[str, Any]:
        """Keyword arguments of every `cluster` call: the parameters, plus what `Method.precompute` made."""
        return self._once("cluster_args", self._cluster_args)

    def _once(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self._kept:
            self._kept[name] = compute()
        return self._kept[name]

    def _reduce(self) -> WeightedColors:
        weigh = self.method.weigh
        weights = None if weigh is None else weigh(self.image, self.hist, **self.params)
        return reduce_histogram(self.hist, self.method.max_entries, weights=weights)

    def _cluster_args(self) -> dict[str, Any]:
        args = dict(self.params)
        if "space" in inspect.signature(self.method.cluster).parameters:
            args["space"] = self.space  # methods that need to know the space ask for it
        if self.method.precompute is not None:
            args.update(self.method.precompute(self.points, self.working.weights, **args))
        return args

    def ready(self) -> Prepared:
        """Do all the work now (for an image with more colors than the smallest k), and return self."""
        if self.method.is_baseline:
            _ = self.working
        else:
            _ = self.cluster_args  # computes the working set and the points on the way
        return self

    def matches(self, image: LoadedImage, hist: Histogram, method: Method, space: str,
                params: dict[str, Any]) -> bool:
        """Whether this was prepared for these inputs: the same objects, or equal ones (e.g. an
        image decoded and counted again after a cache let the first copies go)."""
        same_image = self.image is image or (
            np.array_equal(self.image.rgb, image.rgb) and np.array_equal(self.image.opaque, image.opaque))
        same_hist = self.hist is hist or (
            np.array_equal(self.hist.colors, hist.colors) and np.array_equal(self.hist.pixel_index, hist.pixel_index))
        return same_image and same_hist and self.method == method and self.space == space and self.params == params

    def check(self, image: LoadedImage, hist: Histogram, method: str | Method, space: str,
              params: dict[str, Any] | None) -> None:
        """Raise ValueError unless this was prepared for these inputs (see `matches`)."""
        chosen = method if isinstance(method, Method) else get_method(method)
        if not self.matches(image, hist, chosen, check_space(space), chosen.resolve_params(params)):
            raise ValueError("prepared was made for another image, histogram, method, space or parameters")


def prepare(
    image: LoadedImage,
    hist: Histogram,
    method: str | Method = "kmeans",
    *,
    space: str = "rgb",
    params: dict[str, Any] | None = None,
) -> Prepared:
    """The k-independent work of `make_palette`, to pass as its `prepared` at each k.

    Examples
    --------
    >>> from quant import build_histogram, sample_image
    >>> image = sample_image()
    >>> hist = build_histogram(image)
    >>> prepared = prepare(image, hist, "kmeans")
    >>> palettes = [make_palette(image, hist, k, prepared=prepared) for k in (4, 16, 64)]
    """
    chosen = method if isinstance(method, Method) else get_method(method)
    return Prepared(image, hist, chosen, check_space(space), chosen.resolve_params(params))


def make_palette(
    image: LoadedImage,
    hist: Histogram,
    k: int,
    method: str | Method = "kmeans",
    *,
    space: str = "rgb",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    prepared: Prepared | None = None,
) -> Palette:
    """Choose at most `k` colors for `image` with a registered method.

    Parameters
    ----------
    image : LoadedImage
        The image; only baseline methods look at its pixels.
    hist : Histogram
        Its histogram, from `build_histogram(image)`.
    k : int
        Palette size, 2…256. An image with transparency keeps one slot for
        it, so its palette has at most 255 colors.
    method : str or Method
        A name from `METHODS`, or a `Method` entry itself (e.g. one not in
        the registry, or one sent to another process).
    space : {'rgb', 'lab', 'oklab'}
        Where clustering methods measure color distance.
    seed : int
        Makes every method deterministic.
    params : dict, optional
        Method parameters; see ``METHODS[method].params``.
    prepared : Prepared, optional
        From ``prepare(image, hist, method, space=space, params=params)``:
        its k-independent work is reused instead of redone.

    Returns
    -------
    Palette
    """
    k = check_k(k)
    chosen = method if isinstance(method, Method) else get_method(method)
    check_space(space)
    resolved = chosen.resolve_params(params)
    if prepared is None:
        prepared = Prepared(image, hist, chosen, space, resolved)
    else:
        prepared.check(image, hist, chosen, space, resolved)
    started = time.perf_counter()

    notices = []
    if image.opaque is not None and k == K_MAX:
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
    return Palette(colors, labels, chosen.name, space, k, seed, resolved, tuple(notices),
                   time.perf_counter() - started)


def _run(prepared: Prepared, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (palette colors, label per working entry) for one method."""
    method, working = prepared.method, prepared.working
    if method.is_baseline:
        colors = method.palette(prepared.image, k, seed=seed, **prepared.params)
        return colors, cKDTree(colors.astype(np.float64)).query(working.colors)[1]
    labels = method.cluster(prepared.points, working.weights, k, seed=seed, **prepared.cluster_args)
    return to_rgb8(_weighted_means(prepared.points, working.weights, labels), prepared.space), labels


def _weighted_means(points: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean of each label's points, weighted by pixel counts; labels must be 0…m-1 (gaps allowed)."""
    used, compact = np.unique(labels, return_inverse=True)
    mass = np.bincount(compact, weights=weights)
    sums = np.stack([np.bincount(compact, weights=weights * points[:, c]) for c in range(points.shape[1])], axis=1)
    means = np.zeros((labels.max() + 1, points.shape[1]))
    means[used] = sums / mass[:, None]
    return means


def _deduplicate(colors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop palette rows no entry uses and merge rows that rounded to the same color."""
    used = np.unique(labels)
    unique_colors, inverse = np.unique(colors[used], axis=0, return_inverse=True)
    row_of = np.zeros(len(colors), dtype=np.intp)
    row_of[used] = inverse.ravel()
    return unique_colors, row_of[labels]
