"""Many images at once: folders walked into a mirrored output tree, run in-process or on Dask, with a manifest.

The CLI (`quant IN... -o OUT`) plans one `Job` per input and hands the jobs
to `run_in_process` or `run_on_dask`. Both call the same worker function,
`quantize_file`, which takes paths and options, never pixels: a Dask worker
reads its input and writes its output itself, so the filesystem must be
shared between the client and the workers. Each finished job is one
`record` (the ``--json`` report plus ``status``, ``error``, ``worker``),
appended to ``OUT/manifest.jsonl`` as it arrives.

`--shared-palette` is a map and a tree of combines: each worker counts the
colors of its images (`count_colors`), pairs of counts are merged on the
workers (`merge_counts`) until one is left, one palette is clustered from
it (`palette_from_counts`), and every image is mapped to it.

Dask is imported only here, and only when a run uses it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageError
from .load import LoadedImage, load_image

if TYPE_CHECKING:  # the CLI imports this module: the engine's heavier modules load when work starts
    from .histogram import Histogram
    from .methods import Method

#: File extensions a folder is walked for (lower case; matched case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MANIFEST = "manifest.jsonl"
#: `quant.quantize`'s signature: (image, k, method, *, space, seed, dither, dither_strength) -> Result.
Quantizer = Callable[..., Any]
#: Times a task may take a worker down with it before it is recorded as failed (Dask's `allowed-failures`).
ALLOWED_FAILURES = 2


@dataclass(frozen=True)
class Options:
    """What every input of a run is quantized with."""

    k: int = 16
    method: str = "kmeans"
    space: str = "rgb"
    seed: int = 0
    metrics: tuple[str, ...] = ()
    max_pixels: int = 50_000_000
    #: ``"all"``: an input whose target is a .gif keeps every frame (`quant.animation`); else the first frame.
    frames: str = "first"
    #: How the remap dithers (`quant.DITHERS`), and how much (0…1).
    dither: str = "none"
    dither_strength: float = 1.0
    #: Your own palette (``--palette``) as hex codes: every input is mapped to it (method ``"custom"``).
    palette: tuple[str, ...] = ()
    #: Colors every palette keeps (``--lock``), as hex codes.
    lock: tuple[str, ...] = ()
    #: The palette's order (``--sort``); None: as given for your own palette, else by frequency.
    order: str | None = None
    #: One palette for every input of the run (``--shared-palette``), built before any is mapped.
    shared_palette: bool = False
    #: With ``frames="all"``: a palette of its own for each frame, instead of one for the animation.
    frame_palettes: bool = False

    def dither_keywords(self) -> dict[str, Any]:
        """`Prepared.quantize`'s dither keywords: how every image (and every frame) of the run is dithered."""
        return {"dither": self.dither, "dither_strength": self.dither_strength}

    def palette_keywords(self) -> dict[str, Any]:
        """`quant.quantize`'s palette, lock and order keywords, only those set (a test's quantizer may lack them)."""
        keywords = {"palette": self.palette or None, "lock": self.lock or None, "order": self.order}
        return {name: value for name, value in keywords.items() if value is not None}

    def settings(self) -> dict[str, Any]:
        """The options a record keeps beside its figures: with the method and k, what made its output."""
        # A custom palette is noted by a short fingerprint, not up to 256 codes on every manifest line.
        palette = hashlib.sha256(" ".join(self.palette).encode()).hexdigest()[:16] if self.palette else None
        return {
            "space": self.space,
            "seed": self.seed,
            "frames": self.frames,
            "shared_palette": self.shared_palette,
            "frame_palettes": self.frame_palettes,
            "dither": self.dither,
            "dither_strength": self.dither_strength,
            "palette": palette,
            "lock": list(self.lock) or None,
            "order": self.order,
        }


