"""Measure what each kmeans idea buys, on the tuning images only (`python -m bench.tune`).

Each variant is the kmeans method with one or more ideas switched on; each is
scored against libimagequant in the same run, with and without dithering, by
the ratio of mean CIEDE2000 (lower is better, < 1 beats libimagequant) and the
difference in SSIM (higher is better, > 0 beats it). The verdict on held-out
images comes from the main benchmark, not from here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

import quant
from quant.colorspace import to_rgb8, to_space
from quant.kmeans import weighted_kmeans
from quant.numeric import weighted_means

from .images import TUNE, load
from .measure import quality

VARIANTS = {
    "kmeans defaults (registry)": dict(registry={}),
    "kmeans, no polish (registry)": dict(registry=dict(params={"polish": "none"})),
    "kmeans space=rgb, oklab_weight=0 (plain RGB)": dict(registry=dict(params={"oklab_weight": 0.0})),
    "kmeans oklab_weight=1": dict(registry=dict(params={"oklab_weight": 1.0})),
    "kmeans oklab_weight=1.25": dict(registry=dict(params={"oklab_weight": 1.25})),
    "kmeans oklab_weight=1.5": dict(registry=dict(params={"oklab_weight": 1.5})),
    "kmeans oklab_weight=3": dict(registry=dict(params={"oklab_weight": 3.0})),
    # The flatness weights' scale: 7.65 is √58.5, SSIM's own constant C2 for 8-bit levels.
    "kmeans flatness_scale=7.65": dict(registry=dict(params={"flatness_scale": 7.65})),
    "kmeans flatness_scale=14.1": dict(registry=dict(params={"flatness_scale": 14.1})),
    "kmeans importance=counts": dict(registry=dict(params={"importance": "counts"})),
    # name: options for `variant_indices`
    "sklearn-rgb (old default)": dict(sklearn=True, space="rgb"),
    "sklearn-lab": dict(sklearn=True, space="lab"),
    "sklearn-oklab": dict(sklearn=True, space="oklab"),
    "numba rgb, k-means++": dict(space="rgb", init="kmeans++", refine_iter=0, max_points=1 << 16),
    "numba oklab, k-means++": dict(space="oklab", init="kmeans++", refine_iter=0, max_points=1 << 16),
    "numba oklab, k-means++ x4": dict(space="oklab", init="kmeans++", n_init=4, refine_iter=0, max_points=1 << 16),
    "numba oklab, split": dict(space="oklab", init="split", refine_iter=0, max_points=1 << 16),
    "numba oklab, split, refine": dict(space="oklab", init="split", refine_iter=2),
    "numba lab, split, refine": dict(space="lab", init="split", refine_iter=2),
    "numba rgb, split, refine": dict(space="rgb", init="split", refine_iter=2),
    "rgb+oklab*0.5": dict(space="rgb+oklab*0.5", init="split", refine_iter=2),
    "rgb+oklab*1": dict(space="rgb+oklab*1", init="split", refine_iter=2),
    "rgb+oklab*2": dict(space="rgb+oklab*2", init="split", refine_iter=2),
    "rgb+oklab*4": dict(space="rgb+oklab*4", init="split", refine_iter=2),
    "rgb+oklab*2, big working set, refine 10": dict(space="rgb+oklab*2", init="split", refine_iter=10, max_points=1 << 17),
    "rgb+oklab*3": dict(space="rgb+oklab*3", init="split", refine_iter=2),
    "rgb+oklab*2, counts^0.8": dict(space="rgb+oklab*2", alpha=0.8, init="split", refine_iter=2),
    "rgb+oklab*2, k-means++ x3": dict(space="rgb+oklab*2", init="kmeans++", n_init=3, refine_iter=2),
    "rgb+oklab*2, ws 32k, it 100, refine 10": dict(space="rgb+oklab*2", max_points=1 << 15, max_iter=100, refine_iter=10),
    "rgb+oklab*2, ws 16k, it 100, refine 10": dict(space="rgb+oklab*2", max_points=1 << 14, max_iter=100, refine_iter=10),
    "rgb+oklab*2, ws 16k, it 30, refine 10": dict(space="rgb+oklab*2", max_points=1 << 14, max_iter=30, refine_iter=10),
    "rgb+oklab*2, ws 8k, it 30, refine 10": dict(space="rgb+oklab*2", max_points=1 << 13, max_iter=30, refine_iter=10),
    "rgb+oklab*2, ws 32k, it 20, refine 10": dict(space="rgb+oklab*2", max_points=1 << 15, max_iter=20, refine_iter=10),
    "rgb+oklab*2, ws 32k, it 100, tol 3e-3": dict(space="rgb+oklab*2", max_points=1 << 15, max_iter=100, tol=6e-3),
    "oklab L×1.5, split, refine": dict(space="oklab", lightness=1.5, init="split", refine_iter=2),
    "oklab L×2, split, refine": dict(space="oklab", lightness=2.0, init="split", refine_iter=2),
    "oklab L×3, split, refine": dict(space="oklab", lightness=3.0, init="split", refine_iter=2),
    "oklab L×2, split, refine 8": dict(space="oklab", lightness=2.0, init="split", refine_iter=8),
    "oklab L×2, k-means++ x4, refine": dict(space="oklab", lightness=2.0, init="kmeans++", n_init=4, refine_iter=2),
    "oklab L×2, split, refine, counts^0.75": dict(space="oklab", lightness=2.0, alpha=0.75, init="split", refine_iter=2),
}


def variant_indices(image, hist, k, *, sklearn=False, registry=None, space="oklab", lightness=1.0, alpha=1.0,
                    **options):
    """Palette index per pixel and the palette, for one variant."""
    if registry is not None:
        result = quant.prepare(image, "kmeans", hist=hist, **registry).quantize(k)
        return result.indices, result.palette.colors
    if sklearn:  # the engine's first kmeans: scikit-learn on the histogram merged to 65,536 bins
        from sklearn.cluster import KMeans

        working = quant.reduce_histogram(hist, 1 << 16)
        points = to_space(working.colors, space)
        labels = KMeans(n_clusters=k, n_init=1, max_iter=300, random_state=0).fit_predict(
            points, sample_weight=working.weights)
        labels = labels[working.parent]
        return _remapped(hist, to_space(hist.colors, space), hist.counts.astype(np.float64), labels, k, space)
    if space.startswith("rgb+oklab"):
        beta = float(space.split("*")[1])
        rgb = hist.colors.astype(np.float64) / 255.0
        scaled = np.hstack([rgb, beta * to_space(hist.colors, "oklab")])
        points, space = rgb * 255.0, "rgb"
    else:
        points = to_space(hist.colors, space)
        scaled = points.copy()
    scaled[:, 0] *= lightness
    weights = hist.counts.astype(np.float64) ** alpha
    _, labels = weighted_kmeans(scaled, weights, k, **options)
    return _remapped(hist, points, hist.counts.astype(np.float64), labels, k, space)


def _remapped(hist, points, counts, labels, k, space):
    """(palette index per pixel, palette): each label's color is its weighted mean point."""
    means, mass = weighted_means(points, counts, labels, k)
    colors = np.zeros((k, 3), np.uint8)
    colors[mass > 0] = to_rgb8(means[mass > 0], space)
    return labels.astype(np.uint8)[hist.pixel_index], colors


