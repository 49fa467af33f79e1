"""Gradient clipping, as `torch.nn.utils`: `clip_grad_norm_` and `clip_grad_value_`."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from tinygrad_np.jit import replayed
from tinygrad_np.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters: Any) -> list[Tensor]:
    # a list: a jit passes it again as it is (the same Tensors, their .grad read at each call)
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale every `.grad` in place so that their joint `norm_type`-norm (as of one vector) is at
    most `max_norm`; returns the norm before clipping (a Python float).  `norm_type` may be inf."""
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0 or norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: need max_norm >= 0 and norm_type > 0, got {max_norm}, {norm_type}")
    return float(_clip_norm(_params(parameters), max_norm, norm_type, error_if_nonfinite))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clip every `.grad` in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    _clip_value(_params(parameters), clip_value)


# A jit makes these calls again at every replay (on the .grad arrays of that moment).  The norm
# returned inside a jitted function is the recording's, like any Python number there.
@replayed
def _clip_norm(params: list[Tensor], max_norm: float, norm_type: float, error_if_nonfinite: bool) -> np.ndarray:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return np.asarray(0.0)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            np.multiply(g, scale, out=g, casting="same_kind")
    return np.asarray(total)


@replayed
def _clip_value(params: list[Tensor], clip_value: float) -> None:
    for p in params:
        if p.grad is not None:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)
