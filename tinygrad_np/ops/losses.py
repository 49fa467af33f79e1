"""The softmax family and the fused losses: softmax, log-softmax, softmax cross-entropy, BCE with logits."""
from __future__ import annotations

import numpy as np

from tinygrad_np.ops.checks import require_float
from tinygrad_np.ops.elementwise import sigmoid
from tinygrad_np.tensor import Function

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # integer labels' unsigned views, by itemsize


class Softmax(Function):
    """exp(x) / sum(exp(x)) along `axis`, computed max-subtracted; same shape as x."""
    @staticmethod
    def forward(ctx, x, axis):
        require_float(x)
        if x.size == 0:  # empty in, empty out (no maximum to subtract)
            ctx.save_for_backward(x)
            ctx.axis = axis
            return np.array(x)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along `axis`, computed max-subtracted; same shape as x."""
    @staticmethod
    def forward(ctx, x, axis):
        require_float(x)
        if x.size == 0:
            ctx.save_for_backward(x)
            ctx.axis = axis
            return np.array(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(shifted)
        ctx.axis = axis
        return shifted

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - np.exp(y) * grad.sum(axis=ctx.axis, keepdims=True)


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of softmax(logits) (N, C) against integer labels (N,) or probabilities (N, C).

    d/dlogits = (softmax * sum_c target - target) * scale, where scale is 1/N for "mean".  With
    labels, the forward checks them (a ValueError names the first out of range) and leaves
    softmax - onehot in its own softmax array, so the backward is one scaling.
    """

    @staticmethod
    def forward(ctx, logits, target, reduction):
        require_float(logits)
        # ufunc.reduce, not .max()/.sum(): the same reductions without a Python wrapper (hot path)
        shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        e = np.exp(shifted)
        s = np.add.reduce(e, axis=1, keepdims=True)
        log_s = np.log(s)
        e /= s
        n = len(logits)
        if target.ndim == 1:
            c = logits.shape[1]
            # One reduction checks both ends: viewed as unsigned, a negative label is huge.
            if n and np.maximum.reduce(target.view(_UNSIGNED[target.itemsize])) >= c:
                raise ValueError(f"label {target[(target < 0) | (target >= c)][0]} is out of range for {c} "
                                 f"classes")
            rows = np.arange(n)
            losses = log_s[:, 0] - shifted[rows, target]
            e[rows, target] -= 1  # softmax - onehot, in the softmax array this op owns
        else:
            neg_log_p = log_s - shifted
            losses = (target * neg_log_p).sum(axis=1)
            ctx.neg_log_p = neg_log_p
        ctx.save_for_backward(e, target)
        ctx.reduction = reduction
        if reduction == "none":
            return losses
        total = np.add.reduce(losses)
        if reduction == "mean":  # over no rows: NaN, as in PyTorch
            return total / n if n else np.full((), np.nan, logits.dtype)
        return total

    @staticmethod
    def backward(ctx, grad):
        e, target = ctx.saved_tensors  # e: softmax, or with labels softmax - onehot (see forward)
        n = len(e)
        if ctx.reduction == "none":
            scale = grad[:, None]
        else:
            # a 0-d grad as a Python float: a weak scalar keeps e's dtype, and dividing it here
            # rounds as float32 division would (double rounding is exact for one division)
            scale = float(grad) / n if ctx.reduction == "mean" and n else grad
        if target.ndim == 1:
            d = np.multiply(e, scale, dtype=e.dtype)
        else:
            d = e * target.sum(axis=1, keepdims=True) - target
            d *= scale
        dt = ctx.neg_log_p * scale if ctx.needs_input_grad[1] else None
        return d, dt


class BCEWithLogits(Function):
    """Elementwise binary cross-entropy of s = sigmoid(x) against t, positives weighted by w
    (pos_weight, 1 when None):  -(w t log s + (1 - t) log(1 - s)) = (1 - t) x + (1 + (w - 1) t) sp(-x),
    with sp(-x) = log(1 + e^-x) computed stably.

    d/dx = (1 + (w - 1) t) s - w t;   d/dt = -x + (w - 1) sp(-x).
    """

    @staticmethod
    def forward(ctx, x, t, pos_weight):
        require_float(x)
        sp = np.logaddexp(0, -x)
        w1 = 0.0 if pos_weight is None else pos_weight - 1  # w - 1
        ctx.save_for_backward(x, t, sp)
        ctx.w1 = w1
        return (1 - t) * x + (1 + w1 * t) * sp

    @staticmethod
    def backward(ctx, grad):
        x, t, sp = ctx.saved_tensors
        w1 = ctx.w1
        dx = grad * ((1 + w1 * t) * sigmoid(x) - (1 + w1) * t)
        dt = grad * (w1 * sp - x) if ctx.needs_input_grad[1] else None
        return dx, dt
