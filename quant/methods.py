"""Stage 3 — palette methods, and the registry that names them.

Two kinds of method live here:

* **clustering** methods group the weighted histogram colors in a color space
  and return a cluster label per color; the pipeline turns each cluster into
  its weighted mean color, unless the method says how (`ClusteringMethod.colors`),
  and keeps the best of the method's starts (`ClusteringMethod.starts`). They
  see only the histogram, never the pixels.
* **baseline** methods are the classical quantizers quant is measured
  against (Pillow's median cut and octree, libimagequant). They build a
  palette from the image their own way; the pipeline then labels each
  histogram color with its nearest palette color, as every method is remapped.

Adding a method means adding one `Method` entry to `METHODS`.

**Locked colors** (``quant.prepare(..., lock=colors)``) count towards k and
stay in every palette exactly. A method whose `cluster` or `palette` takes a
``fixed`` keyword honors them itself (its `fixed_colors` says how); for any
other, the pipeline makes k − L colors, adds the L locked ones, and labels
every color with the nearest of all. `CUSTOM`, outside the registry, is the
palette a user gives: every color locked, nothing clustered.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .histogram import FLATNESS_SCALE, flatness_weights
from .load import LoadedImage
from .numeric import is_integer, weighted_means


@dataclass(frozen=True)
class Param:
    """One tunable setting of a method, described well enough to draw a widget for it."""

    name: str
    default: Any
    help: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None

    def validate(self, value: Any) -> Any:
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}")
        if is_integer(self.default):
            if not is_integer(value):
                raise ValueError(f"{self.name} must be an integer, not {value!r}")
            value = int(value)
        elif isinstance(self.default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"{self.name} must be a finite number, not {value!r}")
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{self.name} must lie in [{self.low}, {self.high}], not {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class Method:
    """A registry entry: what a method is called, what it does, and what it takes.

    A method is one of two kinds, each a subclass: `ClusteringMethod` or
    `BaselineMethod`.
    """

    name: str
    label: str
    description: str
    complexity: str
    params: tuple[Param, ...] = ()
    #: Largest number of histogram entries the method works on; bigger
    #: histograms are merged into coarser bins first.
    max_entries: int = 1 << 16
    #: How the method honors locked colors, for people; methods that take no ``fixed`` colors share `GENERIC_LOCK`.
    fixed_colors: str = ""

    @property
    def is_baseline(self) -> bool:
        return isinstance(self, BaselineMethod)

    @property
    def kind(self) -> str:
        """``"clustering"`` or ``"baseline"``, for people."""
        return "baseline" if self.is_baseline else "clustering"

    @property
    def lock_note(self) -> str:
        """How locked colors are honored: the method's own way, or the generic one."""
        return self.fixed_colors or GENERIC_LOCK

    def resolve_params(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Fill defaults and validate `given`, refusing names the method doesn't have."""
        given = dict(given or {})
        known = {p.name: p for p in self.params}
        unknown = set(given) - set(known)
        if unknown:
            raise ValueError(
                f"method {self.name!r} has no parameter {', '.join(sorted(unknown))}; "
                f"it takes: {', '.join(known) or 'none'}"
            )
        return {name: p.validate(given.get(name, p.default)) for name, p in known.items()}


@dataclass(frozen=True)
class LastPass:
    """A clustering method's last pass over its palette (`ClusteringMethod.last_pass`), for undithered output.

    Attributes
    ----------
    run : callable
        ``run(rgb, lab, counts, colors, labels, *, fixed) -> (colors, labels)``:
        the palette and labels moved, given the working colors as they are
        (RGB 0…255, CIELAB, pixels per color); the first `fixed` palette rows
        are locked colors, to keep.
    cost : callable
        ``cost(rgb, lab, counts, colors, labels) -> float``: what the pass
        lowers, for a palette as it is (the same arguments, `fixed` aside). With
        several starts, the palette stage judges them by it and runs the pass
        on the kept one only.
    exact : callable, optional
        ``exact(rgb, counts, k) -> (colors, labels) or None``: the palette the
        pass aims at, solved directly from the histogram's colors (uint8) and
        pixel counts when it can be (kmeans: a gray image), so nothing is
        clustered; None when it can't. Asked only when no color is locked.
    """

    run: Callable[..., tuple[np.ndarray, np.ndarray]]
    cost: Callable[..., float]
    exact: Callable[..., tuple[np.ndarray, np.ndarray] | None] | None = None


@dataclass(frozen=True, kw_only=True)
class ClusteringMethod(Method):
    """Groups the weighted histogram colors; each cluster becomes a palette color (by default its weighted mean).

    Attributes
    ----------
    cluster : callable
        ``cluster(points, weights, k, *, seed, **params) -> labels``: points
        (n, 3) in the chosen color space, one int label per point.
    weigh : callable, optional
        ``weigh(image, hist, **params) -> (n,) float``: how much each
        histogram color counts; None means its pixel count.
    precompute : callable, optional
        ``precompute(points, weights, **cluster_kwargs) -> dict``: work that
        doesn't depend on k, done once per preparation (`quant.prepare`); its
        entries are passed to every `cluster` call as extra keyword arguments.
    colors : callable, optional
        ``colors(points, weights, labels, n_labels, *, lock, **cluster_kwargs)
        -> (colors, labels)``: the palette (uint8 RGB, one row per label, the
        L `lock` colors as the first rows, as they are) and, possibly
        revised, the labels. None means each cluster's weighted mean color.
    starts : callable, optional
        ``starts(k, seed, **params) -> list of dict``: the `cluster` calls to
        try at `k`, as keyword arguments that override the usual ones. With
        more than one, the palette stage keeps the first unless a later one is
        better by `START_MARGIN`: judged by the last pass's `LastPass.cost`
        when the palette is polished, else (unpolished or dithered) by ΔE2000,
        over a sample of the image's colors drawn by pixels. None means one
        call.
    last_pass : callable, optional
        ``last_pass(**params) -> LastPass or None``: the method's last pass over
        the kept start's palette with these parameters, for undithered output (a
        dithered result fits its own palette); None, or a None result, means none.
    """

    cluster: Callable[..., np.ndarray]
    weigh: Callable[..., np.ndarray] | None = None
    precompute: Callable[..., dict] | None = None
    colors: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    starts: Callable[..., list[dict[str, Any]]] | None = None
    last_pass: Callable[..., LastPass | None] | None = None


@dataclass(frozen=True, kw_only=True)
class BaselineMethod(Method):
    """A classical quantizer that builds its palette from the image its own way.

    ``palette(image, k, *, seed, **params) -> (m, 3) uint8``; the pipeline then
    labels each histogram color with its nearest palette color.
    """

    palette: Callable[..., np.ndarray]


#: How locked colors are honored by a method that can't fix colors itself (see the module's docstring).
GENERIC_LOCK = "makes k − L colors, then adds the L locked ones; every color goes to the nearest of all"


def cluster_means(
    points: np.ndarray, weights: np.ndarray, labels: np.ndarray, n_labels: int, lock: np.ndarray, space: str
) -> np.ndarray:
    """The palette of weighted mean colors, (n_labels, 3) uint8: the `lock` colors, then the other clusters' means."""
    from .colorspace import to_rgb8

    means, _ = weighted_means(points, weights, labels, n_labels)
    return np.vstack([lock, to_rgb8(means[len(lock) :], space)])


def takes(method: Method, keyword: str) -> bool:
    """Whether `method`'s `cluster` (or a baseline's `palette`) function takes `keyword`, e.g. ``fixed``."""
    function = method.cluster if isinstance(method, ClusteringMethod) else getattr(method, "palette", None)
    return function is not None and keyword in inspect.signature(function).parameters


# --- clustering methods ---------------------------------------------------------------------


def _kmeans_weights(image, hist, *, importance, flatness_scale, **_):
    if importance == "flatness":
        return flatness_weights(image, hist, scale=flatness_scale)
    return hist.counts.astype(np.float64)


def _kmeans_precompute(points, weights, *, space, oklab_weight, **_):
    """kmeans' work that doesn't depend on k: its feature space, the working set merged in it, and a place for
    each k's settled split start (`weighted_kmeans`'s `settled_splits`), which its feedback start begins from."""
    from .colorspace import blend_with_oklab
    from .kmeans import WORKING_POINTS, grid_reduce

    features = blend_with_oklab(points, space, oklab_weight)
    return {
        "features": features,
        "working_set": grid_reduce(features, weights, WORKING_POINTS)[:2],
        "settled_splits": {},
    }


def _kmeans(
    points,
    weights,
    k,
    *,
    seed,
    space,
    init,
    n_init,
    max_iter,
    oklab_weight,
    refine_iter,
    features=None,
    working_set=None,
    settled_splits=None,
    fixed=None,
    **_,  # the parameters the palette stage uses (importance, starts, center, polish)
):
    from .colorspace import blend_with_oklab
    from .kmeans import weighted_kmeans

    if features is None:  # not prepared: weighted_kmeans merges the working set itself
        features = blend_with_oklab(points, space, oklab_weight)
    if fixed is not None:  # locked colors, as points: the same features as every color
        fixed = blend_with_oklab(fixed, space, oklab_weight)
    _centers, labels = weighted_kmeans(
        features,
        weights,
        k,
        seed=seed,
        init=init,
        n_init=n_init,
        max_iter=max_iter,
        refine_iter=refine_iter,
        working_set=working_set,
        fixed=fixed,
        settled_splits=settled_splits,
    )
    return labels


#: Above this k, kmeans makes one start: the extra starts' gain was small there and their time large.
MULTI_START_MAX_K = 16
#: A method's later start replaces the one kept only when it serves the pixels at least this much better
#: (`ClusteringMethod.starts`). On the tuning photos, kmeans' feedback start won by less than 1 % as often
#: as it lost SSIM (rocket at 8: −0.5 % by the polish's sum, then SSIM −0.00003 against libimagequant).
START_MARGIN = 0.01


def _kmeans_starts(k, seed, *, starts, init, **_):
    """The starts kmeans tries at `k`: its own (`init`), then the feedback split (the plain split after a
    feedback start), then k-means++ from seeds seed + 2, seed + 3, ….

    At small k, Lloyd's iterations end in one of a few quite different local
    minima, each a different trade between the image's regions, and the
    squared error they minimise ranks them unlike ΔE2000 does: the palette
    stage keeps the one that serves the pixels best as the polish measures
    them. The split can leave a photo's few saturated colors one cluster (a
    red temple in a gray and green scene, at k = 16), where the split remade
    with each color weighted by its error gives them three.
    """
    count = starts if k <= MULTI_START_MAX_K else 1
    second = {"init": "split" if init == "feedback" else "feedback"}
    return [{}, second][:count] + [{"init": "kmeans++", "n_init": 1, "seed": seed + extra} for extra in range(2, count)]


#: Weiszfeld steps from each cluster's mean towards its geometric median (`_kmeans_colors`).
MEDIAN_STEPS = 3


def _kmeans_colors(points, weights, labels, n_labels, *, lock, space, oklab_weight, center, features=None, **_):
    """kmeans' palette: each cluster's geometric median, and every color labelled with its nearest palette color.

    Mean ΔE2000 is a mean of distances, which the geometric median minimises
    and the mean (the squared error's minimum) does not: the mean is pulled
    towards a cluster's far colors. Once rounded to 8 bits, a color may lie
    nearer another cluster's palette color than its own, so the labels follow
    (nearest in kmeans' own metric, the chosen space plus the Oklab term).
    On the tuning photos (bench.images.TUNE and TUNE_HARD, k = 16, 64, 256)
    this lowered mean ΔE2000 by 0.4 % on average against libimagequant's and
    raised SSIM. ``center="mean"`` gives the textbook palette instead: each
    cluster's weighted mean, the labels as Lloyd's iterations left them.
    """
    from .colorspace import SCALES, blend_with_oklab, to_rgb8, to_space
    from .kmeans import geometric_medians, nearest

    if center == "mean":
        return cluster_means(points, weights, labels, n_labels, lock, space), labels
    # The floor: about half an 8-bit level, in the space's units.
    medians = geometric_medians(points, weights, labels, n_labels, steps=MEDIAN_STEPS, floor=0.002 * SCALES[space])
    colors = to_rgb8(medians, space)
    colors[: len(lock)] = lock
    used = np.bincount(labels, minlength=n_labels) > 0
    used[: len(lock)] = True
    rows = np.flatnonzero(used)
    clustered = blend_with_oklab(points, space, oklab_weight) if features is None else features
    palette_features = blend_with_oklab(to_space(colors[rows], space), space, oklab_weight)
    guess = np.searchsorted(rows, labels)  # every label is a used row
    nearest_rows = nearest(clustered, palette_features, guess)[0]
    return colors, rows[nearest_rows]


def _kmeans_last_pass(*, polish, **_):
    """kmeans' last pass, unless ``polish="none"``: `quant.polish.polish`; a gray image solved by `solve_gray`."""
    if polish == "none":
        return None
    from .polish import polish as perceptual_polish
    from .polish import solve_gray, summed_cost

    return LastPass(run=perceptual_polish, cost=summed_cost, exact=solve_gray)


def _sklearn_kmeans(points, weights, k, *, seed, n_init, max_iter):
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed)
    return model.fit_predict(points, sample_weight=weights)


