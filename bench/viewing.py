"""Which viewing metric judges dithered output: the blurred ΔE2000 measured against FLIP and SSIMULACRA2.

Issue 13 asked for a metric that models viewing, chosen among a
spatial-CIELAB-style blurred ΔE2000, NVIDIA's FLIP and SSIMULACRA2 by speed
and fit. There are no human ratings of quantized images here, so fit is
measured on orderings whose answer is known, and against one model of
distance:

* **Speed**: seconds per megapixel on the 1 MP photo, a dithered result
  (medians of `REPEATS`).
* **Banding**: on the smooth gradient at k = 16 (the banding test's), every
  dither kind looks better from a distance than none: how many kinds a metric
  prefers to none.
* **More colors**: for each photo and way of quantizing, k = 16, 64, 256 must
  score better in turn: how many such triples a metric orders so.
* **Seen from farther**: the mean ΔE2000 of original and result once both are
  averaged over 4×4 pixels in linear light (a viewer far enough for 4×4
  pixels to merge), computed with scikit-image alone. Kendall's τ between a
  metric and this reference, across the ways of quantizing at each photo and
  k, averaged. The blurred ΔE2000 shares its averaging of light, so this
  check favors it: it is reported, not trusted alone.

Per-pixel ΔE2000 and SSIM are measured beside them as controls: they count a
dither's grain as error, which is why a viewing metric was asked for.
FLIP is `flip-evaluator` (its default 67 pixels per degree); SSIMULACRA2 is
the `ssimulacra2` package, a Python port of libjxl's tool whose scores are
not checked against the C++ one here.

`python -m bench.viewing` prints the tables as Markdown (about 5 minutes).
"""

from __future__ import annotations

import io
import itertools
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from . import measure
from .dither import gradient, liq_pixels
from .images import load

#: Photos judged: the first held-out ones and two tuning ones, below 1 MP each (the 12 MP one would take long).
IMAGES = ("china", "flower", "hubble_deep_field", "retina", "china-lowkey", "chelsea", "coffee")
KS = (16, 64, 256)
#: kmeans' dithers compared, besides none: error diffusion, the edge-aware kind and an ordered one.
DITHERS = ("floyd-steinberg", "edge-aware", "blue-noise")
SPEED_IMAGE = "gen1mp"
REPEATS = 3
#: Pixels that merge for the far viewer of the reference.
FAR = 4


# --- the metrics, each lower-is-better ---------------------------------------------------------------


def flip(original: np.ndarray, result: np.ndarray) -> float:
    import flip_evaluator

    return float(flip_evaluator.evaluate(original / 255.0, result / 255.0, "LDR", applyMagma=False)[1])


def ssimulacra2_distance(original: np.ndarray, result: np.ndarray) -> float:
    """100 − SSIMULACRA2's score (100 is identical), so that lower is better as for the others."""
    from ssimulacra2 import compute_ssimulacra2

    return 100.0 - float(compute_ssimulacra2(_png(original), _png(result)))


def delta_e(original: np.ndarray, result: np.ndarray) -> float:
    return measure.mean_delta_e(original, result)


def ssim_loss(original: np.ndarray, result: np.ndarray) -> float:
    return 1.0 - measure.ssim(original, result)


def far_delta_e(original: np.ndarray, result: np.ndarray, far: int = FAR) -> float:
    """The reference: mean ΔE2000 once `far`×`far` pixels are averaged in linear light (scikit-image only)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    def seen(rgb: np.ndarray) -> np.ndarray:
        height, width = (rgb.shape[0] // far) * far, (rgb.shape[1] // far) * far
        light = _to_linear(rgb[:height, :width] / 255.0)
        merged = light.reshape(height // far, far, width // far, far, 3).mean(axis=(1, 3))
        return rgb2lab(_to_srgb(merged))

    return float(deltaE_ciede2000(seen(original), seen(result)).mean())


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "blurred ΔE2000": measure.blurred_delta_e,
    "FLIP": flip,
    "100 − SSIMULACRA2": ssimulacra2_distance,
    "ΔE2000 (per pixel)": delta_e,
    "1 − SSIM (per pixel)": ssim_loss,
}
#: The candidates for the viewing metric; the rest are controls.
CANDIDATES = ("blurred ΔE2000", "FLIP", "100 − SSIMULACRA2")


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def _png(rgb: np.ndarray) -> io.BytesIO:
    """`rgb` as an uncompressed PNG in memory: the ssimulacra2 package reads images through Pillow only."""
    from PIL import Image

    data = io.BytesIO()
    Image.fromarray(rgb).save(data, format="PNG", compress_level=0)
    data.seek(0)
    return data


# --- the measurements ----------------------------------------------------------------------------------


def ways(prepared, rgb: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The results judged at `k`: kmeans undithered and with each of `DITHERS`, libimagequant with and without."""
    results = {"kmeans": prepared.quantize(k).rgb()}
    results |= {f"kmeans {name}": prepared.quantize(k, dither=name).rgb() for name in DITHERS}
    results |= {"libimagequant dithered": liq_pixels(rgb, k, 1.0), "libimagequant": liq_pixels(rgb, k, 0.0)}
    return results


