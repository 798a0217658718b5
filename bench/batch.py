"""The batch section (issue 14): a folder of 48 photo-like 1 MP images at k=64, on Dask and with pngquant.

* **Throughput**, images per second, of a warm LocalCluster of 1 and of 2
  single-threaded worker processes (`quant.batch.run_on_dask`, the CLI's own
  runner; the cluster is started and each worker has quantized one small image
  before the clock starts), and of the `pngquant 64` CLI over the same files,
  one process at a time and two at a time.
* **The command line**, wall clock from the shell: ``quant IN -o OUT -k 64``
  with ``--jobs 1`` (in-process), ``--jobs 2`` (a LocalCluster started by the
  run: its start-up is in the time), and ``--scheduler`` on a separately
  started ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.
  The outputs of every quant run are compared byte for byte.
* **Memory**: each worker's peak resident set (``ru_maxrss``, read on the
  worker after its run), and one worker's peak on the 12 MP photo.

Targets: 2 workers ≥ 1.7× the throughput of 1; quant's throughput as it runs
by default (one single-threaded worker per core) ≥ pngquant's over the same
files, at equal k, taking pngquant's faster way (one process, whose OpenMP
threads use both cores, or two at once); a worker ≤ 1 GB at 12 MP. The runs
one process each (a single-threaded worker against a multi-threaded pngquant)
and the CPU time per image are reported beside them. The 2 cores are shared:
the load average is recorded beside every run.

    python -m bench.batch              # everything; writes bench/results/batch.json and batch.md
    python -m bench.batch --images 8   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
FOLDER = RESULTS / "batch"
K = 64
SIZE = (1152, 864)
BASES = ("chelsea", "astronaut", "coffee", "china", "flower", "rocket")


def make_images(count: int) -> Path:
    """`count` generated photos (the bundled samples, upscaled, with light, colour casts and noise), made once."""
    from PIL import Image

    from .images import generated_photo, load

    made = FOLDER / "in"
    made.mkdir(parents=True, exist_ok=True)
    bases = {}
    for index in range(count):
        path = made / f"photo{index:02d}.png"
        if not path.exists():
            name = BASES[index % len(BASES)]
            if name not in bases:
                bases[name] = load(name)
            rgb = generated_photo(bases[name], *SIZE, seed=100 + index)
            Image.fromarray(rgb).save(path, compress_level=1)
    if count == len(list(made.glob("*.png"))):
        return made
    # Fewer than were made before (--images 8): a folder of links to the first `count`.
    folder = FOLDER / f"in-{count}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for index in range(count):
        (folder / f"photo{index:02d}.png").symlink_to(made / f"photo{index:02d}.png")
    return folder


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _children_cpu() -> float:
    """User + system CPU of every finished child process of this one, so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT.parent)}


def _digest(folder: Path) -> str:
    """One hash of every PNG under `folder`, by relative path: equal trees, equal digests."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.png")):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


# --- a warm LocalCluster, timed in a child process -------------------------------------------


def child_dask(workers: int, images: Path, out: Path, k: int, memory: str) -> dict:
    """Run in a child: start a LocalCluster, warm every worker, then time the folder."""
    import resource

    from quant import batch

    cluster = batch.start_cluster(None, workers, memory)
    client = cluster.client
    try:
        client.wait_for_workers(workers)
        paths = sorted(images.glob("*.png"))
        options = batch.Options(k=k)
        warm = [batch.Job("warm", str(paths[0]), str(out / ".warm" / f"{i}.png"), options) for i in range(workers)]
        # One image per worker before the clock: imports and numba's compile cache, as any long run has paid.
        client.gather(client.map(_warm, warm, pure=False))
        jobs = [batch.Job(p.name, str(p), str(out / f"{p.stem}.k{k}.kmeans.png"), options) for p in paths]
        cpu_before = client.run(_cpu_seconds)
        load_before = _load()
        started = time.perf_counter()
        records = list(batch.run_on_dask(client, jobs))
        seconds = time.perf_counter() - started
        cpu_after = client.run(_cpu_seconds)
        user = sum(after[0] - cpu_before[w][0] for w, after in cpu_after.items())
        system = sum(after[1] - cpu_before[w][1] for w, after in cpu_after.items())
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        cluster.close()
    shutil.rmtree(out / ".warm", ignore_errors=True)
    ok = sum(r["status"] == "ok" for r in records)
    return {
        "run": f"dask {workers} worker{'s' if workers > 1 else ''}",
        "workers": workers,
        "images": len(jobs),
        "ok": ok,
        "seconds": round(seconds, 2),
        "images_per_s": round(ok / seconds, 3),
        "cpu_s_per_image": round((user + system) / max(ok, 1), 3),
        "system_s_per_image": round(system / max(ok, 1), 3),
        "peak_mb_per_worker": sorted(round(v) for v in peaks.values()),
        "per_worker": {w: sum(r["worker"] == w for r in records) for w in peaks},
        "load_before": load_before,
        "load_after": _load(),
    }


def _cpu_seconds() -> tuple[float, float]:
    """User and system CPU of this worker process, all its threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _warm(job):
    from quant import batch

    return batch.quantize_file(job)


