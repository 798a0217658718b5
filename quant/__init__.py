"""quant — color quantization by clustering.

The pipeline, one module per stage:

    load → histogram → palette → remap → metrics / export

>>> import quant
>>> image = quant.load_image("photo.jpg")            # doctest: +SKIP
>>> result = quant.quantize(image, 16, "kmeans")     # doctest: +SKIP
>>> result.metrics.ssim                              # doctest: +SKIP
"""

from .colorspace import SPACES
from .errors import ImageError
from .export import hex_colors, palette_gpl, palette_json, png_bytes
from .histogram import Histogram, build_histogram, reduce_histogram
from .load import DEFAULT_MAX_PIXELS, LoadedImage, from_array, load_image
from .methods import METHODS, STUDY_METHODS, Method, Param, get_method
from .metrics import Metrics, evaluate, ssim
from .palette import DOUBLING_KS, K_MAX, K_MIN, Palette, Prepared, check_k, make_palette, prepare
from .pipeline import Result, quantize
from .remap import remap, render
from .samples import DEFAULT_SAMPLE, SAMPLES, sample_image

__all__ = [
    "DEFAULT_MAX_PIXELS", "DEFAULT_SAMPLE", "DOUBLING_KS", "Histogram", "ImageError", "K_MAX", "K_MIN",
    "LoadedImage", "METHODS", "Method", "Metrics", "Palette", "Param", "Prepared", "Result", "SAMPLES",
    "SPACES", "STUDY_METHODS", "build_histogram", "check_k", "evaluate", "from_array",
    "get_method", "hex_colors", "load_image", "make_palette", "palette_gpl", "palette_json",
    "png_bytes", "prepare", "quantize", "reduce_histogram", "remap", "render", "sample_image", "ssim",
]
