"""One lock for numba's parallel kernels, shared by all the code in a process that launches them.

The dashboard's sessions are threads of one process. numba's fallback
"workqueue" threading layer, used where neither libgomp nor TBB is installed
(as on slim hosting images), aborts the whole process when two threads
launch parallel kernels at once. Code that launches them holds `LAUNCH`
meanwhile (UMAP, for its whole run); code with a serial equivalent runs that
instead when the lock is taken, rather than wait.
"""

from __future__ import annotations

import threading
import types

LAUNCH = threading.Lock()


def renamed(function, name: str):
    """A copy of `function` under another name.

    numba's disk cache files a compiled function by its module, name and line
    (and keys it by its code), not by its compile flags: a serial and a
    parallel build of one function would load each other's machine code.
    """
    return types.FunctionType(function.__code__.replace(co_name=name, co_qualname=name), function.__globals__, name)


def run_parallel_or_serial(parallel, serial, large: bool, *args):
    """``parallel(*args)`` when the work is `large` and no other thread runs a parallel kernel, else ``serial(*args)``.

    The two are builds of one function that give the same answer, so a caller
    never waits for `LAUNCH`: while it is taken, the serial build runs.
    """
    if large and LAUNCH.acquire(blocking=False):
        try:
            return parallel(*args)
        finally:
            LAUNCH.release()
    return serial(*args)
