"""Stage 2 — histogram: the image's distinct colors with their pixel counts.

This is the working set of every later stage. The per-pixel work of the whole
pipeline happens here, once: each pixel's RGB is packed into one 24-bit
integer and counted. The per-pixel index into the histogram that falls out of
the count is what the remap stage uses, so no stage ever looks at the pixels
again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .load import LoadedImage

_CODES = 1 << 24
# Below this many pixels a sort is cheaper than a 2**24-bin count.
_SMALL_IMAGE = 1 << 21


@dataclass(frozen=True)
class Histogram:
    """Distinct visible colors of an image, how often each occurs, and where.

    Attributes
    ----------
    colors : ndarray of uint8, shape (n, 3)
        The distinct colors, in increasing order of their packed RGB code.
    counts : ndarray of int64, shape (n,)
        How many visible pixels have each color.
    pixel_index : ndarray of int32, shape (H, W)
        For each pixel, its row in `colors`; ``-1`` for transparent pixels.
    """

    colors: np.ndarray
    counts: np.ndarray
    pixel_index: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> int:
        """The number of visible pixels."""
        return int(self.counts.sum())


@dataclass(frozen=True)
class WeightedColors:
    """A histogram reduced for clustering: colors as floats, weights as counts.

    Attributes
    ----------
    colors : ndarray of float64, shape (m, 3)
        RGB on the 0…255 scale; weighted means when bins were merged.
    weights : ndarray of float64, shape (m,)
        Pixel counts.
    parent : ndarray of intp, shape (n,)
        For each entry of the source histogram, its row here.
    """

    colors: np.ndarray
    weights: np.ndarray
    parent: np.ndarray


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack uint8 RGB triples (..., 3) into uint32 codes 0xRRGGBB.

    Built in place, so the only large allocation is the result (4 bytes a
    pixel), not a uint32 copy of every channel.
    """
    codes = rgb[..., 0].astype(np.uint32)
    for channel in (1, 2):
        codes <<= 8
        codes |= rgb[..., channel]
    return codes


def unpack_rgb(codes: np.ndarray) -> np.ndarray:
    """Inverse of `pack_rgb`."""
    codes = codes.astype(np.uint32, copy=False)
    return np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=-1).astype(np.uint8)


def build_histogram(image: LoadedImage) -> Histogram:
    """Count the distinct visible colors of `image` in O(pixels).

    Transparent pixels are not counted: they get index ``-1``.
    """
    codes = pack_rgb(image.rgb).ravel()
    visible = None if image.opaque is None else image.opaque.ravel()
    counted = codes if visible is None else codes[visible]

    if counted.size < _SMALL_IMAGE:
        present, inverse, counts = np.unique(counted, return_inverse=True, return_counts=True)
        index_of_counted = inverse.astype(np.int32)
    else:
        all_counts = np.bincount(counted, minlength=_CODES)
        present = np.flatnonzero(all_counts).astype(np.uint32)
        counts = all_counts[present]
        del all_counts
        lookup = np.empty(_CODES, dtype=np.int32)
        lookup[present] = np.arange(len(present), dtype=np.int32)
        index_of_counted = lookup[counted]

    if visible is None:
        pixel_index = index_of_counted
    else:
        pixel_index = np.full(codes.shape, -1, dtype=np.int32)
        pixel_index[visible] = index_of_counted
    return Histogram(
        colors=unpack_rgb(present),
        counts=counts.astype(np.int64),
        pixel_index=pixel_index.reshape(image.height, image.width),
    )


def reduce_histogram(hist: Histogram, max_entries: int | None) -> WeightedColors:
    """Merge fine color bins into coarser ones until at most `max_entries` remain.

    Each channel loses one low bit at a time, as libimagequant does for huge
    images; a merged bin keeps the weighted mean of its colors, so no
    precision is lost to rounding, only detail among near-identical colors.
    """
    colors = hist.colors.astype(np.float64)
    weights = hist.counts.astype(np.float64)
    if max_entries is None or len(hist) <= max_entries:
        return WeightedColors(colors, weights, np.arange(len(hist)))
    for dropped_bits in range(1, 8):
        coarse_codes = pack_rgb(hist.colors >> dropped_bits)
        bins, parent = np.unique(coarse_codes, return_inverse=True)
        if len(bins) <= max_entries:
            break
    bin_weights = np.bincount(parent, weights=weights)
    means = np.stack(
        [np.bincount(parent, weights=weights * colors[:, c]) for c in range(3)], axis=1
    ) / bin_weights[:, None]
    return WeightedColors(means, bin_weights, parent)
