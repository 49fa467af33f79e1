"""Limit OpenBLAS's thread pool while a small-batch training loop runs.

At batch 20 a layer's matmul is ~20 x 784 x 400: far too small to split across threads.
OpenBLAS splits it anyway, and on a machine whose cores are busy its threads wait on each
other: measured on a shared 2-core machine, a 784-400-200-10 step took 14 ms with the
default pool against 0.8 ms with one thread.  `blas_threads(1)` sets the pool of every
OpenBLAS that NumPy loaded (found in /proc/self/maps, as threadpoolctl does) and restores
it on exit.  Where that is not possible (another BLAS, another OS) it does nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
from typing import Any, Iterator

_NAMES = [(f"{p}_get_num_threads{s}", f"{p}_set_num_threads{s}")
          for p in ("openblas", "scipy_openblas") for s in ("", "64_", "_64_")]
_libs: list[tuple[Any, Any]] | None = None  # (get_num_threads, set_num_threads) per library


def _openblas_libs() -> list[tuple[Any, Any]]:
    """The (getter, setter) pair of every OpenBLAS mapped into this process."""
    global _libs
    if _libs is not None:
        return _libs
    _libs = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return _libs
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _NAMES:
            if hasattr(lib, get) and hasattr(lib, set_):
                _libs.append((getattr(lib, get), getattr(lib, set_)))
                break
    return _libs


def get_threads() -> list[int]:
    """The thread count of each OpenBLAS found (empty if none)."""
    return [int(get()) for get, _ in _openblas_libs()]


def _set(counts: list[int]) -> None:
    for (_, set_), n in zip(_openblas_libs(), counts):
        set_(ctypes.c_int(int(n)))


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the body with at most `n` OpenBLAS threads (None: leave the pool alone)."""
    before = get_threads() if n is not None else []
    if all(b <= n for b in before):  # nothing to limit (or no OpenBLAS found)
        yield
        return
    _set([min(b, n) for b in before])
    try:
        yield
    finally:
        _set(before)
