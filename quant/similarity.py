"""Image-to-image similarity, compiled with numba: SSIM in one streaming pass, per-pixel errors, blurred ΔE.

scikit-image's `structural_similarity` filters five float64 images (the two
means, the two second moments and the cross moment) through `uniform_filter`
and keeps the whole SSIM map: about 100 bytes a pixel and most of a sweep's
time. The statistics of a 7×7 window of 8-bit pixels are sums of small
integers, though, so they can be kept exactly as running integer sums: one
column sum per statistic, updated as the window slides down a row, and one
window sum, updated as it slides right. Memory is five int64 rows, whatever
the image size, and the result equals scikit-image's
``structural_similarity(a, b, channel_axis=-1, data_range=255)`` up to float
rounding (the tests hold it to 1e-12).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .ciede2000 import _difference, lab_of_linear
from .colorspace import _LINEAR_OF_BYTE  # sRGB byte → linear light: one table for the package
from .parallel import renamed, run_parallel_or_serial

_K1, _K2, _DATA_RANGE = 0.01, 0.03, 255.0


@njit(cache=True, nogil=True)
def _channel_ssim_sum(a, b, window):
    """Sum of the SSIM map over every window fully inside the channel (scikit-image's cropped map)."""
    height, width = a.shape
    area = window * window
    cov_norm = area / (area - 1.0)  # scikit-image's default sample covariance
    c1 = (_K1 * _DATA_RANGE) ** 2
    c2 = (_K2 * _DATA_RANGE) ** 2
    columns = np.zeros((5, width), np.int64)  # Σx, Σy, Σx², Σy², Σxy down each column
    for row in range(window):
        _add_row(columns, a, b, row, 1)
    total = 0.0
    for top in range(height - window + 1):
        if top > 0:
            _add_row(columns, a, b, top - 1, -1)
            _add_row(columns, a, b, top + window - 1, 1)
        sx = sy = sxx = syy = sxy = 0
        for col in range(window):
            sx += columns[0, col]
            sy += columns[1, col]
            sxx += columns[2, col]
            syy += columns[3, col]
            sxy += columns[4, col]
        for left in range(width - window + 1):
            if left > 0:
                gone, new = left - 1, left + window - 1
                sx += columns[0, new] - columns[0, gone]
                sy += columns[1, new] - columns[1, gone]
                sxx += columns[2, new] - columns[2, gone]
                syy += columns[3, new] - columns[3, gone]
                sxy += columns[4, new] - columns[4, gone]
            ux, uy = sx / area, sy / area
            vx = cov_norm * (sxx / area - ux * ux)
            vy = cov_norm * (syy / area - uy * uy)
            vxy = cov_norm * (sxy / area - ux * uy)
            total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return total


@njit(cache=True, nogil=True, inline="always")
def _add_row(columns, a, b, row, sign):
    for col in range(a.shape[1]):
        x = np.int64(a[row, col])
        y = np.int64(b[row, col])
        columns[0, col] += sign * x
        columns[1, col] += sign * y
        columns[2, col] += sign * x * x
        columns[3, col] += sign * y * y
        columns[4, col] += sign * x * y


def windowed_ssim(a: np.ndarray, b: np.ndarray, window: int) -> float:
    """Mean SSIM over the channels of two H×W×C uint8 images, with an odd `window` ≤ H, W."""
    height, width, channels = a.shape
    windows = (height - window + 1) * (width - window + 1)
    sums = [_channel_ssim_sum(a[..., c], b[..., c], window) for c in range(channels)]
    return float(np.mean(sums)) / windows


# --- per-pixel differences: dithered results, and the blurred ΔE ----------------------------------


@njit(cache=True, nogil=True)
def pixel_errors(pixel_index, indices, hist_colors, hist_lab, palette_colors, palette_lab, with_delta_e):
    """Σ squared RGB error and (if `with_delta_e`) Σ CIEDE2000 over the visible pixels, pixel by pixel.

    What a dithered result needs: its pixels of one color may have gone to
    different palette colors, so the histogram can't stand in for them.
    """
    squared = 0.0
    delta_e = 0.0
    height, width = pixel_index.shape
    for y in range(height):
        for x in range(width):
            p = pixel_index[y, x]
            if p < 0:
                continue
            j = indices[y, x]
            for c in range(3):
                d = float(hist_colors[p, c]) - float(palette_colors[j, c])
                squared += d * d
            if with_delta_e:
                delta_e += _difference(
                    hist_lab[p, 0],
                    hist_lab[p, 1],
                    hist_lab[p, 2],
                    palette_lab[j, 0],
                    palette_lab[j, 1],
                    palette_lab[j, 2],
                )
    return squared, delta_e


#: The blurred ΔE's viewing model: a Gaussian of this many pixels (σ), cut at 3σ.
BLUR_SIGMA = 1.0
_STRIP = 64  # rows blurred at a time: memory stays a few strips, whatever the image size


def gaussian_weights(sigma: float = BLUR_SIGMA) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2))
    return taps / taps.sum()


