"""Matrix products: `MatMul` (NumPy semantics) and the fused `Linear` (+ activation)."""
from __future__ import annotations

import numpy as np

from tinygrad_np.ops.elementwise import relu_backward, sigmoid, sigmoid_backward, tanh_backward
from tinygrad_np.tensor import Function


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


def bias_and_activation(y: np.ndarray, b: np.ndarray | None, activation: str | None) -> np.ndarray:
    """y + b, then the activation, in place on y (an op's own fresh product): Linear's and Conv's end."""
    if b is not None:
        if b.dtype == y.dtype:
            y += b
        else:  # NumPy promotion, as for x and W (an in-place add would cast b down)
            y = y + b
    return y if activation is None else LINEAR_ACTIVATIONS[activation][0](y)


class Linear(Function):
    """act(x @ W + b), W of shape (n_in, n_out) (or (n_out, n_in), PyTorch's layout, with
    `transposed`: read as W.T, a view), act None or a name in LINEAR_ACTIVATIONS.

    One node: the activation runs in place on the fresh product (no second array, no second
    node), and the backward takes the activation's derivative first.  dx is computed only
    when x needs a gradient (never for the network's input).
    """

    @staticmethod
    def forward(ctx, x, W, b, activation=None, transposed=False):
        y = bias_and_activation(np.matmul(x, W.T if transposed else W), b, activation)
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
