"""The whole pipeline in one call: histogram → palette → remap → metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .histogram import Histogram, build_histogram
from .load import LoadedImage
from .methods import Method
from .metrics import Metrics, evaluate
from .palette import Palette, Prepared, make_palette
from .remap import remap, render


@dataclass(frozen=True)
class Result:
    """One method's quantization of one image.

    Attributes
    ----------
    palette : Palette
        Colors, per-histogram-entry labels, and what produced them.
    indices : ndarray of uint8, shape (H, W)
        Palette index of every pixel; ``len(palette.colors)`` marks transparency.
    metrics : Metrics or None
        Quality and size, unless evaluation was skipped.
    seconds : float
        Palette plus remap time (the quantization itself, not the metrics).
    """

    palette: Palette
    indices: np.ndarray
    metrics: Metrics | None
    seconds: float

    @property
    def notices(self) -> tuple[str, ...]:
        return self.palette.notices

    def rgb(self, original: np.ndarray) -> np.ndarray:
        return render(self.indices, self.palette, original)


def quantize(
    image: LoadedImage,
    k: int,
    method: str | Method = "kmeans",
    *,
    space: str = "rgb",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    hist: Histogram | None = None,
    prepared: Prepared | None = None,
    with_metrics: bool = True,
) -> Result:
    """Reduce `image` to at most `k` colors with `method`.

    Pass `hist` when quantizing one image several times, so its histogram is
    counted once, and `prepared` (from `quant.prepare`) when only k changes.
    See `make_palette` for the other parameters.

    Examples
    --------
    >>> from quant import quantize, sample_image
    >>> result = quantize(sample_image(), 16)
    >>> len(result.palette.colors) <= 16
    True
    """
    if hist is None:
        hist = build_histogram(image) if prepared is None else prepared.hist
    started = time.perf_counter()
    palette = make_palette(image, hist, k, method, space=space, seed=seed, params=params, prepared=prepared)
    indices = remap(hist, palette)
    seconds = time.perf_counter() - started
    metrics = evaluate(image.rgb, hist, palette, indices) if with_metrics else None
    return Result(palette, indices, metrics, seconds)