#: EM stops once an iteration gains less than this in mean log-likelihood per sample (nats; the
#: sample is scaled to unit spread). scikit-learn's default, 1e-3, ran 20–40 iterations whose last
#: ones hardly move the palette: on chelsea and china (seed 0, load ~2.7 on 2 shared cores) 1e-2
#: takes 6–15 iterations, k=8 0.40 → 0.16 s, k=16 0.83 → 0.17 s, k=64 2.75 → 0.68 s (chelsea), and
#: mean ΔE2000 stays within +0.5 % of 1e-3's at every k = 2…64 (mostly lower: a loosely converged
#: mixture keeps its components nearer the k-means++ start, which suits a palette).
#: Over seeds 0–2 it is lower at 32 of 36 (image, seed, k) and at most 2.8 % higher (china, seed 2,
#: k=32). The sweep k=2…64 (`sweep(prepare(image, "gmm"), ...)`, load ~7): chelsea 13.0 → 3.6 s,
#: china 16.2 → 6.9 s. A 10,000-pixel sample was faster still but 2.6 % worse on china at k=64.
_GMM_TOL = 1e-2


def _gmm(points, weights, k, *, seed, covariance, sample_size):
    from .mixture import GaussianMixture  # scikit-learn's, its per-component loops compiled

    rng = np.random.default_rng(seed)
    sample = points[_weighted_sample(weights, sample_size, rng)]
    scale = sample.std(axis=0).mean() or 1.0  # keeps reg_covar meaningful in any color space
    model = GaussianMixture(
        n_components=min(k, len(np.unique(sample, axis=0))),
        covariance_type=covariance,
        reg_covar=1e-4,
        max_iter=100,
        tol=_GMM_TOL,
        init_params="k-means++",
        random_state=seed,
    )
    # Tiny 3×3 linear algebra per component: BLAS threads only add synchronisation (3× the CPU).
    with _one_blas_thread():
        model.fit(sample / scale)
        return model.predict(points / scale)


