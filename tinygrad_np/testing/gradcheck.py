"""Compare analytical gradients with float64 central differences.

Each input is differentiated in its own dtype: a float32 input runs the float32 code path
(backward on float32 arrays), checked against the float64 numerical reference with
float32's tolerances; float64 inputs are checked tightly.  The error message says which.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tinygrad_np.autograd import no_grad
from tinygrad_np.tensor import Tensor


# Default (atol, rtol) by the dtype the analytical gradient is computed in.
TOLERANCES = {np.dtype(np.float64): (1e-5, 1e-3), np.dtype(np.float32): (1e-4, 1e-2)}


def _copy_with_layout(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A copy of `a` in `dtype`, laid out like it: same strides pattern (transposed, strided or
    reversed views stay so), since backward bugs live in those layouts."""
    size = dtype.itemsize
    if a.ndim == 0 or 0 in a.strides or a.size == 0 or any(st % a.itemsize for st in a.strides):
        return np.array(a, dtype=dtype)
    steps = [st // a.itemsize for st in a.strides]  # strides in elements
    low = sum(min(0, st * (n - 1)) for st, n in zip(steps, a.shape))
    high = sum(max(0, st * (n - 1)) for st, n in zip(steps, a.shape))
    buffer = np.zeros(high - low + 1, dtype=dtype)
    view = np.lib.stride_tricks.as_strided(buffer[-low:], a.shape, [st * size for st in steps])
    view[...] = a
    return view


def _copies(inputs: tuple[Any, ...], float64: bool) -> list[Any]:
    """Copies of the Tensor inputs (others unchanged): in float64 for the numerical reference
    (so that perturbing them is exact), else in their own dtype (float32 stays float32)."""
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            dt = np.dtype(np.float64) if float64 or x.dtype not in TOLERANCES else x.dtype
            x = Tensor(_copy_with_layout(x.data, dt), requires_grad=x.requires_grad)
        out.append(x)
    return out


def _scalarize(out: Tensor, weights: np.ndarray) -> float:
    return float(np.sum(out.data * weights))


def numerical_grad(fn: Callable[..., Tensor], inputs: list[Any], index: int, weights: np.ndarray,
                   eps: float) -> np.ndarray:
    """Central-difference gradient of sum(fn(*inputs) * weights) w.r.t. inputs[index] (a float64 Tensor)."""
    x = inputs[index].data
    grad = np.zeros_like(x)
    with no_grad():
        for i in np.ndindex(x.shape):
            orig = x[i]
            x[i] = orig + eps
            plus = _scalarize(fn(*inputs), weights)
            x[i] = orig - eps
            minus = _scalarize(fn(*inputs), weights)
            x[i] = orig
            grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float | None = None,
              rtol: float | None = None, seed: int = 0) -> bool:
    """Check the gradients of `fn` w.r.t. every input Tensor with `requires_grad=True`.

    The analytical gradient is computed in the inputs' own dtypes (float32 inputs run the
    float32 code path; other dtypes are taken to float64); the numerical reference is
    central differences of step `eps` on float64 copies.  The output is reduced to a
    scalar with random weights (so every output element's gradient is exercised).  Each
    element must satisfy |analytic - numeric| <= atol + rtol * |numeric|, with atol and
    rtol by default from `TOLERANCES` for the dtype the gradient was computed in
    (float64: 1e-5, 1e-3; float32: 1e-4, 1e-2).

    Returns True, or raises AssertionError naming the input, its dtype, the element and
    both values of the worst mismatch.
    """
    args = _copies(inputs, float64=False)
    ref_args = _copies(inputs, float64=True)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input Tensor has requires_grad=True")
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    if out.requires_grad:
        out.backward(weights.astype(out.dtype))
    for i in checked:
        x = args[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad.astype(np.float64)
        numeric = numerical_grad(fn, ref_args, i, weights, eps)
        default_atol, default_rtol = TOLERANCES[x.dtype]
        a_tol = default_atol if atol is None else atol
        r_tol = default_rtol if rtol is None else rtol
        excess = np.abs(analytic - numeric) - (a_tol + r_tol * np.abs(numeric))
        bad = ~(excess <= 0)  # NaN counts as a mismatch
        if bad.any():
            worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)),
                                     x.shape)
            raise AssertionError(
                f"gradcheck: gradient mismatch for input {i} (shape {x.shape}, backward in {x.dtype} against "
                f"float64 central differences) at element {tuple(map(int, worst))}: "
                f"analytical {analytic[worst]!r} vs numerical {numeric[worst]!r} "
                f"({int(bad.sum())} of {x.size} elements outside atol={a_tol}, rtol={r_tol})")
    return True
