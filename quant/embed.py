"""Pixel samples, and their 2D embeddings (UMAP or PCA) for the cluster maps.

A cluster map shows one embedding per image, shared by every method: the
embedding is computed once on a pixel sample, and each method colors the same
points by its own labels. A point is a *histogram entry*, drawn in proportion
to its pixel count, so the map's density is the image's.

How the app calls it::

    # at startup, once, in a background thread (compiles umap's numba code):
    threading.Thread(target=quant.embed.warm_up, daemon=True).start()

    # per image (cache on the image bytes + method + size + seed):
    emb = quant.embed.embed(hist, method="umap", size=5_000, seed=0)
    emb.points            # (s, 2) coordinates
    emb.sample.entries    # (s,) histogram entry of each point
    # colors of one method:  palette.colors[palette.labels[emb.sample.entries]]

umap-learn is imported inside `embed` and `warm_up` only, so importing quant
stays fast.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import parallel
from .colorspace import check_space, to_space
from .histogram import Histogram
from .numeric import is_integer
from .pipeline import Progress

EMBEDDINGS = {
    "umap": "UMAP (umap-learn): keeps local neighborhoods, so clusters separate; seconds once warm",
    "pca": "PCA (scikit-learn): a linear projection; instant",
}

#: Default number of points in a cluster map.
DEFAULT_SIZE = 5_000
#: Largest sample `embed` accepts: UMAP time grows with it, and the browser draws every point.
MAX_SIZE = 50_000
#: Training epochs for UMAP; umap-learn's default for small inputs is 500,
#: which takes twice as long for no visible gain on color data.
UMAP_EPOCHS = 200


@dataclass(frozen=True)
class PixelSample:
    """Visible pixels drawn from a histogram in proportion to their counts.

    Attributes
    ----------
    entries : ndarray of intp, shape (s,)
        The histogram entry (row of ``hist.colors``) of each drawn pixel, in
        random order. An entry appears about ``s * count / total`` times.
    total : int
        How many visible pixels the sample was drawn from.
    distinct : int
        How many distinct colors the histogram has.
    """

    entries: np.ndarray
    total: int
    distinct: int

    def __len__(self) -> int:
        return len(self.entries)

    def caption(self) -> str:
        """A one-line caption, e.g. ``"5,000 of 135,300 pixels shown (32,584 distinct colors)"``."""
        return f"{len(self):,} of {self.total:,} pixels shown ({self.distinct:,} distinct colors)"


@dataclass(frozen=True)
class Embedding:
    """A 2D embedding of a pixel sample.

    Attributes
    ----------
    points : ndarray of float32, shape (s, 2)
        Coordinates, one row per sampled pixel.
    sample : PixelSample
        Which histogram entry each row is.
    method : str
        A key of `EMBEDDINGS`.
    seconds : float
        Wall time of the embedding itself (not the sampling).
    """

    points: np.ndarray
    sample: PixelSample
    method: str
    seconds: float


def sample_pixels(hist: Histogram, size: int = DEFAULT_SIZE, *, seed: int = 0) -> PixelSample:
    """Draw at most `size` visible pixels from `hist`, in proportion to their counts.

    The draw is systematic: the pixels are lined up by color, and every
    ``total / size``-th one is taken from a random start. Each color then
    appears either ``floor`` or ``ceil`` of its expected number of times, so
    a color covering 90 % of the image gets 90 % of the points, never more by
    chance, and the sample spreads over the whole color range. An image with
    at most `size` visible pixels gives every pixel once.

    Parameters
    ----------
    hist : Histogram
        From `quant.build_histogram`.
    size : int
        Most pixels to draw, at least 1.
    seed : int
        Chooses the start and the order; the same seed gives the same sample.

    Returns
    -------
    PixelSample
    """
    if not is_integer(size) or size < 1:
        raise ValueError(f"size must be a positive integer, not {size!r}")
    total = hist.total
    drawn = min(int(size), total)
    rng = np.random.default_rng(seed)
    step = total / drawn if drawn else 1.0
    positions = (rng.random() + np.arange(drawn)) * step
    entries = np.searchsorted(np.cumsum(hist.counts), positions, side="right")
    rng.shuffle(entries)
    return PixelSample(entries.astype(np.intp), total, len(hist))


def embed(
    hist: Histogram,
    *,
    method: str = "umap",
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    space: str = "lab",
    neighbors: int = 15,
    progress: Progress | None = None,
) -> Embedding:
    """Embed a pixel sample of `hist` in 2D.

    Parameters
    ----------
    hist : Histogram
        From `quant.build_histogram`.
    method : {'umap', 'pca'}
        UMAP separates clusters; PCA is instant.
    size : int
        Points to draw with `sample_pixels`, 1…`MAX_SIZE`.
    seed : int
        The same seed gives the same sample and the same coordinates.
    space : {'rgb', 'lab', 'oklab'}
        Where distances between colors are measured. CIELAB makes the map's
        neighborhoods perceptual.
    neighbors : int
        UMAP's ``n_neighbors``: larger values favor the global layout.
    progress : callable, optional
        Called as ``progress(fraction, message)`` before and after the work.

    Returns
    -------
    Embedding

    Notes
    -----
    Many pixels share one color, and UMAP cannot place identical points
    apart. Each point is moved by less than one 8-bit step (uniform
    ±0.5 in RGB, seeded) before the conversion to `space`: the color
    stays the same to the eye, and duplicates become a small blob whose size
    shows how many pixels they are.

    The first UMAP call in a process compiles numba code (10–30 s), and
    says so through `progress`. Call `warm_up` early in a background thread
    to hide it: a call made meanwhile waits for it rather than compiling
    alongside. UMAP runs one at a time per process: two maps at once would
    only compete for the same cores, and where numba lacks OpenMP and TBB
    its fallback threading layer (workqueue) aborts when entered from two
    threads. PCA never waits.
    """
    if method not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {method!r}; choose one of: {', '.join(EMBEDDINGS)}")
    check_space(space)
    if not is_integer(size) or not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer from 1 to {MAX_SIZE:,}, not {size!r}")
    if not is_integer(neighbors) or neighbors < 2:
        raise ValueError(f"neighbors must be an integer of at least 2, not {neighbors!r}")
    if len(hist) == 0:
        raise ValueError("the image has no visible pixels to embed")
    report = progress or (lambda fraction, message: None)
    sample = sample_pixels(hist, size, seed=seed)
    features = _features(hist, sample, space=space, seed=seed)
    if method == "umap" and not is_warm():
        report(0.0, f"UMAP of {len(sample):,} pixels: compiling it first (once per process, 10–30 s)…")
    else:
        report(0.0, f"{method.upper()} of {len(sample):,} pixels…")
    started = time.perf_counter()
    if method == "pca":
        points = _pca(features, seed=seed)
    else:
        points = _umap(features, seed=seed, neighbors=neighbors)
    seconds = time.perf_counter() - started
    report(1.0, f"embedded {len(sample):,} pixels in {seconds:.1f} s")
    return Embedding(points.astype(np.float32), sample, method, seconds)


def warm_up() -> float:
    """Compile umap-learn's numba code on a small input; return the seconds it took.

    Safe to call from several threads: the first caller does the work, the
    others wait for it and return 0.0. The input is just large enough
    (over 4,096 points) to take the nearest-neighbor-descent path that real
    samples take, and trains for few epochs.
    """
    with _UMAP_LOCK:
        if _WARM_SECONDS:
            return 0.0
        started = time.perf_counter()
        rng = np.random.default_rng(0)
        features = rng.random((_UMAP_EXACT_BELOW + 100, 3)).astype(np.float32)
        _umap(features, seed=0, neighbors=15, epochs=5)
        _WARM_SECONDS.append(time.perf_counter() - started)
        return _WARM_SECONDS[0]


def is_warm() -> bool:
    """Whether `warm_up` has finished in this process."""
    return bool(_WARM_SECONDS)


# umap-learn computes exact neighbors below this many points, and runs
# pynndescent (other numba code) from here on.
_UMAP_EXACT_BELOW = 4096
# Held while umap runs: by warm_up, so callers wait for the compilation, and
# by every embedding, so umap's numba code never runs in two threads at once.
_UMAP_LOCK = threading.RLock()
_WARM_SECONDS: list[float] = []


def _features(hist: Histogram, sample: PixelSample, *, space: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    rgb = hist.colors[sample.entries].astype(np.float64)
    rgb += rng.uniform(-0.5, 0.5, rgb.shape)
    return to_space(np.clip(rgb, 0, 255), space).astype(np.float32)


def _pca(features: np.ndarray, *, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    components = min(2, *features.shape)
    points = PCA(n_components=components, random_state=seed).fit_transform(features)
    if components < 2:
        points = np.hstack([points, np.zeros((len(points), 2 - components))])
    # PCA's component signs are arbitrary; fix them so the map never flips between runs.
    signs = np.sign(points[np.abs(points).argmax(axis=0), range(2)])
    return points * np.where(signs == 0, 1, signs)


def _umap(features: np.ndarray, *, seed: int, neighbors: int, epochs: int = UMAP_EPOCHS) -> np.ndarray:
    if len(features) <= 2:
        return _pca(features, seed=seed)
    import warnings

    import umap

    model = umap.UMAP(
        n_components=2,
        n_neighbors=max(2, min(neighbors, len(features) - 1)),
        n_epochs=epochs,
        random_state=seed,  # makes umap single-threaded, hence reproducible
        init="spectral" if len(features) > 16 else "random",
    )
    # umap-learn and pynndescent launch numba parallel kernels: see quant.parallel.
    with _UMAP_LOCK, parallel.LAUNCH, warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": expected, not news.
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*Graph is not fully connected.*")
        return model.fit_transform(features)
