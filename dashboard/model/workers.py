"""Warm worker processes that run work within a time and a memory budget.

A palette method that raises, hangs or balloons must cost the user one result,
not the page and not the server that other people share. Threads can't be
stopped and a process's memory can't be capped per thread, so work runs in a
worker process: if it overruns, the worker is killed, a `BudgetExceeded`
names what ran out, and a fresh worker takes its place.

Starting a process for every call costs about a second (imports, and numba
loading its compiled kernels), so a `WorkerPool` keeps a few processes alive
and warm instead: each imports the engine once and, while no work waits,
steps through a ``warm_up`` (the page's quantizes a tiny image with every
method).
Work is handed out in the order it was submitted, to whichever worker is
free, and each call comes back as a `concurrent.futures.Future`.

The budget's clock starts when a worker begins the work, not while it waits
in the queue. Work may call `clock_off` when the part the budget is meant for
is done (the page's method: its palette and remap, the time its card shows);
what follows (encoding, scoring) then runs under a separate allowance,
`FINISH_SECONDS`.

Workers are started from a clean *forkserver* that has already imported quant
and `dashboard.model.outcomes`, so none inherits the server's threads or
OpenMP pools, which are not fork-safe. The main module is not preloaded, but
multiprocessing imports it in each worker (as ``__mp_main__``): under Streamlit
it is the page script. So the page script must import Streamlit and draw only
inside ``if __name__ == "__main__":`` (app.py does), and the workers import
nothing but the engine and `dashboard.model`.

Use::

    pool = WorkerPool(2, warm_up=outcomes.warm_up)
    future = pool.submit(Budget(60, 1500), quantize, image, 16, "gmm")
    result = future.result()          # or pool.stop(future)
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import resource
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

#: What the forkserver imports once, so workers start warm: the engine and the modules whose
#: functions the page runs in a worker. Never "__main__" (the Streamlit script; see above).
_PRELOAD = ["quant", "dashboard.model.outcomes", "dashboard.model.sweeps"]
#: How long encoding and scoring a result may take after the work calls `clock_off`.
FINISH_SECONDS = 120.0
#: A worker is replaced when, after a task, its resident memory has grown past its warm size by
#: more than this fraction of the task's memory budget: memory it holds stays held while it idles.
HIGH_WATER_FRACTION = 0.5
#: How often a waiting worker's thread looks for a stop request.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Budget:
    """How long one piece of work may run, and how much memory it may add."""

    seconds: float
    memory_mb: int | None = None

    @classmethod
    def from_env(cls, environ=os.environ) -> Budget:
        """The budget set by QUANT_METHOD_SECONDS and QUANT_METHOD_MEMORY_MB.

        Defaults: 300 s and 4000 MB. 0 lifts a limit: the work still runs in
        a worker, so it can still be stopped (`WorkerPool.stop`).
        """
        seconds = float(environ.get("QUANT_METHOD_SECONDS", 300))
        memory_mb = int(environ.get("QUANT_METHOD_MEMORY_MB", 4000))
        return cls(seconds if seconds > 0 else math.inf, memory_mb or None)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` within this budget; see `call_with_budget`."""
        return call_with_budget(fn, *args, seconds=self.seconds, memory_mb=self.memory_mb, **kwargs)


class BudgetExceeded(RuntimeError):
    """The work ran out of time or memory and was stopped."""


class WorkFailed(RuntimeError):
    """The work raised an exception; the message names its type and text."""


class Stopped(RuntimeError):
    """The work was stopped on request (`WorkerPool.stop`) before it finished."""


def workers_from_env(environ=os.environ) -> int:
    """How many workers the page's pool has: QUANT_WORKERS, default 2."""
    return max(1, int(environ.get("QUANT_WORKERS", 2)))


class Task(Future):
    """A submitted piece of work: a `Future`, plus what its worker needs to run it."""

    def __init__(self, budget: Budget, fn: Callable[..., Any], args: tuple, kwargs: dict):
        super().__init__()
        self.budget, self.fn, self.args, self.kwargs = budget, fn, args, kwargs
        self.stop_requested = threading.Event()