def run_child_dask(workers: int, images: Path, k: int, memory: str, name: str) -> dict:
    out = FOLDER / name
    shutil.rmtree(out, ignore_errors=True)
    spec = json.dumps({"workers": workers, "images": str(images), "out": str(out), "k": k, "memory": memory})
    done = subprocess.run([sys.executable, "-m", "bench.batch", "--child", spec], cwd=ROOT.parent, env=_env(),
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return {"run": name, "status": done.stderr[-500:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(status="ok", digest=_digest(out))
    return result


# --- the command line, and pngquant ----------------------------------------------------------


def run_cli(name: str, images: Path, k: int, *extra: str) -> dict:
    out = FOLDER / name
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "quant", str(images), "-o", str(out), "-k", str(k), *extra]
    load_before = _load()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT.parent, env=_env(), capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before  # the CLI and its local workers; not a remote cluster's workers
    count = len(list(images.glob("*.png")))
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()] \
        if (out / "manifest.jsonl").exists() else []
    return {
        "run": name,
        "command": " ".join(["quant", "IN", "-o", "OUT", "-k", str(k), *extra]),
        "status": "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}",
        "images": count,
        "seconds": round(seconds, 2),
        "images_per_s": round(count / seconds, 3),
        **({} if "--scheduler" in extra else {"cpu_s_per_image": round(cpu / count, 3)}),
        "workers_used": len({r["worker"] for r in records}),
        "load_before": load_before,
        "load_after": _load(),
        "digest": _digest(out),
    }


def run_pngquant(images: Path, k: int, processes: int) -> dict:
    out = FOLDER / f"pngquant-{processes}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    paths = sorted(images.glob("*.png"))

    def one(path: Path) -> int:
        argv = ["pngquant", str(k), "--force", "--output", str(out / path.name), str(path)]
        return subprocess.run(argv, capture_output=True).returncode

    load_before = _load()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        codes = list(pool.map(one, paths))
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    return {
        "run": f"pngquant, {processes} at a time",
        "workers": processes,
        "images": len(paths),
        "ok": sum(code == 0 for code in codes),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(paths) / seconds, 3),
        "cpu_s_per_image": round(cpu / len(paths), 3),
        "load_before": load_before,
        "load_after": _load(),
        "status": "ok",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_external(images: Path, k: int) -> dict:
    """``dask scheduler`` and two ``dask worker`` processes on loopback, then ``quant --scheduler``."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    python = sys.executable
    scheduler = [python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"]
    worker = [python, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
              "--nworkers", "1", "--no-dashboard", "--memory-limit", "2GB"]
    # What README's cluster recipe gives a worker, and `quant.batch` its local ones: glibc's default malloc
    # (the nanny's MALLOC_TRIM_THRESHOLD_ costs ~0.1 s of page faults per image), numba on one thread each.
    env = {**_env(), "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": "{'MALLOC_TRIM_THRESHOLD_': None}",
           "NUMBA_NUM_THREADS": "1"}
    logs = FOLDER / "external-logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen] = []
    with contextlib.ExitStack() as files:
        try:
            for argv, log in ((scheduler, "scheduler"), (worker, "worker0"), (worker, "worker1")):
                stderr = files.enter_context(open(logs / f"{log}.log", "w"))
                children.append(subprocess.Popen(argv, cwd=ROOT.parent, env=env, stdout=subprocess.DEVNULL,
                                                 stderr=stderr))
                if log == "scheduler":
                    time.sleep(1.0)  # workers retry until the scheduler listens; this only saves them a retry
            return _run_on(address, images, k)
        finally:
            for child in reversed(children):
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


def _run_on(address: str, images: Path, k: int) -> dict:
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    result = run_cli("external", images, k, "--scheduler", address)
    result["run"] = "quant --scheduler (dask scheduler + 2 dask workers, 127.0.0.1)"
    return result


def run_big(memory: str) -> dict:
    """One worker's peak memory on the 12 MP photo at k=64."""
    from .images import image_files

    _, png = image_files("gen12mp")
    folder = FOLDER / "big-in"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "gen12mp.png"
    if not link.exists():
        shutil.copyfile(png, link)
    result = run_child_dask(1, folder, K, memory, "big")
    result["run"] = "1 worker, the 12 MP photo"
    return result


def bench_batch(count: int = 48, *, external: bool = True, memory: str = "2GB") -> dict:
    """Every run of the section; the figures `report` tabulates."""
    images = make_images(count)
    info = {"images": count, "size": list(SIZE), "k": K, "nproc": os.cpu_count(), "load_before": _load()}
    runs = []
    for run in (
        # Each quant run next to the pngquant run it is compared with: the load drifts over minutes.
        lambda: run_child_dask(1, images, K, memory, "dask-1"),
        lambda: run_pngquant(images, K, 1) if shutil.which("pngquant") else None,
        lambda: run_child_dask(2, images, K, memory, "dask-2"),
        lambda: run_pngquant(images, K, 2) if shutil.which("pngquant") else None,
        lambda: run_cli("cli-jobs-1", images, K, "--jobs", "1"),
        lambda: run_cli("cli-jobs-2", images, K, "--jobs", "2"),
        (lambda: run_external(images, K)) if external else (lambda: None),
        lambda: run_big(memory),
    ):
        result = run()
        if result is not None:
            runs.append(result)
            print(json.dumps(result), flush=True)
    info["load_after"] = _load()
    return {"info": info, "runs": runs}


def report(section: dict) -> list[str]:
    """The section as markdown: the runs, then the targets."""
    info, runs = section["info"], section["runs"]
    by = {r["run"]: r for r in runs}
    lines = [
        "## Batch: a folder on Dask (issue 14)",
        "",
        f"{info['images']} generated photos, {info['size'][0]}×{info['size'][1]}, k={info['k']}, kmeans defaults. "
        f"Load average (1, 5, 15 min) before: {info['load_before']}; after: {info['load_after']} "
        f"({info['nproc']} cores, shared).",
        "",
        "| run | images/s | seconds | CPU s per image (system) | peak MB per worker | load before → after | outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r.get("status") != "ok":
            lines.append(f"| {r['run']} | – | – | – | – | – | {r.get('status')} |")
            continue
        peaks = ", ".join(map(str, r.get("peak_mb_per_worker", []))) or "–"
        cpu = f"{r['cpu_s_per_image']:.2f}" if "cpu_s_per_image" in r else "–"
        if "system_s_per_image" in r:
            cpu += f" ({r['system_s_per_image']:.2f})"
        lines.append(f"| {r['run']} | {r['images_per_s']:.2f} | {r['seconds']:.1f} | {cpu} | {peaks} | "
                     f"{r['load_before'][0]} → {r['load_after'][0]} | {r.get('digest', '–')} |")
    one, two = by.get("dask 1 worker"), by.get("dask 2 workers")
    png1, png2 = by.get("pngquant, 1 at a time"), by.get("pngquant, 2 at a time")
    big = by.get("1 worker, the 12 MP photo")
    lines += ["", "| target | result | met |", "|---|---|---|"]
    if one and two and one.get("status") == two.get("status") == "ok":
        speedup = two["images_per_s"] / one["images_per_s"]
        lines.append(f"| 2 workers ≥ 1.7× the throughput of 1 | {speedup:.2f}× | {'yes' if speedup >= 1.7 else 'no'} |")
    pngquants = [run for run in (png1, png2) if run and run.get("status") == "ok"]
    if two and two.get("status") == "ok" and pngquants:
        best = max(pngquants, key=lambda run: run["images_per_s"])
        ratio = two["images_per_s"] / best["images_per_s"]
        lines.append(f"| quant kmeans ≥ pngquant at k = {info['k']}: quant's default (a worker per core) against "
                     f"pngquant's faster way ({best['run'].removeprefix('pngquant, ')}) | {two['images_per_s']:.2f} vs "
                     f"{best['images_per_s']:.2f} images/s ({ratio:.2f}×) | {'yes' if ratio >= 1 else 'no'} |")
    for quant_run, png_run in ((one, png1), (two, png2)):
        if quant_run and png_run and quant_run.get("status") == "ok" and png_run.get("status") == "ok":
            ratio = quant_run["images_per_s"] / png_run["images_per_s"]
            workers = f"{quant_run['workers']} single-threaded worker{'s' if quant_run['workers'] > 1 else ''}"
            lines.append(f"| (for reference) quant, {workers}, against "
                         f"{png_run['run']} | {quant_run['images_per_s']:.2f} vs {png_run['images_per_s']:.2f} images/s "
                         f"({ratio:.2f}×) | – |")
    if one and png1 and "cpu_s_per_image" in png1 and one.get("status") == "ok":
        ratio = png1["cpu_s_per_image"] / one["cpu_s_per_image"]
        lines.append(f"| (for reference) CPU per image, less load-sensitive | quant {one['cpu_s_per_image']:.2f} s "
                     f"vs pngquant {png1['cpu_s_per_image']:.2f} s (quant does {ratio:.2f}× the images per CPU second) "
                     f"| – |")
    if big and big.get("status") == "ok":
        peak = max(big["peak_mb_per_worker"])
        lines.append(f"| a worker ≤ 1 GB at 12 MP | {peak} MB | {'yes' if peak <= 1024 else 'no'} |")
    digests = {r["digest"] for r in runs if r.get("digest") and r["run"] != "1 worker, the 12 MP photo"}
    lines += ["", f"Outputs of every quant run {'identical' if len(digests) == 1 else 'DIFFER'} "
              f"(digest of the output tree: {', '.join(sorted(digests))})."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="how many 1 MP images (default 48)")
    parser.add_argument("--no-external", action="store_true", help="skip the dask scheduler + dask worker run")
    parser.add_argument("--worker-memory", default="2GB", help="each worker's memory limit (default 2GB)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child_dask(spec["workers"], Path(spec["images"]), Path(spec["out"]), spec["k"],
                                    spec["memory"])))
        return 0
    section = bench_batch(args.images, external=not args.no_external, memory=args.worker_memory)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(section, indent=2))
    text = "\n".join(report(section)) + "\n"
    (RESULTS / "batch.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
