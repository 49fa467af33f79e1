"""The primitive ops: one `Function` subclass each, forward and backward side by side.

Every `forward` works on NumPy arrays and returns an array (a view for the shape ops);
every `backward` receives the upstream gradient (an array of the output's shape) and
returns one gradient per positional input.  Gradients may keep a broadcast shape: the graph
(`tinygrad_np.tensor`) sums them back.  `backward` never writes into `grad` or into
a saved array, so a graph kept with `retain_graph=True` can be differentiated again.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from tinygrad_np.tensor import Function


# ---- argument checks shared by Tensor methods and tinygrad_np.functional --------------------
def is_int(value: Any) -> bool:
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...] | None:
    """Return `axis` as a sorted tuple of non-negative axes (None means all), or raise ValueError."""
    if axis is None:
        return None
    axes = (axis,) if is_int(axis) else tuple(axis) if isinstance(axis, (tuple, list)) else None
    if axes is None or not all(map(is_int, axes)):
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def require_float(x: np.ndarray) -> None:
    """Raise TypeError unless x is a float array (the float functions refuse labels and masks)."""
    if x.dtype.kind != "f":
        raise TypeError(f"needs a float tensor, got dtype {x.dtype} (convert with Tensor(x, dtype=np.float32))")


def check_exponent(exponent: Any) -> float:
    """The exponent as a Python int or float (weak: a float32 base stays float32)."""
    if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
        raise TypeError(f"pow: exponent must be a real number, got {type(exponent).__name__}")
    return int(exponent) if isinstance(exponent, numbers.Integral) else float(exponent)


def _expand(grad: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool, ndim: int) -> np.ndarray:
    """Reshape a reduction's gradient so it broadcasts against the reduced input."""
    if keepdims or axis is None:
        return grad if keepdims else grad.reshape((1,) * ndim)
    return np.expand_dims(grad, axis)


# ---- elementwise binary ---------------------------------------------------------------------
class Add(Function):
    """a + b, elementwise with NumPy broadcasting."""
    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    """a - b, elementwise with NumPy broadcasting."""
    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b, elementwise with NumPy broadcasting."""
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (grad * b if da else None), (grad * a if db else None)


class Div(Function):
    """a / b, elementwise with NumPy broadcasting."""
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad / b
        return ga, (-ga * a / b if ctx.needs_input_grad[1] else None)


# ---- elementwise unary ----------------------------------------------------------------------
class Neg(Function):
    """-x, elementwise."""
    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """x ** p for a constant real p."""

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return np.power(x, exponent)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:  # d/dx x**0 = 0, also at x = 0 (where p * x**-1 would give 0 * inf = nan)
            return np.zeros_like(grad)
        return grad * (p * np.power(x, p - 1))


class Exp(Function):
    """e ** x, elementwise."""
    @staticmethod
    def forward(ctx, x):
        require_float(x)
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    """Natural logarithm, elementwise."""
    @staticmethod
    def forward(ctx, x):
        require_float(x)
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Abs(Function):
    """|x|; the gradient at exactly 0 is 0, as in PyTorch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.saved_tensors[0])


class Clamp(Function):
    """x limited to [low, high] (either may be None); the gradient passes where low <= x <= high."""

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = np.ones(x.shape, bool)
        if ctx.low is not None:
            inside &= x >= ctx.low
        if ctx.high is not None:
            inside &= x <= ctx.high
        return grad * inside


# The activations' derivatives, from their output y: shared by the elementwise ops and the
# fused Linear (which applies the activation in place on its own fresh output).
def relu_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad * relu'(x), from ReLU's output y: grad where y > 0, else 0."""
    return grad * (y > 0)


def tanh_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad * (1 - y^2), from tanh's output y, in one temporary."""
    d = np.empty(np.shape(y), np.result_type(grad, y))  # grad * (1 - y*y) in one temporary
    np.multiply(y, y, out=d)
    np.subtract(1, d, out=d)
    np.multiply(grad, d, out=d)
    return d


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), from exp(-|x|) so it never overflows; keeps x's float dtype."""
    e = np.exp(-np.abs(x))
    y = np.where(x >= 0, 1, e) / (1 + e)
    return y.astype(np.result_type(x, np.float32), copy=False)


def sigmoid_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad * y * (1 - y), from sigmoid's output y."""
    return grad * (y * (1 - y))


class ReLU(Function):
    """max(x, 0); the gradient at exactly 0 is 0, as in PyTorch."""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return relu_backward(grad, ctx.saved_tensors[0])


