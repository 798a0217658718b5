"""The byte-bounded cache: what it keeps fits its budget, the least recently used goes first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard.model.memory import BoundedCache, size_of


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
