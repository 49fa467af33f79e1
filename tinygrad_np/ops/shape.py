"""Shape ops (reshape, transpose, indexing) and joining and selecting (cat, where)."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.tensor import Function


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return np.reshape(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


class Transpose(Function):
    """Permute axes (reverse them when `axes` is None)."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, None if ctx.axes is None else np.argsort([a % grad.ndim for a in ctx.axes]))


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)) for p in parts)


class Index(Function):
    """x[index]: basic slicing or integer-array indexing; repeated indices add their gradients."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return np.array(x[index], copy=True)

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        if _is_basic_index(ctx.index):
            full[ctx.index] = grad
        else:
            np.add.at(full, ctx.index, grad)
        return full


# ---- joining and selecting ----------------------------------------------------------------
class Cat(Function):
    """Concatenation of the positional inputs along `axis` (as `np.concatenate`)."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.axis))


class Where(Function):
    """a where cond else b (cond a boolean array, broadcast as in `np.where`)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        da = np.where(cond, grad, 0) if ctx.needs_input_grad[1] else None
        db = np.where(cond, 0, grad) if ctx.needs_input_grad[2] else None
        return None, da, db
