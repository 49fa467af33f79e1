"""A dependency-free progress bar for downloads and training epochs.

On a terminal it redraws one line in place (at most every `min_interval` seconds, so
updating it from a hot loop costs almost nothing); elsewhere (a pipe, a log file, CI) it
prints nothing.  `close` erases the bar; the caller then prints its own summary line.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """`bar = ProgressBar(total, "epoch 1/10"); bar.update(k); ...; bar.close()`."""

    def __init__(self, total: int, desc: str = "", unit: str = "", stream: TextIO | None = None,
                 width: int = 30, min_interval: float = 0.1, enabled: bool | None = None) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.n = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        """Advance by `n`; redraw only if the last redraw is older than `min_interval`."""
        self.n += n
        if self.enabled:
            now = time.perf_counter()
            if now - self._last >= self.min_interval or self.n >= self.total:
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        frac = min(self.n / self.total, 1.0) if self.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total}{self.unit} "
                          f"{elapsed:.1f}s<{eta:.1f}s ")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar (on a terminal); the caller then prints its own summary line."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
