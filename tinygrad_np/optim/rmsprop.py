"""RMSprop (Hinton's lecture 6e), as `torch.optim.RMSprop`."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_np._blas import axpy
from tinygrad_np.optim.optimizer import Optimizer, check_range


def rmsprop(p: np.ndarray, g: np.ndarray, state: dict[str, Any], scratch: np.ndarray, *, lr: float, alpha: float,
            eps: float, weight_decay: float, momentum: float, centered: bool) -> None:
    """p -= lr * buf (momentum > 0) or lr * g' / avg, in place, where

        g' = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g'^2
        avg = sqrt(sq - ga^2) + eps with ga = alpha * ga + (1 - alpha) * g' (centered), else sqrt(sq) + eps
        buf = momentum * buf + g' / avg
    """
    if weight_decay:
        g = g + weight_decay * p
    s = scratch
    sq = state.get("square_avg")
    if sq is None:
        sq = state["square_avg"] = np.zeros_like(p)
    np.multiply(sq, alpha, out=sq)
    np.multiply(g, g, out=s)
    axpy(1.0 - alpha, s, sq, s)
    if centered:
        ga = state.get("grad_avg")
        if ga is None:
            ga = state["grad_avg"] = np.zeros_like(p)
        np.subtract(g, ga, out=s)  # ga += (1 - alpha) * (g' - ga), torch's lerp
        np.multiply(s, 1.0 - alpha, out=s)
        np.add(ga, s, out=ga)
        np.multiply(ga, ga, out=s)
        np.subtract(sq, s, out=s)
        np.sqrt(s, out=s)
    else:
        np.sqrt(sq, out=s)
    np.add(s, eps, out=s)
    np.divide(g, s, out=s)
    if momentum > 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.zeros_like(p)
        np.multiply(buf, momentum, out=buf)
        np.add(buf, s, out=buf)
        s = buf
    axpy(-lr, s, p, scratch)


class RMSProp(Optimizer):
    """RMSprop, optionally centered and with momentum (the rule: `rmsprop`)."""

    rule = staticmethod(rmsprop)
    state_keys = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("alpha value", group["alpha"], 0.0, 1.0)
        check_range("momentum value", group["momentum"], 0.0, 1.0, hi_open=True)


RMSprop = RMSProp
