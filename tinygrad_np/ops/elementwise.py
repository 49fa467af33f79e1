"""Elementwise ops: arithmetic, powers, exp/log, abs, clamp and the activations."""
from __future__ import annotations

import numpy as np

from tinygrad_np.ops.checks import require_float
from tinygrad_np.tensor import Function


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
    """grad * relu'(x), from ReLU's output y: grad where y > 0, else 0, laid out like y.

    The comparison writes 0/1 straight into the result, which is then scaled in place: no
    boolean temporary (10% faster on a conv layer's activations; neither grad, which another
    consumer may share, nor y, the output tensor's data, is written)."""
    d = np.empty_like(y, dtype=grad.dtype)  # (a gradient is always a float array)
    np.greater(y, 0, out=d, casting="unsafe")
    np.multiply(d, grad, out=d)
    return d


def tanh_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """grad * (1 - y^2), from tanh's output y, in one temporary."""
    d = np.empty(y.shape, np.result_type(grad, y))  # grad * (1 - y*y) in one temporary
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
