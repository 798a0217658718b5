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

LAUNCH = threading.Lock()
