"""Mean SSIM of two RGB images in one streaming pass, compiled with numba.

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

import numpy as np
from numba import njit

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
