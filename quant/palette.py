"""Stage 3 — run a palette method on a histogram and turn its clusters into colors."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import numpy as np

from .colorspace import to_space
from .histogram import Histogram, WeightedColors, reduce_histogram
from .load import LoadedImage
from .methods import CUSTOM, START_MARGIN, BaselineMethod, ClusteringMethod, LastPass, Method, cluster_means, takes
from .numeric import is_integer

T = TypeVar("T")

K_MIN, K_MAX = 2, 256
#: The powers of two from K_MIN to K_MAX: the study's sweep, and the page's quick picks and k axis.
DOUBLING_KS = tuple(2**e for e in range(1, 9))
#: How a palette's colors are ordered (`order_colors`); the PNG's PLTE, the .gpl and the JSON follow it.
ORDERS = ("frequency", "lightness", "hue", "given")
#: Oklab chroma below which a color counts as gray when ordering by hue (about the just-visible tint).
_GRAY_CHROMA = 0.02
#: Colors a start is judged on, at most (`PaletteWork.judging_sample`): over 1 MP photos' 500,000
#: colors the judge cost as much as a start's clustering.
JUDGING_SAMPLE = 1 << 15


@dataclass(frozen=True)
class Palette:
    """The result of the palette stage.

    Attributes
    ----------
    colors : ndarray of uint8, shape (m, 3)
        The palette, m ≤ k, without duplicates, in `order` (see `order_colors`):
        by default the most used color first.
    labels : ndarray of uint8, shape (n,)
        For each histogram entry, its row in `colors`: one byte each, since
        a palette has at most 256 rows (a big photo has millions of entries).
    method, space, k, seed, params
        What produced it.
    notices : tuple of str
        What the user should know (fewer colors than asked, …).
    seconds : float
        Wall time of the stage.
    order : str
        One of `ORDERS`: how `colors` are ordered.
    locked : ndarray of bool, shape (m,), or None
        Which colors were locked (given by the user, kept as they are); None
        when none were.
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
    order: str = "frequency"
    locked: np.ndarray | None = None

    def pixel_counts(self, counts: np.ndarray) -> np.ndarray:
        """Pixels per palette color, (m,) int64, from the histogram's `counts` the labels index."""
        return np.bincount(self.labels, weights=counts, minlength=len(self.colors)).astype(np.int64)


def check_k(k: int) -> int:
    if not is_integer(k) or not K_MIN <= k <= K_MAX:
        raise ValueError(f"k must be an integer from {K_MIN} to {K_MAX}, not {k!r}")
    return int(k)


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"unknown palette order {order!r}; choose one of: {', '.join(ORDERS)}")
    return order


