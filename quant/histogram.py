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

from .load import LoadedImage, check_image
from .numeric import weighted_means

_CODES = 1 << 24
# Below this many pixels a sort is cheaper than a 2**24-bin count.
_SMALL_IMAGE = 1 << 21
# Pixels per strip when computing flatness weights.
_STRIP_PIXELS = 1 << 20
#: The luma standard deviation (8-bit levels, over SSIM's 7×7 window) at which `flatness_weights` counts a
#: pixel half. On the tuning photos (k = 8 to 256, 48 cases) 10 beat 7.65 (√58.5, SSIM's own constant) and
#: 14.1, and the earlier weight 1 / (1 + s / 2) by 47 wins to 40 (bench/README.md, "Recorded runs on the
#: latest code").
FLATNESS_SCALE = 10.0


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

    @property
    def lab(self) -> np.ndarray:
        """`colors` in CIELAB, float64 (n, 3): converted on first use, then kept for every ΔE.

        Two threads asking at once may both convert (the same result): cheaper
        than `functools.cached_property`'s Python 3.11 lock, shared by every
        histogram of every session.
        """
        if "_lab" not in self.__dict__:
            from .colorspace import rgb_to_lab

            object.__setattr__(self, "_lab", rgb_to_lab(self.colors))  # a frozen dataclass
        return self.__dict__["_lab"]

    def __getstate__(self) -> dict:
        # The Lab colors are a cache: cheaper to convert again than to pickle to a worker process.
        return {name: value for name, value in self.__dict__.items() if name != "_lab"}


@dataclass(frozen=True)
class WeightedColors:
    """A histogram reduced for clustering: colors as floats, with their weights and pixel counts.

    Attributes
    ----------
    colors : ndarray of float64, shape (m, 3)
        RGB on the 0…255 scale; weighted means when bins were merged.
    weights : ndarray of float64, shape (m,)
        What each color counts for in clustering: its pixels, or the method's own weights.
    parent : ndarray of intp, shape (n,)
        For each entry of the source histogram, its row here.
    counts : ndarray of float64, shape (m,)
        Pixels per color, whatever the weights.
    """

    colors: np.ndarray
    weights: np.ndarray
    parent: np.ndarray
    counts: np.ndarray


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


def pack_coarse(rgb: np.ndarray, dropped_bits: int) -> np.ndarray:
    """Pack RGB with `dropped_bits` low bits of each channel dropped: codes below 2**(24 - 3·bits)."""
    bits = 8 - dropped_bits
    codes = (rgb[..., 0] >> dropped_bits).astype(np.intp)
    for channel in (1, 2):
        codes <<= bits
        codes |= rgb[..., channel] >> dropped_bits
    return codes


def unpack_rgb(codes: np.ndarray) -> np.ndarray:
    """Inverse of `pack_rgb`."""
    codes = codes.astype(np.uint32, copy=False)
    return np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=-1).astype(np.uint8)


def build_histogram(image: LoadedImage) -> Histogram:
    """Count the distinct visible colors of `image` in O(pixels).

    Transparent pixels are not counted: they get index ``-1``.
    """
    check_image(image)
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


def flatness_weights(
    image: LoadedImage, hist: Histogram, *, scale: float = FLATNESS_SCALE, window: int = 7
) -> np.ndarray:
    """Per-entry weights that count each pixel by how flat its neighbourhood is.

    A pixel counts ``1 / (1 + (s / scale)²)``, where ``s`` is the standard
    deviation of luma over the `window`×`window` square around it (SSIM's
    window): fully where the image is flat, half at ``s = scale``. That is
    SSIM's own masking: it divides a window's error by the window's variance
    plus a constant, so an error costs less in texture and noise, and banding
    shows in flat areas. Clustering on these weights spends palette entries
    where they are seen. Computed in strips: memory stays a few float32 rows
    per strip, even at 50 MP.
    """
    height, width = image.height, image.width
    pad = window // 2
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    to_luma = np.array([0.299, 0.587, 0.114], np.float32)
    constant = np.float32(scale * scale)
    out = np.zeros(len(hist))
    visible = hist.pixel_index >= 0
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        lo, hi = max(0, top - pad), min(height, bottom + pad)
        block = image.rgb[lo:hi]
        luma = block[..., 0] * to_luma[0] + block[..., 1] * to_luma[1] + block[..., 2] * to_luma[2]
        mean = _box_mean(luma, window)
        var = _box_mean(luma * luma, window)
        var -= mean * mean
        np.maximum(var, 0, out=var)
        weight = constant / (constant + var[top - lo : top - lo + bottom - top])
        index = hist.pixel_index[top:bottom]
        keep = visible[top:bottom]
        out += np.bincount(index[keep], weights=weight[keep], minlength=len(hist))
    return out


def _box_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean over the `window`×`window` square around each value, edges mirrored, as float32.

    What ``scipy.ndimage.uniform_filter(values, window, mode="reflect")``
    computes, to float32 rounding, as `window` shifted adds along each axis:
    importing scipy.ndimage would cost the command line more than this pass.
    """
    pad = window // 2
    mirrored = np.pad(values.astype(np.float32, copy=False), pad, mode="symmetric")
    height, width = values.shape
    rows = mirrored[:height].copy()
    for shift in range(1, window):
        rows += mirrored[shift : shift + height]
    out = rows[:, :width].copy()
    for shift in range(1, window):
        out += rows[:, shift : shift + width]
    out *= np.float32(1 / (window * window))
    return out


def reduce_histogram(hist: Histogram, max_entries: int | None, *, weights: np.ndarray | None = None) -> WeightedColors:
    """Merge fine color bins into coarser ones until at most `max_entries` remain.

    Each channel loses one low bit at a time, as libimagequant does for huge
    images; a merged bin keeps the weighted mean of its colors, so no
    precision is lost to rounding, only detail among near-identical colors.
    `weights`, optional, replaces the pixel counts (e.g. `flatness_weights`).
    """
    colors = hist.colors.astype(np.float64)
    counts = hist.counts.astype(np.float64)
    weights = counts if weights is None else np.asarray(weights, np.float64)
    if max_entries is None or len(hist) <= max_entries:
        return WeightedColors(colors, weights, np.arange(len(hist)), counts)
    for dropped_bits in range(1, 8):
        # Count the coarse bins directly (2**(24 - 3·bits) of them): no sort of the histogram.
        coarse_codes = pack_coarse(hist.colors, dropped_bits)
        occupied = np.bincount(coarse_codes, minlength=1 << (24 - 3 * dropped_bits)) > 0
        if occupied.sum() <= max_entries:
            break
    rank = np.cumsum(occupied) - 1
    parent = rank[coarse_codes]
    means, bin_weights = weighted_means(colors, weights, parent)
    pixels = bin_weights if weights is counts else np.bincount(parent, weights=counts, minlength=len(means))
    return WeightedColors(means, bin_weights, parent, pixels)
