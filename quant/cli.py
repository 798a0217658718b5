"""`python -m quant`: quantize image files without a browser.

Exit status: 0 when every image was written, 1 when any image failed (the
others are still processed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .colorspace import SPACES
from .errors import ImageError
from .load import DEFAULT_MAX_PIXELS, load_image
from .methods import METHODS
from .palette import K_MAX, K_MIN
from .pipeline import SEED_MAX, Result, quantize
from .samples import DEFAULT_SAMPLE, sample_image

#: Quality metrics the CLI can report, and how each is printed. Each costs time on a big image
#: (SSIM about 1 s at 12 MP), so only those asked for are computed.
METRICS = {"ssim": "SSIM {:.4f}", "psnr": "PSNR {:.2f} dB", "delta_e": "ΔE2000 {:.2f}"}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Outputs are written by rename, so an interrupted run leaves no partial file behind.
        print("quant: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_methods:
        _print_methods()
        return 0
    inputs = [Input(f"sample:{DEFAULT_SAMPLE}", None)] if args.sample else [Input(n, Path(n)) for n in args.images]
    if not inputs:
        parser.error("give at least one IMAGE (or --sample)")
    _check_usage(parser, args, len(inputs))
    targets = _plan(inputs, args)
    clashes = _clashes(targets)
    for target, names in clashes.items():
        print(
            f"quant: {' and '.join(names)} would {'both' if len(names) == 2 else 'all'} be written to {target}; "
            "write them to separate folders or rename one (nothing was written)",
            file=sys.stderr,
        )
    if clashes:
        return 2
    failed = 0
    for source, target in targets:
        try:
            report = _process(source, target, args)
        except (ImageError, ValueError, OSError) as exc:
            print(f"quant: {source.name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        except MemoryError:
            print(f"quant: {source.name}: not enough memory to process this image", file=sys.stderr)
            failed += 1
            continue
        except Exception as exc:  # noqa: BLE001 — a bug must not stop the other files, nor show a traceback
            print(f"quant: {source.name}: internal error ({type(exc).__name__}: {exc})", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps(report) if args.json else _summary(report), flush=True)
    return 1 if failed else 0


@dataclass(frozen=True)
class Input:
    """One image to quantize: a file, or (with no path) the bundled sample."""

    name: str
    path: Path | None


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace, count: int) -> None:
    if not K_MIN <= args.k <= K_MAX:
        parser.error(f"-k must be from {K_MIN} to {K_MAX}, not {args.k}")
    if not 0 <= args.seed <= SEED_MAX:
        parser.error(f"--seed must be from 0 to {SEED_MAX}, not {args.seed}")
    if args.max_pixels < 1:
        parser.error(f"--max-pixels must be a positive number of pixels, not {args.max_pixels}")
    one_file = args.output is not None and not _output_is_folder(args.output, count)
    if one_file and Path(args.output).suffix.lower() != ".png":
        parser.error(f"-o {args.output}: outputs are PNG files, so its name must end in .png")


def _output_is_folder(output: str, count: int) -> bool:
    return count > 1 or output.endswith(("/", os.sep)) or Path(output).is_dir()


def _plan(inputs: list[Input], args: argparse.Namespace) -> list[tuple[Input, Path]]:
    """Each input with the file it will be written to."""
    out_is_folder = args.output is not None and _output_is_folder(args.output, len(inputs))
    planned = []
    for source in inputs:
        stem = source.path.stem if source.path is not None else source.name.removeprefix("sample:")
        default_name = f"{stem}.k{args.k}.{args.method}.png"
        if args.output is None:
            target = (source.path.parent if source.path is not None else Path.cwd()) / default_name
        elif out_is_folder:
            target = Path(args.output) / default_name
        else:
            target = Path(args.output)
        planned.append((source, target))
    return planned


def _clashes(targets: list[tuple[Input, Path]]) -> dict[Path, list[str]]:
    """Outputs that two or more inputs would be written to, with those inputs' names."""
    by_target: dict[Path, list[str]] = {}
    for source, target in targets:
        by_target.setdefault(_resolved(target), []).append(source.name)
    return {target: names for target, names in by_target.items() if len(names) > 1}


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _summary(report: dict) -> str:
    scores = [METRICS[name].format(report[name]) for name in METRICS if name in report]
    return (
        f"{report['input']} -> {report['output']}: {report['colors']} colors, "
        + "".join(f"{score}, " for score in scores)
        + f"{report['bytes']:,} bytes, {report['seconds']:.2f} s"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quant",
        description="Reduce images to K colors by clustering, and save them as palette PNGs.",
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files to quantize")
    parser.add_argument("-k", type=int, default=16, help=f"number of colors, {K_MIN}-{K_MAX} (default 16)")
    parser.add_argument(
        "--method",
        default="kmeans",
        choices=list(METHODS),
        metavar="NAME",
        help="palette method (default kmeans; see --list-methods)",
    )
    parser.add_argument("--space", default="rgb", choices=list(SPACES), help="color space for clustering (default rgb)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (one input) or folder (several inputs); default: NAME.k{K}.{method}.png next to each input",
    )
    parser.add_argument(
        "--metrics",
        type=_metric_list,
        default=(),
        metavar="NAMES",
        help=f"quality metrics to compute and report: a comma-separated list of "
        f"{', '.join(METRICS)}, or 'all' (default: none, which is fastest)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument("--sample", action="store_true", help=f"quantize the bundled sample ({DEFAULT_SAMPLE})")
    parser.add_argument("--list-methods", action="store_true", help="list the palette methods and exit")
    return parser


def _metric_list(text: str) -> tuple[str, ...]:
    names = tuple(METRICS) if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown metric {', '.join(unknown)}; choose from {', '.join(METRICS)}, or 'all'"
        )
    return names


def _print_methods() -> None:
    width = max(map(len, METHODS))
    for method in METHODS.values():
        print(f"{method.name:<{width}}  {method.description}")
        seed = "; deterministic, the seed is ignored" if method.is_baseline else ""
        print(f"{'':<{width}}  [{method.kind}; {method.complexity}{seed}]")


def _process(source: Input, target: Path, args: argparse.Namespace) -> dict:
    if source.path is not None and _resolved(target) == _resolved(source.path):
        raise ValueError(f"refusing to overwrite the input file {target}")
    started = time.perf_counter()
    image = sample_image(DEFAULT_SAMPLE) if source.path is None else load_image(source.path, max_pixels=args.max_pixels)
    for notice in image.notices:
        print(f"quant: {source.name}: note: {notice}", file=sys.stderr)
    result = quantize(image, args.k, args.method, space=args.space, seed=args.seed)
    for notice in result.notices:
        print(f"quant: {source.name}: note: {notice}", file=sys.stderr)
    _write_atomically(target, result.png)
    seconds = time.perf_counter() - started  # file to file: the metrics below are extra
    return _report(source.name, target, args, result, seconds)


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file beside `target`, then rename: readers never see half a PNG.

    A failure names `target`, not the temporary file, and leaves any old `target` as it was.
    """
    try:
        _write_through_temporary(target, data)
    except OSError as exc:
        raise OSError(f"cannot write {target}: {exc.strerror or exc}") from None


def _write_through_temporary(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        # mkstemp makes a private (0600) file: give it the mode a plain open() would, or the replaced file's.
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it
        os.umask(umask)
        return 0o666 & ~umask


def _report(name: str, target: Path, args: argparse.Namespace, result: Result, seconds: float) -> dict:
    report = {
        "input": name,
        "output": str(target),
        "method": args.method,
        "k": args.k,
        "colors": len(result.palette.colors),
        "bytes": len(result.png),
        "seconds": round(seconds, 3),
    }
    for metric in args.metrics:
        value = getattr(result, metric)
        # JSON has no infinity: an exact copy reports a PSNR of null.
        report[metric] = None if math.isinf(value) else round(value, 6 if metric == "ssim" else 4)
    return report
