"""Fused primitives: each call is ONE graph node with a hand-derived backward (see `ops`).

    import tinygrad_np.functional as F
    logits = F.linear(F.relu(F.linear(x, W1, b1)), W2, b2)
    loss = F.softmax_cross_entropy(logits, labels)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # by itemsize


def _tensor(x: Any, op: str) -> Tensor:
    """x as a Tensor; a value that cannot be one raises TypeError naming `op`."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except TypeError as e:
        raise TypeError(f"{op}: {str(e).removeprefix('Tensor: ')}") from None


def linear(x: Any, W: Tensor, b: Tensor | None = None, activation: str | None = None) -> Tensor:
    """activation(x @ W + b), as one graph node.

    x: (..., n_in), W: (n_in, n_out), b: (n_out,) or None -> (..., n_out).  activation:
    None, "relu", "tanh" or "sigmoid", applied in place on the op's own output (so
    `linear(x, W, b, "relu")` costs one array where `relu(linear(x, W, b))` costs two).
    The backward computes dW and db, and dx only when x requires grad.
    """
    x, W = _tensor(x, "linear"), _tensor(W, "linear")
    if b is not None:
        b = _tensor(b, "linear")
    xs, ws = x._data.shape, W._data.shape
    if len(ws) != 2 or not xs or xs[-1] != ws[0]:
        raise ValueError(f"linear: x of shape {x.shape} does not match W of shape {W.shape} "
                         f"(need x (..., n_in) and W (n_in, n_out))")
    if b is not None and b._data.shape != (ws[1],):
        raise ValueError(f"linear: bias of shape {b.shape} does not match W of shape {W.shape} "
                         f"(need ({W.shape[1]},))")
    if activation is not None and activation not in ops.LINEAR_ACTIVATIONS:
        raise ValueError(f"linear: activation must be None or one of {tuple(ops.LINEAR_ACTIVATIONS)}, "
                         f"got {activation!r}")
    return ops.Linear.apply(x, W, b, activation=activation)


def _target_array(target: Any, op: str) -> np.ndarray:
    """A loss target as an array: labels stay integers (a list of ints too), values real."""
    try:
        t = np.asarray(target)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{op}: cannot convert the target ({type(target).__name__}) to an array: {e}") from None
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{op}: the target must be real numbers, got dtype {t.dtype}")
    return t


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise.  The gradient at exactly 0 is 0 (as in PyTorch)."""
    return ops.ReLU.apply(_tensor(x, "relu"))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise."""
    return ops.Tanh.apply(_tensor(x, "tanh"))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), elementwise, finite for any finite x."""
    return ops.Sigmoid.apply(_tensor(x, "sigmoid"))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, computed max-subtracted. Same shape as x."""
    x = _tensor(x, "softmax")
    (axis,) = ops.normalize_axis(axis, x.ndim, "softmax")
    return ops.Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, computed max-subtracted. Same shape as x."""
    x = _tensor(x, "log_softmax")
    (axis,) = ops.normalize_axis(axis, x.ndim, "log_softmax")
    return ops.LogSoftmax.apply(x, axis=axis)


def softmax_cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy between softmax(logits) and `target`, fused and numerically stable.

    logits: (N, C).  target: integer class labels of shape (N,) (an integer dtype), or
    class probabilities / one-hot rows of shape (N, C).  reduction: "mean" (over N,
    returns a 0-d tensor), "sum", or "none" (returns the N per-example losses).
    """
    logits = _tensor(logits, "softmax_cross_entropy")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"softmax_cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if logits.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (N, C), got {logits.shape}")
    n, c = logits.shape
    t = target.data if isinstance(target, Tensor) else _target_array(target, "softmax_cross_entropy")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise ValueError(f"softmax_cross_entropy: class labels must have an integer dtype, got {t.dtype} "
                             "(pass probabilities as an (N, C) array)")
        if t.shape[0] != n:
            raise ValueError(f"softmax_cross_entropy: {t.shape[0]} labels for {n} rows of logits "
                             f"(shapes {logits.shape} and {t.shape})")
        # One reduction checks both ends: viewed as unsigned, a negative label is huge.
        if n and np.maximum.reduce(t.view(_UNSIGNED[t.itemsize])) >= c:
            bad = t[(t < 0) | (t >= c)][0]
            raise ValueError(f"softmax_cross_entropy: label {bad} is out of range for {c} classes")
    elif t.shape != logits.shape:
        raise ValueError(f"softmax_cross_entropy: target of shape {t.shape} does not match logits of shape "
                         f"{logits.shape} (need labels (N,) or probabilities (N, C))")
    elif t.dtype != logits.dtype and not isinstance(target, Tensor):
        t = t.astype(logits.dtype)  # a constant target follows the logits' dtype, like a Python number
    if isinstance(target, Tensor) and t.ndim == 2:
        t = target
    return ops.SoftmaxCrossEntropy.apply(logits, t, reduction=reduction)