@dataclass(frozen=True)
class Job:
    """One input and where its output goes; what a worker receives (paths, not pixels).

    `name` and `target` are as the user gave them (what reports show);
    `source` (None for the bundled sample) and `write_to` are what the worker
    opens and writes, absolute, since a remote worker's working directory is
    not the client's. `write_to` defaults to `target`.
    """

    name: str
    source: str | None
    target: str
    options: Options
    write_to: str | None = None

    @property
    def output_path(self) -> Path:
        return Path(self.write_to if self.write_to is not None else self.target)


def walk(folder: Path, *, skip: Path | None = None) -> list[Path]:
    """Image files under `folder`, recursively, sorted; hidden files and folders, and `skip`, left out."""
    found = []
    skip_resolved = skip.resolve() if skip is not None else None
    for top, folders, files in os.walk(folder):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and (skip_resolved is None or Path(top, name).resolve() != skip_resolved)
        )
        found += [
            Path(top, name) for name in files if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return sorted(found, key=lambda path: path.relative_to(folder).parts)


# --- the worker functions: module-level, taking paths and options --------------------------------


def quantize_file(job: Job, palette: np.ndarray | None = None, *, quantize: Quantizer | None = None) -> dict[str, Any]:
    """Quantize `job`'s input and write its PNG8 atomically; return its record. Never raises for a bad file.

    With `palette`, every pixel is mapped to the nearest of those colors
    instead of a palette of its own (``--shared-palette``). `quantize`
    replaces `quant.quantize` (the CLI passes its own, so it can be swapped
    in tests).
    """
    options = job.options
    started = time.perf_counter()
    record: dict[str, Any] = {"input": job.name, "output": job.target, "method": options.method, "k": options.k}
    if options.frames == "all" and job.target.lower().endswith(".gif") and job.source is not None:
        return _quantize_animation(job, record, started)
    try:
        image = _load(job)
        result = _quantize(image, options, palette, quantize)
        write_atomically(job.output_path, result.png)
        record.update(colors=len(result.palette.colors), bytes=len(result.png))
        record["seconds"] = round(time.perf_counter() - started, 3)  # file to file: the metrics are extra
        for metric in options.metrics:
            value = getattr(result, metric)
            # JSON has no infinity: an exact copy reports a PSNR of null.
            record[metric] = None if math.isinf(value) else round(value, 6 if metric == "ssim" else 4)
        record.update(status="ok", error=None)
        notes = [*image.notices, *result.notices]
    except Exception as exc:  # noqa: BLE001 — a bad file is a record, not a failed task: the run goes on
        return _failed(record, options, started, exc)
    record.update(options.settings(), worker=worker_address(), notes=notes)
    return record


def _quantize_animation(job: Job, record: dict[str, Any], started: float) -> dict[str, Any]:
    """`quantize_file` for every frame of an animation: an animated GIF out. Metrics are not computed."""
    from .animation import load_animation, quantize_animation

    options = job.options
    assert job.source is not None
    try:
        _refuse_to_overwrite_the_input(job, job.source)
        animation = load_animation(job.source, max_pixels=options.max_pixels)
        done = quantize_animation(animation, options)
        write_atomically(job.output_path, done.gif)
        record.update(colors=done.colors, bytes=len(done.gif), seconds=round(time.perf_counter() - started, 3))
        record.update({metric: None for metric in options.metrics})
        record.update(status="ok", error=None)
        palettes = "a palette per frame" if options.frame_palettes else "one palette"
        notes = [f"{done.frames} frames, {palettes}" + (" (metrics are not computed)" if options.metrics else "")]
    except Exception as exc:  # noqa: BLE001 — as in quantize_file
        return _failed(record, options, started, exc)
    record.update(options.settings(), worker=worker_address(), notes=notes)
    return record


def _failed(record: dict[str, Any], options: Options, started: float, exc: BaseException) -> dict[str, Any]:
    """`record` completed for an input that failed: its error, and no figures."""
    record.update(colors=None, bytes=None, seconds=round(time.perf_counter() - started, 3))
    record.update({metric: None for metric in options.metrics})
    record.update(status="error", error=describe(exc))
    record.update(options.settings(), worker=worker_address(), notes=[])
    return record


def describe(exc: BaseException) -> str:
    """What to tell the user about a failed input: the message for expected failures, the type for a bug."""
    if isinstance(exc, MemoryError):
        return "not enough memory to process this image"
    if isinstance(exc, ImageError | ValueError | OSError):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc})"


