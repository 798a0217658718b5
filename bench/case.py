"""One benchmark case in its own process: `python -m bench.case '{"image": ..., "method": ..., "k": ...}'`.

Running each case in a fresh process makes its peak memory measurable (the
parent reads the child's ``ru_maxrss`` from ``os.wait4``) and keeps one
case's caches and allocator state from flattering the next.

Prints one JSON object: the timed runs, quality figures and PNG8 size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Methods that are not in quant's registry: the baselines run the way their users run them.
EXTERNAL = {
    "liq-default": "libimagequant (imagequant.quantize_pil_image), its defaults: dithering 1.0, max_quality 100",
    "liq-nodither": "libimagequant (imagequant.quantize_pil_image) with dithering_level=0",
    "pngquant": "pngquant CLI, default settings (dithered), PNG file in and out",
    "pillow-mediancut": "Pillow Image.quantize(method=MEDIANCUT), its own remap",
    "pillow-octree": "Pillow Image.quantize(method=FASTOCTREE), its own remap",
    "sklearn-naive": "scikit-learn KMeans(n_clusters=k) fitted on every pixel, as in the study",
}


def run_case(spec: dict) -> dict:
    from .measure import png8_bytes, quality

    rgb = np.load(spec["npy"], mmap_mode=None)
    method, k, repeats = spec["method"], spec["k"], spec["repeats"]
    runner = _RUNNERS.get(method) or _quant_runner
    _warm_up(method, runner, rgb, spec)
    seconds, cpu, output = [], [], None
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), _cpu()
        output = runner(rgb, k, spec)
        seconds.append(time.perf_counter() - started)
        cpu.append(_cpu() - cpu_started)
    indices, colors = output
    quantized = colors[indices]
    report = {"seconds": statistics.median(seconds), "cpu_seconds": statistics.median(cpu), "runs": seconds,
              "colors": int(len(np.unique(indices)))}
    report.update(quality(rgb, quantized))
    report["png_bytes"] = png8_bytes(indices, colors)
    return report


def _cpu() -> float:
    """CPU seconds of this process and its finished children (pngquant), all threads."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _warm_up(method, runner, rgb, spec):
    """One untimed run first, so one-time costs (imports, numba's cached compile, file cache) are not timed.

    On a 256-row crop of the image: the one-time costs don't depend on its size.
    """
    crop = np.ascontiguousarray(rgb[:256])
    if method == "sklearn-naive":
        crop = np.ascontiguousarray(rgb[:48, :64])  # per-pixel KMeans: a big warm-up would cost minutes
    if method == "pngquant":
        runner(rgb, spec["k"], spec)  # the CLI reads the file: warm the page cache with the real one
    else:
        runner(crop, spec["k"], spec)
    if method.startswith("liq-"):
        _rgba_cache(rgb)  # the timed runs then find the full image's RGBA ready


# --- runners: each returns (indices H×W uint8, colors m×3 uint8) ---------------------------------


def _quant_runner(rgb, k, spec):
    import quant

    result = quant.quantize(quant.from_array(rgb), k, spec["method"])
    return result.indices, result.palette.colors


def _liq(dither):
    def run(rgb, k, spec):
        import imagequant

        rgba = _rgba_cache(rgb)
        out = imagequant.quantize_pil_image(rgba, dithering_level=dither, max_colors=k)
        return np.asarray(out), _pil_palette(out)

    return run


_RGBA = {}


def _rgba_cache(rgb):
    """libimagequant takes RGBA; the conversion is done once, outside the timed call."""
    from PIL import Image

    key = id(rgb)
    if key not in _RGBA:
        _RGBA.clear()
        _RGBA[key] = Image.fromarray(rgb).convert("RGBA")
    return _RGBA[key]


def _pil_palette(image):
    return np.asarray(image.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)


def _pngquant(rgb, k, spec):
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.png"
        subprocess.run(["pngquant", str(k), "--force", "--output", str(out), spec["png"]], check=True)
        image = Image.open(out)
        image.load()
    if image.mode != "P":
        image = image.convert("P")
    return np.asarray(image), _pil_palette(image)


def _pillow(how):
    def run(rgb, k, spec):
        from PIL import Image

        out = Image.fromarray(rgb).quantize(colors=k, method=getattr(Image.Quantize, how))
        return np.asarray(out), _pil_palette(out)

    return run


def _sklearn_naive(rgb, k, spec):
    from sklearn.cluster import KMeans

    pixels = rgb.reshape(-1, 3).astype(np.float64)
    model = KMeans(n_clusters=k, random_state=0).fit(pixels)
    colors = np.clip(np.rint(model.cluster_centers_), 0, 255).astype(np.uint8)
    return model.labels_.astype(np.uint8).reshape(rgb.shape[:2]), colors


_RUNNERS = {
    "liq-default": _liq(1.0),
    "liq-nodither": _liq(0.0),
    "pngquant": _pngquant,
    "pillow-mediancut": _pillow("MEDIANCUT"),
    "pillow-octree": _pillow("FASTOCTREE"),
    "sklearn-naive": _sklearn_naive,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(json.dumps(run_case(spec)), flush=True)


if __name__ == "__main__":
    main()
