"""Palette methods that misbehave on purpose, for fault tests.

They live in an importable module, not inside a test, because a budgeted
method runs in a worker process that receives the method by reference.
"""

from __future__ import annotations

import time

import numpy as np

from quant.methods import ClusteringMethod


def explode(points, weights, k, *, seed):
    raise RuntimeError("the cluster library fell over")


def stall(points, weights, k, *, seed):
    time.sleep(600)
    return np.zeros(len(points), dtype=int)


def balloon(points, weights, k, *, seed):
    hoard = [np.ones(2**27, dtype=np.uint8) for _ in range(200)]  # 25 GB, a page at a time
    return np.zeros(len(points), dtype=int) + len(hoard)


BROKEN = ClusteringMethod(name="broken", label="Broken method", description="Always raises.", complexity="O(1)",
                          cluster=explode)
SLOW = ClusteringMethod(name="slow", label="Slow method", description="Never finishes in time.", complexity="O(∞)",
                        cluster=stall)
GREEDY = ClusteringMethod(name="greedy", label="Greedy method", description="Wants more memory than any budget.",
                          complexity="O(25 GB)", cluster=balloon)
