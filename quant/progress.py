"""How far a batch has got, on stderr: a bar on a terminal, a line per 10 % in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Done, failed and remaining inputs of a run, with an ETA from the rate so far.

    On a terminal one line is redrawn in place; elsewhere (a log file, a CI
    job) a line is printed each time another tenth of the inputs is finished.
    Messages about single inputs go through `write`, so they never land in
    the middle of the bar.
    """

    WIDTH = 24

    def __init__(self, total: int, stream: TextIO | None = None, *, bar: bool | None = None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self.done = self.failed = 0
        self.started = time.monotonic()
        self._tenths = 0
        if self.bar and total:
            self._draw()

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def advance(self, *, ok: bool) -> None:
        """Count one more input, finished well (`ok`) or not."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self.bar:
            self._draw()
            return
        tenths = self.finished * 10 // max(self.total, 1)
        if tenths > self._tenths:
            self._tenths = tenths
            percent = 100 * self.finished // max(self.total, 1)
            print(f"quant: {percent}% — {self._counts()}", file=self.stream, flush=True)

    def write(self, text: str) -> None:
        """One line of text for the user, printed above the bar."""
        if self.bar:
            self.stream.write("\r\x1b[K")
        print(text, file=self.stream, flush=True)
        if self.bar:
            self._draw()

    def close(self) -> None:
        if self.bar and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _counts(self) -> str:
        left = self.total - self.finished
        return f"{self.done} done, {self.failed} failed, {left} left, ETA {self._eta()}"

    def _eta(self) -> str:
        if not self.finished:
            return "…"
        seconds = round((time.monotonic() - self.started) / self.finished * (self.total - self.finished))
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    def _draw(self) -> None:
        filled = self.WIDTH * self.finished // max(self.total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r\x1b[K[{bar}] {self._counts()}")
        self.stream.flush()
