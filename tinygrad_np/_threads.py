"""BLAS thread control through threadpoolctl (the `threads` extra), as scikit-learn does.

At batch 20 a layer's matmul is ~20 x 784 x 400: far too small to split across threads.
OpenBLAS splits it anyway, and on a machine whose cores are busy its threads wait on each
other (measured on a shared 2-core machine: a 784-400-200-10 step took 14 ms with the
default pool against 0.8 ms with one thread).  Nothing here runs at import: the pool
changes only when the user (or the CLI, an application) asks.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

_MISSING = ("BLAS thread control needs threadpoolctl: pip install 'tinygrad_np[threads]' "
            "(or pip install threadpoolctl)")


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError:
        raise ImportError(_MISSING) from None
    return threadpoolctl


def _check(n: Any, owner: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{owner}: the number of threads must be a positive integer, got {n!r}")
    return n


def set_num_threads(n: int) -> None:
    """Limit every BLAS library loaded in the process to `n` threads, from now on (as
    `torch.set_num_threads`).  One thread is fastest for small batches on a busy machine."""
    _threadpoolctl().threadpool_limits(_check(n, "set_num_threads"), user_api="blas")


def get_num_threads() -> int:
    """The largest thread count among the BLAS libraries loaded in the process (1 if none)."""
    counts = [lib["num_threads"] for lib in _threadpoolctl().threadpool_info() if lib["user_api"] == "blas"]
    return max(counts, default=1)


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the body with at most `n` BLAS threads and restore the pool after (None: leave it alone)."""
    if n is None:
        yield
        return
    with _threadpoolctl().threadpool_limits(_check(n, "blas_threads"), user_api="blas"):
        yield