def _load(job: Job) -> LoadedImage:
    if job.source is None:
        from .samples import DEFAULT_SAMPLE, sample_image

        return sample_image(job.name.removeprefix("sample:") or DEFAULT_SAMPLE)
    _refuse_to_overwrite_the_input(job, job.source)
    return load_image(job.source, max_pixels=job.options.max_pixels)


def _refuse_to_overwrite_the_input(job: Job, source: str) -> None:
    if _resolved(job.output_path) == _resolved(Path(source)):
        raise ValueError(f"refusing to overwrite the input file {job.target}")


def _quantize(image: LoadedImage, options: Options, palette: np.ndarray | None, quantize: Quantizer | None):
    """`image` through the pipeline: its own palette, or (``--shared-palette``) mapped to the set's `palette`.

    The set's palette is mapped to as ``--palette`` maps to your own colors
    (the one path, with its transparency rule): kept whole, in the order it
    was clustered in.
    """
    from .pipeline import quantize as pipeline_quantize

    run = pipeline_quantize if quantize is None else quantize
    common = {"space": options.space, "seed": options.seed, **options.dither_keywords()}
    if palette is not None:
        return run(image, palette=palette, order="given", **common)
    return run(image, options.k, options.method, **common, **options.palette_keywords())


def worker_address() -> str:
    """The Dask worker running this call, or ``"local"`` in the client's own process."""
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return get_worker().address
        except ValueError:  # not inside a worker
            pass
    return "local"


# --- shared palette: a map of color counts, a tree of merges, one palette ------------------------


@dataclass(frozen=True)
class ColorCounts:
    """Distinct colors of one or more images (packed 24-bit RGB, sorted), with pixel counts and method weights.

    `error` is set (and the arrays empty) for an input that couldn't be read.
    """

    codes: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    transparent: bool = False
    error: str | None = None


def count_colors(job: Job) -> ColorCounts:
    """`job`'s input as color counts, weighted as its method weighs them (kmeans: by flatness)."""
    from .histogram import build_histogram
    from .methods import get_method

    try:
        image = _load(job)
        return color_counts(image, build_histogram(image), get_method(job.options.method))
    except Exception as exc:  # noqa: BLE001 — recorded against the input, as quantize_file does
        empty = np.zeros(0)
        return ColorCounts(empty.astype(np.uint32), empty.astype(np.int64), empty, error=describe(exc))


def color_counts(image: LoadedImage, hist: Histogram, method: Method) -> ColorCounts:
    """`image`'s colors with their pixel counts, and weighted as `method` weighs them (kmeans: by flatness)."""
    from .histogram import pack_rgb

    weigh = getattr(method, "weigh", None)
    params = method.resolve_params(None)
    weights = hist.counts.astype(np.float64) if weigh is None else np.asarray(weigh(image, hist, **params))
    codes = pack_rgb(hist.colors[None])[0].astype(np.uint32)
    return ColorCounts(codes, hist.counts, weights.astype(np.float64), image.opaque is not None)


