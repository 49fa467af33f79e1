"""Convolution, pooling and batch normalisation: one `Function` each, forward and backward side by side.

Layouts are PyTorch's: x (N, C, H, W), W (F, C, KH, KW); convolution is cross-correlation
with zero padding; the output side is (side + 2 * padding - kernel) // stride + 1.
Arguments are checked in `tinygrad_np.functional`; `stride` and `padding` arrive here as pairs.

Convolution is im2col: a strided view of the input (zero-padded first when asked), one copy
into the column matrix, one GEMM.  The columns are ordered (KH, KW, C) and the output is computed as (N, OH, OW, F)
and returned as its (N, F, OH, OW) transposed view: so activations between layers stay
channels-last in memory, each layer's copy reads runs of channels, and the backward's
gradient reshapes to a matrix without a copy.  The bias rides in the GEMM as one more
column of ones (and one more row of the (KH*KW*C, F) weight matrix), so neither the
forward's bias add nor the backward's db is a pass of its own: both would loop over rows
only F long (measured at batch 32: 0.3 ms and 0.5 ms for the 16-filter first layer of the
MNIST CNN).  The column matrix is stored transposed (K-major) when a window's row of
channels, KW * C, is shorter than an output row, as for a one-channel image: the copy then
runs along output rows instead of 3-element window rows (9x faster there).  The backward is
one GEMM per gradient (dW and db together); dX is summed back from the column gradient by
KH * KW strided slice-adds.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_np.ops.elementwise import relu_backward
from tinygrad_np.ops.linalg import LINEAR_ACTIVATIONS, bias_and_activation
from tinygrad_np.tensor import Function


def out_size(side: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window of `kernel` sliding by `stride` over `side` padded by `padding` each end."""
    return (side + 2 * padding - kernel) // stride + 1


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) with `padding` rows/columns of `value` on each side (x itself when none),
    channels-last in memory like the activations it is usually made from."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    n, c, h, w = x.shape
    shape = (n, h + 2 * ph, w + 2 * pw, c)
    xp = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, dtype=x.dtype)  # zeros: 3x less call overhead
    xp[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
    return xp.transpose(0, 3, 1, 2)


def _windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """The read-only view (N, C, OH, OW, KH, KW) of every window of xp (N, C, H, W); no copy."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out
    s0, s1, s2, s3 = xp.strides
    shape = xp.shape[:2] + (oh, ow, kh, kw)
    return as_strided(xp, shape, (s0, s1, s2 * sh, s3 * sw, s2, s3), writeable=False)


def _slices(i: int, j: int, stride: tuple[int, int], out: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of a padded input that kernel offset (i, j) touches, in output order."""
    (sh, sw), (oh, ow) = stride, out
    return slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)


# ---- convolution ----------------------------------------------------------------------------
class Conv2d(Function):
    """act(cross-correlation of x (N, C, H, W) with W (F, C, KH, KW) + b (F,) or None) -> (N, F, OH, OW).

    act is None or a name in LINEAR_ACTIVATIONS, applied in place on the fresh GEMM output (one
    array and one node, as in `Linear`); the backward takes its derivative first.
    """

    @staticmethod
    def forward(ctx, x, W, b, stride, padding, activation=None):
        n, c, h, w = x.shape
        f, _, kh, kw = W.shape
        out = (out_size(h, kh, stride[0], padding[0]), out_size(w, kw, stride[1], padding[1]))
        win = _windows(_pad(x, padding), (kh, kw), stride, out)
        k, m = kh * kw * c, n * out[0] * out[1]
        kb = k + (b is not None)  # a last column of ones carries the bias through the GEMM
        if c * kw < out[1]:  # K-major: the copy's inner loop runs along output rows
            cols_t = np.empty((kb, m), dtype=x.dtype)
            np.copyto(cols_t[:k].reshape(kh, kw, c, n, out[0], out[1]), win.transpose(4, 5, 1, 0, 2, 3))
            cols = cols_t.T  # (N*OH*OW, KH*KW*C [+ 1]), F-ordered
        else:  # row-major: along runs of KW * C (channels-last input)
            cols = np.empty((m, kb), dtype=x.dtype)
            np.copyto(cols[:, :k].reshape(n, out[0], out[1], kh, kw, c), win.transpose(0, 2, 3, 4, 5, 1))
        # (KH*KW*C [+ 1], F), rows ordered as the columns: the GEMMs' operand orientations (cols @ Wb,
        # cols.T @ g, g @ Wb.T) are OpenBLAS's fast ones for these shapes (measured: with K-major columns
        # g.T @ cols takes twice as long as cols.T @ g)
        Wb = np.empty((kb, f), dtype=W.dtype if b is None else np.result_type(W, b))
        Wb[:k].reshape(kh, kw, c, f)[...] = W.transpose(2, 3, 1, 0)
        if b is not None:
            cols[:, k] = 1
            Wb[k] = b
        # NumPy's promotion of x, W and b, as y + b would give; the bias is already in
        y = bias_and_activation(np.matmul(cols, Wb), None, activation)
        y = y.reshape(n, out[0], out[1], f).transpose(0, 3, 1, 2)
        ctx.save_for_backward(cols, Wb, y if activation is not None else None)
        ctx.geometry, ctx.activation = (x.shape, W.shape, stride, padding, out), activation
        return y

    @staticmethod
    def backward(ctx, grad):
        cols, Wb, y = ctx.saved_tensors
        if ctx.activation is not None:
            grad = LINEAR_ACTIVATIONS[ctx.activation][1](grad, y)
        (n, c, h, w), (f, _, kh, kw), stride, (ph, pw), out = ctx.geometry
        k = kh * kw * c
        need_x, need_W, need_b = ctx.needs_input_grad
        g = grad.transpose(0, 2, 3, 1).reshape(-1, f)  # (N*OH*OW, F): no copy when grad is channels-last
        dW = db = None
        if need_W or need_b:
            dWb = np.matmul(cols.T, g)  # (KH*KW*C [+ 1], F): db is the ones column's row
            dW = dWb[:k].reshape(kh, kw, c, f).transpose(3, 2, 0, 1) if need_W else None
            db = dWb[k] if need_b else None
        dx = None
        if need_x:
            dcols = np.matmul(g, Wb[:k].T).reshape(n, out[0], out[1], kh, kw, c)
            dxp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=dcols.dtype)  # channels-last, padded
            for i in range(kh):
                for j in range(kw):
                    rows, columns = _slices(i, j, stride, out)
                    dxp[:, rows, columns, :] += dcols[:, :, :, i, j, :]
            dx = dxp[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)
        return dx, dW, db