class Tanh(Function):
    """Hyperbolic tangent, elementwise."""
    @staticmethod
    def forward(ctx, x):
        require_float(x)
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return tanh_backward(grad, ctx.saved_tensors[0])


class Sigmoid(Function):
    """1 / (1 + exp(-x)), finite for every input."""

    @staticmethod
    def forward(ctx, x):
        require_float(x)
        y = sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return sigmoid_backward(grad, ctx.saved_tensors[0])


# ---- linear algebra -------------------------------------------------------------------------
class MatMul(Function):
    """a @ b with NumPy semantics: 1-D operands, 2-D and broadcast batched N-D."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad  # give it the dims NumPy dropped for 1-D operands (b's first: grad may be 0-d)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = np.matmul(g, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:  # (..., 1, n): sum the batch dims (the 1 is harmless)
                ga = np.add.reduce(ga, axis=tuple(range(ga.ndim - 1)))
        if ctx.needs_input_grad[1]:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:  # (..., n, 1)
                gb = np.add.reduce(gb, axis=tuple(range(gb.ndim - 2)) + (gb.ndim - 1,))
        return ga, gb


# Activations Linear can fuse: name -> (in-place forward on Linear's own output, backward from y).
LINEAR_ACTIVATIONS = {
    "relu": (lambda y: np.maximum(y, 0, out=y), relu_backward),
    "tanh": (lambda y: np.tanh(y, out=y), tanh_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
}


class Linear(Function):
    """act(x @ W + b), W of shape (n_in, n_out) (or (n_out, n_in), PyTorch's layout, with
    `transposed`: read as W.T, a view), act None or a name in LINEAR_ACTIVATIONS.

    One node: the activation runs in place on the fresh product (no second array, no second
    node), and the backward takes the activation's derivative first.  dx is computed only
    when x needs a gradient (never for the network's input).
    """

    @staticmethod
    def forward(ctx, x, W, b, activation=None, transposed=False):
        y = np.matmul(x, W.T if transposed else W)
        if b is not None:
            if b.dtype == y.dtype:
                y += b
            else:  # NumPy promotion, as for x and W (an in-place add would cast b down)
                y = y + b
        if activation is not None:
            y = LINEAR_ACTIVATIONS[activation][0](y)
        ctx.save_for_backward(x, W, y if activation is not None else None)
        ctx.activation, ctx.transposed = activation, transposed
        return y

    @staticmethod
    def backward(ctx, grad):
        x, W, y = ctx.saved_tensors
        if ctx.activation is not None:
            grad = LINEAR_ACTIVATIONS[ctx.activation][1](grad, y)
        need_x, need_W, need_b = ctx.needs_input_grad
        if grad.ndim != 2:  # batch dims: fold them into one
            x, grad2 = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
        else:
            grad2 = grad
        dx = np.matmul(grad, W if ctx.transposed else W.T) if need_x else None
        dW = (np.matmul(grad2.T, x) if ctx.transposed else np.matmul(x.T, grad2)) if need_W else None
        db = np.add.reduce(grad2, axis=0) if need_b else None
        return dx, dW, db


# ---- reductions -----------------------------------------------------------------------------
class Sum(Function):
    """Sum over `axis` (a tuple of axes, or None for all), keeping them with `keepdims`."""
    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(_expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape)), ctx.shape)


class Mean(Function):
    """Mean over `axis` (a tuple of axes, or None for all), keeping them with `keepdims`."""
    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        y = np.mean(x, axis=axis, keepdims=keepdims)
        ctx.count = max(x.size // max(np.size(y), 1), 1)
        return y

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape)) / ctx.count
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
        return mask * (_expand(grad, ctx.axis, ctx.keepdims, x.ndim) / count)


class Min(Max):
    """Minimum over axes; tied minima share the gradient equally."""

    reduce = staticmethod(np.min)


# ---- shape ----------------------------------------------------------------------------------
class Reshape(Function):
    """The same data in `shape` (as `np.reshape`: a view when possible)."""
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


# ---- softmax family -------------------------------------------------------------------------
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

    d/dlogits = (softmax * sum_c target - target) * scale, where scale is 1/N for "mean".
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
            rows = np.arange(n)
            losses = log_s[:, 0] - shifted[rows, target]
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
        probs, target = ctx.saved_tensors
        n = len(probs)
        if ctx.reduction == "none":
            scale = grad[:, None]
        else:
            scale = grad / n if ctx.reduction == "mean" and n else grad
        if target.ndim == 1:
            d = probs.copy()
            d[np.arange(n), target] -= 1
        else:
            d = probs * target.sum(axis=1, keepdims=True) - target
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
