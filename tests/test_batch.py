"""Batch runs (issue 14): folders in, a mirrored tree out, on a real two-worker Dask LocalCluster.

The CLI runs are subprocesses, as a user runs them; the fault tests drive
`quant.batch` directly against a cluster shared by the module.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from cases import AWKWARD, REFUSALS, photo
from PIL import Image
from test_cli import run_cli, run_clis

import quant
from quant import batch
from quant.progress import Progress

GOOD = ["1×1", "two colors", "palette + transparency", "RGBA with holes", "CMYK JPEG", "EXIF-rotated JPEG",
        "animated GIF", "grayscale"]
BAD = ["empty", "random bytes", "truncated PNG", "text as JPEG"]


def make_tree(root: Path) -> dict[str, str]:
    """A folder tree of awkward (good) and refused (bad) files; returns relative path → "ok" or "error"."""
    expected = {}
    for index, name in enumerate(GOOD):
        case = AWKWARD[name]
        relative = Path("sub" if index % 2 else ".", "deep" if index % 3 == 0 else ".", case.filename)
        expected[str(relative)] = "ok"
    for index, name in enumerate(BAD):
        case = REFUSALS[name]
        expected[str(Path("bad" if index % 2 else ".", case.filename))] = "error"
    cases = {**{c.filename: c for c in AWKWARD.values()}, **{c.filename: c for c in REFUSALS.values()}}
    for relative in expected:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cases[path.name].data())
    for seed in range(3):  # photo-like files, big enough for kmeans to do real work
        Image.fromarray(photo(60, 80, seed=seed)).save(root / f"photo{seed}.png")
        expected[f"photo{seed}.png"] = "ok"
    (root / "notes.txt").write_text("not an image: never walked")
    (root / ".hidden.png").write_bytes(b"hidden files are skipped")
    return {str(Path(relative)): status for relative, status in expected.items()}


def output_of(relative: str, k: int = 8) -> str:
    path = Path(relative)
    return str(path.parent / f"{path.stem}.k{k}.kmeans.png")


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("batch")
    return root, make_tree(root / "in")


@pytest.fixture(scope="module")
def first_run(tree):
    root, _ = tree
    return run_cli("in", "-o", "out", "-k", "8", "--jobs", "2", "--json", cwd=root)


def test_a_folder_tree_is_mirrored_and_every_input_gets_one_manifest_line(tree, first_run):
    root, expected = tree
    assert first_run.returncode == 1, first_run.stderr  # bad files fail; the run goes on
    records = manifest(root / "out")
    assert sorted(str(Path(r["input"]).relative_to("in")) for r in records) == sorted(expected)
    workers = set()
    for record in records:
        relative = str(Path(record["input"]).relative_to("in"))
        assert record["status"] == expected[relative], record
        assert record["output"] == str(Path("out", output_of(relative)))
        assert set(record) >= {"input", "output", "method", "k", "colors", "bytes", "seconds", "status", "error",
                               "worker"}
        if record["status"] == "ok":
            assert record["error"] is None
            assert (root / record["output"]).stat().st_size == record["bytes"]
            assert record["worker"].startswith("tcp://")
            workers.add(record["worker"])
        else:
            assert record["error"] and record["colors"] is None
            assert not (root / record["output"]).exists()
            assert f"quant: {record['input']}: {record['error']}" in first_run.stderr
    assert len(workers) == 2  # both workers took images
    # stdout: one --json report per good input, in input order, whatever order they finished in
    reports = [json.loads(line) for line in first_run.stdout.splitlines()]
    assert [r["input"] for r in reports] == [str(Path("in", rel)) for rel in sorted(
        (rel for rel, status in expected.items() if status == "ok"), key=lambda rel: Path(rel).parts)]
    assert "Traceback" not in first_run.stderr


def test_outputs_are_the_bytes_of_single_runs(tree, first_run):
    root, expected = tree
    alone = run_cli("in", "-o", "alone", "-k", "8", "--jobs", "1", cwd=root)  # each file in this process, in turn
    assert alone.returncode == 1
    for relative, status in expected.items():
        if status == "ok":
            batched, alone_bytes = (root / "out" / output_of(relative)), (root / "alone" / output_of(relative))
            assert batched.read_bytes() == alone_bytes.read_bytes(), relative
    single = run_cli("in/photo1.png", "-k", "8", "-o", "single.png", cwd=root)
    assert single.returncode == 0, single.stderr
    assert (root / "single.png").read_bytes() == (root / "out" / "photo1.k8.kmeans.png").read_bytes()


def test_resume_rewrites_nothing_that_was_done(tree, first_run):
    root, expected = tree
    outputs = {rel: root / "out" / output_of(rel) for rel, status in expected.items() if status == "ok"}
    before = {rel: path.stat().st_mtime_ns for rel, path in outputs.items()}
    lines_before = len(manifest(root / "out"))
    again = run_cli("in", "-o", "out", "-k", "8", "--jobs", "2", "--resume", "--json", cwd=root)
    assert again.returncode == 1  # the bad files are tried again, and fail again
    assert again.stdout == ""
    assert {rel: path.stat().st_mtime_ns for rel, path in outputs.items()} == before
    new = manifest(root / "out")[lines_before:]
    assert sorted(r["status"] for r in new) == sorted(["skipped"] * len(outputs) + ["error"] * len(BAD))


def test_two_inputs_that_would_share_an_output_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder / "sub").mkdir(parents=True)
        Image.fromarray(photo()).save(tmp_path / folder / "sub" / "pic.png")
    done = run_cli("a", "b", "-o", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "a/sub/pic.png and b/sub/pic.png would both be written to" in done.stderr
    assert not (tmp_path / "out").exists()
    folder_alone = run_cli("a", cwd=tmp_path)
    assert folder_alone.returncode == 2 and "give -o OUT" in folder_alone.stderr


def test_a_shared_palette_is_one_palette_for_every_image(tmp_path):
    for seed, size in enumerate([(40, 60), (50, 50), (30, 90)]):
        Image.fromarray(photo(*size, seed=seed)).save(tmp_path / f"im{seed}.png")
    done = run_cli("im0.png", "im1.png", "im2.png", "-o", "out", "-k", "16", "--shared-palette", "--jobs", "2",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    palettes = {tuple(Image.open(tmp_path / "out" / f"im{seed}.k16.kmeans.png").getpalette()) for seed in range(3)}
    assert len(palettes) == 1
    assert len(palettes.pop()) // 3 >= 16
    assert [r["status"] for r in manifest(tmp_path / "out")] == ["ok"] * 3


# --- straight on a LocalCluster: a worker that dies, the tree of merges ------------------------


@pytest.fixture(scope="module")
def cluster():
    started = batch.start_cluster(None, 2, "1GB")
    yield started
    started.close()


def die_once(job, palette=None):
    """Kill the worker the first time it is given photo1; quantize normally otherwise."""
    marker = Path(job.source).with_suffix(".died")
    if job.source.endswith("photo1.png") and not marker.exists():
        marker.touch()
        os._exit(1)
    if job.source.endswith("photo2.png"):
        os._exit(1)  # every time: Dask gives up on it after ALLOWED_FAILURES retries
    return batch.quantize_file(job, palette)


def test_a_worker_killed_mid_run_costs_no_image(tmp_path, cluster):
    options = batch.Options(k=8)
    jobs = []
    for seed in range(6):
        Image.fromarray(photo(40, 50, seed=seed)).save(tmp_path / f"photo{seed}.png")
        jobs.append(batch.Job(f"photo{seed}.png", str(tmp_path / f"photo{seed}.png"),
                              str(tmp_path / "out" / f"photo{seed}.png"), options))
    records = {r["input"]: r for r in batch.run_on_dask(cluster.client, jobs, task=die_once)}
    assert (tmp_path / "photo1.died").exists()  # a worker did die
    assert set(records) == {job.name for job in jobs}
    assert records["photo2.png"]["status"] == "error" and "worker died" in records["photo2.png"]["error"]
    for job in jobs:
        if job.name != "photo2.png":
            assert records[job.name]["status"] == "ok", records[job.name]
            assert Path(job.target).read_bytes() == quant.quantize(
                quant.load_image(job.source), 8).png


def test_counts_merged_as_a_tree_are_the_counts_of_all_the_pixels(tmp_path):
    images = [photo(20, 30, seed=seed) for seed in range(5)]
    counts = []
    for seed, rgb in enumerate(images):
        Image.fromarray(rgb).save(tmp_path / f"{seed}.png")
        counts.append(batch.count_colors(batch.Job(str(seed), str(tmp_path / f"{seed}.png"), "unused.png",
                                                   batch.Options(method="kmeans-sklearn"))))
    merged = batch.merge_counts(batch.merge_counts(counts[0], counts[1]),
                                batch.merge_counts(batch.merge_counts(counts[2], counts[3]), counts[4]))
    together = quant.build_histogram(quant.from_array(np.concatenate(images)))
    np.testing.assert_array_equal(quant.histogram.unpack_rgb(merged.codes), together.colors)
    np.testing.assert_array_equal(merged.counts, together.counts)
    np.testing.assert_array_equal(merged.weights, together.counts)  # kmeans-sklearn weighs by counts


def test_assign_palette_picks_the_nearest_given_color(hist):
    colors = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)
    palette = quant.assign_palette(hist, colors)
    np.testing.assert_array_equal(palette.colors, colors)  # kept whole and in order
    distances = ((hist.colors[:, None, :].astype(int) - colors[None].astype(int)) ** 2).sum(-1)
    np.testing.assert_array_equal(distances[np.arange(len(hist)), palette.labels], distances.min(1))


def test_progress_prints_a_line_per_tenth_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(20, stream, bar=False)
    for index in range(20):
        progress.advance(ok=index != 3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("quant: 10% — 2 done, 0 failed, 18 left, ETA")
    assert lines[-1].startswith("quant: 100% — 19 done, 1 failed, 0 left")


def test_frames_all_turns_an_animated_gif_into_an_animated_gif_with_one_palette(tmp_path):
    frames = [Image.fromarray(photo(30, 40, seed=seed)) for seed in range(4)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=[40, 50, 60, 70], loop=0)
    done = run_cli("clip.gif", "-k", "8", "--frames", "all", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"].endswith("clip.k8.kmeans.gif")
    assert "4 frames, one palette" in done.stderr
    read = read_gif(tmp_path / "clip.k8.kmeans.gif")
    assert [mode for mode, _, _ in read] == ["P"] * 4  # no frame has a palette of its own
    assert len({palette for _, palette, _ in read}) == 1
    assert [duration for _, _, duration in read] == [40, 50, 60, 70]


def numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def test_a_lone_local_worker_is_single_threaded_numba_included():
    """Issue 14: one single-threaded worker per core. A lone worker on a 2-core machine once got 2 numba threads."""
    lone = batch.start_cluster(None, 1, "1GB")
    try:
        assert list(lone.client.run(numba_threads).values()) == [1]
    finally:
        lone.close()


def test_scheduler_runs_on_a_cluster_that_is_already_running(tmp_path, cluster):
    for seed in range(3):
        Image.fromarray(photo(30, 40, seed=seed)).save(tmp_path / f"im{seed}.png")
    address = cluster.local.scheduler_address
    done = run_cli("im0.png", "im1.png", "im2.png", "-o", "out", "-k", "8", "--scheduler", address, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workers = {record["worker"] for record in manifest(tmp_path / "out")}
    assert workers <= set(cluster.client.scheduler_info()["workers"]) and workers
    for seed in range(3):
        expected = quant.quantize(quant.load_image(tmp_path / f"im{seed}.png"), 8).png
        assert (tmp_path / "out" / f"im{seed}.k8.kmeans.png").read_bytes() == expected


def test_a_line_cut_short_by_a_crash_costs_only_itself(tmp_path):
    from quant.batch import Manifest

    manifest = Manifest(tmp_path / "manifest.jsonl")
    manifest.append({"input": "a.png", "status": "ok"})
    with open(manifest.path, "a") as handle:
        handle.write('{"input": "b.png", "sta')  # the run was killed mid-write
    manifest.append({"input": "c.png", "status": "ok"})
    assert [record["input"] for record in manifest.records()] == ["a.png", "c.png"]


# --- faults: a worker killed from outside, a worker over its memory limit, Ctrl-C ----------------


def photo_jobs(folder: Path, count: int, options: batch.Options, size=(40, 50)) -> list[batch.Job]:
    jobs = []
    for seed in range(count):
        Image.fromarray(photo(*size, seed=seed)).save(folder / f"photo{seed}.png")
        jobs.append(batch.Job(f"photo{seed}.png", str(folder / f"photo{seed}.png"),
                              str(folder / "out" / f"photo{seed}.png"), options))
    return jobs


def assert_every_image_written_as_alone(records: dict, jobs: list[batch.Job], k: int) -> None:
    assert set(records) == {job.name for job in jobs}
    for job in jobs:
        assert records[job.name]["status"] == "ok", records[job.name]
        assert Path(job.target).read_bytes() == quant.quantize(quant.load_image(job.source), k).png


def wait_for_killing(job, palette=None):
    """For photo1, the first time: say which process runs it, then wait to be killed from outside."""
    import time

    pid_file = Path(job.source).with_suffix(".pid")
    if job.source.endswith("photo1.png") and not pid_file.exists():
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)
        raise AssertionError("the worker was not killed")
    return batch.quantize_file(job, palette)


def test_a_worker_process_killed_from_outside_mid_task_costs_no_image(tmp_path, cluster):
    import signal
    import threading
    import time

    jobs = photo_jobs(tmp_path, 5, batch.Options(k=8))
    pid_file = tmp_path / "photo1.pid"

    def kill_when_running():
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    records = {r["input"]: r for r in batch.run_on_dask(cluster.client, jobs, task=wait_for_killing)}
    killer.join()
    assert pid_file.exists()  # the task did start, and was killed with its worker
    assert_every_image_written_as_alone(records, jobs, 8)


def over_memory_once(job, palette=None):
    """For photo2, the first time: grow past the worker's 1 GB limit and hold it until the nanny kills the worker."""
    import time

    marker = Path(job.source).with_suffix(".grew")
    if job.source.endswith("photo2.png") and not marker.exists():
        marker.touch()
        hog = np.ones(1_300_000_000, np.uint8)  # touched, so resident
        time.sleep(60)
        raise AssertionError(f"the worker was not stopped at its memory limit ({hog.sum()})")
    return batch.quantize_file(job, palette)