class Conv1d(Function):
    """act(cross-correlation of x (N, C, L) with W (F, C, K) + b (F,) or None) -> (N, F, L_out).

    One graph node: the 2-D convolution's forward and backward on a height of 1.
    """

    @staticmethod
    def forward(ctx, x, W, b, stride, padding, activation=None):
        y = Conv2d.forward(ctx, x[:, :, None, :], W[:, :, None, :], b, (1, stride), (0, padding), activation)
        return y[:, :, 0, :]

    @staticmethod
    def backward(ctx, grad):
        dx, dW, db = Conv2d.backward(ctx, grad[:, :, None, :])
        return (None if dx is None else dx[:, :, 0, :]), (None if dW is None else dW[:, :, 0, :]), db


# ---- pooling --------------------------------------------------------------------------------
def _pool_windows(ctx, x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                  padding: tuple[int, int], fill: float) -> list[np.ndarray]:
    """One strided view (N, OH, OW, C) of x padded with `fill` per kernel offset, in row-major
    order: basic slices, no copy (cheaper to make than an as_strided windows view).  The views
    are channels-last, the memory order of activations between layers: NumPy's loops over
    them then carry less per-call overhead than over permuted (N, C, ...) views (~6 us per
    pooling's 16 small ufunc calls)."""
    out = (out_size(x.shape[2], kernel[0], stride[0], padding[0]),
           out_size(x.shape[3], kernel[1], stride[1], padding[1]))
    ctx.geometry = (x.shape, x.dtype, kernel, stride, padding, out)
    xp = _pad(x, padding, fill).transpose(0, 2, 3, 1)
    return [xp[(slice(None),) + _slices(i, j, stride, out)]
            for i in range(kernel[0]) for j in range(kernel[1])]


