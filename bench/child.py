"""Run a command as a child process and measure it: wall time, CPU time and peak memory."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

#: The repository: children run there, so `python -m quant` and `python -m bench.…` resolve.
ROOT = Path(__file__).resolve().parents[1]


def run_child(argv: list[str], timeout: float) -> tuple[int | None, str, float, float]:
    """Run a child; return (exit code or None on timeout, stdout, wall seconds, peak RSS in MB)."""
    status, text, wall, usage = run_child_usage(argv, timeout)
    return status, text, wall, usage.ru_maxrss / 1024.0


def run_child_usage(argv: list[str], timeout: float) -> tuple[int | None, str, float, resource.struct_rusage]:
    """Run a child; return (exit code or None on timeout, stdout, wall seconds, its `resource.struct_rusage`)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        deadline = started + timeout
        status, usage = None, None
        while True:
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, _, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        child.returncode = status if status is not None else -9
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if status not in (0, None):
            text = "ERROR " + err.read().decode()[-500:]
    return status, text, wall, usage
