"""`python -m quant`: quantize image files and folders without a browser.

Several inputs run on a local Dask cluster (or a running one, --scheduler);
see `quant.batch`. Exit status: 0 when every image was written, 1 when any image failed (the
others are still processed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .animation import keeps_frames
from .batch import (
    IMAGE_EXTENSIONS,
    MANIFEST,
    Cluster,
    Job,
    Manifest,
    Options,
    cores,
    failed_record,
    remove_partial_files,
    run_in_process,
    run_on_dask,
    shared_palette_in_process,
    shared_palette_on_dask,
    start_cluster,
    walk,
)
from .colorspace import SPACES
from .dither import DITHERS
from .load import DEFAULT_MAX_PIXELS
from .methods import CUSTOM, METHODS
from .palette import K_MAX, K_MIN, ORDERS
from .palette_file import PaletteError, as_colors, hex_colors, read_palette
from .pipeline import SEED_MAX, quantize
from .progress import Progress
from .samples import DEFAULT_SAMPLE

#: Quality metrics the CLI can report, and how each is printed. Each costs time on a big image
#: (SSIM about 1 s at 12 MP), so only those asked for are computed.
METRICS = {
    "ssim": "SSIM {:.4f}",
    "psnr": "PSNR {:.2f} dB",
    "delta_e": "ΔE2000 {:.2f}",
    "blurred_delta_e": "blurred ΔE2000 {:.2f}",
}
#: What `--json` prints for each image, before the metrics asked for.
REPORT_KEYS = ("input", "output", "method", "k", "colors", "bytes", "seconds")


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
    inputs = [Input(f"sample:{DEFAULT_SAMPLE}", None)] if args.sample else _expand(parser, args)
    if not inputs:
        parser.error("give at least one IMAGE (or --sample)")
    _check_usage(parser, args, inputs)
    palette: tuple[str, ...] = ()
    if args.palette is not None:
        try:
            palette = tuple(hex_colors(read_palette(args.palette)))
        except PaletteError as exc:  # it would apply to every input: a usage error, before any work
            print(f"quant: {args.palette}: {exc} (nothing was written)", file=sys.stderr)
            return 2
        args.k, args.method = len(palette), CUSTOM.name  # what outputs are named and reports say
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
    options = Options(
        args.k,
        args.method,
        args.space,
        args.seed,
        tuple(args.metrics),
        args.max_pixels,
        args.frames,
        palette=palette,
        lock=args.lock,
        order=args.sort,
        dither=args.dither,
        dither_strength=args.dither_strength,
        shared_palette=args.shared_palette,
        frame_palettes=args.frame_palettes,
    )
    # Workers get absolute paths: a remote worker's working directory is not this one.
    jobs = [
        Job(s.name, None if s.path is None else os.path.abspath(s.path), str(t), options, os.path.abspath(t))
        for s, t in targets
    ]
    into_folder = args.output is not None and _output_is_folder(args.output, inputs)
    return _run(jobs, args, into_folder, walked=any(source.relative is not None for source in inputs))


def _run(jobs: list[Job], args: argparse.Namespace, into_folder: bool, *, walked: bool) -> int:
    """Run every job (skipping, with --resume, those the manifest has done) and report each in input order.

    Progress goes to stderr as a bar when it is a terminal; when it isn't (a
    log), runs over a folder get a line per 10 % and a summary, while a list
    of files keeps exactly the lines it always had: one per failed file.
    """
    manifest = Manifest(Path(args.output) / MANIFEST) if into_folder else None
    done = manifest.done() if manifest is not None and args.resume else set()
    pending = [job for job in jobs if Manifest.key(failed_record(job, None)) not in done]
    skipped = [job for job in jobs if Manifest.key(failed_record(job, None)) in done]
    for job in skipped:
        assert manifest is not None
        manifest.append(failed_record(job, None, status="skipped"))
    show_progress = len(pending) > 1 and (walked or sys.stderr.isatty())
    progress = Progress(len(pending)) if show_progress else None
    reporter = _Reporter(pending, args, progress)
    use_dask = args.scheduler is not None or (args.jobs > 1 and len(pending) > 1)
    try:
        cluster = start_cluster(args.scheduler, args.jobs, args.worker_memory) if use_dask and pending else None
    except (OSError, ValueError) as exc:  # no scheduler there (TimeoutError is an OSError), a bad address
        where = f"the Dask scheduler at {args.scheduler}" if args.scheduler else "a local Dask cluster"
        print(f"quant: cannot start on {where}: {exc} (nothing was written)", file=sys.stderr)
        if progress is not None:
            progress.close()
        return 1
    interrupted = False
    try:
        records = _records(cluster, pending, jobs if args.shared_palette else None, args)
        for record in records:
            if manifest is not None:
                manifest.append(record)
            if progress is not None:
                progress.advance(ok=record["status"] == "ok")
            reporter.add(record)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if progress is not None:
            progress.close()
        if cluster is not None:
            cluster.close()
        if interrupted:
            remove_partial_files(pending)  # a worker stopped mid-write leaves its temporary file; outputs stay
    if walked and manifest is not None:
        written = sum(1 for r in reporter.records if r["status"] == "ok")
        print(
            f"quant: {written} written, {reporter.failed} failed, {len(skipped)} skipped (done before); "
            f"manifest {manifest.path}",
            file=sys.stderr,
        )
    return 1 if reporter.failed else 0


def _records(cluster: Cluster | None, pending: list[Job], palette_from: list[Job] | None, args) -> Iterator[dict]:
    """Each pending job's record as it finishes; with a shared palette, that palette is built first.

    `palette_from` is every input of the run (with --resume, those done before
    too), so a resumed run maps its images to the same palette.
    """
    palette = None
    if palette_from is not None and pending:
        options = pending[0].options
        if cluster is None:
            palette, errors = shared_palette_in_process(palette_from, options)
        else:
            palette, errors = shared_palette_on_dask(cluster.client, palette_from, options)
        for job in pending:
            if job.name in errors:
                yield failed_record(job, errors[job.name])
        pending = [job for job in pending if job.name not in errors]
        if palette is None:  # no palette: every input left fails with the reason, none vanishes
            yield from (failed_record(job, "no shared palette could be built from the inputs") for job in pending)
            return
    if cluster is None:
        yield from run_in_process(pending, palette, quantize=quantize)
    else:
        yield from run_on_dask(cluster.client, pending, palette)


class _Reporter:
    """Prints each record, in the order the inputs were given, whatever order they finish in."""

    def __init__(self, jobs: list[Job], args: argparse.Namespace, progress: Progress | None):
        self.order = {job.target: index for index, job in enumerate(jobs)}
        self.args, self.progress = args, progress
        self.waiting: dict[int, dict] = {}
        self.next = 0
        self.records: list[dict] = []
        self.failed = 0

    def add(self, record: dict) -> None:
        self.records.append(record)
        self.failed += record["status"] == "error"
        self.waiting[self.order[record["output"]]] = record
        while self.next in self.waiting:
            self._print(self.waiting.pop(self.next))
            self.next += 1

    def _print(self, record: dict) -> None:
        say = self.progress.write if self.progress is not None else _to_stderr
        for notice in record.get("notes", ()):
            say(f"quant: {record['input']}: note: {notice}")
        if record["status"] == "error":
            say(f"quant: {record['input']}: {record['error']}")
            return
        report = {name: record[name] for name in REPORT_KEYS + tuple(self.args.metrics)}
        print(json.dumps(report) if self.args.json else _summary(report), flush=True)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Input:
    """One image to quantize: a file, or (with no path) the bundled sample.

    `relative` is its path under the folder it was found in, for a file found by walking a folder.
    """

    name: str
    path: Path | None
    relative: Path | None = None


def _expand(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Input]:
    """The IMAGE arguments as inputs: files as given, folders walked for image files."""
    inputs = []
    for name in args.images:
        path = Path(name)
        if not path.is_dir():
            inputs.append(Input(name, path))
            continue
        if args.output is None:
            parser.error(f"{name} is a folder: give -o OUT, the folder its images' tree is mirrored into")
        found = walk(path, skip=Path(args.output))
        if not found:
            print(f"quant: {name}: no images found ({', '.join(IMAGE_EXTENSIONS)})", file=sys.stderr)
        inputs += [Input(str(file), file, file.relative_to(path)) for file in found]
    return inputs


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace, inputs: list[Input]) -> None:
    if not K_MIN <= args.k <= K_MAX:
        parser.error(f"-k must be from {K_MIN} to {K_MAX}, not {args.k}")
    if not 0 <= args.seed <= SEED_MAX:
        parser.error(f"--seed must be from 0 to {SEED_MAX}, not {args.seed}")
    if not 0 <= args.dither_strength <= 1:  # NaN fails too
        parser.error(f"--dither-strength must be from 0 to 1, not {args.dither_strength}")
    if args.max_pixels < 1:
        parser.error(f"--max-pixels must be a positive number of pixels, not {args.max_pixels}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    one_file = args.output is not None and not _output_is_folder(args.output, inputs)
    if one_file and Path(args.output).suffix.lower() != _suffix(inputs[0], args):
        if _suffix(inputs[0], args) == ".gif":
            parser.error(f"-o {args.output}: with --frames all a GIF becomes an animated GIF: name it .gif")
        parser.error(f"-o {args.output}: outputs are PNG files, so its name must end in .png")
    if args.frames == "all" and args.shared_palette:
        parser.error("--frames all and --shared-palette don't go together yet: an animation gets its own palette")
    if args.frame_palettes and args.frames != "all":
        parser.error("--frame-palettes gives each frame of an animation its palette: add --frames all")
    if args.resume and (args.output is None or one_file):
        parser.error("--resume reads OUT/manifest.jsonl: give -o OUT, a folder")
    if args.palette is not None and (args.lock or args.shared_palette):
        parser.error("--palette maps every input to the file's colors: it takes no --lock or --shared-palette")
    if len(args.lock) > args.k:
        parser.error(f"--lock gives {len(args.lock)} colors, more than -k {args.k}: raise -k or lock fewer colors")
    if args.shared_palette and METHODS[args.method].is_baseline:
        parser.error(
            f"--shared-palette clusters the inputs' merged colors: {args.method} is a baseline, "
            "choose a clustering method (see --list-methods)"
        )


def _output_is_folder(output: str, inputs: list[Input]) -> bool:
    return (
        len(inputs) > 1
        or any(source.relative is not None for source in inputs)
        or output.endswith(("/", os.sep))
        or Path(output).is_dir()
    )


def _plan(inputs: list[Input], args: argparse.Namespace) -> list[tuple[Input, Path]]:
    """Each input with the file it will be written to: a walked folder's tree is mirrored under OUT."""
    out_is_folder = args.output is not None and _output_is_folder(args.output, inputs)
    planned = []
    for source in inputs:
        stem = source.path.stem if source.path is not None else source.name.removeprefix("sample:")
        default_name = f"{stem}.k{args.k}.{args.method}{_suffix(source, args)}"
        if args.output is None:
            target = (source.path.parent if source.path is not None else Path.cwd()) / default_name
        elif out_is_folder:
            subfolder = source.relative.parent if source.relative is not None else Path()
            target = Path(args.output) / subfolder / default_name
        else:
            target = Path(args.output)
        planned.append((source, target))
    return planned