def libimagequant(rgb, k, dither):
    rgba = Image.fromarray(rgb).convert("RGBA")
    out = __import__("imagequant").quantize_pil_image(rgba, dithering_level=dither, max_colors=k)
    pal = np.asarray(out.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    return np.asarray(out), pal


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.tune")
    parser.add_argument("--images", nargs="*", default=list(TUNE))
    parser.add_argument("--ks", nargs="*", type=int, default=[16, 64, 256])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args(argv)
    rows = {name: [] for name in args.variants}
    for image_name in args.images:
        rgb = load(image_name)
        image = quant.from_array(rgb)
        hist = quant.build_histogram(image)
        for k in args.ks:
            ref = {}
            for dither in (1.0, 0.0):
                idx, pal = libimagequant(rgb, k, dither)
                ref[dither] = quality(rgb, pal[idx])
            for name in args.variants:
                spec = VARIANTS[name]
                started = time.process_time()
                idx, pal = variant_indices(image, hist, k, **spec)
                seconds = time.process_time() - started
                q = quality(rgb, pal[idx])
                rows[name].append((q["delta_e"] / ref[1.0]["delta_e"], q["ssim"] - ref[1.0]["ssim"],
                                   q["delta_e"] / ref[0.0]["delta_e"], q["ssim"] - ref[0.0]["ssim"], seconds))
                print(f"{image_name:>22} k={k:<3} {name:<32} dE {q['delta_e']:.3f} (liq {ref[1.0]['delta_e']:.3f}/"
                      f"{ref[0.0]['delta_e']:.3f})  SSIM {q['ssim']:.4f} (liq {ref[1.0]['ssim']:.4f}/"
                      f"{ref[0.0]['ssim']:.4f})  {seconds:.2f}s", flush=True)
    print("\n| variant | ΔE ÷ liq (dither) | ΔSSIM vs liq (dither) | ΔE ÷ liq (no dither) | ΔSSIM vs liq (no dither) "
          "| worst ΔE ÷ liq-nodither | worst ΔSSIM vs liq-nodither | beats liq on both (dither / no dither) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, values in rows.items():
        v = np.array(values)
        # The target is per case: no higher ΔE and no lower SSIM than libimagequant's, at every k.
        beats = [int(((v[:, col] <= 1) & (v[:, col + 1] >= 0)).sum()) for col in (0, 2)]
        print(f"| {name} | {v[:, 0].mean():.3f} | {v[:, 1].mean():+.4f} | {v[:, 2].mean():.3f} | {v[:, 3].mean():+.4f} "
              f"| {v[:, 2].max():.3f} | {v[:, 3].min():+.4f} | {beats[0]} / {beats[1]} of {len(v)} "
              f"| {v[:, 4].mean():.2f} |")


if __name__ == "__main__":
    main()
