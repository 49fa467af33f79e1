"""Tensor factories with PyTorch's names: `zeros`, `ones`, `randn`, `rand`, `arange`.

Each takes `dtype=` (float32 by default, as PyTorch's default dtype; `arange` of ints gives
int64) and `requires_grad=`.  `randn` / `rand` draw from `rng` when given, else from the
library's default generator (`tinygrad_np.manual_seed`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np._random import make_rng
from tinygrad_np.tensor import Tensor

__all__ = ["zeros", "ones", "randn", "rand", "arange"]


def _shape(op: str, size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in size):
        raise ValueError(f"{op}: sizes must be non-negative integers, got {size!r}")
    return tuple(int(n) for n in size)


def _dtype(op: str, dtype: Any, floats_only: bool = False) -> np.dtype:
    try:
        dt = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in ("f" if floats_only else "biuf"):
        raise ValueError(f"{op}: dtype must be a {'float' if floats_only else 'real'} dtype, got {dtype!r}")
    return dt


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape `size` (ints, or one tuple)."""
    return Tensor(np.zeros(_shape("zeros", size), _dtype("zeros", dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape `size` (ints, or one tuple)."""
    return Tensor(np.ones(_shape("ones", size), _dtype("ones", dtype)), requires_grad=requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None) -> Tensor:
    """Standard normal samples of shape `size`."""
    data = make_rng(rng).standard_normal(_shape("randn", size), dtype=_dtype("randn", dtype, floats_only=True))
    return Tensor(data, requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None) -> Tensor:
    """Uniform samples in [0, 1) of shape `size`."""
    data = make_rng(rng).random(_shape("rand", size), dtype=_dtype("rand", dtype, floats_only=True))
    return Tensor(data, requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """start, start + step, ... below `end` (`arange(n)`: 0 .. n-1), as `torch.arange`: int64 when
    every argument is an int and no dtype is given, else float32 (or `dtype`)."""
    if end is None:
        start, end = 0, start
    for v in (start, end, step):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange: start, end and step must be real numbers, got {v!r}")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = np.dtype(np.int64) if dtype is None and ints else _dtype("arange", dtype)
    return Tensor(np.arange(start, end, step).astype(dt), requires_grad=requires_grad)