def scores(original: np.ndarray, results: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Every metric of every result, and the far viewer's reference, by result then metric."""
    judges = {**METRICS, "far": far_delta_e}
    return {way: {name: judge(original, result) for name, judge in judges.items()} for way, result in results.items()}


def bench_speed() -> dict[str, float]:
    """Seconds per megapixel of each metric on a dithered result of the 1 MP photo."""
    import quant

    rgb = load(SPEED_IMAGE)
    result = quant.prepare(quant.from_array(rgb), "kmeans").quantize(16, dither="floyd-steinberg").rgb()
    megapixels = rgb.shape[0] * rgb.shape[1] / 1e6
    seconds = {}
    for name in CANDIDATES:
        METRICS[name](rgb, result)  # first call: imports and compilation are not what a user waits for
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            METRICS[name](rgb, result)
            times.append(time.perf_counter() - started)
        seconds[name] = statistics.median(times) / megapixels
    return seconds


def bench_banding(k: int = 16) -> dict[str, dict[str, float]]:
    """Each metric's score of the gradient at `k`, undithered and with every dither kind."""
    import quant

    rgb = gradient()
    prepared = quant.prepare(quant.from_array(rgb), "kmeans")
    results = {name: prepared.quantize(k, dither=name).rgb() for name in quant.DITHERS}
    return {name: {metric: judge(rgb, result) for metric, judge in METRICS.items()} for name, result in results.items()}


def bench_photos() -> dict[tuple[str, int], dict[str, dict[str, float]]]:
    import quant

    photos = {}
    for image in IMAGES:
        rgb = load(image)
        prepared = quant.prepare(quant.from_array(rgb), "kmeans")
        for k in KS:
            photos[(image, k)] = scores(rgb, ways(prepared, rgb, k))
            print(f"viewing {image:>18} k={k:<3} done", flush=True)
    return photos


# --- the checks ----------------------------------------------------------------------------------------


def banding_preferred(banding: dict[str, dict[str, float]], metric: str) -> tuple[int, int]:
    """(dither kinds the metric scores better than none, kinds)."""
    plain = banding["none"][metric]
    kinds = [name for name in banding if name != "none"]
    return sum(banding[name][metric] < plain for name in kinds), len(kinds)


def more_colors_better(photos: dict, metric: str) -> tuple[int, int]:
    """(image × way triples the metric scores strictly better at each larger k, triples)."""
    images = sorted({image for image, _ in photos})
    way_names = next(iter(photos.values())).keys()
    ordered = [
        all(
            photos[(image, small)][way][metric] > photos[(image, large)][way][metric]
            for small, large in itertools.pairwise(KS)
        )
        for image in images
        for way in way_names
    ]
    return sum(ordered), len(ordered)


def agreement_with_far(photos: dict, metric: str) -> float:
    """Kendall's τ between the metric and the far viewer's ΔE2000 across the ways, averaged over photo and k."""
    from scipy.stats import kendalltau

    taus = [
        kendalltau([s[metric] for s in case.values()], [s["far"] for s in case.values()]).statistic
        for case in photos.values()
    ]
    return float(np.mean(taus))


#: Pairs of ways compared on the photos: dithered against undithered, and quant's dithers against libimagequant's.
COMPARISONS = (
    ("kmeans floyd-steinberg", "kmeans"),
    ("kmeans floyd-steinberg", "libimagequant dithered"),
    ("kmeans edge-aware", "libimagequant dithered"),
)


def preferred(photos: dict, metric: str, better: str, worse: str, k: int) -> tuple[int, int]:
    """(photos on which the metric scores `better` strictly lower than `worse` at `k`, photos)."""
    cases = [case for (_, case_k), case in photos.items() if case_k == k]
    return sum(case[better][metric] < case[worse][metric] for case in cases), len(cases)


def report(speed: dict, banding: dict, photos: dict, load_before, load_after) -> list[str]:
    load = ", ".join(f"{value:.1f}" for value in load_before)
    after = ", ".join(f"{value:.1f}" for value in load_after)
    lines = [
        f"Load average (1, 5, 15 min) before: {load}; after: {after} (2 cores).",
        "",
        f"| metric | s per MP | banding: dithers preferred to none | more colors better | τ with the far "
        f"viewer ({FAR}×{FAR} px) |",
        "|---|---|---|---|---|",
    ]
    for metric in METRICS:
        kinds, of_kinds = banding_preferred(banding, metric)
        triples, of_triples = more_colors_better(photos, metric)
        seconds = f"{speed[metric]:.2f}" if metric in speed else "–"
        lines.append(
            f"| {metric} | {seconds} | {kinds} of {of_kinds} | {triples} of {of_triples} | "
            f"{agreement_with_far(photos, metric):.2f} |"
        )
    for better, worse in COMPARISONS:
        lines += [
            "",
            f"How often each metric scores {better} better than {worse}, over the {len(IMAGES)} photos.",
            "",
            "| metric | " + " | ".join(f"k = {k}" for k in KS) + " |",
            "|---|" + "---|" * len(KS),
        ]
        for metric in METRICS:
            counts = [preferred(photos, metric, better, worse, k) for k in KS]
            lines.append(f"| {metric} | " + " | ".join(f"{won} of {cases}" for won, cases in counts) + " |")
    return lines


def main() -> None:
    load_before = os.getloadavg()
    speed = bench_speed()
    banding = bench_banding()
    photos = bench_photos()
    print("\n".join(report(speed, banding, photos, load_before, os.getloadavg())))


if __name__ == "__main__":
    main()
