"""Stochastic gradient descent, as `torch.optim.SGD`."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_np._blas import axpy
from tinygrad_np.optim.optimizer import Optimizer, check_range


def sgd(p: np.ndarray, g: np.ndarray, state: dict[str, Any], scratch: np.ndarray, *, lr: float,
        momentum: float, dampening: float, nesterov: bool, weight_decay: float) -> None:
    """p -= lr * step, in place, where

        g' = g + weight_decay * p
        without momentum:  step = g'
        with momentum:     buf = g' at the first step, then buf = momentum * buf + (1 - dampening) * g'
                           step = g' + momentum * buf (nesterov), else buf
    """
    if weight_decay:
        np.multiply(p, weight_decay, out=scratch)
        np.add(scratch, g, out=scratch)
        g = scratch
    if momentum:
        buf = state.get("momentum_buffer")
        if buf is None:  # torch starts the buffer at g', whenever momentum starts
            buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype)
        else:
            np.multiply(buf, momentum, out=buf)
            if dampening:  # (no Nesterov with dampening, so g' is not needed after this)
                axpy(1.0 - dampening, g, buf, scratch)
            else:
                np.add(buf, g, out=buf)
        if nesterov:
            if g is scratch:
                axpy(momentum, buf, scratch)
            else:
                np.multiply(buf, momentum, out=scratch)
                np.add(scratch, g, out=scratch)
            g = scratch
        else:
            g = buf
    axpy(-lr, g, p, scratch)


class SGD(Optimizer):
    """SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay (the rule: `sgd`)."""

    rule = staticmethod(sgd)
    state_keys = ("momentum_buffer",)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_range("momentum value", group["momentum"], 0.0, 1.0, hi_open=True)
        check_range("dampening value", group["dampening"], 0.0, 1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
