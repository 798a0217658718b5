"""The byte-bounded cache: what it keeps fits its budget, the least recently used goes first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import quant
from dashboard.model.memory import DEFAULT_CACHE_MB, BoundedCache, cache_bytes_from_env, size_of


@dataclass(frozen=True)
class Held:
    labels: np.ndarray
    png: bytes
    name: str


def test_size_counts_arrays_and_bytes_through_containers():
    held = Held(np.zeros(1000, np.uint8), b"x" * 500, "a name")
    assert size_of(held) == 1500
    assert size_of([held, (held,), {"k": held}]) == 4500
    assert size_of("text") == 0


def test_the_least_recently_used_entry_goes_first_when_the_budget_is_full():
    cache: BoundedCache[bytes] = BoundedCache(max_bytes=300)
    for key in "abc":
        cache.put(key, bytes(100))
    cache.get_or_compute("a", lambda: bytes(1))  # a is now the most recently used
    cache.put("d", bytes(100))
    assert cache.bytes == 300 and len(cache) == 3
    assert cache.get_or_compute("b", lambda: b"recomputed") == b"recomputed"  # b was evicted
    assert cache.bytes <= 300


def test_a_value_bigger_than_the_budget_is_returned_but_not_kept():
    cache: BoundedCache[bytes] = BoundedCache(max_bytes=10)
    assert cache.get_or_compute("big", lambda: bytes(11)) == bytes(11)
    assert len(cache) == 0 and cache.bytes == 0


def test_entries_nobody_read_for_the_ttl_are_dropped():
    now = [0.0]
    cache: BoundedCache[bytes] = BoundedCache(max_bytes=1000, ttl_seconds=60, clock=lambda: now[0])
    cache.put("old", bytes(10))
    now[0] = 61
    calls = []
    cache.get_or_compute("new", lambda: calls.append(1) or bytes(5))
    assert len(cache) == 1 and cache.bytes == 5
    assert cache.get_or_compute("new", lambda: calls.append(1) or bytes(5)) == bytes(5) and calls == [1]


def test_replacing_a_key_counts_its_bytes_once():
    cache: BoundedCache[bytes] = BoundedCache(max_bytes=100)
    cache.put("a", bytes(40))
    cache.put("a", bytes(30))
    assert cache.bytes == 30 and len(cache) == 1


def test_size_counts_what_a_dataclass_computed_and_kept_since():
    hist = quant.build_histogram(quant.from_array(np.arange(300, dtype=np.uint8).reshape(10, 10, 3)))
    before = size_of(hist)
    hist.lab  # converted on first use, then kept
    assert size_of(hist) == before + hist.lab.nbytes


def test_get_reads_without_computing_and_marks_the_entry_used():
    cache: BoundedCache[bytes] = BoundedCache(max_bytes=200)
    assert cache.get("a") is None
    cache.put("a", bytes(100))
    cache.put("b", bytes(100))
    assert cache.get("a") == bytes(100)  # a is now the most recently used
    cache.put("c", bytes(100))
    assert cache.get("b") is None and cache.get("a") is not None


def test_the_budget_comes_from_quant_cache_mb():
    assert cache_bytes_from_env({}) == DEFAULT_CACHE_MB * 2**20
    assert cache_bytes_from_env({"QUANT_CACHE_MB": "1.5"}) == int(1.5 * 2**20)
