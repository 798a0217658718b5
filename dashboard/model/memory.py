"""A cache bounded by bytes, not by entries: what one big photo costs is what counts.

Streamlit's caches bound the number of entries. One result of a 12 MP photo
holds megabytes (its PNG, its preview, a label per distinct color), one of
the sample a few kilobytes, so a count says little about memory. This cache
measures what it keeps (`size_of`) and evicts the least recently used
entries until the total fits.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")

#: The page's cache budget when QUANT_CACHE_MB is not set: with the server's own ~0.4 GB and one
#: 12 MP upload being read, it keeps the server under 2 GB (bench/README.md, "Server memory").
DEFAULT_CACHE_MB = 600


def cache_bytes_from_env(environ=os.environ) -> int:
    """The page's cache budget in bytes: QUANT_CACHE_MB (default `DEFAULT_CACHE_MB`)."""
    return int(float(environ.get("QUANT_CACHE_MB", DEFAULT_CACHE_MB)) * 2**20)


def size_of(value: object) -> int:
    """Bytes held by `value`'s arrays and byte strings, through dataclasses, tuples, lists and dicts.

    Only what dominates is counted: small Python objects are not, and a view
    counts as much as the array it shows (an estimate errs on the safe side).
    """
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Its fields, and what it computed and kept since (e.g. a histogram's CIELAB colors).
        held = getattr(value, "__dict__", None) or {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return sum(size_of(item) for item in held.values())
    if isinstance(value, (tuple, list)):
        return sum(size_of(item) for item in value)
    if isinstance(value, dict):
        return sum(size_of(item) for item in value.values())
    return 0


class BoundedCache(Generic[V]):
    """Values by key, at most `max_bytes` of them in all, least recently used evicted first.

    Safe to share between threads (the page's sessions). A value larger than
    the whole budget is returned but not kept. Entries not read for
    `ttl_seconds` are dropped too.
    """

    def __init__(self, max_bytes: int, ttl_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic):
        self.max_bytes, self.ttl_seconds, self._clock = max_bytes, ttl_seconds, clock
        self._entries: OrderedDict[Hashable, tuple[V, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The kept value of `key`, or `compute()`'s, kept. Two threads may both compute a missing key."""
        kept = self.get(key)
        if kept is not None:
            return kept
        value = compute()  # outside the lock: other sessions aren't held up by a slow computation
        self.put(key, value)
        return value

    def get(self, key: Hashable) -> V | None:
        """The kept value of `key` (now the most recently used), or None."""
        with self._lock:
            self._drop_expired()
            if key not in self._entries:
                return None
            value, size, _ = self._entries.pop(key)
            self._entries[key] = (value, size, self._clock())
            return value

    def put(self, key: Hashable, value: V) -> None:
        size = size_of(value)
        with self._lock:
            if key in self._entries:
                self.bytes -= self._entries.pop(key)[1]
            if size > self.max_bytes:
                return
            self._entries[key] = (value, size, self._clock())
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, evicted, _) = self._entries.popitem(last=False)
                self.bytes -= evicted

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        """The kept keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _drop_expired(self) -> None:
        oldest_kept = self._clock() - self.ttl_seconds
        while self._entries:
            key, (_, size, used) = next(iter(self._entries.items()))
            if used >= oldest_kept:
                break
            del self._entries[key]
            self.bytes -= size