def _pool_backward(ctx, offset_grad) -> np.ndarray:
    """dx of a pooling of x (N, C, H, W), from `offset_grad(k, out)`: the gradient that reaches
    kernel offset k (row-major) of every window, as (N, OH, OW, C), written into `out` when given.

    Each offset is one strided slice of dx: disjoint windows (stride >= kernel) write it in
    place, overlapping ones add it (KH * KW slice-adds).  The work is done on channels-last
    views, the layout of dx and of activations between layers: elementwise loops then run
    along the channels in memory order, however the upstream gradient is laid out.
    """
    shape, dtype, kernel, stride, (ph, pw), out = ctx.geometry
    n, c, h, w = shape
    hp, wp = h + 2 * ph, w + 2 * pw
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    tiled = stride == kernel and hp == out[0] * kernel[0] and wp == out[1] * kernel[1]  # every element written
    dxp = (np.empty if tiled else np.zeros)((n, hp, wp, c), dtype=dtype)
    for k in range(kernel[0] * kernel[1]):
        rows, columns = _slices(k // kernel[1], k % kernel[1], stride, out)
        if disjoint:
            offset_grad(k, dxp[:, rows, columns, :])
        else:
            dxp[:, rows, columns, :] += offset_grad(k, None)
    return dxp[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)


class MaxPool2d(Function):
    """Maximum over each window of x (N, C, H, W) -> (N, C, OH, OW); padding counts as -inf.

    The gradient goes to the first maximum of each window in row-major order (as in PyTorch).
    With `relu`, ReLU runs in place on the pooled output: max pooling commutes with
    ReLU (both monotone, both exact), so this is max_pool2d(relu(x)), values and gradients,
    with ReLU's forward and derivative on the pooled array instead of the 4x larger input.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, relu=False):
        views = _pool_windows(ctx, x, kernel, stride, padding, -np.inf)
        # order="K": y keeps the layout of x (channels-last between layers)
        y = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy(order="K")
        for v in views[2:]:
            np.maximum(y, v, out=y)
        # The first offset holding the maximum: from the last offset back to the first, idx becomes k
        # where x equals the maximum, as idx -= (idx - k) * hit in modular unsigned arithmetic
        # (a masked assignment is ten times slower).  A NaN window keeps offset 0.
        idx = np.empty_like(y, dtype=np.min_scalar_type(len(views) - 1))  # y's layout; empty_like + fill:
        idx.fill(0)                                                       # a third of zeros_like's overhead
        step = np.empty_like(idx)
        for k in range(len(views) - 1, -1, -1):
            np.subtract(idx, k, out=step, casting="unsafe")
            step *= views[k] == y
            idx -= step
        ctx.argmax = idx  # (N, OH, OW, C)
        y = y.transpose(0, 3, 1, 2)
        ctx.relu_output = np.maximum(y, 0, out=y) if relu else None
        return y

    @staticmethod
    def backward(ctx, grad):
        if ctx.relu_output is not None:
            grad = relu_backward(grad, ctx.relu_output)
        idx, g = ctx.argmax, grad.transpose(0, 2, 3, 1)  # channels-last views
        return _pool_backward(ctx, lambda k, out: np.multiply(g, idx == k, out=out))


class AvgPool2d(Function):
    """Mean over each window of x (N, C, H, W) -> (N, C, OH, OW); padding counts as zeros
    (PyTorch's count_include_pad=True), so every window divides by KH * KW."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        views = _pool_windows(ctx, x, kernel, stride, padding, 0.0)
        y = views[0].copy(order="K")  # keeps the layout of x (channels-last between layers)
        for v in views[1:]:
            y += v
        y *= 1.0 / len(views)  # a Python float: keeps the dtype
        return y.transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        kh, kw = ctx.geometry[2]
        g = (grad * (1.0 / (kh * kw))).transpose(0, 2, 3, 1)  # channels-last view

        def offset_grad(k, out):
            if out is None:
                return g
            out[...] = g
        return _pool_backward(ctx, offset_grad)


# ---- batch normalisation ----------------------------------------------------------------------
class BatchNorm(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias over every axis but 1 of x (N, C, ...).

    In training the batch's mean and biased variance normalise, and the running estimates (arrays
    of shape (C,), or None) are updated in place: r = (1 - momentum) * r + momentum * batch
    statistic, with the unbiased variance (PyTorch's semantics).  Otherwise the running
    estimates normalise and nothing is updated.  weight and bias (C,) may be None.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        # The running estimates come as positional (Tensor) arguments that need no gradient, so
        # that a recording (tinygrad_np.jit) reads their arrays again at every replay.
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)  # (C,) broadcast against x
        if training:
            count = x.size // x.shape[1]
            mean = np.mean(x, axis=axes)
            centred = x - mean.reshape(bshape)
            var = np.mean(np.square(centred), axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            centred = x - running_mean.astype(x.dtype, copy=False).reshape(bshape)
            var = running_var.astype(x.dtype, copy=False)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = centred
        xhat *= inv_std.reshape(bshape)
        ctx.save_for_backward(xhat, inv_std, weight)
        ctx.training, ctx.axes, ctx.bshape = training, axes, bshape
        y = xhat if weight is None else xhat * weight.reshape(bshape)
        if bias is not None:
            y = y + bias.reshape(bshape)
        return y

    @staticmethod
    def backward(ctx, grad):
        xhat, inv_std, weight = ctx.saved_tensors
        axes, bshape = ctx.axes, ctx.bshape
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dw = np.add.reduce(grad * xhat, axis=axes) if need_w else None
        db = np.add.reduce(grad, axis=axes) if need_b else None
        dx = None
        if need_x:
            scale = inv_std if weight is None else inv_std * weight  # d y / d centred-and-scaled input
            if ctx.training:  # the batch statistics depend on x too
                count = xhat.size // xhat.shape[1]
                sum_g = np.add.reduce(grad, axis=axes) if db is None else db
                sum_gx = np.add.reduce(grad * xhat, axis=axes) if dw is None else dw
                dx = grad - (sum_g / count).reshape(bshape) - xhat * (sum_gx / count).reshape(bshape)
                dx *= scale.reshape(bshape)
            else:
                dx = grad * scale.reshape(bshape)
        return dx, dw, db, None, None
