"""Color spaces the palette methods can cluster in.

Clustering happens on points in one of these spaces; palettes always come
back as sRGB uint8. RGB is the study's space; CIELAB and Oklab are
perceptual, so equal distances there look about equally different.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Space(NamedTuple):
    """A color space as people are told about it."""

    label: str
    description: str

    def __str__(self) -> str:
        return f"{self.label}, {self.description}"


SPACES = {
    "rgb": Space("RGB", "as stored (the study's choice)"),
    "lab": Space("CIELAB", "D65, perceptual"),
    "oklab": Space("Oklab", "perceptual and hue-linear"),
}

# Oklab, from Björn Ottosson (2020): linear sRGB -> LMS -> cube root -> Lab.
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_OKLAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_OKLAB_TO_LMS = np.linalg.inv(_LMS_TO_OKLAB)
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS)


def check_space(space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"unknown color space {space!r}; choose one of: {', '.join(SPACES)}")
    return space


def to_space(rgb: np.ndarray, space: str) -> np.ndarray:
    """Convert (n, 3) RGB on the 0…255 scale (uint8 or float) to float points in `space`."""
    if space == "lab":
        return _rgb_to_lab(np.asarray(rgb))
    rgb = np.asarray(rgb, dtype=np.float64)
    if space == "rgb":
        return rgb
    if space == "oklab":
        lms = _times(_srgb_to_linear(rgb / 255.0), _RGB_TO_LMS)
        return _times(np.cbrt(lms), _LMS_TO_OKLAB)
    raise ValueError(f"unknown color space {space!r}")


def to_rgb8(points: np.ndarray, space: str) -> np.ndarray:
    """Convert (n, 3) float points in `space` back to sRGB uint8, clipping out-of-gamut values."""
    points = np.asarray(points, dtype=np.float64)
    if space == "rgb":
        rgb = points / 255.0
    elif space == "lab":
        from skimage.color import lab2rgb  # scikit-image costs ~0.4 s to import: only when Lab is used

        rgb = lab2rgb(points[:, None, :])[:, 0, :]
    elif space == "oklab":
        lms = _times(points, _OKLAB_TO_LMS) ** 3
        rgb = _linear_to_srgb(np.clip(_times(lms, _LMS_TO_RGB), 0.0, 1.0))
    else:
        raise ValueError(f"unknown color space {space!r}")
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


#: Typical extent of each space's coordinates, to put them on a common 0…1 scale.
SCALES = {"rgb": 255.0, "lab": 100.0, "oklab": 1.0}


def to_rgb_float(points: np.ndarray, space: str) -> np.ndarray:
    """Like `to_rgb8`, but float on 0…255, unrounded (clipped to the gamut)."""
    points = np.asarray(points, dtype=np.float64)
    if space == "rgb":
        return points
    if space == "lab":
        from skimage.color import lab2rgb

        return lab2rgb(points[:, None, :])[:, 0, :] * 255.0
    lms = _times(points, _OKLAB_TO_LMS) ** 3
    return _linear_to_srgb(np.clip(_times(lms, _LMS_TO_RGB), 0.0, 1.0)) * 255.0


def blend_with_oklab(points: np.ndarray, space: str, weight: float) -> np.ndarray:
    """Points of `space` scaled to about 0…1, with `weight` × their Oklab coordinates appended.

    Squared distances between the results are the space's (rescaled) plus
    `weight`² × Oklab's: a metric that keeps RGB's structure (which SSIM
    rewards) and Oklab's perceptual spacing (which ΔE2000 rewards).
    Returns the rescaled points alone when `weight` is 0.
    """
    scaled = np.asarray(points, dtype=np.float64) / SCALES[space]
    if weight == 0:
        return scaled
    oklab = points if space == "oklab" else to_space(to_rgb_float(points, space), "oklab")
    return np.hstack([scaled, weight * np.asarray(oklab, dtype=np.float64)])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) sRGB on 0…255 to CIELAB, for ΔE computations."""
    return to_space(rgb, "lab")


def _rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Whole bytes (histogram and palette colors) by a compiled loop; others by scikit-image, in chunks:
    its conversion makes a dozen temporaries per color, too many for the millions of colors of a big
    photo at once."""
    if rgb.dtype != np.uint8:  # floats may still be whole bytes (merged colors, palettes)
        rgb = np.asarray(rgb, dtype=np.float64)
        as_bytes = np.rint(rgb)
        if len(rgb) and np.array_equal(as_bytes, rgb) and as_bytes.min() >= 0 and as_bytes.max() <= 255:
            rgb = as_bytes.astype(np.uint8)
    if rgb.dtype == np.uint8:
        from .ciede2000 import lab_of_bytes  # numba: loaded from its cache on first use

        return lab_of_bytes(rgb)
    from skimage.color import rgb2lab

    lab = np.empty((len(rgb), 3))
    for start in range(0, len(rgb), _LAB_CHUNK):
        lab[start : start + _LAB_CHUNK] = rgb2lab(rgb[start : start + _LAB_CHUNK, None, :] / 255.0)[:, 0, :]
    return lab


_LAB_CHUNK = 1 << 19


def _times(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points @ matrix.T`` for (n, 3) points, without BLAS.

    A 3×3 product is memory-bound: BLAS threads only add synchronisation,
    which on a busy machine costs more than the product itself.
    """
    return np.einsum("ij,kj->ik", points, matrix, optimize=False)


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB on 0…1 to linear light; a table lookup when the values are whole bytes (histogram colors)."""
    if c.size > 4096:
        scaled = c * 255.0
        as_bytes = np.rint(scaled)
        if np.array_equal(as_bytes, scaled):
            return _LINEAR_OF_BYTE[as_bytes.astype(np.intp)]
    return _srgb_to_linear_exact(c)


def _srgb_to_linear_exact(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR_OF_BYTE = _srgb_to_linear_exact(np.arange(256) / 255.0)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
