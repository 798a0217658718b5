"""Work run under a budget: results come back, failures and overruns become clear errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

import quant
from dashboard.model.workers import BudgetExceeded, WorkFailed, call_with_budget


def add(a, b, *, scale=1):
    return (a + b) * scale


def explode():
    raise RuntimeError("the method broke")


def sleep_for(seconds):
    time.sleep(seconds)
    return "woke"


def allocate(megabytes):
    return np.ones(megabytes * 2**20, dtype=np.uint8).sum()


def test_the_result_comes_back():
    assert call_with_budget(add, 2, 3, scale=10, seconds=60) == 50


def test_a_real_quantization_comes_back_identical(photo):
    image = quant.from_array(photo)
    here = quant.quantize(image, 8, "gmm", seed=1)
    there = call_with_budget(quant.quantize, image, 8, "gmm", seed=1, seconds=120, memory_mb=1000)
    np.testing.assert_array_equal(here.indices, there.indices)
    assert here.metrics == there.metrics


def test_an_exception_becomes_work_failed_with_its_message():
    with pytest.raises(WorkFailed, match="RuntimeError: the method broke"):
        call_with_budget(explode, seconds=60)


def test_running_out_of_time_is_stopped_promptly():
    started = time.perf_counter()
    with pytest.raises(BudgetExceeded, match="0.5 s time budget"):
        call_with_budget(sleep_for, 30, seconds=0.5)
    assert time.perf_counter() - started < 15  # killed, not waited for


def test_running_out_of_memory_is_reported():
    with pytest.raises(BudgetExceeded, match="200 MB memory budget"):
        call_with_budget(allocate, 1000, seconds=60, memory_mb=200)
    assert call_with_budget(allocate, 50, seconds=60, memory_mb=200) == 50 * 2**20