def order_colors(colors: np.ndarray, counts: np.ndarray, order: str, given: int = 0) -> np.ndarray:
    """The permutation that puts `colors` in `order`; ties always fall to the lower packed RGB code.

    Parameters
    ----------
    colors : ndarray of uint8, shape (m, 3)
    counts : ndarray, shape (m,)
        Pixels per color.
    order : {'frequency', 'lightness', 'hue', 'given'}
        ``frequency``: most pixels first. ``lightness``: CIELAB L*, dark to
        light. ``hue``: grays (Oklab chroma below 0.02) first, dark to light,
        then the rest by Oklab hue angle from 0° (pink-red) through yellow,
        green and blue, each hue dark to light. ``given``: the first `given`
        colors (a palette or locked colors the user gave) as they are, then
        the rest by frequency.
    given : int
        How many leading colors the user gave.
    """
    from .colorspace import to_space
    from .histogram import pack_rgb

    tie = pack_rgb(colors[None])[0] if len(colors) else np.zeros(0, np.int64)
    if order == "frequency":
        return np.lexsort((tie, -np.asarray(counts, np.float64)))
    if order == "lightness":
        return np.lexsort((tie, to_space(colors, "lab")[:, 0]))
    if order == "hue":
        lightness, a, b = to_space(colors, "oklab").T
        gray = np.hypot(a, b) < _GRAY_CHROMA
        hue = np.where(gray, -1.0, np.round(np.degrees(np.arctan2(b, a)) % 360, 6))
        return np.lexsort((tie, lightness, hue))
    check_order(order)
    rest = given + order_colors(colors[given:], counts[given:], "frequency")
    return np.concatenate([np.arange(given), rest]).astype(np.intp)


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

    def __init__(
        self,
        image: LoadedImage,
        hist: Histogram,
        method: Method,
        space: str,
        params: dict[str, Any],
        *,
        lock: np.ndarray | None = None,
        order: str = "frequency",
    ):
        self.image, self.hist, self.method, self.space, self.params = image, hist, method, space, params
        #: Colors every palette keeps as they are (the whole palette for `CUSTOM`), (L, 3) uint8.
        self.lock = np.zeros((0, 3), np.uint8) if lock is None else lock
        self.order = order

    @property
    def working(self) -> WeightedColors:
        """The histogram, reduced to at most `method.max_entries` weighted colors."""
        return self._once("working", self._reduce)

    @property
    def points(self) -> np.ndarray:
        """`working`'s colors in the color space, (m, 3) float64."""
        return self._once("points", lambda: to_space(self.working.colors, self.space))

    @property
    def working_lab(self) -> np.ndarray:
        """`working`'s colors in CIELAB: the histogram's own (kept for every ΔE2000) when nothing was merged."""
        return self._once("working_lab", self._working_lab)

    @property
    def last_pass(self) -> LastPass | None:
        """The method's last pass with these parameters (`ClusteringMethod.last_pass`), or None."""
        return self._once("last_pass", self._last_pass)

    @property
    def cluster_args(self) -> dict[str, Any]:
        """Keyword arguments of every `cluster` call: the parameters, plus what `precompute` made."""
        return self._once("cluster_args", self._cluster_args)

    def ready(self) -> Self:
        """Do all the shared work now, so the first k's time doesn't include it; return self."""
        if isinstance(self.method, ClusteringMethod):
            _ = self.cluster_args  # computes the working set and the points on the way
            if self.last_pass is not None:  # the CIELAB it measures in (polish="none" makes none)
                _ = self.working_lab
        elif self.method is not CUSTOM:  # a custom palette labels the histogram itself, not a working set
            _ = self.working
        return self

    def palette(self, k: int | None = None, seed: int = 0, *, polish: bool = True) -> Palette:
        """At most `k` colors, 2…256, and each histogram color's label.

        An image with transparency keeps one slot for it, so its palette has
        at most 255 colors. Locked colors count towards `k` and are always in
        the palette; a custom palette (`CUSTOM`) is the locked colors alone,
        and its `k` is their number. ``polish=False`` leaves out the method's
        last pass (`ClusteringMethod.last_pass`), which fits the palette to
        undithered output: a dithered result fits its own. When the last pass
        can solve the image directly (`LastPass.exact`: kmeans on a gray image),
        nothing is clustered.
        """
        started = time.perf_counter()
        k, notices = self._budget(k)
        hist, lock = self.hist, self.lock
        if len(hist) == 0:
            colors, labels = lock, np.zeros(0, np.intp)
            notices.append("the image is fully transparent")
        elif len(lock) == k:
            colors, labels = lock, _nearest(lock, hist.colors, self.space)
        elif len(others := _without(hist.colors, lock)) <= k - len(lock):
            colors = np.vstack([lock, others])
            labels = _nearest(colors, hist.colors, self.space)
            only = (
                "1 distinct color, so it is" if len(hist) == 1 else f"{len(hist)} distinct colors, so all of them are"
            )
            notices.append(f"the image has only {only} kept")
        elif polish and (exact := self._exact(k)) is not None:
            colors, labels = exact
        else:
            colors, working_labels = self._run(k, seed, polish)
            labels = working_labels[self.working.parent]
        colors, labels, locked = _deduplicate(colors, labels, keep=len(lock))
        if len(colors) < k < len(hist):
            notices.append(_fewer_colors_note(k, len(colors), locked=bool(len(lock))))
        pixels = np.bincount(labels, weights=hist.counts, minlength=len(colors))
        colors, locked, rank = in_order(colors, locked, pixels, self.order)
        labels = rank[labels]
        seconds = time.perf_counter() - started
        return Palette(
            colors,
            labels,
            self.method.name,
            self.space,
            k,
            seed,
            self.params,
            tuple(notices),
            seconds,
            order=self.order,
            locked=locked if len(lock) else None,
        )

    def _budget(self, k: int | None) -> tuple[int, list[str]]:
        """The k to cluster for, and notices about it: a slot kept for transparency, the custom palette's size."""
        notices: list[str] = []
        transparent = self.image.opaque is not None
        if self.method is CUSTOM:
            if transparent and len(self.lock) == K_MAX:
                raise ValueError(
                    f"the image has transparent pixels and the palette has {K_MAX} colors, leaving no PNG8 slot "
                    f"for transparency: give at most {K_MAX - 1} colors"
                )
            if k is not None and k != len(self.lock):
                raise ValueError(f"your own palette has {len(self.lock)} colors, so k is {len(self.lock)}: leave out k")
            return len(self.lock), notices
        if k is None:
            raise ValueError("give k, the number of colors (only a custom palette takes k from its colors)")
        k = check_k(k)
        if transparent and k == K_MAX:
            k = K_MAX - 1
            notices.append("one palette slot is kept for transparency, so at most 255 colors are used")
        if len(self.lock) > k:
            raise ValueError(f"{len(self.lock)} colors are locked, more than k = {k}: raise k or lock fewer colors")
        return k, notices

    def _run(self, k: int, seed: int, polish: bool) -> tuple[np.ndarray, np.ndarray]:
        """Return (palette colors, label per working entry) for one method; locked colors are the first rows.

        A method that takes ``fixed`` colors honors the locked ones itself;
        for any other, k − L colors are made, the L locked ones put before
        them, and every color labelled with the nearest of all.
        """
        method, working, lock = self.method, self.working, self.lock
        free = k - len(lock)
        if isinstance(method, BaselineMethod):
            if len(lock) and takes(method, "fixed"):
                colors = method.palette(self.image, k, seed=seed, fixed=lock, **self.params)
            else:
                colors = method.palette(self.image, free, seed=seed, **self.params)
            colors = np.vstack([lock, _without(colors, lock)])
            return colors, _nearest(colors, working.colors, "rgb")
        assert isinstance(method, ClusteringMethod)
        if len(lock) and takes(method, "fixed"):
            return self._cluster(k, seed, lock, polish, fixed=to_space(lock, self.space))
        colors, labels = self._cluster(free, seed, lock[:0], polish)
        if not len(lock):
            return colors, labels
        colors = np.vstack([lock, colors])
        return colors, _nearest(colors, working.colors, self.space)

    def _cluster(
        self, k: int, seed: int, lock: np.ndarray, polish: bool, fixed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Colors and labels from the method's `cluster` (with `fixed` centers if given): the best of its starts,
        then the last pass (`polish`) on it."""
        method = self.method
        assert isinstance(method, ClusteringMethod)
        starts = [{}] if method.starts is None else method.starts(k, seed, **self.params)
        extra = {} if fixed is None else {"fixed": fixed}
        last_pass = self.last_pass if polish else None
        kept: tuple[float, np.ndarray, np.ndarray] | None = None
        for overrides in starts:
            args = {"seed": seed, **self.cluster_args, **extra, **overrides}
            labels = method.cluster(self.points, self.working.weights, k, **args)
            colors, labels = self._colors(labels, k if fixed is not None else int(labels.max()) + 1, lock)
            cost = self._start_cost(colors, labels, last_pass) if len(starts) > 1 else 0.0
            if kept is None or cost < kept[0] * (1 - START_MARGIN):  # the first start, unless one is clearly better
                kept = (cost, colors, labels)
        assert kept is not None
        _, colors, labels = kept
        if last_pass is not None:
            colors, labels = self._run_last_pass(colors, labels, len(lock))
        return colors, labels

    def _start_cost(self, colors: np.ndarray, labels: np.ndarray, last_pass: LastPass | None) -> float:
        """How badly a start's palette serves the pixels, over `judging_sample`: what the last pass lowers, or
        without one (an unpolished or dithered result), the summed ΔE2000, as results are judged."""
        from .ciede2000 import weighted_ciede2000_sum
        from .colorspace import rgb_to_lab

        rows, rgb, lab, stands_for = self.judging_sample
        if last_pass is None:
            return weighted_ciede2000_sum(lab, stands_for, rgb_to_lab(colors), labels[rows])
        return last_pass.cost(rgb, lab, stands_for, colors, labels[rows])

    @property
    def judging_sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The working colors that starts are judged on, drawn by pixels (`quant.polish.pixel_sample`, at most
        `JUDGING_SAMPLE`): their rows, RGB and CIELAB, and the pixels each stands for. The same for every
        start, so their difference is measured with little noise, at a fraction of the cost over every
        color of a photo."""
        return self._once("judging_sample", self._judging_sample)

    def _judging_sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        from .polish import pixel_sample

        working = self.working
        one_label = np.zeros(len(working.counts), np.int64)
        rows, stands_for, _, end = pixel_sample(one_label, np.asarray(working.counts, np.float64), 1, JUDGING_SAMPLE)
        rows, stands_for = rows[: end[0]], stands_for[: end[0]]  # a color of many pixels takes several marks
        return rows, working.colors[rows], self._lab_of_working(rows), stands_for

    def _colors(self, labels: np.ndarray, n_labels: int, lock: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The clusters' colors (the `lock` colors first, as they are) and the labels: the method's way, or means."""
        method = self.method
        assert isinstance(method, ClusteringMethod)
        if method.colors is not None:
            return method.colors(self.points, self.working.weights, labels, n_labels, lock=lock, **self.cluster_args)
        return cluster_means(self.points, self.working.weights, labels, n_labels, lock, self.space), labels

    def _run_last_pass(self, colors: np.ndarray, labels: np.ndarray, fixed: int) -> tuple[np.ndarray, np.ndarray]:
        """The method's last pass over a palette (`last_pass`); the first `fixed` rows stay."""
        working = self.working
        assert self.last_pass is not None
        return self.last_pass.run(working.colors, self.working_lab, working.counts, colors, labels, fixed=fixed)

    def _exact(self, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The last pass's own palette and each histogram color's label, solved without clustering
        (`LastPass.exact`), or None: when it can't be, or colors are locked (they go the usual way)."""
        last_pass = self.last_pass
        if last_pass is None or last_pass.exact is None or len(self.lock):
            return None
        return last_pass.exact(self.hist.colors, self.hist.counts, k)

    def _last_pass(self) -> LastPass | None:
        method = self.method
        if not isinstance(method, ClusteringMethod) or method.last_pass is None:
            return None
        return method.last_pass(**self.params)

    def _working_lab(self) -> np.ndarray:
        return self._lab_of_working(slice(None))

    def _lab_of_working(self, rows: np.ndarray | slice) -> np.ndarray:
        """CIELAB of the working colors at `rows`: the histogram's own (kept for every ΔE2000) when nothing was
        merged, else converted."""
        if len(self.working.colors) == len(self.hist):
            return self.hist.lab[rows]
        return to_space(self.working.colors[rows], "lab")

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


def _fewer_colors_note(k: int, used: int, *, locked: bool) -> str:
    """Why a palette of an image of more than `k` colors has only `used`: a color nobody took, or twins."""
    were = "was" if k - used == 1 else "were"
    why = " (a locked color takes every pixel nearest it)" if locked else ""
    return f"{used} of the {k} colors are used: {k - used} {were} left with no pixels or equal to another{why}"


def _deduplicate(colors: np.ndarray, labels: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop palette rows no entry uses, except the first `keep` (locked), and merge rows of one color.

    Rows keep their order; a row equal to an earlier one merges into it, so a
    color that rounded onto a locked one becomes that locked color. Returns
    (colors, labels, which rows are locked).
    """
    used = np.zeros(len(colors), bool)
    used[labels] = True
    used[:keep] = True
    rows = np.flatnonzero(used)
    _, first, inverse = np.unique(colors[rows], axis=0, return_index=True, return_inverse=True)
    kept = np.sort(first)  # each distinct color's first row, in row order
    position = np.empty(len(first), np.intp)
    position[np.argsort(first)] = np.arange(len(first))
    row_of = np.zeros(len(colors), dtype=np.uint8)  # at most 256 distinct rows
    row_of[rows] = position[inverse.ravel()]
    return colors[rows[kept]], row_of[labels], rows[kept] < keep


def in_order(
    colors: np.ndarray, locked: np.ndarray, pixels: np.ndarray, order: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`colors` put in `order` (`order_colors`, by `pixels` per color), the locked mask following them, and
    each color's new row, which renumbers labels (``rank[labels]``): used by the palette stage and by the
    dithered refit (`quant.dither.fit_palette`)."""
    permutation = order_colors(colors, pixels, order, given=int(locked.sum()))
    rank = np.empty(len(colors), np.uint8)
    rank[permutation] = np.arange(len(colors))
    return colors[permutation], locked[permutation], rank


def _without(colors: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """The rows of `colors` that are not rows of `excluded`, in order."""
    from .histogram import pack_rgb

    if not len(excluded) or not len(colors):
        return colors
    return colors[~np.isin(pack_rgb(colors[None])[0], pack_rgb(excluded[None])[0])]


def _nearest(colors: np.ndarray, targets: np.ndarray, space: str) -> np.ndarray:
    """For each of `targets` (RGB), the row of the nearest of `colors` (RGB, ≤ 256), measured in `space`."""
    from scipy.spatial import cKDTree

    if not len(targets):
        return np.zeros(0, np.intp)
    return cKDTree(to_space(colors, space)).query(to_space(targets, space))[1]


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
    from .colorspace import check_space

    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.dtype != np.uint8 or not 1 <= len(colors) <= K_MAX:
        raise ValueError(f"colors must be an (m, 3) uint8 array of 1…{K_MAX} colors, not {colors.dtype}{colors.shape}")
    space = check_space(space)
    started = time.perf_counter()
    labels = _nearest(colors, hist.colors, space).astype(np.uint8)
    seconds = time.perf_counter() - started
    return Palette(colors, labels, "given", space, len(colors), 0, {}, (), seconds, order="given")