def test_a_worker_over_its_memory_limit_mid_run_costs_no_image(tmp_path, cluster):
    jobs = photo_jobs(tmp_path, 5, batch.Options(k=8))
    records = {r["input"]: r for r in batch.run_on_dask(cluster.client, jobs, task=over_memory_once)}
    assert (tmp_path / "photo2.grew").exists()
    assert_every_image_written_as_alone(records, jobs, 8)


def test_ctrl_c_during_a_dask_run_prints_one_line_and_leaves_no_partial_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from test_cli import ROOT

    (tmp_path / "in").mkdir()
    for seed in range(8):
        Image.fromarray(photo(500, 700, seed=seed)).save(tmp_path / "in" / f"photo{seed}.png")
    # Its own session, so that SIGINT goes to its whole process group, workers included, as a terminal's Ctrl-C does;
    # and SIGINT's default action restored, as a terminal gives it: a test run started in the background by a
    # shell (`make test &`) has SIGINT ignored, which Python and every child would inherit.
    run = subprocess.Popen([sys.executable, "-m", "quant", "in", "-o", "out", "-k", "64", "--jobs", "2"],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = tmp_path / "out" / "manifest.jsonl"
    deadline = time.monotonic() + 180
    while not (lines.exists() and lines.read_text().count("\n") >= 1) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, run.communicate()  # interrupted mid-run: images are left
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert [line for line in stderr.splitlines() if "%" not in line] == ["quant: interrupted"]
    records = manifest(tmp_path / "out")  # every line whole
    assert 1 <= len(records) < 8
    left = {path.name for path in (tmp_path / "out").iterdir()} - {"manifest.jsonl"}
    recorded = {Path(r["output"]).name for r in records if r["status"] == "ok"}
    # Every file left is a whole output: those recorded, and maybe some a worker finished as the run was stopped
    # (written by rename, so whole; --resume does them again). No temporary .part file.
    assert recorded <= left <= {f"photo{seed}.k64.kmeans.png" for seed in range(8)}
    for name in left:
        Image.open(tmp_path / "out" / name).verify()


# --- a shared palette that loses a worker; --resume and the options of the recorded outputs ------


def count_or_die(job):
    if job.source.endswith("photo1.png"):
        os._exit(1)  # every time: Dask gives up on counting it after ALLOWED_FAILURES retries
    return batch.count_colors(job)


def test_a_worker_dying_while_counting_a_shared_palette_fails_that_input_only(tmp_path, cluster):
    options = batch.Options(k=8, shared_palette=True)
    jobs = photo_jobs(tmp_path, 4, options)
    palette, errors = batch.shared_palette_on_dask(cluster.client, jobs, options, count=count_or_die)
    assert set(errors) == {"photo1.png"} and "worker died" in errors["photo1.png"]
    others = [job for job in jobs if job.name != "photo1.png"]
    expected, _ = batch.shared_palette_in_process(others, options)
    np.testing.assert_array_equal(palette, expected)  # the palette of the inputs that could be counted


def test_resume_redoes_an_output_made_with_other_options(tmp_path):
    for seed in range(2):
        Image.fromarray(photo(40, 50, seed=seed)).save(tmp_path / f"im{seed}.png")
    frames = [Image.fromarray(photo(30, 40, seed=seed)) for seed in range(3)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    common = ["im0.png", "im1.png", "clip.gif", "-o", "out", "-k", "8", "--jobs", "1", "--resume"]

    def statuses(*extra):
        lines = len(manifest(tmp_path / "out")) if (tmp_path / "out" / "manifest.jsonl").exists() else 0
        done = run_cli(*common, *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return {Path(r["output"]).name: r["status"] for r in manifest(tmp_path / "out")[lines:]}

    assert set(statuses().values()) == {"ok"}
    assert set(statuses().values()) == {"skipped"}
    shared = statuses("--shared-palette")
    assert shared == {"im0.k8.kmeans.png": "ok", "im1.k8.kmeans.png": "ok", "clip.k8.kmeans.png": "ok"}
    assert set(statuses("--shared-palette").values()) == {"skipped"}
    # --frames all: the GIF becomes an animation (another output); the stills are redone, made with other options
    assert statuses("--frames", "all") == {"im0.k8.kmeans.png": "ok", "im1.k8.kmeans.png": "ok",
                                           "clip.k8.kmeans.gif": "ok"}
    assert statuses("--frames", "all", "--frame-palettes") == {
        "im0.k8.kmeans.png": "ok", "im1.k8.kmeans.png": "ok", "clip.k8.kmeans.gif": "ok"}
    assert set(statuses("--frames", "all", "--frame-palettes").values()) == {"skipped"}


def test_a_manifest_line_from_before_the_options_were_recorded_counts_as_their_defaults(tmp_path):
    job = batch.Job("a.png", str(tmp_path / "a.png"), str(tmp_path / "a.k8.png"), batch.Options(k=8))
    record = batch.failed_record(job, None, status="ok")
    old = {name: value for name, value in record.items() if name not in ("frames", "shared_palette", "frame_palettes")}
    assert batch.Manifest.key(old) == batch.Manifest.key(record)
    shared = batch.failed_record(batch.Job(job.name, job.source, job.target, batch.Options(k=8, shared_palette=True)),
                                 None)
    assert batch.Manifest.key(old) != batch.Manifest.key(shared)


# --- animations: WebP and PNG in, per-frame palettes --------------------------------------------


def read_gif(path: Path) -> list[tuple[str, tuple, int]]:
    """Each frame of a GIF as (mode, palette, duration), its palettes as stored (not converted to RGB)."""
    from PIL import GifImagePlugin, ImageSequence

    strategy = GifImagePlugin.LOADING_STRATEGY
    GifImagePlugin.LOADING_STRATEGY = GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
    try:
        with Image.open(path) as out:
            return [(frame.mode, tuple(frame.getpalette()), frame.info["duration"])
                    for frame in ImageSequence.Iterator(out)]
    finally:
        GifImagePlugin.LOADING_STRATEGY = strategy


@pytest.mark.parametrize("suffix", [".webp", ".png"])
def test_an_animated_webp_or_png_becomes_an_animated_gif_keeping_frames_durations_and_loop(tmp_path, suffix):
    frames = [Image.fromarray(photo(30, 40, seed=seed)) for seed in range(4)]
    frames[0].save(tmp_path / f"clip{suffix}", save_all=True, append_images=frames[1:], duration=[40, 50, 60, 70],
                   loop=3, **({"lossless": True} if suffix == ".webp" else {}))
    Image.fromarray(photo(30, 40, seed=9)).save(tmp_path / f"still{suffix}", **({"lossless": True} if suffix == ".webp" else {}))
    done = run_cli(f"clip{suffix}", f"still{suffix}", "-o", "out", "-k", "8", "--frames", "all", "--jobs", "1",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "still.k8.kmeans.png").is_file()  # a still stays a still
    read = read_gif(tmp_path / "out" / "clip.k8.kmeans.gif")
    assert [duration for _, _, duration in read] == [40, 50, 60, 70]
    assert len({palette for _, palette, _ in read}) == 1
    with Image.open(tmp_path / "out" / "clip.k8.kmeans.gif") as out:
        assert out.info["loop"] == 3


def test_frame_palettes_give_each_frame_its_own_palette(tmp_path):
    # Frames of different colors: one reddish, one greenish, one bluish.
    frames = []
    for channel in range(3):
        rgb = photo(30, 40, seed=channel)
        rgb[..., channel] = 255
        frames.append(Image.fromarray(rgb))
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=[30, 40, 50], loop=0)
    done = run_cli("clip.gif", "-k", "8", "--frames", "all", "--frame-palettes", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 frames, a palette per frame" in done.stderr
    from PIL import ImageSequence

    with Image.open(tmp_path / "clip.k8.kmeans.gif") as out:
        shown = [(np.unique(np.asarray(frame.convert("RGB")).reshape(-1, 3), axis=0), frame.info["duration"])
                 for frame in ImageSequence.Iterator(out)]
    assert [duration for _, duration in shown] == [30, 40, 50]
    for (colors, _), channel in zip(shown, range(3), strict=True):
        assert len(colors) <= 8
        assert (colors[:, channel] >= 250).all()  # each frame's palette is clustered from its own colors
    assert len(np.unique(np.vstack([colors for colors, _ in shown]), axis=0)) > 8  # so 3 palettes, not 1
    assert json.loads(done.stdout)["colors"] > 8
    alone = run_cli("clip.gif", "-k", "8", "--frame-palettes", cwd=tmp_path)
    assert alone.returncode == 2 and "add --frames all" in alone.stderr


def shown_frames(path: Path) -> list[np.ndarray]:
    """Each frame of a GIF as it is shown, H×W×3 RGB."""
    from PIL import ImageSequence

    with Image.open(path) as out:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(out)]


def gradient_clip(path: Path, frames: int = 4) -> None:
    """An APNG of smooth gradients (exact pixels, unlike a GIF), shifted a little each frame: what k=8 bands."""
    y, x = np.mgrid[0:24, 0:96]
    pictures = []
    for shift in range(frames):
        ramp = (x + 3 * shift) / (96 + 3 * frames)
        rgb = np.stack([40 + 200 * ramp, 60 + 120 * ramp + y, 200 - 150 * ramp], axis=-1).astype(np.uint8)
        pictures.append(Image.fromarray(rgb))
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=[40, 50, 60, 70][:frames], loop=2)


def test_one_palette_for_an_animation_with_a_baseline_says_what_to_do_instead(tmp_path):
    frames = [Image.fromarray(photo(30, 40, seed=seed)) for seed in range(2)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    refused = run_cli("clip.gif", "-k", "8", "--frames", "all", "--method", "libimagequant", cwd=tmp_path)
    assert refused.returncode == 1
    assert "clip.gif: " in refused.stderr and "--method kmeans" in refused.stderr
    assert "--frame-palettes" in refused.stderr and "Traceback" not in refused.stderr
    done = run_cli("clip.gif", "-k", "8", "--frames", "all", "--frame-palettes", "--method", "libimagequant",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_frames_all_dithers_every_frame_onto_the_one_palette_as_a_still_would_be(tmp_path):
    from quant.animation import load_animation
    from quant.metrics import blurred_delta_e

    gradient_clip(tmp_path / "clip.png")
    dither = ("--dither", "floyd-steinberg")
    plain, dithered, again = run_clis([
        ("clip.png", "-k", "8", "--frames", "all", "-o", "plain.gif"),
        ("clip.png", "-k", "8", "--frames", "all", *dither, "-o", "dithered.gif"),
        ("clip.png", "-k", "8", "--frames", "all", *dither, "-o", "again.gif"),
    ], cwd=tmp_path)
    for done in (plain, dithered, again):
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "dithered.gif").read_bytes() == (tmp_path / "again.gif").read_bytes()
    read = read_gif(tmp_path / "dithered.gif")
    assert [mode for mode, _, _ in read] == ["P"] * 4 and len({palette for _, palette, _ in read}) == 1
    assert [duration for _, _, duration in read] == [40, 50, 60, 70]
    with Image.open(tmp_path / "dithered.gif") as out:
        assert out.info["loop"] == 2
    originals = [frame.rgb for frame in load_animation(str(tmp_path / "clip.png"), max_pixels=10**6).frames]
    shown, undithered = shown_frames(tmp_path / "dithered.gif"), shown_frames(tmp_path / "plain.gif")
    assert len(shown) == len(undithered) == 4
    colors = np.unique(np.vstack([frame.reshape(-1, 3) for frame in shown]), axis=0)
    assert len(colors) <= 8
    everywhere = np.ones(originals[0].shape[:2], bool)
    for original, frame, banded in zip(originals, shown, undithered, strict=True):
        assert (frame != banded).any(axis=-1).mean() > 0.2  # dithered, not the bands
        assert blurred_delta_e(original, frame, everywhere) < 0.9 * blurred_delta_e(original, banded, everywhere)
        # The pipeline's own dither onto the animation's palette: a still of this frame would be the same.
        alone = quant.quantize(quant.from_array(original), palette=colors, dither="floyd-steinberg")
        np.testing.assert_array_equal(frame, alone.rgb())


def test_frame_palettes_dither_each_frame_as_a_still_of_it_would_be(tmp_path):
    from quant.animation import load_animation

    gradient_clip(tmp_path / "clip.png", frames=3)
    done = run_cli("clip.png", "-k", "8", "--frames", "all", "--frame-palettes", "--dither", "atkinson",
                   "--dither-strength", "0.7", "-o", "out.gif", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    originals = load_animation(str(tmp_path / "clip.png"), max_pixels=10**6).frames
    for original, frame in zip(originals, shown_frames(tmp_path / "out.gif"), strict=True):
        alone = quant.quantize(original, 8, dither="atkinson", dither_strength=0.7)
        np.testing.assert_array_equal(frame, alone.rgb())


def test_a_shared_palette_maps_each_image_as_your_own_palette_does(tmp_path):
    """--shared-palette goes through `quant.quantize(image, palette=...)`: the same bytes, the same rules."""
    jobs = []
    for seed in range(2):
        Image.fromarray(photo(30, 40, seed=seed)).save(tmp_path / f"im{seed}.png")
    rgba = np.dstack([photo(30, 40, seed=5), np.where(np.arange(40) % 3, 255, 0)[None].repeat(30, 0)])
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(tmp_path / "holes.png")
    options = batch.Options(k=16, shared_palette=True, dither="sierra-lite")
    for name in ("im0.png", "im1.png", "holes.png"):
        jobs.append(batch.Job(name, str(tmp_path / name), str(tmp_path / "out" / name), options))
    colors, errors = batch.shared_palette_in_process(jobs, options)
    assert not errors
    records = list(batch.run_in_process(jobs, colors))
    assert [record["status"] for record in records] == ["ok"] * 3
    for job in jobs:
        mapped = quant.quantize(quant.load_image(job.source), palette=colors, dither="sierra-lite")
        assert Path(job.target).read_bytes() == mapped.png


def test_an_animation_with_transparency_on_256_colors_of_your_own_is_refused_as_a_still_is(tmp_path):
    y, x = np.mgrid[0:16, 0:16]
    (tmp_path / "all.txt").write_text(" ".join(f"#{v:02x}{v:02x}{v:02x}" for v in range(256)))
    frames = [np.dstack([np.full((16, 16, 3), 10 * shift, np.uint8), np.where(x > 3, 255, 0).astype(np.uint8)])
              for shift in range(2)]
    pictures = [Image.fromarray(frame, "RGBA") for frame in frames]
    pictures[0].save(tmp_path / "clip.png", save_all=True, append_images=pictures[1:], duration=50)
    pictures[0].save(tmp_path / "still.png")
    animated, still = run_clis([("clip.png", "--frames", "all", "--palette", "all.txt", "-o", "out.gif"),
                                ("still.png", "--palette", "all.txt", "-o", "out.png")], cwd=tmp_path)
    assert animated.returncode == still.returncode == 1
    message = "the image has transparent pixels and the palette has 256 colors"
    assert message in animated.stderr and message in still.stderr


def test_an_opaque_animation_at_k_256_and_one_with_a_fully_transparent_frame_are_written(tmp_path):
    frames = [Image.fromarray(photo(30, 40, seed=seed)) for seed in range(2)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    faded = [np.dstack([photo(30, 40, seed=seed), np.full((30, 40), 255 * seed, np.uint8)]) for seed in range(2)]
    pictures = [Image.fromarray(frame, "RGBA") for frame in faded]
    pictures[0].save(tmp_path / "fade.png", save_all=True, append_images=pictures[1:], duration=50, loop=0)
    runs = run_clis([("clip.gif", "-k", "256", "--frames", "all", "-o", "clip.out.gif"),
                     ("fade.png", "-k", "8", "--frames", "all", "--frame-palettes", "-o", "fade.out.gif")],
                    cwd=tmp_path)
    for done in runs:
        assert done.returncode == 0, done.stderr
    assert len(read_gif(tmp_path / "clip.out.gif")) == 2
    from PIL import ImageSequence

    with Image.open(tmp_path / "fade.out.gif") as out:
        alpha = [np.asarray(frame.convert("RGBA"))[..., 3] for frame in ImageSequence.Iterator(out)]
    assert [int(a.max()) for a in alpha] == [0, 255]  # the first frame stays wholly transparent


def test_ordered_dithers_keep_a_still_area_still_across_frames():
    from quant.animation import Animation, quantize_animation

    frames = []
    for seed in range(3):
        rgb = photo(24, 48, seed=0)
        rgb[:, 24:] = photo(24, 24, seed=seed + 1)  # the right half moves, the left half stays
        frames.append(quant.from_array(rgb))
    animation = Animation(tuple(frames), (50, 50, 50), 0)
    for dither in ("bayer8", "blue-noise"):
        done = quantize_animation(animation, batch.Options(k=8, frames="all", dither=dither))
        from PIL import ImageSequence

        with Image.open(io.BytesIO(done.gif)) as out:
            left = [np.asarray(frame.convert("RGB"))[:, :24] for frame in ImageSequence.Iterator(out)]
        assert all((half == left[0]).all() for half in left[1:]), dither


def test_your_own_palette_sorted_by_frequency_counts_every_frame():
    from quant.animation import Animation, quantize_animation

    red, blue, green = [200, 0, 0], [0, 0, 200], [0, 200, 0]
    first = np.full((4, 4, 3), red, np.uint8)
    first[0] = green
    frames = (quant.from_array(first), quant.from_array(np.full((4, 4, 3), blue, np.uint8)),
              quant.from_array(np.full((4, 4, 3), blue, np.uint8)))
    options = batch.Options(frames="all", palette=("#00c800", "#c80000", "#0000c8"), order="frequency")
    done = quantize_animation(Animation(frames, (50, 50, 50), 0), options)
    # blue: 32 pixels over the frames, red 12, green 4; the first frame alone would put red first.
    assert done.palettes[0].tolist() == [blue, red, green]


def test_a_dithered_run_s_shared_palette_is_the_clustering_s_own_not_the_polished_one(image, hist):
    """The last pass fits a palette to undithered output: a dithered run's shared palette skips it, as one image's does."""
    from quant.batch import Options, color_counts, palette_from_counts

    counts = color_counts(image, hist, quant.get_method("kmeans"))
    prepared = quant.prepare(image, "kmeans", hist=hist)
    plain = palette_from_counts(counts, Options(k=8))
    dithered = palette_from_counts(counts, Options(k=8, dither="floyd-steinberg"))
    np.testing.assert_array_equal(plain, prepared.palette(8).colors)
    np.testing.assert_array_equal(dithered, prepared.palette(8, polish=False).colors)
    assert not np.array_equal(plain, dithered)
