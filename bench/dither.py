"""The dithering section: quality on held-out photos against libimagequant, banding, and 12 MP remap time.

* **Quality.** On every held-out image at k = 16, 64, 256: dithered kmeans
  (Floyd–Steinberg, quant's own remap) against libimagequant's defaults,
  which dither, on the blurred ΔE2000 (`quant.metrics.blurred_delta_e`); and
  undithered kmeans against undithered libimagequant on mean ΔE2000 and SSIM.
  Every figure is computed from the output pixels alone, the same way for both
  (`bench.measure`).
* **Banding.** A smooth gradient at k = 16, per dither kind: the widest band
  (columns over which the image, averaged across the gradient, doesn't
  change) and the longest run of one palette index along a row.
* **Speed.** The dithered remap of the 12 MP photo, palette given, against
  libimagequant's own dithered remap (`liq_write_remapped_image`, called
  through the `imagequant` package's C bindings), in the same process.

`python -m bench.dither` runs the section alone and prints its JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import numpy as np

from .images import BIG, HOLDOUT, image_files

KS = (16, 64, 256)
#: The dither compared with libimagequant's: quant's best on the viewing metric (the README's table).
COMPARED = "floyd-steinberg"
REPEATS = 3


# --- banding -------------------------------------------------------------------------------------


def gradient(width: int = 768, height: int = 48) -> np.ndarray:
    """A smooth blue-to-orange gradient along x, a little different in each row: what bands at low k."""
    t = np.linspace(0, 1, width)[None, :, None]
    shade = np.linspace(0, 0.1, height)[:, None, None]
    start, end = np.array([20, 40, 90]), np.array([240, 170, 60])
    return np.clip(start + (t + shade * (1 - t)) * (end - start), 0, 255).round().astype(np.uint8)


def _middle(width: int) -> slice:
    """The middle 3/4 along the gradient: the ends lie beyond the palette's outermost colors (k-means puts
    each at its cluster's mean), where no dither can help."""
    return slice(width // 8, width - width // 8)


def widest_band(rendered: np.ndarray) -> int:
    """Banding as seen from a distance: the most adjacent columns whose color, averaged down the column
    (across the gradient), stays within half a level."""
    means = rendered[:, _middle(rendered.shape[1])].astype(np.float64).mean(axis=0)
    flat = np.abs(np.diff(means, axis=0)).max(axis=1) < 0.5
    return _longest_true(flat) + 1


def longest_run(indices: np.ndarray) -> int:
    """The longest run of one palette index along any row, in the gradient's middle 3/4."""
    rows = indices[:, _middle(indices.shape[1])]
    return max(_longest_true(np.diff(row) == 0) + 1 for row in rows)


def _longest_true(flags: np.ndarray) -> int:
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def bench_banding(k: int = 16) -> list[dict]:
    import quant

    prepared = quant.prepare(quant.from_array(gradient()), "kmeans")
    rows = []
    for name in quant.DITHERS:
        result = prepared.quantize(k, dither=name)
        rows.append({"dither": name, "k": k, "widest_band": widest_band(result.rgb()),
                     "longest_run": longest_run(result.indices), "blurred_delta_e": result.blurred_delta_e})
    return rows


# --- quality against libimagequant -----------------------------------------------------------------


def liq_pixels(rgb: np.ndarray, k: int, dither: float) -> np.ndarray:
    """libimagequant's output pixels, run the way its users run it (`imagequant.quantize_pil_image`)."""
    import imagequant
    from PIL import Image

    out = imagequant.quantize_pil_image(Image.fromarray(rgb).convert("RGBA"), dithering_level=dither, max_colors=k)
    return np.asarray(out.convert("RGB"))


def _scores(rgb: np.ndarray, quantized: np.ndarray) -> dict:
    from .measure import blurred_delta_e, mean_delta_e, ssim

    return {"blurred_delta_e": blurred_delta_e(rgb, quantized),
            "delta_e": mean_delta_e(rgb, quantized), "ssim": ssim(rgb, quantized)}


def bench_quality(images=HOLDOUT, ks=KS) -> list[dict]:
    import quant

    rows = []
    for image in images:
        rgb = np.load(image_files(image)[0])
        prepared = quant.prepare(quant.from_array(rgb), "kmeans")
        for k in ks:
            for label, quantized in (
                (f"kmeans {COMPARED}", prepared.quantize(k, dither=COMPARED).rgb()),
                ("kmeans", prepared.quantize(k).rgb()),
                ("libimagequant dithered", liq_pixels(rgb, k, 1.0)),
                ("libimagequant", liq_pixels(rgb, k, 0.0)),
            ):
                rows.append({"image": image, "k": k, "method": label, **_scores(rgb, quantized)})
                print(f"dither {image:>18} k={k:<3} {label:<26} blurred ΔE {rows[-1]['blurred_delta_e']:.3f}  "
                      f"ΔE {rows[-1]['delta_e']:.3f}  SSIM {rows[-1]['ssim']:.4f}", flush=True)
    return rows


# --- speed -----------------------------------------------------------------------------------------


def _liq_remap_seconds(rgb: np.ndarray, k: int, dither: float) -> float:
    """Seconds libimagequant takes to remap `rgb` to its own palette, dithered at `dither`: its remap alone."""
    from imagequant import ffi, lib

    height, width = rgb.shape[:2]
    rgba = np.ascontiguousarray(np.dstack([rgb, np.full((height, width), 255, np.uint8)]))
    attr = lib.liq_attr_create()
    lib.liq_set_max_colors(attr, k)
    image = lib.liq_image_create_rgba(attr, ffi.from_buffer(rgba), width, height, 0)
    result = ffi.new("liq_result **")
    try:
        if lib.liq_image_quantize(image, attr, result) != 0:
            raise RuntimeError("libimagequant could not quantize the image")
        lib.liq_set_dithering_level(result[0], dither)
        out = np.empty(height * width, np.uint8)
        started = time.perf_counter()
        lib.liq_write_remapped_image(result[0], image, ffi.from_buffer(out), out.size)
        return time.perf_counter() - started
    finally:
        if result[0] != ffi.NULL:
            lib.liq_result_destroy(result[0])
        lib.liq_image_destroy(image)
        lib.liq_attr_destroy(attr)


def bench_speed(image: str = BIG, ks=(16, 256), repeats: int = REPEATS) -> list[dict]:
    """quant's dithered remap (palette given) against libimagequant's, medians of interleaved repeats."""
    import quant
    from quant.remap import remap

    rgb = np.load(image_files(image)[0])
    prepared = quant.prepare(quant.from_array(rgb), "kmeans")
    rows = []
    for k in ks:
        plain = prepared.quantize(k)
        remap(plain.hist, plain.palette, dither=COMPARED)  # numba: loaded from its cache, untimed
        ours, theirs, ours_undithered = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            remap(plain.hist, plain.palette, dither=COMPARED)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            remap(plain.hist, plain.palette)
            ours_undithered.append(time.perf_counter() - started)
            theirs.append(_liq_remap_seconds(rgb, k, 1.0))
        row = {"image": image, "k": k, "dither": COMPARED, "quant_seconds": statistics.median(ours),
               "quant_undithered_seconds": statistics.median(ours_undithered),
               "liq_seconds": statistics.median(theirs), "repeats": repeats}
        row["ratio"] = row["quant_seconds"] / row["liq_seconds"]
        rows.append(row)
        print(f"dither speed {image} k={k}: quant {row['quant_seconds']:.3f} s, libimagequant "
              f"{row['liq_seconds']:.3f} s, ratio {row['ratio']:.2f}", flush=True)
    return rows


def bench_dither(images=HOLDOUT, ks=KS) -> dict:
    """The whole section, as `report` writes it, with the load average before and after."""
    load_before = os.getloadavg()
    section = {"banding": bench_banding(), "quality": bench_quality(images, ks), "speed": bench_speed()}
    return {**section, "load_before": load_before, "load_after": os.getloadavg()}


# --- the report ------------------------------------------------------------------------------------


def report(section: dict) -> list[str]:
    """The section's targets and tables, as Markdown lines."""
    quality = {(r["image"], r["k"], r["method"]): r for r in section["quality"]}
    cases = sorted({(image, k) for image, k, _ in quality}, key=lambda case: (HOLDOUT.index(case[0])
                                                                             if case[0] in HOLDOUT else 99, case[1]))
    dithered = f"kmeans {COMPARED}"
    wins = [quality[(*c, dithered)]["blurred_delta_e"] <= quality[(*c, "libimagequant dithered")]["blurred_delta_e"]
            for c in cases]
    undithered = [quality[(*c, "kmeans")]["delta_e"] <= quality[(*c, "libimagequant")]["delta_e"]
                  and quality[(*c, "kmeans")]["ssim"] >= quality[(*c, "libimagequant")]["ssim"] for c in cases]
    banding = {r["dither"]: r for r in section["banding"]}
    plain_band = banding["none"]["widest_band"]
    worst_band = max(r["widest_band"] for name, r in banding.items() if name != "none")
    speed = section["speed"]
    worst_ratio = max(r["ratio"] for r in speed)
    load = ", ".join(f"{value:.1f}" for value in section["load_before"])
    load_after = ", ".join(f"{value:.1f}" for value in section["load_after"])
    lines = ["", "## Dithering", "",
             f"Load average (1, 5, 15 min) before: {load}; after: {load_after} (2 cores).", "",
             "| target | result | met |", "|---|---|---|",
             f"| dithered kmeans ({COMPARED}) ≤ libimagequant defaults (dithered) on blurred ΔE2000, every held-out "
             f"image and k | {sum(wins)} of {len(wins)} cases | {'yes' if all(wins) else 'no'} |",
             f"| undithered kmeans ≤ undithered libimagequant on ΔE2000 and ≥ on SSIM, every case | "
             f"{sum(undithered)} of {len(undithered)} cases | {'yes' if all(undithered) else 'no'} |",
             f"| banding: widest band on a gradient at k=16, every dither far narrower than undithered | "
             f"{worst_band} px at worst against {plain_band} px | {'yes' if worst_band <= plain_band / 2 else 'no'} |",
             f"| 12 MP dithered remap ≤ 1.5 × libimagequant's dithered remap | {worst_ratio:.2f}× at worst | "
             f"{'yes' if worst_ratio <= 1.5 else 'no'} |",
             "", "### Quality on the held-out photos", "",
             "Blurred ΔE2000: mean CIEDE2000 after a 1-pixel Gaussian blur in linear light (the viewing metric). "
             "ΔE2000 and SSIM: per pixel. All from the output pixels, the same way for both quantizers.", "",
             f"| image | k | blurred ΔE {dithered} | blurred ΔE liq dithered | ΔE kmeans | ΔE liq | "
             "SSIM kmeans | SSIM liq |", "|---|---|---|---|---|---|---|---|"]
    for case in cases:
        ours, theirs = quality[(*case, dithered)], quality[(*case, "libimagequant dithered")]
        plain, liq = quality[(*case, "kmeans")], quality[(*case, "libimagequant")]
        lines.append(f"| {case[0]} | {case[1]} | {ours['blurred_delta_e']:.3f} | {theirs['blurred_delta_e']:.3f} | "
                     f"{plain['delta_e']:.3f} | {liq['delta_e']:.3f} | {plain['ssim']:.4f} | {liq['ssim']:.4f} |")
    lines += ["", "### Banding: a smooth gradient at k = 16, kmeans", "",
              "Widest band: adjacent columns whose color, averaged across the gradient, stays within half a level "
              "(banding as seen from a distance). Longest run: one palette index along a row. Both over the "
              "gradient's middle 3/4 (its ends lie beyond the palette's outermost colors).", "",
              "| dither | widest band px | longest run px | blurred ΔE2000 |", "|---|---|---|---|"]
    for name, r in banding.items():
        lines.append(f"| {name} | {r['widest_band']} | {r['longest_run']} | {r['blurred_delta_e']:.3f} |")
    repeats = speed[0].get("repeats", REPEATS) if speed else REPEATS
    lines += ["", f"### Speed: the dithered remap of {BIG} (palette given), medians of {repeats} interleaved runs", "",
              "| k | quant s | quant undithered s | libimagequant dithered remap s | ratio |", "|---|---|---|---|---|"]
    for r in speed:
        lines.append(f"| {r['k']} | {r['quant_seconds']:.3f} | {r['quant_undithered_seconds']:.3f} | "
                     f"{r['liq_seconds']:.3f} | {r['ratio']:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    import argparse

    from .images import GENERATED, TUNE, TUNE_HARD

    known = sorted({*TUNE, *TUNE_HARD, *HOLDOUT, *GENERATED})
    parser = argparse.ArgumentParser(prog="python -m bench.dither", description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", metavar="IMAGE",
                        help=f"benchmark images (default: the held-out set); one of: {', '.join(known)}")
    images = parser.parse_args(argv).images or list(HOLDOUT)
    unknown = [name for name in images if name not in known]
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)}; choose from: {', '.join(known)}")
    result = bench_dither(images=images)
    print(json.dumps(result))
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
