"""Reductions over axes: sum, mean, max, min."""
from __future__ import annotations

import numpy as np

from tinygrad_np.ops.checks import expand
from tinygrad_np.tensor import Function


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape)), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        y = np.mean(x, axis=axis, keepdims=keepdims)
        ctx.count = max(x.size // max(np.size(y), 1), 1)
        return y

    @staticmethod
    def backward(ctx, grad):
        g = expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape)) / ctx.count
        return np.broadcast_to(g, ctx.shape)


class Max(Function):
    """Maximum over axes; tied maxima share the gradient equally."""

    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, x, axis, keepdims):
        reduced = range(x.ndim) if axis is None else axis
        if any(x.shape[a] == 0 for a in reduced):
            raise ValueError(f"{cls.__name__.lower()} over a zero-length axis is undefined")
        y = cls.reduce(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else cls.reduce(x, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        mask = x == y
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (expand(grad, ctx.axis, ctx.keepdims, x.ndim) / count)


class Min(Max):
    """Minimum over axes; tied minima share the gradient equally."""

    reduce = staticmethod(np.min)