def merge_counts(a: ColorCounts, b: ColorCounts) -> ColorCounts:
    """One set of counts for the colors of both: counts and weights of a color present in both add up."""
    codes, inverse = np.unique(np.concatenate([a.codes, b.codes]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([a.counts, b.counts]), minlength=len(codes))
    weights = np.bincount(inverse, weights=np.concatenate([a.weights, b.weights]), minlength=len(codes))
    return ColorCounts(codes.astype(np.uint32), counts.astype(np.int64), weights, a.transparent or b.transparent)


def error_of(counts: ColorCounts) -> str | None:
    return counts.error


def palette_from_counts(counts: ColorCounts, options: Options) -> np.ndarray:
    """The palette `options.method` clusters from merged counts, as the pipeline would for one image."""
    from .histogram import Histogram, reduce_histogram, unpack_rgb
    from .methods import ClusteringMethod, get_method
    from .palette import PaletteWork
    from .remap import is_dithered

    method = get_method(options.method)
    if not isinstance(method, ClusteringMethod):
        raise ValueError(
            f"one palette for several images or frames is clustered from their merged colors, which the baseline "
            f"{method.name} can't do: choose a clustering method (--method kmeans), or for an animation give each "
            "frame its own palette (--frame-palettes)"
        )
    if len(counts.codes) == 0:
        raise ValueError("no input could be read, so there are no colors to build a palette from")
    hist = Histogram(unpack_rgb(counts.codes), counts.counts, np.zeros((0, 0), np.int32))
    # A stand-in image: the palette stage only asks it whether there is transparency (one slot is kept for it).
    image = LoadedImage(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), bool) if counts.transparent else None)

    class Merged(PaletteWork):
        def _reduce(self):
            return reduce_histogram(self.hist, self.method.max_entries, weights=counts.weights)

    from .palette_file import as_colors

    lock = as_colors(options.lock) if options.lock else None
    order = options.order or "frequency"
    work = Merged(image, hist, method, options.space, method.resolve_params(None), lock=lock, order=order)
    # As for one image: the method's last pass fits a palette to undithered output, so a dithered run skips it.
    undithered = not is_dithered(options.dither, options.dither_strength)
    return work.palette(options.k, options.seed, polish=undithered).colors


# --- running: in this process, or on Dask ------------------------------------------------------


def run_in_process(
    jobs: Iterable[Job], palette: np.ndarray | None = None, *, quantize: Quantizer | None = None
) -> Iterator[dict[str, Any]]:
    """Each job's record, one after another, in this process (``--jobs 1``, or a single input)."""
    for job in jobs:
        yield quantize_file(job, palette, quantize=quantize)


@dataclass
class Cluster:
    """A Dask client, and the LocalCluster it started (None when it joined a running scheduler)."""

    client: Any
    local: Any = None

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