class WorkerPool:
    """`size` long-lived, warm worker processes that run submitted work within its budget.

    Safe to share between threads (Streamlit sessions are threads). Each
    worker has a thread in this process that feeds it tasks and watches its
    clock; a worker killed for overrunning, stopped on request, or grown past
    its memory high-water mark is replaced by a fresh, warm one.

    Parameters
    ----------
    size : int
        How many workers run at once.
    warm_up : callable, optional
        A module-level generator function each worker runs, a step (``next``)
        at a time whenever no work is waiting, e.g. to load numba's compiled
        kernels before a user needs them. Its failure is ignored: the work
        itself will then show what is wrong.
    finish_seconds : float
        The allowance for what work does after calling `clock_off`.
    """

    def __init__(
        self,
        size: int = 2,
        *,
        warm_up: Callable[[], Iterator[object]] | None = None,
        finish_seconds: float = FINISH_SECONDS,
    ):
        self.size = size
        self.finish_seconds = finish_seconds
        self._warm_up = warm_up
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._warming = size
        self._warm = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve, name=f"quant-worker-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def processes_started(self) -> int:
        """Worker processes started so far: `size`, plus one per replacement."""
        return self._started

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        """Wait until every first worker has started and taken its imports; False on timeout.

        Their warm-up steps go on while they idle.
        """
        return self._warm.wait(timeout)

    def submit(self, budget: Budget, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Task:
        """Queue ``fn(*args, **kwargs)`` to run in a worker within `budget`.

        `fn` must be a module-level function (it is pickled by reference).
        The future's result is what `fn` returns; it raises `BudgetExceeded`
        if the work ran out of time or memory, `WorkFailed` if it raised or
        its process died, and `Stopped` if `stop` ended it.
        """
        task = Task(budget, fn, args, kwargs)
        self._queue.put(task)
        return task

    def stop(self, task: Future) -> None:
        """Stop `task`: drop it if it is still queued, else kill its worker (a fresh one replaces it)."""
        if not task.cancel() and isinstance(task, Task):
            task.stop_requested.set()

    def shutdown(self) -> None:
        """Stop every worker once the work already queued is done."""
        for _ in self._threads:
            self._queue.put(None)

    # --- one thread per worker ---------------------------------------------------------------

    def _serve(self) -> None:
        worker = self._replacement()
        with self._lock:
            self._warming -= 1
            if not self._warming:
                self._warm.set()
        while (task := self._queue.get()) is not None:
            if not task.set_running_or_notify_cancel():
                continue  # stopped while queued
            try:
                if worker is None or not worker.alive():
                    worker = self._start_worker()
                healthy = worker.run(task, self.finish_seconds)
            except Exception as exc:  # noqa: BLE001 — this thread must live on to serve the next task
                if not task.done():
                    task.set_exception(WorkFailed(f"its worker failed: {type(exc).__name__}: {exc}"))
                healthy = False
            if not healthy:
                if worker is not None:
                    worker.kill()
                worker = self._replacement()
        if worker is not None:
            worker.kill()

    def _replacement(self) -> _Worker | None:
        """A fresh worker, warm before the next task comes; None if it can't start (tried again then)."""
        try:
            return self._start_worker()
        except Exception:  # noqa: BLE001 — the next task's own start reports it
            return None

    def _start_worker(self) -> _Worker:
        with self._lock:
            self._started += 1
        return _Worker.start(self._warm_up)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, process, connection: Connection, warm_rss: int):
        self.process, self.connection, self.warm_rss = process, connection, warm_rss

    @classmethod
    def start(cls, warm_up: Callable[[], Iterator[object]] | None) -> _Worker:
        context = _forkserver()
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker_main, args=(child_end, warm_up), daemon=True)
        process.start()
        child_end.close()
        try:
            _, warm_rss, _ = parent_end.recv()  # ("ready", resident bytes, 0)
        except EOFError:
            warm_rss = 0  # died while warming up: the first task reports it
        return cls(process, parent_end, warm_rss)

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()

    def run(self, task: Task, finish_seconds: float) -> bool:
        """Run `task`, settle its future; False if this worker must be replaced."""
        budget = task.budget
        try:
            self.connection.send((task.fn, task.args, task.kwargs, budget.memory_mb))
        except Exception as exc:  # noqa: BLE001 — e.g. an argument that can't be pickled
            task.set_exception(WorkFailed(f"could not hand the work to a worker: {type(exc).__name__}: {exc}"))
            return self.alive()
        deadline: float | None = None  # the clock starts when the worker says it started
        limit = f"stopped after its {budget.seconds:g} s time budget"
        while True:
            if task.stop_requested.is_set():
                task.set_exception(Stopped("stopped on request"))
                return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                task.set_exception(BudgetExceeded(limit))
                return False
            wait = _POLL_SECONDS if deadline is None else min(_POLL_SECONDS, deadline - now)
            if not self.connection.poll(wait):
                continue
            try:
                kind, payload, rss = self.connection.recv()
            except (EOFError, OSError):
                self.process.join(1)
                task.set_exception(WorkFailed(f"its worker process died (exit code {self.process.exitcode})"))
                return False
            if kind == "started":  # a warm-up step's "clock-off" may come before it: the task starts here
                deadline = time.monotonic() + budget.seconds
                limit = f"stopped after its {budget.seconds:g} s time budget"
            elif kind == "clock-off":
                deadline = time.monotonic() + finish_seconds
                limit = f"stopped after its {finish_seconds:g} s allowance for encoding and scoring the result"
            elif kind == "ok":
                task.set_result(payload)
                return not self._past_high_water(rss, budget)
            elif kind == "memory":
                task.set_exception(BudgetExceeded(f"ran out of its {budget.memory_mb:,} MB memory budget"))
                return False  # what a MemoryError left behind is not worth keeping
            else:
                task.set_exception(WorkFailed(payload))
                return not self._past_high_water(rss, budget)

    def _past_high_water(self, rss: int, budget: Budget) -> bool:
        return budget.memory_mb is not None and rss - self.warm_rss > HIGH_WATER_FRACTION * budget.memory_mb * 2**20


