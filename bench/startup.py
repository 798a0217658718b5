"""The start-up section: what a user waits for, whole processes from the shell.

* ``--list-methods``: `python -m quant --list-methods`, each run a fresh process
  (imports and all); the median of `repeats` runs, after one untimed run.
* file to file: `python -m quant IMG.png -k K -o OUT.png --json` (kmeans, default
  options, no metrics; ``--json`` only changes what is printed and gives quant's
  own in-process time, which is file to file without the start-up) against
  `python -m bench.liq_file IMG.png OUT.png K` (Pillow decodes, libimagequant
  with its defaults quantizes, Pillow encodes: the `liq-default` reference of
  every other ratio, run as a script) and the `pngquant` CLI. Each is run once
  untimed (numba's on-disk compile cache, the page cache), then in `repeats`
  rounds, interleaved, the order rotated each round so none always runs first
  after a pause. The ratio is quant's median wall time ÷ libimagequant's.

Times are wall clock (the parent's clock around the whole process) and CPU
(user + system of the child, all threads, from ``os.wait4``). The 1-minute load
average is recorded beside every run: the 2 cores are shared.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from .child import run_child_usage
from .images import image_files

TOOLS = ("quant", "liq", "pngquant")
def _argv(tool: str, png: Path, out: Path, k: int) -> list[str]:
    if tool == "quant":
        return [sys.executable, "-m", "quant", str(png), "-k", str(k), "-o", str(out), "--json"]
    if tool == "liq":
        return [sys.executable, "-m", "bench.liq_file", str(png), str(out), str(k)]
    if tool == "pngquant":
        return ["pngquant", str(k), "--force", "--output", str(out), str(png)]
    return [sys.executable, "-m", "quant", "--list-methods"]


def _run(tool: str, png: Path | None, k: int | None, timeout: float) -> dict:
    load1 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.png"
        status, text, wall, usage = run_child_usage(_argv(tool, png, out, k), timeout)
        size = out.stat().st_size if out.exists() else None
    row = {"tool": tool, "k": k, "status": "ok" if status == 0 else ("timeout" if status is None else text[-300:]),
           "wall_seconds": round(wall, 4), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
           "load1": round(load1, 2), "bytes": size}
    if tool == "quant" and status == 0:
        row["quant_seconds"] = json.loads(text.strip().splitlines()[-1])["seconds"]
    if tool != "list-methods" and status == 0 and not size:
        row["status"] = "no output file"
    return row


def _summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if r["status"] == "ok"]
    if len(ok) < len(runs) or not ok:
        failed = next((r["status"] for r in runs if r["status"] != "ok"), "no runs")
        return {"status": failed, "runs": len(runs)}
    out = {"status": "ok", "runs": len(ok), "seconds": statistics.median(r["wall_seconds"] for r in ok),
           "min_seconds": min(r["wall_seconds"] for r in ok), "max_seconds": max(r["wall_seconds"] for r in ok),
           "cpu_seconds": statistics.median(r["cpu_seconds"] for r in ok),
           "bytes": ok[-1]["bytes"]}
    if "quant_seconds" in ok[0]:
        out["quant_seconds"] = statistics.median(r["quant_seconds"] for r in ok)
    return out


def bench_startup(args) -> dict:
    """The list-methods time and the file-to-file comparison; every run is kept for startup.csv."""
    result = {"load_before": [round(x, 2) for x in os.getloadavg()], "runs": [], "file": []}
    timeout = args.timeout * 3

    _run("list-methods", None, None, timeout)  # untimed: the page cache, and .pyc files if stale
    lists = [_run("list-methods", None, None, timeout) for _ in range(args.list_repeats)]
    result["runs"] += lists
    result["list_methods"] = _summary(lists)
    print(f"startup --list-methods: {_said(result['list_methods'])}", flush=True)

    tools = [t for t in TOOLS if t != "pngquant" or shutil.which("pngquant")]
    for image in args.startup_images:
        npy, png = image_files(image)
        pixels = int(np.prod(np.load(npy, mmap_mode="r").shape[:2]))
        for k in args.startup_ks:
            for tool in tools:  # untimed: numba compiles or loads its cache, the file enters the page cache
                warm = _run(tool, png, k, timeout)
                if warm["status"] != "ok":
                    print(f"startup {image} k={k} {tool} warm-up failed: {warm['status']}", flush=True)
            runs = {tool: [] for tool in tools}
            for round_ in range(args.startup_repeats):
                turn = round_ % len(tools)
                for tool in tools[turn:] + tools[:turn]:
                    row = _run(tool, png, k, timeout)
                    row.update(image=image, round=round_)
                    runs[tool].append(row)
                    result["runs"].append(row)
                    print(f"startup {image} k={k} round {round_} {tool:<8} {row['status']} "
                          f"wall {row['wall_seconds']:.2f}s cpu {row['cpu_seconds']:.2f}s load {row['load1']}",
                          flush=True)
            entry = {"image": image, "pixels": pixels, "k": k, "tools": {t: _summary(r) for t, r in runs.items()}}
            quant, liq = entry["tools"]["quant"], entry["tools"]["liq"]
            if quant["status"] == "ok" and liq["status"] == "ok":
                entry["ratio"] = quant["seconds"] / liq["seconds"]
                entry["cpu_ratio"] = quant["cpu_seconds"] / liq["cpu_seconds"]
                # Each round's quant ÷ liq, run seconds apart: less exposed to the load drifting between rounds.
                entry["paired_ratio"] = statistics.median(
                    q["wall_seconds"] / l["wall_seconds"] for q, l in zip(runs["quant"], runs["liq"]))
                print(f"startup {image} k={k}: quant ÷ liq {entry['ratio']:.2f}× wall, "
                      f"{entry['cpu_ratio']:.2f}× CPU", flush=True)
            result["file"].append(entry)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["status"] = "ok"
    return result


def _said(summary: dict) -> str:
    if summary["status"] != "ok":
        return summary["status"]
    return f"median {summary['seconds']:.3f}s of {summary['runs']} (min {summary['min_seconds']:.3f}s)"
