"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as `torch.optim.Adam` / `AdamW`."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from tinygrad_np._blas import axpy
from tinygrad_np.optim.optimizer import Optimizer, check_range


def adam(p: np.ndarray, g: np.ndarray, state: dict[str, Any], scratch: np.ndarray, *, lr: float,
         betas: tuple[float, float], eps: float, weight_decay: float, amsgrad: bool) -> None:
    """p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), in place, where

        g' = g + weight_decay * p     (L2 decay in the gradient)
        m = beta1 * m + (1 - beta1) * g'
        v = beta2 * v + (1 - beta2) * g'^2     (amsgrad: v = max(vmax, v) in the step)
    """
    b1, b2 = betas
    if weight_decay:
        g = g + weight_decay * p
    m, v = state.get("exp_avg"), state.get("exp_avg_sq")
    if m is None:
        m = state["exp_avg"] = np.zeros_like(p)
    if v is None:
        v = state["exp_avg_sq"] = np.zeros_like(p)
    s = scratch
    np.multiply(m, b1, out=m)  # torch's lerp, up to rounding
    axpy(1.0 - b1, g, m, s)
    np.multiply(v, b2, out=v)
    np.multiply(g, g, out=s)
    axpy(1.0 - b2, s, v, s)
    if amsgrad:
        vmax = state.get("max_exp_avg_sq")
        if vmax is None:
            vmax = state["max_exp_avg_sq"] = np.zeros_like(p)
        np.maximum(vmax, v, out=vmax)
        v = vmax
    if lr == 0.0:
        return
    # step_size * m / (sqrt(v)/sqrt(bc2) + eps) == step_size*sqrt(bc2) * m / (sqrt(v) + eps*sqrt(bc2)):
    # both scalar factors move into the eps pass and the final axpy.
    t = state["step"]
    step_size = lr / (1.0 - b1 ** t)
    root_bc2 = math.sqrt(1.0 - b2 ** t)
    np.sqrt(v, out=s)
    np.add(s, eps * root_bc2, out=s)
    np.divide(m, s, out=s)
    axpy(-step_size * root_bc2, s, p, s)


def adamw(p: np.ndarray, g: np.ndarray, state: dict[str, Any], scratch: np.ndarray, *, lr: float,
          weight_decay: float, **adam_hyperparameters: Any) -> None:
    """p *= 1 - lr * weight_decay (decoupled decay), then the `adam` step without weight decay."""
    if weight_decay:
        np.multiply(p, 1.0 - lr * weight_decay, out=p)
    adam(p, g, state, scratch, lr=lr, weight_decay=0.0, **adam_hyperparameters)


class Adam(Optimizer):
    """Adam, optionally AMSGrad (the rule: `adam`)."""

    rule = staticmethod(adam)
    state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (need a pair (beta1, beta2))")
        check_range("beta parameter at index 0", betas[0], 0.0, 1.0, hi_open=True)
        check_range("beta parameter at index 1", betas[1], 0.0, 1.0, hi_open=True)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, default 1e-2 (the rule: `adamw`)."""

    rule = staticmethod(adamw)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
