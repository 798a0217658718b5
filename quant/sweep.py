"""Quality versus k: one method at k = 2, 4, 8, …, 256 on one histogram.

The study's sweep reran k-means on all 60,000 pixels for each k and took
almost three minutes. Here every k reuses one histogram and one preparation
(`quant.prepare`: weights, reduced histogram, features), and each k is
measured (SSIM, ΔE, PNG size) on a second thread while the next is
clustered, so a sweep of a one-megapixel photo takes a few seconds.

In one call::

    rows = quant.sweep.sweep(quant.prepare(image, "kmeans"),
                             progress=lambda fraction, message: bar.progress(fraction, message))
    knee = quant.sweep.knee_of(rows)              # the k to mark, or None

The dashboard instead caches each k on its own, so that a rerun in the
middle of a sweep keeps the k already done: it calls ``sweep(prepared, [k])``
per k with one cached preparation. That way has no second thread to overlap
with, so it takes longer (the benchmark measures both). Rows hold only
numbers and small thumbnails.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .numeric import is_integer
from .palette import DOUBLING_KS, check_k
from .pipeline import Prepared, Progress, Result, check_seed

#: SSIM gain per step of k below which more colors are not worth it. With
#: k-means on the bundled photos the knee lands at 16 (china) to 64 colors:
#: photos keep gaining about 0.03 SSIM per doubling up to 64 colors, so the
#: study's "about 16", read from the pictures, shows at this threshold only
#: on smooth images; the page lets the user move it.
DEFAULT_KNEE_THRESHOLD = 0.03
#: Longest side of a gallery thumbnail, in pixels.
THUMBNAIL_SIZE = 240


@dataclass(frozen=True)
class SweepRow:
    """One k of a sweep.

    Attributes
    ----------
    k : int
        The palette size asked for.
    colors : int
        Palette colors actually used (fewer when the image has fewer).
    ssim, psnr, delta_e : float
        Quality, as in `quant.Metrics`.
    png_bytes : int
        Size of the PNG8.
    seconds : float
        Quantization time: palette and remap, not the metrics, nor the
        preparation every k shares.
    thumbnail : ndarray of uint8, shape (h, w, 3)
        The quantized image, downscaled to at most `THUMBNAIL_SIZE` on its
        longer side, for the gallery.
    """

    k: int
    colors: int
    ssim: float
    psnr: float
    delta_e: float
    png_bytes: int
    seconds: float
    thumbnail: np.ndarray


def sweep(
    prepared: Prepared,
    ks: Sequence[int] = DOUBLING_KS,
    *,
    seed: int = 0,
    thumbnail_size: int = THUMBNAIL_SIZE,
    progress: Progress | None = None,
) -> list[SweepRow]:
    """Quantize a prepared image at each k of `ks` and measure every result.

    Parameters
    ----------
    prepared : Prepared
        ``quant.prepare(image, method, space=..., params=...)``: the image and
        method, and the work every k shares. Keep it across calls to sweep
        one k at a time.
    ks : sequence of int
        Palette sizes, each 2…256; swept in increasing order, duplicates dropped.
    seed : int
        As in `Prepared.quantize`; the same for every k.
    thumbnail_size : int
        Longest side of each row's thumbnail, at least 16.
    progress : callable, optional
        Called as ``progress(fraction, message)`` before each k and once at
        the end with fraction 1.0.

    Returns
    -------
    list of SweepRow
        One per k, in increasing k.
    """
    ks = sorted({check_k(k) for k in ks})
    if not ks:
        raise ValueError("ks must hold at least one k")
    if not is_integer(thumbnail_size) or thumbnail_size < 16:
        raise ValueError(f"thumbnail_size must be an integer of at least 16, not {thumbnail_size!r}")
    seed = check_seed(seed)
    method = prepared.method.name
    if len(prepared.hist) > ks[0]:
        prepared.ready()  # now, or the first k's time would include the work every k shares
    report = progress or (lambda fraction, message: None)
    rows = []
    # Each k is measured (the PNG encoding above all) while the next is clustered: both
    # release the GIL, so the second core is not left idle.
    with ThreadPoolExecutor(max_workers=1) as measurer:
        measuring: list[Future[SweepRow]] = []  # the previous k, at most: results don't pile up
        for done, k in enumerate(ks):
            report(done / len(ks), f"{method}: k = {k} ({done + 1} of {len(ks)})")
            result = prepared.quantize(k, seed=seed)
            rows += [future.result() for future in measuring]
            measuring = [measurer.submit(measure_row, k, result, thumbnail_size)]
        rows += [future.result() for future in measuring]
    report(1.0, f"{method}: {len(ks)} palettes measured")
    return rows


def measure_row(k: int, result: Result, thumbnail_size: int = THUMBNAIL_SIZE) -> SweepRow:
    """`result` as the sweep row of `k`: its metrics, PNG size, time and thumbnail."""
    # The sweep's metrics one by one: all of `result.metrics` would add the blurred ΔE, ten SSIMs' worth of time.
    return SweepRow(
        k=k,
        colors=len(result.palette.colors),
        ssim=result.ssim,
        psnr=result.psnr,
        delta_e=result.delta_e,
        png_bytes=len(result.png),
        seconds=result.seconds,
        thumbnail=thumbnail(result.rgb(), thumbnail_size),
    )


def knee(ks: Sequence[int], ssims: Sequence[float], *, threshold: float = DEFAULT_KNEE_THRESHOLD) -> int | None:
    """The smallest k after which SSIM gains less than `threshold` per step.

    Every later step (k to the next k of `ks`) must gain less than
    `threshold`, so a single flat step before a further jump is not
    mistaken for the knee.

    Parameters
    ----------
    ks : sequence of int
        Increasing palette sizes.
    ssims : sequence of float
        SSIM at each k.
    threshold : float
        The smallest gain, in SSIM units, still worth another step; > 0.

    Returns
    -------
    int or None
        The knee's k; None when even the last step gains `threshold` or more
        (more colors would still pay), or when there is only one k.

    Examples
    --------
    >>> knee([2, 4, 8, 16, 32], [0.60, 0.75, 0.84, 0.87, 0.88], threshold=0.05)
    8
    """
    ks, ssims = list(ks), list(ssims)
    if len(ks) != len(ssims):
        raise ValueError(f"ks and ssims differ in length: {len(ks)} and {len(ssims)}")
    if any(b <= a for a, b in itertools.pairwise(ks)):
        raise ValueError("ks must be strictly increasing")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, not {threshold!r}")
    gains = np.diff(np.asarray(ssims, dtype=np.float64))
    if len(gains) == 0 or gains[-1] >= threshold:
        return None
    worth_it = np.flatnonzero(gains >= threshold)
    return ks[worth_it[-1] + 1] if len(worth_it) else ks[0]


def knee_of(rows: Sequence[SweepRow], *, threshold: float = DEFAULT_KNEE_THRESHOLD) -> int | None:
    """`knee` of a sweep's rows."""
    return knee([row.k for row in rows], [row.ssim for row in rows], threshold=threshold)


def thumbnail(rgb: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """`rgb` at most `size` pixels on its longer side (a copy when it already fits)."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    if scale >= 1:
        return rgb.copy()
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Nearest neighbor keeps the palette's colors exact: no blends a palette doesn't have.
    return np.asarray(Image.fromarray(rgb).resize(shape, Image.Resampling.NEAREST))
