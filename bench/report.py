"""Turn benchmark rows into results.csv, cli.csv and results.md (tables, and the targets' verdicts)."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from .images import BIG, HOLDOUT

FIELDS = ["image", "pixels", "k", "method", "status", "seconds", "time_ratio", "cpu_seconds", "cpu_ratio", "peak_mb", "ssim", "ssim_diff",
          "psnr", "delta_e", "delta_e_ratio", "png_bytes", "colors"]
CLI_FIELDS = ["image", "method", "k", "status", "wall_seconds", "quant_seconds", "peak_mb", "ssim", "delta_e"]
STARTUP_FIELDS = ["tool", "image", "k", "round", "status", "wall_seconds", "cpu_seconds", "quant_seconds",
                  "bytes", "load1"]


#: What each tool's row is called in the report.
LABELS = {"quant": "`python -m quant IMG -k K -o OUT`",
          "liq": "`python -m bench.liq_file IMG OUT K` (libimagequant, defaults)",
          "pngquant": "`pngquant K --force --output OUT IMG`",
          "list-methods": "`python -m quant --list-methods`"}


def write_report(rows, cli_rows, sweep, info, elapsed, folder: Path, *, tag: str = "", startup=None,
                 page=None, batch=None, dither=None) -> None:
    suffix = f"-{tag}" if tag else ""
    if rows:
        _csv(folder / f"results{suffix}.csv", FIELDS, rows)
    if cli_rows:
        _csv(folder / f"cli{suffix}.csv", CLI_FIELDS, cli_rows)
    if startup and startup.get("runs"):
        _csv(folder / f"startup{suffix}.csv", STARTUP_FIELDS, startup["runs"])
    lines = ["# quant benchmark", "", "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), "",
             f"Run time: {elapsed / 60:.1f} min.", ""]
    lines += targets(rows, cli_rows, sweep, startup, page)
    lines += summaries(rows)
    lines += ["", "## Every case", "",
              "time ×liq: median time ÷ libimagequant's (defaults) on the same image and k, same run. "
              "ΔE ÷liq: mean CIEDE2000 ÷ libimagequant-defaults'. Peak MB: the whole process "
              "(Python, libraries, image, method, metrics excluded from timing but included in the peak).", ""]
    lines += ["| image | k | method | time s | time ×liq | CPU ×liq | peak MB | SSIM | PSNR | ΔE2000 | ΔE ÷liq | PNG8 bytes |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['image']} | {r['k']} | {r['method']} | {r['status']} | | | | | | | | |")
            continue
        lines.append(
            f"| {r['image']} | {r['k']} | {r['method']} | {r['seconds']:.3f} | {_f(r.get('time_ratio'), 2)} | "
            f"{_f(r.get('cpu_ratio'), 2)} | "
            f"{r['peak_mb']:.0f} | {r['ssim']:.4f} | {r['psnr']:.2f} | {r['delta_e']:.3f} | "
            f"{_f(r.get('delta_e_ratio'), 3)} | {r['png_bytes']:,} |")
    if cli_rows:
        lines += ["", "## Command line (`python -m quant IMG -k K --method M --json`), metrics included", "",
                  "| image | method | k | status | wall s | quant s | peak MB | SSIM | ΔE2000 |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in cli_rows:
            lines.append(f"| {r['image']} | {r['method']} | {r['k']} | {r['status']} | {r['wall_seconds']} | "
                         f"{r.get('quant_seconds', '')} | {r['peak_mb']:.0f} | {r.get('ssim', '')} | "
                         f"{r.get('delta_e', '')} |")
    if sweep:
        lines += ["", "## k sweep", "", "```", str(sweep), "```"]
    if startup:
        lines += startup_section(startup)
    if page:
        lines += page_section(page)
    if batch:
        from .batch import report as batch_report

        lines += ["", *batch_report(batch)]
    if dither:
        from .dither import report as dither_report

        lines += dither_report(dither)
    (folder / f"results{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: 60]))


def targets(rows, cli_rows, sweep, startup=None, page=None) -> list[str]:
    ok = [r for r in rows if r["status"] == "ok"]

    def ratio(method, image_filter, k_filter, key="time_ratio"):
        found = [r[key] for r in ok if r["method"] == method and image_filter(r)
                 and k_filter(r["k"]) and key in r]
        return max(found) if found else None

    big = lambda r: r["image"] == BIG
    small = lambda r: r["pixels"] < 1_000_000
    out = ["## Targets", "",
           "Time ratios are wall-clock medians ÷ libimagequant's (defaults) on the same image and k; "
           "CPU ratios (all threads) are given beside them because the 2 cores are shared.", "",
           "| target | figure | CPU figure | limit | met (wall) |", "|---|---|---|---|---|"]

    def line(name, value, limit, unit="×", cpu=None, strict=False):
        cpu_text = "" if cpu is None else f"{cpu:.2f}{unit}"
        if value is None:
            out.append(f"| {name} | not measured in this run | | {limit}{unit} | – |")
        else:
            met = value < limit if strict else value <= limit
            out.append(f"| {name} | {value:.2f}{unit} | {cpu_text} | {'<' if strict else '≤'} {limit}{unit} | "
                       f"{'yes' if met else '**no**'} |")

    def timed(name, method, image_filter, k_filter, limit):
        line(name, ratio(method, image_filter, k_filter), limit,
             cpu=ratio(method, image_filter, k_filter, "cpu_ratio"))

    timed("kmeans time, 12 MP, k=256 (÷ libimagequant)", "kmeans", big, lambda k: k == 256, 1.0)
    timed("kmeans time, < 1 MP, worst image and k", "kmeans", small, lambda k: True, 3.0)
    timed("agglomerative time, 12 MP, worst k", "agglomerative", big, lambda k: True, 1.0)
    timed("gmm time, 12 MP, worst k ≤ 64", "gmm", big, lambda k: k <= 64, 2.0)
    timed("spectral time, 12 MP, worst k ≤ 64", "spectral", big, lambda k: k <= 64, 2.0)
    for image, limit in (("gen12mp", 1500), ("gen50mp", 3000)):
        peaks = [r["peak_mb"] for r in cli_rows if r["image"] == image and r["status"] == "ok"]
        failed = [r for r in cli_rows if r["image"] == image and r["status"] != "ok"]
        name = f"CLI peak memory, {image}, worst method" + (f" ({len(failed)} runs failed)" if failed else "")
        line(name, max(peaks) if peaks else None, limit, " MB")
    if sweep and sweep.get("status") == "ok":
        line(f"k sweep on {sweep['pixels'] / 1e6:.1f} MP, `quant.sweep.sweep` with its metrics (÷ one liq k=256)",
             sweep["sweep_ratio"], 8.0, cpu=sweep.get("sweep_cpu_ratio"))
        if "page_ratio" in sweep:
            line("k sweep the dashboard's way, one cached k per `sweep` call (÷ one liq k=256)",
                 sweep["page_ratio"], 8.0, cpu=sweep.get("page_cpu_ratio"))
        line("k sweep, bare `prepared.quantize(k)` loop, no metrics (÷ one liq k=256)", sweep["loop_ratio"], 8.0,
             cpu=sweep.get("loop_cpu_ratio"))
    if startup and startup.get("status") == "ok":
        listed = startup["list_methods"]
        line(f"`quant --list-methods`, fresh process, median of {listed['runs']}", listed.get("seconds"), 0.5, " s",
             cpu=listed.get("cpu_seconds"), strict=True)
        for entry in startup["file"]:
            if entry["image"] == BIG and entry["k"] == 256:
                line("CLI file to file, 12 MP, k=256, whole process (÷ libimagequant file to file)",
                     entry.get("ratio"), 0.8, cpu=entry.get("cpu_ratio"))

    if page and page.get("steps"):
        from .page import verdicts

        for label, seconds, _, limit, _ in verdicts(page):
            if limit is not None:
                line(f"page: {label}", seconds, limit, " s")

    out += ["", "### Quality: kmeans with default settings against libimagequant, held-out images", "",
            "Held out (never used for tuning): " + ", ".join(HOLDOUT) + ". ΔE ratio < 1 and SSIM difference ≥ 0 "
            "mean kmeans is at least as good.", "",
            "| image | k | kmeans ΔE | liq default ΔE | liq no-dither ΔE | kmeans SSIM | liq default SSIM "
            "| liq no-dither SSIM | beats default | beats no-dither |", "|---|---|---|---|---|---|---|---|---|---|"]
    index = {(r["image"], r["k"], r["method"]): r for r in ok}
    for image in HOLDOUT:
        for k in (16, 64, 256):
            km, d, n = (index.get((image, k, m)) for m in ("kmeans", "liq-default", "liq-nodither"))
            if not (km and d and n):
                continue
            beats = lambda ref: "yes" if km["delta_e"] <= ref["delta_e"] and km["ssim"] >= ref["ssim"] else "**no**"
            out.append(f"| {image} | {k} | {km['delta_e']:.3f} | {d['delta_e']:.3f} | {n['delta_e']:.3f} | "
                       f"{km['ssim']:.4f} | {d['ssim']:.4f} | {n['ssim']:.4f} | {beats(d)} | {beats(n)} |")
    return out


def summaries(rows) -> list[str]:
    """The 12 MP photo for every method, kmeans against libimagequant on the small photos, and
    each method's mean over the small photos."""
    ok = [r for r in rows if r["status"] == "ok"]
    small = [r for r in ok if r["pixels"] < 1_000_000]
    out = ["", f"### 12 MP photo ({BIG}, held out), all methods", "",
           "| method | k | time s | time ×liq | CPU ×liq | peak MB | SSIM | PSNR | ΔE2000 | PNG8 KB |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["image"] != BIG:
            continue
        if r["status"] != "ok":
            out.append(f"| {r['method']} | {r['k']} | {r['status']} | | | | | | | |")
            continue
        out.append(f"| {r['method']} | {r['k']} | {r['seconds']:.2f} | {_f(r.get('time_ratio'), 2)} | "
                   f"{_f(r.get('cpu_ratio'), 2)} | {r['peak_mb']:.0f} | {r['ssim']:.4f} | {r['psnr']:.2f} | "
                   f"{r['delta_e']:.3f} | {r['png_bytes'] / 1024:,.0f} |")

    index = {(r["image"], r["k"], r["method"]): r for r in small}
    images = list(dict.fromkeys(r["image"] for r in small))
    out += ["", "### Small photos: kmeans against libimagequant (defaults)", "",
            "| image | k | kmeans s | liq s | time ×liq | CPU ×liq | kmeans ΔE | liq ΔE | kmeans SSIM | liq SSIM |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for image in images:
        for k in sorted({r["k"] for r in small if r["image"] == image}):
            km, liq = index.get((image, k, "kmeans")), index.get((image, k, "liq-default"))
            if km and liq:
                out.append(f"| {image} | {k} | {km['seconds']:.3f} | {liq['seconds']:.3f} | {km['time_ratio']:.2f} | "
                           f"{km['cpu_ratio']:.2f} | {km['delta_e']:.3f} | {liq['delta_e']:.3f} | "
                           f"{km['ssim']:.4f} | {liq['ssim']:.4f} |")

    out += ["", "### Mean over the small photos and k, per method (ratios against liq-default)", "",
            "| method | median time ×liq | median CPU ×liq | mean ΔE ÷liq | mean SSIM − liq | cases |",
            "|---|---|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in small):
        cases = [r for r in small if r["method"] == method and r.get("time_ratio") is not None]
        if cases:
            out.append(f"| {method} | {statistics.median(r['time_ratio'] for r in cases):.2f} | "
                       f"{statistics.median(r['cpu_ratio'] for r in cases):.2f} | "
                       f"{_mean(r['delta_e_ratio'] for r in cases):.3f} | "
                       f"{statistics.mean(r['ssim_diff'] for r in cases):+.4f} | {len(cases)} |")
    return out


def startup_section(startup) -> list[str]:
    """Every start-up figure: --list-methods, and each tool's file-to-file run, with the load around them."""

    out = ["", "## Start-up and file to file (whole processes)", "",
           f"Load average (1, 5, 15 min) before: {_load(startup.get('load_before'))}; "
           f"after: {_load(startup.get('load_after'))} (2 cores). Wall: the parent's clock around the process; "
           "CPU: the child's user + system time, all threads. quant's own time is the `seconds` it reports "
           "(load to written file, without interpreter start-up and imports). "
           "Every run, with the 1-minute load at its start, is in startup.csv. (No peak memory here: Linux "
           "carries the forking parent's peak across exec, so a child's ru_maxrss is at least the bench's own.)", "",
           "| command | image | k | runs | median wall s | min–max s | median CPU s | quant's own s "
           "| output bytes | wall ×liq | CPU ×liq |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]

    def row(label, image, k, s, entry=None):
        if s.get("status") != "ok":
            out.append(f"| {label} | {image} | {k} | {s.get('status')} | | | | | | | |")
            return
        ratio = cpu = ""
        if entry and "ratio" in entry:
            liq = entry["tools"]["liq"]
            ratio, cpu = f"{s['seconds'] / liq['seconds']:.2f}", f"{s['cpu_seconds'] / liq['cpu_seconds']:.2f}"
        out.append(f"| {label} | {image} | {k} | {s['runs']} | {s['seconds']:.3f} | "
                   f"{s['min_seconds']:.3f}–{s['max_seconds']:.3f} | {s['cpu_seconds']:.3f} | "
                   f"{_f(s.get('quant_seconds'), 3)} | "
                   f"{'' if s.get('bytes') is None else format(s['bytes'], ',')} | {ratio} | {cpu} |")

    if startup.get("list_methods"):
        row(LABELS["list-methods"], "", "", startup["list_methods"])
    for entry in startup.get("file", []):
        for tool, summary in entry["tools"].items():
            row(LABELS[tool], entry["image"], entry["k"], summary, entry)
    paired = [f"{e['image']} k={e['k']}: {e['paired_ratio']:.2f}×" for e in startup.get("file", [])
              if "paired_ratio" in e]
    if paired:
        out += ["", "Median of each round's quant ÷ libimagequant (runs taken back to back): " + ", ".join(paired)
                + "."]
    return out


def page_section(page) -> list[str]:
    """The page-latency steps, each beside the engine's own time for the same work, with the load."""
    from .page import STEPS, verdicts

    out = ["", "## Page latency (`streamlit run serve.py` in Chromium)", "",
           f"Status: {page.get('status')}. Load average (1, 5, 15 min) before: {_load(page.get('load_before'))}; "
           f"after: {_load(page.get('load_after'))} (2 cores). Page times are on the browser's clock; the engine's "
           "are the same work in a fresh process, without Streamlit (see bench/page.py). "
           f"Server healthy after {_f(page.get('server_ready_seconds'), 1)} s.", "",
           "| step | page s | limit | met | engine s | engine's work | load before → after |",
           "|---|---|---|---|---|---|---|"]
    steps = page.get("steps", {})
    for (label, seconds, engine, limit, engine_label), step in zip(verdicts(page), STEPS):
        measured = steps.get(step, {})
        met = "–" if seconds is None or limit is None else ("yes" if seconds <= limit else "**no**")
        load = f"{measured['load']} → {measured['load_after']}" if "load" in measured else ""
        out.append(f"| {label} | {_f(seconds, 2) or 'not measured'} | {'' if limit is None else f'≤ {limit:g} s'} | "
                   f"{met} | {_f(engine, 2)} | {engine_label or ''} | {load} |")
    notes = [f"{step}: " + ", ".join(f"{k} {v}" for k, v in m.items() if k not in ("seconds", "load", "load_after"))
             for step, m in steps.items() if set(m) - {"seconds", "load", "load_after"}]
    if notes:
        out += ["", "Details: " + "; ".join(notes) + "."]
    return out


def _load(values) -> str:
    return "–" if not values else ", ".join(f"{v:.2f}" for v in values)


def _mean(values) -> float:
    """The mean of the values that exist (a ratio against a lossless reference doesn't)."""
    present = [value for value in values if value is not None]
    return statistics.mean(present) if present else math.nan


def _f(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def _csv(path, fields, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
