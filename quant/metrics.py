"""Stage 5 — metrics: how close the quantized image is to the original, and how small.

PSNR and mean CIEDE2000 are computed on the histogram (each distinct color
against its palette color, weighted by pixel count), which gives the exact
per-pixel mean at a fraction of the cost. A dithered result sends pixels of
one color to different palette colors, so for it they are computed pixel by
pixel. SSIM needs the spatial structure, so it runs on the images, in one
streaming pass (`quant.similarity`), as does the blurred ΔE2000, the metric
fit for dithered output: per-pixel ΔE and SSIM count dithering's grain as
error, though at viewing distance it looks better than the bands it replaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .colorspace import rgb_to_lab
from .histogram import Histogram
from .palette import Palette

_SSIM_WINDOW = 7  # scikit-image's default win_size


@dataclass(frozen=True)
class Metrics:
    """Quality and size of one quantized image.

    Attributes
    ----------
    ssim : float
        Mean structural similarity over the RGB channels, 1.0 = identical.
    psnr : float
        Peak signal-to-noise ratio in dB; ``inf`` when identical.
    delta_e : float
        Mean CIEDE2000 color difference over visible pixels; 0 = identical,
        about 2.3 is a just-noticeable difference.
    png_bytes : int
        Size of the result saved as an optimized palette PNG.
    colors : int
        Distinct colors used.
    blurred_delta_e : float
        Mean CIEDE2000 after a 1-pixel Gaussian blur of both images in linear
        light: ΔE at viewing distance, fair to dithered output (NaN when not measured).
    """

    ssim: float
    psnr: float
    delta_e: float
    png_bytes: int
    colors: int
    blurred_delta_e: float = math.nan


def histogram_psnr(hist: Histogram, palette: Palette) -> float:
    """PSNR over visible pixels, from the histogram."""
    if hist.total == 0:
        return math.inf
    error = hist.colors.astype(np.float64) - palette.colors[palette.labels]
    mse = float(np.dot(hist.counts, (error**2).sum(axis=1))) / (3 * hist.total)
    return psnr_from_mse(mse)


def psnr_from_mse(mse: float) -> float:
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def summed_delta_e(hist: Histogram, colors: np.ndarray, labels: np.ndarray) -> float:
    """CIEDE2000 summed over visible pixels, each histogram color becoming `colors[label]` (its `lab` colors are
    kept for the next palette)."""
    from .ciede2000 import weighted_ciede2000_sum  # numba: compiled (or loaded from its cache) on first use

    return weighted_ciede2000_sum(hist.lab, hist.counts, rgb_to_lab(colors), labels)


def histogram_delta_e(hist: Histogram, palette: Palette) -> float:
    """Mean CIEDE2000 over visible pixels, from the histogram."""
    if hist.total == 0:
        return 0.0
    return summed_delta_e(hist, palette.colors, palette.labels) / hist.total


def pixel_psnr(hist: Histogram, palette: Palette, indices: np.ndarray) -> float:
    """PSNR over visible pixels, pixel by pixel: for dithered `indices`."""
    squared, _ = _pixel_errors(hist, palette, indices, with_delta_e=False)
    return psnr_from_mse(squared / (3 * hist.total)) if hist.total else math.inf


def pixel_delta_e(hist: Histogram, palette: Palette, indices: np.ndarray) -> float:
    """Mean CIEDE2000 over visible pixels, pixel by pixel: for dithered `indices`."""
    _, delta_e = _pixel_errors(hist, palette, indices, with_delta_e=True)
    return delta_e / hist.total if hist.total else 0.0


def _pixel_errors(hist: Histogram, palette: Palette, indices: np.ndarray, *, with_delta_e: bool) -> tuple[float, float]:
    from .similarity import pixel_errors  # numba: compiled (or loaded from its cache) on first use

    no_lab = np.zeros((1, 3))
    hist_lab = hist.lab if with_delta_e else no_lab
    palette_lab = rgb_to_lab(palette.colors) if with_delta_e else no_lab
    return pixel_errors(hist.pixel_index, indices, hist.colors, hist_lab, palette.colors, palette_lab, with_delta_e)


def blurred_delta_e(original: np.ndarray, quantized: np.ndarray, visible: np.ndarray) -> float:
    """Mean CIEDE2000 over `visible` pixels after a 1-pixel Gaussian blur of both H×W×3 uint8 images in linear light.

    A crude model of viewing distance, in the manner of spatial CIELAB: the
    eye averages neighbouring pixels' light before it judges color, which is
    what dithering relies on. The README's "Dithering" section gives its fit
    and cost against the alternatives.
    """
    from .similarity import blurred_delta_e as blurred  # numba

    return blurred(original, quantized, visible)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two H×W×3 uint8 images, exact and memory-bounded on any size.

    Matches ``structural_similarity(a, b, channel_axis=-1, data_range=255)``.
    Images smaller than the 7×7 window use the largest odd window that fits,
    and below 3×3 the single-window (global) SSIM formula.
    """
    if a.shape != b.shape or a.ndim != 3 or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(
            f"ssim compares two H×W×C uint8 images of one shape, not {a.dtype}{a.shape} and {b.dtype}{b.shape}"
        )
    if np.array_equal(a, b):
        return 1.0
    window = min(_SSIM_WINDOW, *a.shape[:2])
    window -= 1 - window % 2  # largest odd size that fits
    if window < 3:
        return float(np.mean([_global_ssim(a[..., c], b[..., c]) for c in range(a.shape[2])]))
    from .similarity import windowed_ssim  # numba: compiled (or loaded from its cache) on first use

    return windowed_ssim(a, b, window)


def _global_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with one window covering the whole (tiny) channel."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = x.mean(), y.mean()
    vx, vy, cov = x.var(), y.var(), ((x - mx) * (y - my)).mean()
    return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
