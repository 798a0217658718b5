"""`python -m bench`: time, memory and quality of every method against the classical quantizers.

Every case runs in its own process (see `bench.case`); the parent measures
that process's peak resident memory with ``os.wait4``. Times are the median
of repeats, and every speed figure is a ratio against libimagequant's own
time on the same image and k, measured in the same run: the machine is
shared, so only ratios taken close together mean anything.

Writes ``bench/results/results.csv`` (one row per case), ``results.md`` (the
tables), ``cli.csv`` (the command line's time and peak memory) and
``startup.csv`` (every start-up and file-to-file run, see `bench.startup`). The page-latency
section (`bench.page`) drives a real Streamlit server with Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .case import EXTERNAL
from .child import run_child
from .images import ALL, BIG, RESULTS, image_files

KS = (8, 16, 64, 256)
REFERENCE = "liq-default"


def all_methods() -> list[str]:
    import quant

    return list(quant.METHODS) + list(EXTERNAL)  # pngquant is dropped later if not installed


def skip_reason(image: str, method: str, k: int, pixels: int) -> str | None:
    """Cases not run, and why (the table says so)."""
    if method == "sklearn-naive" and (k > 64 or (k == 64 and pixels >= 1_000_000)):
        return "skipped: per-pixel KMeans at this k takes minutes (the study's sweep: 2 min 54 s on 60,000 px)"
    return None


def bench_cases(args, methods) -> list[dict]:
    rows = []
    for image in args.images:
        npy, png = image_files(image)
        pixels = int(np.prod(np.load(npy, mmap_mode="r").shape[:2]))
        for k in args.ks:
            for method in methods:
                row = {"image": image, "pixels": pixels, "k": k, "method": method}
                reason = skip_reason(image, method, k, pixels)
                if reason:
                    row["status"] = reason
                    rows.append(row)
                    print(f"{image:>20} k={k:<3} {method:<16} {reason}", flush=True)
                    continue
                repeats = 1 if method == "sklearn-naive" else args.repeats
                spec = {"npy": str(npy), "png": str(png), "method": method, "k": k, "repeats": repeats}
                status, text, wall, peak = run_child(
                    [sys.executable, "-m", "bench.case", json.dumps(spec)], args.timeout)
                if status is None:
                    row["status"] = f"timeout: over {args.timeout:.0f} s"
                elif status != 0:
                    row["status"] = text.strip().splitlines()[-1] if text.strip() else "error"
                else:
                    row.update(json.loads(text.strip().splitlines()[-1]))
                    row["status"] = "ok"
                    row["peak_mb"] = round(peak, 1)
                    del row["runs"]
                rows.append(row)
                print(f"{image:>20} k={k:<3} {method:<16} " + (
                    f"{row['seconds']:.3f}s  {peak:.0f}MB  ΔE {row['delta_e']:.3f}  SSIM {row['ssim']:.4f}"
                    if row["status"] == "ok" else row["status"]), flush=True)
    _add_ratios(rows)
    return rows


def _add_ratios(rows):
    reference = {(r["image"], r["k"]): r for r in rows if r["method"] == REFERENCE and r["status"] == "ok"}
    for row in rows:
        ref = reference.get((row["image"], row["k"]))
        if ref and row["status"] == "ok":
            row["time_ratio"] = row["seconds"] / ref["seconds"]
            row["cpu_ratio"] = row["cpu_seconds"] / ref["cpu_seconds"]
            # A lossless reference (the moon at k = 256 has fewer colors) leaves no error to divide by.
            row["delta_e_ratio"] = row["delta_e"] / ref["delta_e"] if ref["delta_e"] > 0 else None
            row["ssim_diff"] = row["ssim"] - ref["ssim"]


def bench_cli(args, methods) -> list[dict]:
    """Time and peak memory of `python -m quant` on the big images, metrics included."""
    rows = []
    for image in args.cli_images:
        npy, png = image_files(image)
        for method in methods:
            for k in args.cli_ks:
                with tempfile.TemporaryDirectory() as folder:
                    out = Path(folder) / "out.png"
                    argv = [sys.executable, "-m", "quant", str(png), "-k", str(k), "--method", method,
                            "-o", str(out), "--json", "--metrics", "all"]
                    status, text, wall, peak = run_child(argv, args.timeout * 3)
                row = {"image": image, "method": method, "k": k, "wall_seconds": round(wall, 2),
                       "peak_mb": round(peak, 1)}
                if status == 0:
                    report = json.loads(text.strip().splitlines()[-1])
                    row.update(quant_seconds=report["seconds"], ssim=report["ssim"], delta_e=report["delta_e"],
                               status="ok")
                else:
                    row["status"] = "timeout" if status is None else text.strip()[-200:]
                rows.append(row)
                print(f"CLI {image:>10} k={k:<3} {method:<14} {row['status']} wall {wall:.1f}s peak {peak:.0f}MB",
                      flush=True)
    return rows


def bench_sweep(args) -> dict:
    """The k sweep (8 values, 2…256) on a 1 MP image, against one libimagequant run at k=256."""
    npy, png = image_files(args.sweep_image)
    spec = {"npy": str(npy), "repeats": max(args.repeats, 5)}
    status, text, wall, peak = run_child([sys.executable, "-m", "bench.sweep", json.dumps(spec)],
                                         args.timeout * 3)
    if status != 0:
        return {"status": "timeout" if status is None else text[-300:]}
    result = json.loads(text.strip().splitlines()[-1])
    result["status"] = "ok"
    result["peak_mb"] = round(peak, 1)
    return result


def machine() -> dict:
    import imagequant
    import numba
    import PIL
    import sklearn

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    pngquant = subprocess.run(["pngquant", "--version"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("pngquant") else "not installed"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "numpy": np.__version__, "scikit-learn": sklearn.__version__, "numba": numba.__version__,
            "pillow": PIL.__version__, "imagequant": getattr(imagequant, "__version__", "1.1.5 (pinned)"),
            "pngquant": pngquant, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes: small samples and the 12 MP image at k=16 and 256, "
                             "kmeans and the baselines, no 50 MP run; start-up with 3 rounds")
    parser.add_argument("--images", nargs="+", help=f"images (default: {' '.join(ALL)})")
    parser.add_argument("--methods", nargs="+", help="methods (default: every registry method and baseline)")
    parser.add_argument("--ks", nargs="+", type=int, help=f"k values (default: {' '.join(map(str, KS))})")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case; the median is kept")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds before a case is killed")
    parser.add_argument("--no-cases", action="store_true", help="skip the per-method cases (CLI, sweep and start-up only)")
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line memory runs")
    parser.add_argument("--cli-images", nargs="+", default=["gen12mp", "gen50mp"])
    parser.add_argument("--cli-ks", nargs="+", type=int, default=[256],
                        help="k for the command-line runs (default 256, the largest palette)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the k sweep")
    parser.add_argument("--sweep-image", default="gen1mp")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the start-up section (--list-methods time, CLI file to file against libimagequant)")
    parser.add_argument("--startup-images", nargs="+", default=[BIG],
                        help=f"images for the file-to-file runs (default {BIG})")
    parser.add_argument("--startup-ks", nargs="+", type=int, default=[256],
                        help="k for the file-to-file runs (default 256, the target's)")
    parser.add_argument("--startup-repeats", type=int, default=5,
                        help="interleaved rounds of the file-to-file runs; medians are kept")
    parser.add_argument("--list-repeats", type=int, default=7, help="fresh `--list-methods` runs; the median is kept")
    parser.add_argument("--no-page", action="store_true",
                        help="skip the page-latency section (a real Streamlit server driven by Chromium)")
    parser.add_argument("--no-batch", action="store_true",
                        help="skip the batch section (48 images on 1 and 2 Dask workers, pngquant, a dask scheduler)")
    parser.add_argument("--batch-images", type=int, default=48, help="images in the batch section (default 48)")
    parser.add_argument("--no-dither", action="store_true",
                        help="skip the dithering section (held-out photos against libimagequant, banding, 12 MP remap)")
    parser.add_argument("--tag", default="", help="suffix for the output files, e.g. results-TAG.md")
    args = parser.parse_args(argv)

    methods = args.methods or all_methods()
    if args.quick:
        args.images = args.images or ["chelsea", "china", BIG]
        args.ks = args.ks or [16, 256]
        methods = args.methods or ["kmeans", "libimagequant", "liq-default", "liq-nodither", "pngquant",
                                   "pillow-mediancut"]
        args.cli_images = ["gen12mp"]
        args.cli_ks = [16]
        args.repeats = min(args.repeats, 2)
        args.startup_repeats = min(args.startup_repeats, 3)
        args.list_repeats = min(args.list_repeats, 5)
    args.images = args.images or list(ALL)
    args.ks = args.ks or list(KS)
    if REFERENCE not in methods:
        methods = [REFERENCE] + methods  # every ratio needs it
    methods = [m for m in methods if m != "pngquant" or shutil.which("pngquant")]

    from .page import bench_page
    from .report import write_report
    from .startup import bench_startup

    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(json.dumps(info), flush=True)
    started = time.time()
    rows = [] if args.no_cases else bench_cases(args, methods)
    cli_methods = [m for m in methods if m not in EXTERNAL]
    cli_rows = [] if args.no_cli else bench_cli(args, cli_methods)
    sweep = None if args.no_sweep else bench_sweep(args)
    startup = None if args.no_startup else bench_startup(args)
    page = None if args.no_page else bench_page(args)
    batch = None
    if not args.no_batch:
        from .batch import bench_batch

        batch = bench_batch(args.batch_images)
        (RESULTS / f"batch{f'-{args.tag}' if args.tag else ''}.json").write_text(json.dumps(batch, indent=2))
    dither = None
    if not args.no_dither:
        from .dither import bench_dither

        dither = bench_dither(("china",), (16, 256)) if args.quick else bench_dither()
        (RESULTS / f"dither{f'-{args.tag}' if args.tag else ''}.json").write_text(json.dumps(dither, indent=2))
    write_report(rows, cli_rows, sweep, info, time.time() - started, RESULTS, tag=args.tag, startup=startup,
                 page=page, batch=batch, dither=dither)
    suffix = f"-{args.tag}" if args.tag else ""
    print(f"\nwrote {RESULTS / f'results{suffix}.md'}, results{suffix}.csv, cli{suffix}.csv")
    return 0