def _agglomerative(points, weights, k, *, seed, linkage, sample_size):
    import fastcluster
    from scipy.cluster.hierarchy import fcluster

    rng = np.random.default_rng(seed)
    sample = points[_weighted_sample(weights, sample_size, rng)]
    if linkage in ("ward", "centroid", "median", "single"):
        tree = fastcluster.linkage_vector(sample, method=linkage)  # O(n) memory
    else:
        tree = fastcluster.linkage(sample, method=linkage)  # condensed matrix, bounded by sample_size
    sample_labels = fcluster(tree, t=k, criterion="maxclust") - 1
    return _assign_to_nearest_mean(points, sample, sample_labels)


def _spectral(points, weights, k, *, seed, sample_size, neighbors):
    from sklearn.cluster import SpectralClustering

    rng = np.random.default_rng(seed)
    sample = np.unique(points[_weighted_sample(weights, sample_size, rng)], axis=0)
    n_clusters = min(k, len(sample) - 1)
    if n_clusters < 2:
        return _assign_to_nearest_mean(points, sample, np.zeros(len(sample), dtype=int))
    model = SpectralClustering(
        n_clusters=n_clusters,
        affinity="nearest_neighbors",
        n_neighbors=min(neighbors, len(sample) - 1),
        assign_labels="cluster_qr",
        random_state=seed,
    )
    with _one_blas_thread():
        sample_labels = model.fit_predict(sample)
    return _assign_to_nearest_mean(points, sample, sample_labels)


