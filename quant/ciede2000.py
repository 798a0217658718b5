"""CIEDE2000 color difference, and 8-bit sRGB to CIELAB, compiled with numba.

The same formulas as scikit-image's `deltaE_ciede2000` (Sharma, Wu and
Dalal's implementation notes) and `rgb2lab` (D65, 2° observer), evaluated one
color at a time: scikit-image's versions build dozens of full-size
temporaries, which made them the slowest part of measuring a palette on a
histogram of millions of colors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .colorspace import _LINEAR_OF_BYTE  # sRGB byte → linear light: one table for the package

_POW25_7 = 25.0**7

# sRGB (D65) to CIE XYZ and the D65 white, as scikit-image's rgb2lab uses them: one home for the package.
XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
WHITE = np.array([0.95047, 1.0, 1.08883])


@njit(cache=True, nogil=True, inline="always")
def lab_f(t):
    """CIELAB's companding of one XYZ coordinate over the white's."""
    return t ** (1.0 / 3.0) if t > 0.008856 else 7.787 * t + 16.0 / 116.0


@njit(cache=True, nogil=True, inline="always")
def lab_of_linear(r, g, b):
    """CIELAB (L, a, b) of one linear-light sRGB color, as scikit-image's rgb2lab."""
    m, white = XYZ_FROM_RGB, WHITE
    fx = lab_f((m[0, 0] * r + m[0, 1] * g + m[0, 2] * b) / white[0])
    fy = lab_f((m[1, 0] * r + m[1, 1] * g + m[1, 2] * b) / white[1])
    fz = lab_f((m[2, 0] * r + m[2, 1] * g + m[2, 2] * b) / white[2])
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


@njit(cache=True, nogil=True)
def lab_of_byte_color(color, out):
    """CIELAB of one 8-bit sRGB color (three integers), into `out`."""
    linear = _LINEAR_OF_BYTE
    out[0], out[1], out[2] = lab_of_linear(linear[color[0]], linear[color[1]], linear[color[2]])


@njit(cache=True, nogil=True)
def _lab_of_bytes(rgb, out):
    for i in range(rgb.shape[0]):
        lab_of_byte_color(rgb[i], out[i])


def lab_of_bytes(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 sRGB to CIELAB float64, as scikit-image's `rgb2lab` (to ~1e-13)."""
    out = np.empty((len(rgb), 3))
    _lab_of_bytes(np.ascontiguousarray(rgb, dtype=np.uint8), out)
    return out


@njit(cache=True, nogil=True, inline="always")
def _polar_2pi(x, y):
    """Radius and angle in [0, 2π), as scikit-image's `_cart2polar_2pi`."""
    angle = math.atan2(y, x)
    if angle < 0.0:
        angle += 2 * math.pi
    return math.hypot(x, y), angle


@njit(cache=True, nogil=True)
def _difference(L1, a1, b1, L2, a2, b2):
    mean_chroma = 0.5 * (math.hypot(a1, b1) + math.hypot(a2, b2))
    c7 = mean_chroma**7
    scale = 1 + 0.5 * (1 - math.sqrt(c7 / (c7 + _POW25_7)))
    C1, h1 = _polar_2pi(a1 * scale, b1)
    C2, h2 = _polar_2pi(a2 * scale, b2)

    mean_lightness = 0.5 * (L1 + L2)
    tmp = (mean_lightness - 50) ** 2
    L_term = (L2 - L1) / (1 + 0.015 * tmp / math.sqrt(20 + tmp))

    mean_chroma = 0.5 * (C1 + C2)
    C_term = (C2 - C1) / (1 + 0.045 * mean_chroma)

    h_diff, h_sum, CC = h2 - h1, h1 + h2, C1 * C2
    dH, mean_hue = h_diff, h_sum
    if CC == 0.0:
        dH = 0.0
        mean_hue = 2 * h_sum
    else:
        if h_diff > math.pi:
            dH -= 2 * math.pi
        elif h_diff < -math.pi:
            dH += 2 * math.pi
        if abs(h_diff) > math.pi:
            mean_hue += 2 * math.pi if h_sum < 2 * math.pi else -2 * math.pi
    mean_hue *= 0.5
    dH_term = 2 * math.sqrt(CC) * math.sin(dH / 2)

    T = (
        1
        - 0.17 * math.cos(mean_hue - math.radians(30))
        + 0.24 * math.cos(2 * mean_hue)
        + 0.32 * math.cos(3 * mean_hue + math.radians(6))
        - 0.20 * math.cos(4 * mean_hue - math.radians(63))
    )
    H_term = dH_term / (1 + 0.015 * mean_chroma * T)

    c7 = mean_chroma**7
    rotation = 2 * math.sqrt(c7 / (c7 + _POW25_7))
    dtheta = math.radians(30) * math.exp(-(((math.degrees(mean_hue) - 275) / 25) ** 2))
    R_term = -math.sin(2 * dtheta) * rotation * C_term * H_term

    return math.sqrt(max(L_term**2 + C_term**2 + H_term**2 + R_term, 0.0))


@njit(cache=True, nogil=True)
def _pairwise(lab1, lab2, out):
    for i in range(lab1.shape[0]):
        out[i] = _difference(lab1[i, 0], lab1[i, 1], lab1[i, 2], lab2[i, 0], lab2[i, 1], lab2[i, 2])


@njit(cache=True, nogil=True)
def _weighted_sum(lab, weights, palette_lab, labels):
    total = 0.0
    for i in range(lab.shape[0]):
        j = labels[i]
        total += weights[i] * _difference(
            lab[i, 0], lab[i, 1], lab[i, 2], palette_lab[j, 0], palette_lab[j, 1], palette_lab[j, 2]
        )
    return total


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between matching rows of two (n, 3) CIELAB arrays (kL = kC = kH = 1)."""
    lab1, lab2 = _colors(lab1, "lab1"), _colors(lab2, "lab2")
    if lab1.shape != lab2.shape:
        raise ValueError(f"lab1 and lab2 differ in shape: {lab1.shape} and {lab2.shape}")
    out = np.empty(len(lab1))
    _pairwise(lab1, lab2, out)
    return out


def weighted_ciede2000_sum(lab: np.ndarray, weights: np.ndarray, palette_lab: np.ndarray, labels: np.ndarray) -> float:
    """Σ weights[i] · ΔE2000(lab[i], palette_lab[labels[i]]), without any temporary."""
    lab, palette_lab = _colors(lab, "lab"), _colors(palette_lab, "palette_lab")
    if not len(lab) == len(weights) == len(labels):
        raise ValueError(f"lab, weights and labels differ in length: {len(lab)}, {len(weights)}, {len(labels)}")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(palette_lab):
        raise ValueError(f"labels must index the {len(palette_lab)} palette colors")
    return float(
        _weighted_sum(
            lab,
            np.ascontiguousarray(weights, dtype=np.float64),
            palette_lab,
            np.ascontiguousarray(labels, dtype=np.intp),
        )
    )


def _colors(array, name: str) -> np.ndarray:
    """`array` as a contiguous float64 (n, 3): the compiled loops index it without bounds checks."""
    array = np.ascontiguousarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must be an (n, 3) array of CIELAB colors, not shape {array.shape}")
    return array
