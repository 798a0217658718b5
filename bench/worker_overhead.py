"""How much a result costs beyond its own work when it runs in the page's warm worker pool.

Not a test: a measurement to run by hand (``.venv/bin/python -m bench.worker_overhead``).
For each method on the sample at k = 8 it submits `outcomes.measure` (quantize,
encode, score: all a card needs) to a warm `WorkerPool` and times it twice:
from submit to result in this process, and the call itself inside the worker.
The difference is the pool's per-card overhead (pickling the image and
histogram over and the result back, and the clock's polling); it doesn't
depend on how busy the shared cores make the method itself.
"""

from __future__ import annotations

import statistics
import time

import quant
from dashboard.model import outcomes
from dashboard.model.workers import Budget, WorkerPool

METHODS = ("kmeans", "gmm", "agglomerative", "octree")
REPEATS = 5


def timed_measure(*args, **kwargs) -> tuple[outcomes.Done, float]:
    """`outcomes.measure`, and how long it took where it ran."""
    started = time.perf_counter()
    done = outcomes.measure(*args, **kwargs)
    return done, time.perf_counter() - started


def main() -> None:
    image = quant.sample_image(quant.DEFAULT_SAMPLE)
    hist = quant.build_histogram(image)
    started = time.perf_counter()
    pool = WorkerPool(1, warm_up=outcomes.warm_up)
    pool.wait_until_warm()
    print(f"a worker starts and warms up in {time.perf_counter() - started:.2f} s (once, when the server starts)")
    budget = Budget(300, 4000)
    print(f"{'method':<15}{'engine':>9}{'in worker':>11}{'submit→result':>15}{'overhead':>10}")
    for name in METHODS:
        method = quant.METHODS[name]
        rows = []
        for _ in range(REPEATS):
            sent = time.perf_counter()
            done, inside = pool.submit(budget, timed_measure, image, hist, 8, method, outcomes.Recipe()).result()
            rows.append((done.seconds, inside, time.perf_counter() - sent))
        engine, inside, wall = (statistics.median(column) for column in zip(*rows))
        overhead = statistics.median(w - i for _, i, w in rows)
        print(f"{name:<15}{engine:>8.3f}s{inside:>10.3f}s{wall:>14.3f}s{overhead:>9.3f}s")
    pool.shutdown()


if __name__ == "__main__":
    main()
