"""The k sweep in its own process: `python -m bench.sweep '{"npy": ..., "repeats": 3}'`.

Times, as medians of interleaved repeats, on one ~1 MP image (CPU times too):

* ``sweep_seconds``: `quant.sweep.sweep(quant.prepare(image, "kmeans"))` — k = 2, 4, …, 256
  on one histogram, *with* its per-k metrics (SSIM, ΔE, PNG size) and thumbnails (the
  histogram counted inside, as the dashboard's first call does);
* ``page_seconds``: the same sweep the way the dashboard runs it, one cached k per call:
  `sweep(shared, [k])` for each k (no overlap between calls);
* ``loop_seconds``: the bare loop of `shared.quantize(k)` over the same k, no metrics, plus
  the one histogram and preparation;
* ``liq_seconds``: one libimagequant run at k=256 with its defaults.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np


def main() -> None:
    spec = json.loads(sys.argv[1])
    rgb = np.load(spec["npy"])
    import imagequant
    from PIL import Image

    import quant
    from quant.sweep import sweep

    image = quant.from_array(rgb)
    rgba = Image.fromarray(rgb).convert("RGBA")
    tiny = quant.from_array(rgb[:64, :64].copy())
    sweep(quant.prepare(tiny, "kmeans"), (2, 16))  # warm-up: imports and numba's cached compile

    def loop():
        prepared = quant.prepare(image, "kmeans")
        for k in quant.DOUBLING_KS:
            prepared.quantize(k)

    def page():
        prepared = quant.prepare(image, "kmeans")
        for k in quant.DOUBLING_KS:
            sweep(prepared, [k])

    timed = {"sweep_seconds": lambda: sweep(quant.prepare(image, "kmeans")), "page_seconds": page, "loop_seconds": loop,
             "liq_seconds": lambda: imagequant.quantize_pil_image(rgba, max_colors=256)}
    report = {"pixels": int(rgb.shape[0] * rgb.shape[1]), "ks": list(quant.DOUBLING_KS)}
    # Interleaved (sweep, loop, liq, sweep, …) so that each sees the same load on the shared cores.
    seconds = {name: [] for name in timed}
    cpu = {name: [] for name in timed}
    for _ in range(spec["repeats"]):
        for name, run in timed.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            seconds[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
    for name in timed:
        report[name] = statistics.median(seconds[name])
        report[name.replace("seconds", "cpu")] = statistics.median(cpu[name])
    for name in ("sweep", "page", "loop"):
        report[f"{name}_cpu_ratio"] = report[f"{name}_cpu"] / report["liq_cpu"]
        report[f"{name}_ratio"] = report[f"{name}_seconds"] / report["liq_seconds"]
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
