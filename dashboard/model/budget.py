"""Run one piece of work in a child process, within a time and a memory budget.

A palette method that raises, hangs or balloons must cost the user one result,
not the page and not the server that other people share. Threads can't be
stopped and a process's memory can't be capped per thread, so the work runs in
a child process: if it overruns, it is killed and a `BudgetExceeded` names
what ran out.

Children are forked from a clean *forkserver* that has already imported quant
and `dashboard.model.outcomes` (whose `measure` the page runs in the child), so
each call costs milliseconds, and no child inherits the server's OpenMP thread
pools, which are not fork-safe. The main module is not preloaded: under
Streamlit it is the page script, and importing it would draw the page in the
forkserver. As with any multiprocessing code, the main module (a Streamlit
script included) must still only draw under ``if __name__ == "__main__":``.

Use::

    result = call_with_budget(quantize, image, 16, "gmm", seconds=60, memory_mb=1500)
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: What the forkserver imports once, so children start warm: the engine and the module whose
#: function the page runs in a child. Never "__main__" (the Streamlit script; see above).
_PRELOAD = ["quant", "dashboard.model.outcomes"]
_context = None


@dataclass(frozen=True)
class Budget:
    """How long one piece of work may run, and how much memory it may add."""

    seconds: float
    memory_mb: int | None = None

    @classmethod
    def from_env(cls, environ=os.environ) -> Budget | None:
        """The budget set by QUANT_METHOD_SECONDS and QUANT_METHOD_MEMORY_MB.

        Defaults: 300 s and 4000 MB. ``QUANT_METHOD_SECONDS=0`` turns budgets
        off, and work runs in the calling process.
        """
        seconds = float(environ.get("QUANT_METHOD_SECONDS", 300))
        memory_mb = int(environ.get("QUANT_METHOD_MEMORY_MB", 4000))
        return cls(seconds, memory_mb or None) if seconds > 0 else None

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` within this budget; see `call_with_budget`."""
        return call_with_budget(fn, *args, seconds=self.seconds, memory_mb=self.memory_mb, **kwargs)


class BudgetExceeded(RuntimeError):
    """The work ran out of time or memory and was stopped."""


class WorkFailed(RuntimeError):
    """The work raised an exception; the message names its type and text."""


def call_with_budget(
    fn: Callable[..., Any],
    *args: Any,
    seconds: float,
    memory_mb: int | None = None,
    **kwargs: Any,
) -> Any:
    """Return ``fn(*args, **kwargs)``, computed in a child process.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference).
    seconds : float
        Wall-time budget. The child is killed when it runs out.
    memory_mb : int, optional
        Extra address space the child may allocate beyond what it starts
        with; allocations past it fail with `MemoryError` inside the child.

    Raises
    ------
    BudgetExceeded
        If the work ran out of time or memory.
    WorkFailed
        If the work raised, or its process died.
    """
    context = _forkserver()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, fn, args, kwargs, memory_mb), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise BudgetExceeded(f"stopped after its {seconds:g} s time budget")
        try:
            status, payload = receiver.recv()
        except EOFError:
            raise WorkFailed(f"its worker process died (exit code {child.exitcode})") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if status == "memory":
        raise BudgetExceeded(f"ran out of its {memory_mb:,} MB memory budget")
    if status == "error":
        raise WorkFailed(payload)
    return payload


def _forkserver():
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _context = context
    return _context


def _child(sender, fn, args, kwargs, memory_mb) -> None:
    if memory_mb is not None:
        _cap_address_space(memory_mb)
    try:
        outcome = ("ok", fn(*args, **kwargs))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as exc:  # noqa: BLE001 — reported to the parent as text: its traceback is no use to a user
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    try:
        sender.send(outcome)
    except MemoryError:
        sender.send(("memory", None))
    sender.close()


def _cap_address_space(memory_mb: int) -> None:
    """Let the process grow by `memory_mb` beyond its current virtual size, and no further.

    Only Linux reports the virtual size cheaply (/proc); elsewhere the time
    budget alone applies.
    """
    try:
        limit = _virtual_size() + memory_mb * 2**20
    except OSError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _virtual_size() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()