@njit(cache=True, nogil=True)
def _blur_strip(image, top, bottom, weights, out):
    """Rows top…bottom−1 of `image` (uint8 H×W×3) in linear light, blurred (edges repeated), into `out`."""
    height, width = image.shape[0], image.shape[1]
    radius = weights.shape[0] // 2
    rows = bottom - top + 2 * radius
    across = np.zeros((rows, width, 3))
    for r in range(rows):
        y = min(max(top - radius + r, 0), height - 1)
        for x in range(width):
            for c in range(3):
                total = 0.0
                for t in range(weights.shape[0]):
                    xx = min(max(x + t - radius, 0), width - 1)
                    total += weights[t] * _LINEAR_OF_BYTE[image[y, xx, c]]
                across[r, x, c] = total
    for r in range(bottom - top):
        for x in range(width):
            for c in range(3):
                total = 0.0
                for t in range(weights.shape[0]):
                    total += weights[t] * across[r + t, x, c]
                out[r, x, c] = total


def _strip_totals_py(a, b, visible, weights, strip):
    """ΔE2000 summed over each strip of `strip` rows, after the blur: one total per strip.

    Strips are independent, so the parallel build runs them on all cores;
    both builds sum a strip's pixels in the same order, and the caller adds
    the strips' totals in order, so the result has the same bits either way.
    """
    height, width = a.shape[0], a.shape[1]
    count = (height + strip - 1) // strip
    totals = np.zeros(count)
    for s in prange(count):
        top, bottom = s * strip, min(s * strip + strip, height)
        blurred_a = np.empty((bottom - top, width, 3))
        blurred_b = np.empty((bottom - top, width, 3))
        _blur_strip(a, top, bottom, weights, blurred_a)
        _blur_strip(b, top, bottom, weights, blurred_b)
        total = 0.0
        for r in range(bottom - top):
            for x in range(width):
                if visible[top + r, x]:
                    L1, a1, b1 = lab_of_linear(blurred_a[r, x, 0], blurred_a[r, x, 1], blurred_a[r, x, 2])
                    L2, a2, b2 = lab_of_linear(blurred_b[r, x, 0], blurred_b[r, x, 1], blurred_b[r, x, 2])
                    total += _difference(L1, a1, b1, L2, a2, b2)
        totals[s] = total
    return totals


_strip_totals_serial = njit(cache=True, nogil=True)(_strip_totals_py)
_strip_totals_parallel = njit(cache=True, nogil=True, parallel=True)(
    renamed(_strip_totals_py, "_strip_totals_parallel")
)
#: Below this many pixels, threads cost more than they save.
_PARALLEL_PIXELS = 1 << 18


def blurred_delta_e(a: np.ndarray, b: np.ndarray, visible: np.ndarray, sigma: float = BLUR_SIGMA) -> float:
    """Mean CIEDE2000 between two H×W×3 uint8 images after a Gaussian blur of `sigma` px in linear light.

    Averaged over the `visible` (H, W) bool pixels. The blur stands in for
    viewing distance: the eye averages neighbouring pixels' light, which is
    what dithering counts on, so a well-dithered image scores better than
    its banded undithered twin, while per-pixel ΔE scores it worse.
    """
    count = int(visible.sum())
    if count == 0:
        return 0.0
    arguments = (
        np.ascontiguousarray(a),
        np.ascontiguousarray(b),
        np.ascontiguousarray(visible),
        gaussian_weights(sigma),
        _STRIP,
    )
    large = a.shape[0] * a.shape[1] >= _PARALLEL_PIXELS
    totals = run_parallel_or_serial(_strip_totals_parallel, _strip_totals_serial, large, *arguments)
    total = 0.0
    for strip_total in totals.tolist():  # in order, whichever build summed the strips
        total += strip_total
    return total / count