def call_with_budget(
    fn: Callable[..., Any],
    *args: Any,
    seconds: float,
    memory_mb: int | None = None,
    **kwargs: Any,
) -> Any:
    """Return ``fn(*args, **kwargs)``, computed in a worker of the shared pool (see `shared_pool`).

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference).
    seconds : float
        Wall-time budget, from when a worker starts the work. The worker is
        killed when it runs out.
    memory_mb : int, optional
        Extra address space the work may allocate beyond what its worker
        holds when it starts; allocations past it fail with `MemoryError`.

    Raises
    ------
    BudgetExceeded
        If the work ran out of time or memory.
    WorkFailed
        If the work raised, or its process died.
    """
    return shared_pool().submit(Budget(seconds, memory_mb), fn, *args, **kwargs).result()


_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def shared_pool(warm_up: Callable[[], Iterator[object]] | None = None) -> WorkerPool:
    """The process's pool, `workers_from_env()` workers, started by the first call (whose `warm_up` it keeps)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkerPool(workers_from_env(), warm_up=warm_up)
        return _shared


def clock_off() -> None:
    """Called by work in a worker: the budgeted part is done; the rest runs under `FINISH_SECONDS`.

    Outside a worker it does nothing, so the same code runs in-process too.
    """
    if _connection is not None:
        _connection.send(("clock-off", None, 0))


# --- inside a worker process --------------------------------------------------------------------

_connection: Connection | None = None
_context = None


def _forkserver():
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _context = context
    return _context


def _worker_main(connection: Connection, warm_up: Callable[[], Iterator[object]] | None) -> None:
    global _connection
    steps = iter(warm_up() or ()) if warm_up is not None else iter(())
    connection.send(("ready", _resident_size(), 0))
    _connection = connection
    while True:
        # Warm up one step at a time while no work is waiting: work never waits for a whole warm-up.
        while not connection.poll():
            try:
                next(steps)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 — a broken warm-up shows in the first real task instead
                steps = iter(())
        try:
            fn, args, kwargs, memory_mb = connection.recv()
        except EOFError:
            return
        connection.send(("started", None, 0))
        if memory_mb is not None:
            _cap_address_space(memory_mb)
        try:
            outcome: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except MemoryError:
            outcome = ("memory", None)
        except Exception as exc:  # noqa: BLE001 — reported to the parent as text: its traceback is no use to a user
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        _lift_address_cap()
        try:
            connection.send((*outcome, _resident_size()))
        except MemoryError:
            connection.send(("memory", None, 0))


def _cap_address_space(memory_mb: int) -> None:
    """Let the process grow by `memory_mb` beyond its current virtual size, and no further.

    Only Linux reports the virtual size cheaply (/proc); elsewhere the time
    budget alone applies.
    """
    try:
        limit = _statm_bytes(0) + memory_mb * 2**20
    except OSError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _lift_address_cap() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _resident_size() -> int:
    try:
        return _statm_bytes(1)
    except OSError:
        return 0


def _statm_bytes(field: int) -> int:
    """A size from /proc/self/statm, in bytes: field 0 is the virtual size, 1 the resident set."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[field])
    return pages * resource.getpagesize()