def _suffix(source: Input, args: argparse.Namespace) -> str:
    """An output's extension: .gif for an animation with --frames all (it stays animated), .png otherwise."""
    return ".gif" if args.frames == "all" and source.path is not None and keeps_frames(source.path) else ".png"


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
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files, or folders (walked recursively for "
        f"{' '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)}; their tree is mirrored under -o OUT)",
    )
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
        "--dither",
        default="none",
        choices=list(DITHERS),
        metavar="KIND",
        help=f"dithering in the remap, for every method: {', '.join(DITHERS)} (default none; see --list-methods)",
    )
    parser.add_argument(
        "--dither-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="how much to dither, from 0 (none) to 1 (full, the default)",
    )
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
    palette = parser.add_argument_group("palette")
    palette.add_argument(
        "--palette",
        metavar="FILE",
        help="map every input to exactly these colors, no clustering, k from the file: a GIMP .gpl, "
        "a JSON or text list of hex codes, or an image (a palette image's palette, or its distinct colors)",
    )
    palette.add_argument(
        "--lock",
        type=_color_list,
        default=(),
        metavar="COLORS",
        help='colors every palette keeps exactly, e.g. "#000000,#ffffff"; they count towards -k '
        "(see --list-methods for how each method keeps them)",
    )
    palette.add_argument(
        "--sort",
        choices=ORDERS,
        metavar="ORDER",
        help=f"palette order in the PNG: {', '.join(ORDERS)} (default: frequency, most used first; "
        "a --palette file's own order)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    batch = parser.add_argument_group("several inputs")
    batch.add_argument(
        "--jobs",
        type=int,
        default=cores(),
        metavar="N",
        help=f"local Dask worker processes, one thread each (default: one per core, here {cores()}); "
        "1 runs every image in this process, without Dask",
    )
    batch.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this running Dask scheduler's workers instead (they need quant installed and "
        "the same filesystem: paths are sent, not pixels)",
    )
    batch.add_argument(
        "--worker-memory",
        default="auto",
        metavar="SIZE",
        help="memory limit of each local worker, e.g. 2GB (default auto: the machine's memory shared out); "
        "a worker over it is restarted and its image tried again elsewhere",
    )
    batch.add_argument(
        "--resume",
        action="store_true",
        help=f"skip inputs OUT/{MANIFEST} records as done whose output still exists",
    )
    batch.add_argument(
        "--shared-palette",
        action="store_true",
        help="one palette for every input, clustered from their merged colors",
    )
    parser.add_argument(
        "--frames",
        choices=("first", "all"),
        default="first",
        help="animated GIF, WebP and PNG: quantize the first frame to a PNG (default), or all of them, "
        "with one palette (and --dither), to an animated GIF",
    )
    parser.add_argument(
        "--frame-palettes",
        action="store_true",
        help="with --frames all: each frame quantized on its own, as a still (more colors, but they may flicker)",
    )
    parser.add_argument("--sample", action="store_true", help=f"quantize the bundled sample ({DEFAULT_SAMPLE})")
    parser.add_argument(
        "--list-methods", action="store_true", help="list the palette methods and the dither kinds, and exit"
    )
    return parser


def _metric_list(text: str) -> tuple[str, ...]:
    names = tuple(METRICS) if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown metric {', '.join(unknown)}; choose from {', '.join(METRICS)}, or 'all'"
        )
    return names


def _color_list(text: str) -> tuple[str, ...]:
    """--lock's hex codes, checked and written as #rrggbb."""
    try:
        return tuple(hex_colors(as_colors([code for code in re.split(r"[\s,]+", text) if code])))
    except PaletteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print_methods() -> None:
    width = max(map(len, METHODS))
    for method in METHODS.values():
        print(f"{method.name:<{width}}  {method.description}")
        seed = "; deterministic, the seed is ignored" if method.is_baseline else ""
        print(f"{'':<{width}}  [{method.kind}; {method.complexity}{seed}]")
        print(f"{'':<{width}}  [--lock: {method.lock_note}]")
    print(f"{CUSTOM.name:<{width}}  (--palette FILE) {CUSTOM.description}")
    print("\ndither kinds (--dither KIND, any method):")
    width = max(map(len, DITHERS))
    for dither in DITHERS.values():
        print(f"{dither.name:<{width}}  {dither.description}")
