"""Where the CLI's time goes: `python -m bench.cli_split IMG.png K`.

Does what `python -m quant IMG -k K -o OUT` does with kmeans and default options,
stage by stage in one fresh process, with a timer around each stage, and
prints one JSON object of seconds: wall clock, and under ``cpu`` the process's
CPU time (all threads), steadier than wall on a shared machine. The lazy imports are timed as their own
stages (scipy.ndimage for the flatness weights, quant.kmeans for numba), so
import and work are not mixed. Then, untimed by the stages above:

* ``precompute again``, ``palette again``: the precompute and palette once more on a fresh `Prepared`
  (the same histogram): numba's functions are loaded by then, so the first
  call's extra over this is numba's cache loading and first-call dispatch;
* ``png_*``: the PNG encoded other ways (Pillow's default level, and levels 1
  and 9 without `optimize`), with their sizes, against the CLI's `optimize=True`.

Interpreter start-up is not inside the process; time ``python -c pass`` for it.
"""

from __future__ import annotations

import io
import json
import sys
import time

STARTED, STARTED_CPU = time.perf_counter(), time.process_time()


def main(argv: list[str]) -> dict:
    source, k = argv[0], int(argv[1])
    out: dict = {}
    cpu: dict = {}
    clock = [STARTED, STARTED_CPU]

    def lap(name):
        now, now_cpu = time.perf_counter(), time.process_time()
        out[name] = round(now - clock[0], 4)
        cpu[name] = round(now_cpu - clock[1], 4)
        clock[:] = [now, now_cpu]

    import quant.cli  # noqa: F401  what `python -m quant` imports before it reads a file
    from quant.export import png_bytes, to_pil
    from quant.histogram import build_histogram
    from quant.load import load_image
    from quant.pipeline import prepare
    from quant.remap import remap
    lap("import quant.cli")
    import quant.kmeans  # noqa: F401  numba, and the kernels' definitions
    lap("import quant.kmeans (numba)")

    image = load_image(source)
    lap("load + decode")
    hist = build_histogram(image)
    lap("histogram")
    prepared = prepare(image, "kmeans", hist=hist)
    _ = prepared.working
    lap("weights + reduce")
    _ = prepared.points
    lap("to space")
    _ = prepared.cluster_args
    lap("kmeans precompute")
    palette = prepared.palette(k, 0)
    lap("kmeans palette")
    indices = remap(hist, palette)
    lap("remap")
    png = png_bytes(indices, palette.colors)
    lap("PNG encode (optimize=True)")
    with open("/dev/null", "wb") as handle:
        handle.write(png)
    lap("write")
    out["total in process"] = round(time.perf_counter() - STARTED, 4)
    cpu["total in process"] = round(time.process_time() - STARTED_CPU, 4)
    out["cpu"] = cpu
    out["png_bytes optimize=True"] = len(png)

    again = prepare(image, "kmeans", hist=hist)
    _ = again.points
    clock[:] = [time.perf_counter(), time.process_time()]
    _ = again.cluster_args
    lap("precompute again")
    again.palette(k, 0)
    lap("palette again")
    for label, options in (("default (level 6)", {}), ("compress_level=1", {"compress_level": 1}),
                           ("compress_level=9", {"compress_level": 9})):
        buffer = io.BytesIO()
        started = time.perf_counter()
        to_pil(indices, palette.colors).save(buffer, format="PNG", **options)
        out[f"png {label} s"] = round(time.perf_counter() - started, 4)
        out[f"png {label} bytes"] = buffer.tell()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