def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _weighted_sample(weights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `size` draws in proportion to `weights`: a pixel sample drawn from the histogram.

    When the histogram is already small, every entry is kept once and the
    rest of the draws follow the weights, so no color is missed by chance.
    """
    n = len(weights)
    if n >= size:
        return rng.choice(n, size=size, p=weights / weights.sum())
    extra = rng.choice(n, size=size - n, p=weights / weights.sum())
    return np.concatenate([np.arange(n), extra])


def _assign_to_nearest_mean(points, sample, sample_labels):
    """Label every point with the cluster whose sample mean is nearest."""
    from scipy.spatial import cKDTree

    _, compact = np.unique(sample_labels, return_inverse=True)
    means, _ = weighted_means(sample, None, compact.ravel())
    return cKDTree(means).query(points)[1]


# --- classical baselines --------------------------------------------------------------------


def _visible_pixels_image(image: LoadedImage) -> Image.Image:
    if image.opaque is None:
        return Image.fromarray(image.rgb)
    return Image.fromarray(image.rgb[image.opaque][:, None, :])


def _pillow_palette(image: LoadedImage, k: int, how: Image.Quantize) -> np.ndarray:
    quantized = _visible_pixels_image(image).quantize(colors=k, method=how, dither=Image.Dither.NONE)
    used = np.unique(np.asarray(quantized))
    flat_palette = quantized.getpalette() or []  # a quantized image is mode P: it has a palette
    return np.asarray(flat_palette[: 3 * 256], dtype=np.uint8).reshape(-1, 3)[used]


def _median_cut(image, k, *, seed):
    return _pillow_palette(image, k, Image.Quantize.MEDIANCUT)


def _octree(image, k, *, seed):
    return _pillow_palette(image, k, Image.Quantize.FASTOCTREE)


def _libimagequant(image, k, *, seed, max_quality, fixed=None):
    """libimagequant's palette, through its C API (cffi) so locked colors go in as its own fixed colors."""
    from imagequant import ffi, lib

    rgba = np.ascontiguousarray(np.asarray(_visible_pixels_image(image).convert("RGBA")))
    height, width = rgba.shape[:2]
    attr = lib.liq_attr_create()
    image_handle = result = None
    try:
        lib.liq_set_max_colors(attr, k)
        lib.liq_set_quality(attr, 0, max_quality)
        pixels = rgba.tobytes()  # kept alive: libimagequant reads it until the image is destroyed
        image_handle = lib.liq_image_create_rgba(attr, pixels, width, height, 0)
        for red, green, blue in [] if fixed is None else fixed.tolist():
            lib.liq_image_add_fixed_color(image_handle, {"r": red, "g": green, "b": blue, "a": 255})
        result_p = ffi.new("liq_result**")
        code = lib.liq_image_quantize(image_handle, attr, result_p)
        if code != lib.LIQ_OK:
            raise RuntimeError(f"libimagequant failed (error {code})")
        result = result_p[0]
        lib.liq_set_dithering_level(result, 0.0)
        indices = ffi.new("unsigned char[]", width * height)
        lib.liq_write_remapped_image(result, image_handle, indices, width * height)  # refines the palette
        used = np.unique(np.frombuffer(ffi.buffer(indices), dtype=np.uint8))
        palette = lib.liq_get_palette(result)
        entries = np.array([(e.r, e.g, e.b) for e in palette.entries[0 : palette.count]], dtype=np.uint8)
        return entries[used]
    finally:
        if result is not None:
            lib.liq_result_destroy(result)
        if image_handle is not None:
            lib.liq_image_destroy(image_handle)
        lib.liq_attr_destroy(attr)


_SAMPLE = Param("sample_size", 20_000, "pixels drawn, in proportion to their counts, to fit on", low=100, high=200_000)

METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        ClusteringMethod(
            name="kmeans",
            label="k-means",
            description="Lloyd's k-means on the color histogram, each color weighted by its pixels, counted by how "
            "flat their surroundings are (as SSIM weighs errors); "
            "distance in the chosen space plus an Oklab term, refined on every distinct color, then polished "
            "for ΔE2000 with an RGB term (a gray image is solved exactly). Up to "
            f"k = {MULTI_START_MAX_K} it also starts again with badly served colors weighted up, and polishes "
            f"that start instead if it serves the pixels at least {START_MARGIN * 100:g} % better.",
            complexity="O(n·k·iterations) on n histogram colors (nearest centers found by a sorted-axis search)",
            params=(
                Param(
                    "importance",
                    "flatness",
                    "what a color's weight is: its pixel count, or its pixels "
                    "weighted by how flat their surroundings are (banding shows there)",
                    choices=("flatness", "counts"),
                ),
                Param(
                    "flatness_scale",
                    FLATNESS_SCALE,
                    "with flatness importance: the local contrast (luma standard deviation over SSIM's 7×7 "
                    "window, in 8-bit levels) at which a pixel counts half",
                    low=0.5,
                    high=100.0,
                ),
                Param(
                    "oklab_weight",
                    1.5,
                    "weight of an Oklab distance added to the chosen space's "
                    "(0 = the space alone, e.g. plain RGB k-means)",
                    low=0.0,
                    high=10.0,
                ),
                Param(
                    "init",
                    "split",
                    "start: variance-minimising splits (deterministic); feedback, the split made again after "
                    "Lloyd's iterations with each color's weight raised by its error (deterministic); or k-means++",
                    choices=("split", "feedback", "kmeans++"),
                ),
                Param("n_init", 1, "k-means++ starts; the best is kept", low=1, high=20),
                Param(
                    "center",
                    "median",
                    "each palette color: its cluster's geometric median, every color then going to its nearest "
                    "palette color (lower mean ΔE2000), or its weighted mean (textbook k-means)",
                    choices=("median", "mean"),
                ),
                Param(
                    "polish",
                    "perceptual",
                    "a last pass: each color goes to the palette color of least ΔE2000 + 2 × RGB distance, and each "
                    "palette color moves to the 8-bit color of least such sum over its pixels, counted as pixels "
                    "(not by flatness: the metrics count pixels); a gray image is solved exactly. Or none, the "
                    "clustering's palette as it is. Undithered results only: a dithered one fits its own palette",
                    choices=("perceptual", "none"),
                ),
                Param(
                    "starts",
                    2,
                    f"palettes tried at k ≤ {MULTI_START_MAX_K}: the start above, then the feedback split (the "
                    "plain one after feedback), then k-means++ ones. The first is kept unless another is at "
                    f"least {START_MARGIN * 100:g} % better by the polish's sum (by ΔE2000 without the polish); only "
                    "the kept one is polished",
                    low=1,
                    high=20,
                ),
                Param("max_iter", 20, "iteration limit on the bounded working set", low=1, high=1000),
                Param("refine_iter", 10, "Lloyd iterations over every distinct color afterwards", low=0, high=50),
            ),
            cluster=_kmeans,
            fixed_colors="fixed centers: the locked colors are k-means centers that never move; "
            "the other k − L start as usual and follow Lloyd's iterations around them",
            weigh=_kmeans_weights,
            precompute=_kmeans_precompute,
            colors=_kmeans_colors,
            starts=_kmeans_starts,
            last_pass=_kmeans_last_pass,
            # The whole histogram: kmeans bounds its own working set and refines on every color.
            max_entries=1 << 21,
        ),
        ClusteringMethod(
            name="kmeans-sklearn",
            label="k-means (scikit-learn)",
            description="The textbook version: scikit-learn's KMeans on the color histogram, "
            "sample_weight set to the pixel counts.",
            complexity="O(n·k·iterations) on n histogram colors",
            params=(
                Param("n_init", 1, "independent k-means++ starts; the best is kept", low=1, high=20),
                Param("max_iter", 300, "iteration limit per start", low=1, high=1000),
            ),
            cluster=_sklearn_kmeans,
        ),
        ClusteringMethod(
            name="gmm",
            label="Gaussian mixture",
            description="A Gaussian mixture fitted by EM on a weighted pixel sample; "
            "each color takes its most likely component.",
            complexity="O(s·k·d²·iterations) on a sample of s pixels",
            params=(
                Param(
                    "covariance",
                    "full",
                    "shape of each component's covariance",
                    choices=("full", "diag", "tied", "spherical"),
                ),
                _SAMPLE,
            ),
            cluster=_gmm,
        ),
        ClusteringMethod(
            name="agglomerative",
            label="Agglomerative (fastcluster)",
            description="Hierarchical clustering with fastcluster on a weighted pixel sample, cut into k clusters.",
            complexity="O(s²) time on a sample of s pixels; O(s) memory for ward/centroid/median/single",
            params=(
                Param(
                    "linkage",
                    "ward",
                    "how cluster distances are measured",
                    choices=("ward", "centroid", "median", "single", "average", "complete", "weighted"),
                ),
                Param(
                    "sample_size",
                    6_000,
                    "pixels drawn, in proportion to their counts, to cluster",
                    low=100,
                    high=12_000,
                ),
            ),
            cluster=_agglomerative,
        ),
        ClusteringMethod(
            name="spectral",
            label="Spectral",
            description="Spectral clustering of a nearest-neighbor graph over a weighted color sample.",
            complexity="O(s³) on a sample of s distinct colors",
            params=(
                Param("sample_size", 1_500, "pixels drawn before duplicates are removed", low=50, high=5_000),
                Param("neighbors", 15, "neighbors per color in the affinity graph", low=2, high=100),
            ),
            cluster=_spectral,
        ),
        BaselineMethod(
            name="median-cut",
            label="Median cut (Pillow)",
            description="Heckbert's median cut: split the color box with the most pixels at its median.",
            complexity="O(pixels + k·log n)",
            palette=_median_cut,
        ),
        BaselineMethod(
            name="octree",
            label="Octree (Pillow)",
            description="Pillow's fast octree: colors bucketed by their high bits, small buckets merged.",
            complexity="O(pixels)",
            palette=_octree,
        ),
        BaselineMethod(
            name="libimagequant",
            label="libimagequant",
            description="pngquant's library: median cut refined by k-means with perceptual weighting.",
            complexity="O(pixels + n·k·iterations)",
            params=(Param("max_quality", 100, "libimagequant target quality, 0-100", low=0, high=100),),
            palette=_libimagequant,
            fixed_colors="libimagequant's own fixed colors (liq_image_add_fixed_color): it builds the rest around them",
        ),
    ]
}

#: Not a registry entry: the palette a user gives (``quant.prepare(image, palette=colors)``, ``quant --palette``).
#: Every color is locked and nothing is clustered; each color of the image goes to the nearest given one.
CUSTOM = Method(
    name="custom",
    label="Your own palette",
    description="Maps every color to the nearest of the colors you give (a .gpl, JSON, text or image); "
    "nothing is clustered, and k is the number of colors.",
    complexity="O(n log m) on n histogram colors and m given colors (a k-d tree)",
)

#: The study's three methods: what the dashboard shows first.
STUDY_METHODS = ("kmeans", "gmm", "agglomerative")


def get_method(name: str) -> Method:
    """The registry's method of that name, or `CUSTOM` for ``"custom"`` (which needs the palette given too)."""
    if name == CUSTOM.name:
        return CUSTOM
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}") from None