def start_cluster(scheduler: str | None, workers: int, memory_limit: str = "auto") -> Cluster:
    """A client on `scheduler` (``tcp://host:port``), or on a new LocalCluster of single-threaded worker processes.

    A task whose worker dies (a crash, or the nanny's memory limit) is run
    again on another worker, up to `ALLOWED_FAILURES` times; then it is
    recorded as failed. With a running scheduler, that number is the
    scheduler's own setting.
    """
    import logging

    import dask
    from distributed import Client, LocalCluster

    dask.config.set(
        {
            "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
            # One image per worker thread at a time: when a worker dies, only the image it was running is
            # suspected, not one merely queued behind it (a poison file must not take innocent ones along).
            "distributed.scheduler.worker-saturation": 1.0,
        }
    )
    if scheduler is not None:
        return Cluster(Client(scheduler, timeout="10s"))
    config, environment = _local_worker_settings()
    dask.config.set(config)
    with _ctrl_c_ignored():  # the workers start with Ctrl-C ignored, and keep it so (the "preload" below)
        local = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            host="127.0.0.1",
            # The scheduler serves HTTP (health, and a dashboard if bokeh is installed) whatever you ask;
            # a free loopback port rather than 8787 keeps two runs from warning about each other.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
            env=environment,
            preload=[__name__],  # `dask_setup` below, in every worker, restarted ones too
        )
    return Cluster(Client(local), local)


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ctrl-C ignored while the block runs, so that processes started in it inherit that.

    A terminal sends Ctrl-C's SIGINT to every process of the run, local
    workers included. Only the client should act on it (close the cluster,
    print one line); a worker that got it would die printing tracebacks.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_setup(worker: Any) -> None:
    """Run by each local worker as it starts (a Dask preload): Ctrl-C is the client's to handle.

    Workers started with the cluster inherit an ignored SIGINT; this keeps it
    ignored in a worker the nanny starts again later (after a crash).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _local_worker_settings() -> tuple[dict[str, Any], dict[str, str]]:
    """Dask settings and environment that let local worker processes run as fast as a plain process, one core each.

    * ``MALLOC_TRIM_THRESHOLD_`` unset: Dask's nanny sets it (to 65,536) so that
      freed memory goes back to the system at once, but setting it turns off
      glibc's adaptive mmap threshold, so every array over 128 kB becomes a
      fresh ``mmap``, faulted in page by page and unmapped when freed. On a
      1 MP image that was ~80,000 page faults and 0.12–0.17 s of system time
      per image; without it a worker runs as fast as the CLI's own process.
      Memory stays bounded by the worker's memory limit.
    * ``NUMBA_NUM_THREADS=1``: every worker single-threaded, numba's parallel
      kernels included (issue 14: one single-threaded worker per core). N
      workers never run more than N threads, and one worker is one core's
      throughput, the unit ``--jobs N`` multiplies, however few workers a run
      asks for on however many cores. Set in the worker only (the nanny's
      ``env``): numba refuses a new thread count in a process whose threads
      are running, such as this one. Outputs do not depend on it (those
      kernels work point by point).
    """
    config = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    return config, {"NUMBA_NUM_THREADS": "1"}


def run_on_dask(
    client: Any,
    jobs: list[Job],
    palette: np.ndarray | None = None,
    *,
    task: Callable[..., dict[str, Any]] = quantize_file,
) -> Iterator[dict[str, Any]]:
    """Each job's record as it finishes, computed by `task` on the cluster's workers: one task per job.

    A job whose task killed every worker it was tried on (`KilledWorker`)
    is recorded as an error; the others go on.
    """
    from distributed import as_completed

    if not jobs:
        return
    extra = {} if palette is None else {"palette": palette}
    futures = client.map(task, jobs, pure=False, **extra)
    job_of = {future.key: job for future, job in zip(futures, jobs, strict=True)}
    for future in as_completed(futures):
        job = job_of[future.key]
        try:
            record = future.result()
        except Exception as exc:  # noqa: BLE001 — KilledWorker, a lost connection: the job's failure, not the run's
            record = failed_record(job, worker_died(exc))
        future.release()
        yield record


def shared_palette_on_dask(
    client: Any, jobs: list[Job], options: Options, *, count: Callable[[Job], ColorCounts] = count_colors
) -> tuple[np.ndarray | None, dict[str, str]]:
    """One palette for every job's image, and the inputs that couldn't be counted (name → message).

    Counts are computed on the workers (by `count`) and merged there, two at
    a time, so no machine ever holds more than two sets of counts and their
    merge. An input whose counting task killed every worker it was tried on
    (`KilledWorker`) is one of the failed inputs, like an unreadable file:
    the palette is built from the others. With no palette (nothing could be
    counted, or its own task failed), the palette is None.
    """
    from distributed import wait

    counted = client.map(count, jobs, pure=False)
    messages = client.map(error_of, counted, pure=False)
    wait(messages)
    errors, layer = {}, []
    for job, counts, message in zip(jobs, counted, messages, strict=True):
        if message.status == "error":
            errors[job.name] = worker_died(message.exception())
        elif message.result() is not None:
            errors[job.name] = message.result()
        else:
            layer.append(counts)
    if not layer:
        return None, errors
    while len(layer) > 1:
        pairs = [layer[i : i + 2] for i in range(0, len(layer), 2)]
        layer = [client.submit(merge_counts, *pair, pure=False) if len(pair) == 2 else pair[0] for pair in pairs]
    colors = client.submit(palette_from_counts, layer[0], options, pure=False)
    wait(colors)
    palette = None if colors.status == "error" else _palette_or_error(colors.result)
    return palette, errors


def worker_died(exc: BaseException | None) -> str:
    """The error recorded for an input whose task took down every worker it was given to."""
    return f"its worker died {ALLOWED_FAILURES + 1} times ({type(exc).__name__})"


def shared_palette_in_process(jobs: list[Job], options: Options) -> tuple[np.ndarray | None, dict[str, str]]:
    """`shared_palette_on_dask`, in this process."""
    merged: ColorCounts | None = None
    errors = {}
    for job in jobs:
        counts = count_colors(job)
        if counts.error:
            errors[job.name] = counts.error
        merged = counts if merged is None else merge_counts(merged, counts)
    assert merged is not None, "at least one job"
    return _palette_or_error(lambda: palette_from_counts(merged, options)), errors


def _palette_or_error(make: Callable[[], np.ndarray]) -> np.ndarray | None:
    try:
        return make()
    except ValueError:  # nothing could be read: every input is already recorded as an error
        return None


def failed_record(job: Job, message: str | None, *, status: str = "error") -> dict[str, Any]:
    """The record of a job that produced no output this run: it failed, or (`status="skipped"`) was done before."""
    options = job.options
    record: dict[str, Any] = {"input": job.name, "output": job.target, "method": options.method, "k": options.k}
    record.update(colors=None, bytes=None, seconds=0.0)
    record.update({metric: None for metric in options.metrics})
    record.update(options.settings(), status=status, error=message, worker=None, notes=[])
    return record


# --- the manifest -----------------------------------------------------------------------------


class Manifest:
    """``OUT/manifest.jsonl``: one JSON line per input, appended (and flushed) as each result arrives.

    A run killed half-way leaves every line it wrote whole, so `--resume`
    can read it back. Lines are only ever appended, never rewritten.
    """

    def __init__(self, path: Path):
        self.path = path

    def done(self) -> set[tuple]:
        """Keys (`key`) of the records with status ok whose output still exists."""
        found = set()
        for record in self.records():
            if record.get("status") == "ok" and Path(record["output"]).is_file():
                found.add(self.key(record))
        return found

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a crash mid-write: that input is simply redone
                continue
        return records

    @staticmethod
    def key(record: dict[str, Any]) -> tuple:
        """What makes two records the same work: the same output from the same input and options.

        A line written before a setting was recorded counts as made with
        that setting's default.
        """
        defaults = Options().settings()
        return (
            str(_resolved(Path(record["input"]))),
            str(_resolved(Path(record["output"]))),
            record["method"],
            record["k"],
            *(_hashable(record.get(name, default)) for name, default in defaults.items()),
        )

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({name: value for name, value in record.items() if name != "notes"}) + "\n"
        with open(self.path, "a+") as handle:  # one write of one whole line
            handle.seek(0, os.SEEK_END)
            if handle.tell():  # a run killed mid-line left a fragment: end it, so this line stays whole
                handle.seek(handle.tell() - 1)
                if handle.read(1) != "\n":
                    line = "\n" + line
            handle.write(line)


# --- writing files --------------------------------------------------------------------------


def write_atomically(target: Path, data: bytes) -> None:
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


def remove_partial_files(jobs: Iterable[Job]) -> None:
    """Delete what an interrupted `write_atomically` left beside each job's output: never a finished file."""
    for job in jobs:
        target = job.output_path
        for partial in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
            partial.unlink(missing_ok=True)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it
        os.umask(umask)
        return 0o666 & ~umask


def _hashable(value: Any) -> Any:
    """A manifest value fit for a key: JSON gives lists (the locked colors) where a key needs tuples."""
    return tuple(value) if isinstance(value, list) else value


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


__all__ = [
    "ALLOWED_FAILURES",
    "IMAGE_EXTENSIONS",
    "MANIFEST",
    "Cluster",
    "ColorCounts",
    "Job",
    "Manifest",
    "Options",
    "cores",
    "count_colors",
    "describe",
    "failed_record",
    "merge_counts",
    "palette_from_counts",
    "quantize_file",
    "remove_partial_files",
    "run_in_process",
    "run_on_dask",
    "shared_palette_in_process",
    "shared_palette_on_dask",
    "start_cluster",
    "walk",
    "write_atomically",
]
