"""Adagrad (Duchi et al. 2011), as `torch.optim.Adagrad`."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_np._blas import axpy
from tinygrad_np.optim.optimizer import Optimizer, check_range


def adagrad(p: np.ndarray, g: np.ndarray, state: dict[str, Any], scratch: np.ndarray, *, lr: float,
            lr_decay: float, weight_decay: float, initial_accumulator_value: float, eps: float) -> None:
    """p -= clr * g' / (sqrt(sum) + eps), in place, where

        g' = g + weight_decay * p
        sum += g'^2          (sum starts at initial_accumulator_value)
        clr = lr / (1 + (step - 1) * lr_decay)
    """
    acc = state.get("sum")
    if acc is None:
        acc = state["sum"] = np.full_like(p, initial_accumulator_value)
    clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
    if weight_decay:
        g = g + weight_decay * p  # rare: one temporary
    # 6 passes, no allocation: s = g*g; sum += s; s = sqrt(sum); s += eps; s = g/s; p -= clr*s
    s = scratch
    np.multiply(g, g, out=s)
    np.add(acc, s, out=acc)
    np.sqrt(acc, out=s)
    np.add(s, eps, out=s)
    np.divide(g, s, out=s)
    axpy(-clr, s, p, s)


class AdaGrad(Optimizer):
    """Adagrad (the rule: `adagrad`).  The seed's version started its sum at 1 and had no eps;
    here, as in PyTorch, the sum starts at `initial_accumulator_value` (0) and eps is 1e-10."""

    rule = staticmethod(adagrad)
    state_keys = ("sum",)

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("lr_decay value", group["lr_decay"], 0.0)
        check_range("initial_accumulator_value", group["initial_accumulator_value"], 0.0)


Adagrad = AdaGrad
