"""Compare analytical gradients with float64 central differences."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tinygrad_np.tensor import Tensor, no_grad


def _float64_copy_with_layout(a: np.ndarray) -> np.ndarray:
    """A float64 copy of `a` laid out like it: same strides pattern (transposed, strided or
    reversed views stay so), since backward bugs live in those layouts."""
    if a.ndim == 0 or 0 in a.strides or a.size == 0:
        return np.array(a, dtype=np.float64)
    scale = 8 // a.itemsize if a.itemsize <= 8 and 8 % a.itemsize == 0 else None
    if scale is None or any(st % a.itemsize for st in a.strides):
        return np.array(a, dtype=np.float64)
    steps = [st // a.itemsize for st in a.strides]  # strides in elements
    low = sum(min(0, st * (n - 1)) for st, n in zip(steps, a.shape))
    high = sum(max(0, st * (n - 1)) for st, n in zip(steps, a.shape))
    buffer = np.zeros(high - low + 1, dtype=np.float64)
    view = np.lib.stride_tricks.as_strided(buffer[-low:], a.shape, [st * 8 for st in steps])
    view[...] = a
    return view


def _as_float64_inputs(inputs: tuple[Any, ...]) -> list[Any]:
    """Float64 copies of the Tensor inputs (others unchanged), so that perturbing them is exact."""
    return [Tensor(_float64_copy_with_layout(x.data), requires_grad=x.requires_grad)
            if isinstance(x, Tensor) else x for x in inputs]


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


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check the gradients of `fn` w.r.t. every input Tensor with `requires_grad=True`.

    The inputs are copied to float64.  The output is reduced to a scalar with random
    weights (so every output element's gradient is exercised), differentiated by
    `backward()`, and compared with central differences of step `eps`:
    |analytic - numeric| <= atol + rtol * |numeric| element by element.

    Returns True, or raises AssertionError naming the input, the element and both
    values of the worst mismatch.
    """
    args = _as_float64_inputs(inputs)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input Tensor has requires_grad=True")
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    if out.requires_grad:
        out.backward(weights)
    for i in checked:
        x = args[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        numeric = numerical_grad(fn, args, i, weights, eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        bad = ~(excess <= 0)  # NaN counts as a mismatch
        if bad.any():
            worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)),
                                     x.shape)
            raise AssertionError(
                f"gradcheck: gradient mismatch for input {i} (shape {x.shape}) at element {tuple(map(int, worst))}: "
                f"analytical {analytic[worst]!r} vs numerical {numeric[worst]!r} "
                f"({int(bad.sum())} of {x.size} elements outside atol={atol}, rtol={rtol})")
    return True
