"""A progress line on stderr for long operator commands (no dependency for 40 lines).

On a terminal the line is redrawn in place at most ten times a second; into a file or
a pipe it is written once per tenth of the work, so logs stay readable.
"""

import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, out: TextIO = sys.stderr):
        self.label, self.total, self.out = label, max(total, 1), out
        self.done = 0
        self.started = self._drawn_at = time.monotonic()
        self._tty = out.isatty()
        self._tenth = 0

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty:
            if now - self._drawn_at >= 0.1:
                self._draw(now, end="\r")
        elif self.done * 10 // self.total > self._tenth:
            self._tenth = self.done * 10 // self.total
            self._draw(now, end="\n")

    def finish(self) -> float:
        """Draw the final line; returns the seconds spent."""
        now = time.monotonic()
        if self._tty or self._tenth < 10:
            self._draw(now, end="\n")
        return now - self.started

    def _draw(self, now: float, end: str) -> None:
        self._drawn_at = now
        filled = min(WIDTH, self.done * WIDTH // self.total)
        rate = self.done / max(now - self.started, 1e-9)
        self.out.write(f"{self.label:<12} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                       f"{self.done:>9}/{self.total:<9} {rate:>9,.0f} rows/s{end}")
        self.out.flush()
