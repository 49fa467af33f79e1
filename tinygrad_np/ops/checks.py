"""Argument checks shared by the ops, the Tensor methods and `tinygrad_np.functional`."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np


def is_int(value: Any) -> bool:
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...] | None:
    """Return `axis` as a sorted tuple of non-negative axes (None means all), or raise ValueError."""
    if axis is None:
        return None
    axes = (axis,) if is_int(axis) else tuple(axis) if isinstance(axis, (tuple, list)) else None
    if axes is None or not all(map(is_int, axes)):
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def require_float(x: np.ndarray) -> None:
    """Raise TypeError unless x is a float array (the float functions refuse labels and masks)."""
    if x.dtype.kind != "f":
        raise TypeError(f"needs a float tensor, got dtype {x.dtype} (convert with Tensor(x, dtype=np.float32))")


def check_exponent(exponent: Any) -> float:
    """The exponent as a Python int or float (weak: a float32 base stays float32)."""
    if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
        raise TypeError(f"pow: exponent must be a real number, got {type(exponent).__name__}")
    return int(exponent) if isinstance(exponent, numbers.Integral) else float(exponent)


def expand(grad: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool, ndim: int) -> np.ndarray:
    """Reshape a reduction's gradient so it broadcasts against the reduced input."""
    if keepdims or axis is None:
        return grad if keepdims else grad.reshape((1,) * ndim)
    return np.expand_dims(grad, axis)
