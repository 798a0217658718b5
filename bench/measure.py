"""Quality figures computed the same way for every quantizer, from its output pixels alone.

Baselines that dither produce pixels that no histogram label describes, so the
benchmark never uses a method's own idea of its error: it compares the
original and the quantized RGB images.

* SSIM: `quant.metrics.ssim` (scikit-image's, in one streaming pass);
* PSNR over the RGB channels;
* mean CIEDE2000 over pixels, computed once per distinct (original, quantized)
  color pair, weighted by how many pixels have that pair — exact, and cheap;
* the blurred ΔE2000 (the viewing metric, `quant.metrics.blurred_delta_e`) over every pixel;
* PNG8 bytes: every result encoded by the same encoder (Pillow, optimize=True),
  so the size reflects the palette and dithering, not the encoder.
"""

from __future__ import annotations

import numpy as np

from quant.ciede2000 import ciede2000
from quant.colorspace import rgb_to_lab
from quant.export import png_bytes
from quant.histogram import pack_rgb, unpack_rgb
from quant.metrics import blurred_delta_e as _blurred_delta_e
from quant.metrics import psnr_from_mse, ssim


def quality(original: np.ndarray, quantized: np.ndarray) -> dict:
    """SSIM, PSNR and mean ΔE2000 of `quantized` against `original` (both H×W×3 uint8)."""
    return {"ssim": ssim(original, quantized), "psnr": psnr(original, quantized),
            "delta_e": mean_delta_e(original, quantized)}


def blurred_delta_e(original: np.ndarray, quantized: np.ndarray) -> float:
    """Mean CIEDE2000 after a 1-pixel Gaussian blur in linear light, over every pixel of the image."""
    return _blurred_delta_e(original, quantized, np.ones(original.shape[:2], bool))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    total, rows = 0.0, max(1, (1 << 22) // (a.shape[1] * 3))
    for top in range(0, a.shape[0], rows):
        diff = a[top:top + rows].astype(np.int32) - b[top:top + rows]
        total += float(np.einsum("ijk,ijk->", diff, diff, dtype=np.float64))
    return psnr_from_mse(total / a.size)


def mean_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    pairs = (pack_rgb(a).astype(np.uint64).ravel() << np.uint64(24)) | pack_rgb(b).astype(np.uint64).ravel()
    codes, counts = np.unique(pairs, return_counts=True)
    del pairs
    total = 0.0
    step = 1 << 20
    for start in range(0, len(codes), step):
        chunk = codes[start:start + step]
        left = unpack_rgb((chunk >> np.uint64(24)).astype(np.uint32))
        right = unpack_rgb((chunk & np.uint64(0xFFFFFF)).astype(np.uint32))
        de = ciede2000(rgb_to_lab(left), rgb_to_lab(right))
        total += float(np.dot(counts[start:start + step], de))
    return total / counts.sum()


def png8_bytes(indices: np.ndarray, colors: np.ndarray) -> int:
    return len(png_bytes(indices, colors))
