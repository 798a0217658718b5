"""quant — color quantization by clustering.

The pipeline, one module per stage:

    load → histogram → palette → remap → metrics / export

Prepare an image once, then quantize it at any k:

>>> import quant
>>> image = quant.load_image("photo.jpg")            # doctest: +SKIP
>>> prepared = quant.prepare(image, "kmeans")        # doctest: +SKIP
>>> result = prepared.quantize(16)                   # doctest: +SKIP
>>> result.ssim, len(result.png)                     # doctest: +SKIP

or in one call: ``quant.quantize(image, 16, "kmeans")``. Your own palette:
``quant.quantize(image, palette=quant.read_palette("pico8.gpl"))``; colors
kept in every palette: ``quant.quantize(image, 16, lock="#000000,#ffffff")``.
Dithered: ``prepared.quantize(16, dither="floyd-steinberg")`` (see `DITHERS`).
"""

from .colorspace import SPACES, Space
from .dither import DITHERS, Dither, get_dither
from .errors import ImageError
from .export import png_bytes
from .histogram import Histogram, build_histogram, reduce_histogram
from .load import DEFAULT_MAX_PIXELS, LoadedImage, from_array, load_image
from .methods import CUSTOM, METHODS, STUDY_METHODS, BaselineMethod, ClusteringMethod, Method, Param, get_method
from .metrics import Metrics, ssim
from .palette import DOUBLING_KS, K_MAX, K_MIN, ORDERS, Palette, assign_palette, check_k, order_colors
from .palette_file import (
    PaletteError,
    as_colors,
    hex_colors,
    palette_gpl,
    palette_json,
    palette_text,
    parse_colors,
    read_palette,
    write_palette,
)
from .pipeline import SEED_MAX, Prepared, Result, check_seed, evaluate, prepare, quantize
from .remap import remap, render
from .samples import DEFAULT_SAMPLE, SAMPLES, sample_image

__all__ = [
    "CUSTOM",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_SAMPLE",
    "DITHERS",
    "DOUBLING_KS",
    "K_MAX",
    "K_MIN",
    "METHODS",
    "ORDERS",
    "SAMPLES",
    "SEED_MAX",
    "SPACES",
    "STUDY_METHODS",
    "BaselineMethod",
    "ClusteringMethod",
    "Dither",
    "Histogram",
    "ImageError",
    "LoadedImage",
    "Method",
    "Metrics",
    "Palette",
    "PaletteError",
    "Param",
    "Prepared",
    "Result",
    "Space",
    "as_colors",
    "assign_palette",
    "build_histogram",
    "check_k",
    "check_seed",
    "evaluate",
    "from_array",
    "get_dither",
    "get_method",
    "hex_colors",
    "load_image",
    "palette_gpl",
    "order_colors",
    "palette_json",
    "palette_text",
    "parse_colors",
    "png_bytes",
    "prepare",
    "quantize",
    "read_palette",
    "reduce_histogram",
    "remap",
    "render",
    "sample_image",
    "ssim",
    "write_palette",
]
