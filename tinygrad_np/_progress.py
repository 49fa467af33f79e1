"""A dependency-free progress bar for downloads and training epochs, and `progress_bar`, which
uses tqdm's instead when tqdm is installed (`tqdm.auto`: a widget in Jupyter notebooks).

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
        self.postfix = ""
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

    def set_postfix_str(self, s: str) -> None:
        """Text shown after the counts (e.g. the running loss), from the next redraw on (tqdm's name)."""
        self.postfix = s

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        frac = min(self.n / self.total, 1.0) if self.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total}{self.unit} "
                          f"{elapsed:.1f}s<{eta:.1f}s {self.postfix}")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar (on a terminal); the caller then prints its own summary line."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is no terminal but tqdm.auto draws a widget)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Tqdm:
    """A tqdm bar with `ProgressBar`'s interface (`enabled`, `update`, `set_postfix_str`, `close`)."""

    def __init__(self, tqdm: type, total: int, desc: str, stream: TextIO | None, min_interval: float) -> None:
        self.enabled = True
        self._bar = tqdm(total=total, desc=desc, file=stream, leave=False, mininterval=min_interval)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_postfix_str(self, s: str) -> None:
        self._bar.set_postfix_str(s, refresh=False)

    def close(self) -> None:
        self._bar.close()


def progress_bar(total: int, desc: str = "", enabled: bool | None = None, stream: TextIO | None = None,
                 min_interval: float = 0.1) -> ProgressBar | _Tqdm:
    """A progress bar: tqdm's (`tqdm.auto`) when tqdm is installed, else `ProgressBar`.

    enabled: None draws only on a terminal or in a notebook; False returns a disabled
    `ProgressBar` (tqdm is not even imported).  stream: default sys.stderr.  min_interval:
    seconds between redraws.
    """
    out = stream if stream is not None else sys.stderr
    if enabled is None:
        enabled = _is_terminal(out) or _in_notebook()
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return _Tqdm(tqdm, total, desc, stream, min_interval)
    return ProgressBar(total, desc, stream=out, min_interval=min_interval, enabled=enabled)
