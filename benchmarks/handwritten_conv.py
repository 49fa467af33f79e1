"""The MNIST CNN of bench_conv.py written by hand in NumPy, as the course writes it but skilled.

conv 3x3 (1 -> 16, padding 1) -> ReLU -> max pool 2 -> conv 3x3 (16 -> 32, padding 1) -> ReLU
-> max pool 2 -> flatten (in (C, H, W) order, as PyTorch) -> FC 1568 -> 128 -> ReLU -> FC 128 -> 10,
softmax cross-entropy (batch mean), plain SGD.

Skilled means (at least the kernels tinygrad_np.ops.conv uses): activations stay channels-last
(N, H, W, C) so each layer's im2col copy reads runs of channels; a convolution is one copy into
the column matrix and one GEMM, its backward one GEMM for dW and db together and one for the
column gradient, then 9 strided slice-adds for dx (skipped for the input images); ReLU runs on
the pooled output, max pooling and ReLU commuting (tinygrad_np's Sequential does the same); each
convolution's weights and bias are kept as the (KH*KW*C + 1, F) matrix the GEMM uses (the bias
as its last row, against a column of ones); ReLU works in place;
max pooling is the maximum of the 4 offsets' strided views, with the first maximum's offset
found by unsigned arithmetic (no masked assignment) and kept for the backward (PyTorch's choice
on ties); SGD updates in place.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

CHANNELS = (1, 16, 32)
HIDDEN = 128
SIDE = 28
OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))  # of a 2x2 pooling window, row-major


def init_params(dtype, seed=0):
    """He-initialised weights in the framework layouts: conv W (F, C, 3, 3) and b (F,), FC W (n_in, n_out)."""
    rng = np.random.default_rng(seed)
    params = []
    for c_in, c_out in zip(CHANNELS, CHANNELS[1:]):
        params += [rng.normal(0, np.sqrt(2 / (9 * c_in)), (c_out, c_in, 3, 3)), rng.normal(0, 0.01, c_out)]
    n_flat = CHANNELS[-1] * (SIDE // 4) ** 2
    for n_in, n_out in ((n_flat, HIDDEN), (HIDDEN, 10)):
        params += [rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)), rng.normal(0, 0.01, n_out)]
    return [p.astype(dtype) for p in params]


def _conv_forward(x, Wb):
    """x (N, H, W, C) channels-last, Wb (9*C + 1, F): 3x3 convolution + bias, padding 1 -> (N, H, W, F)
    and the column matrix (N*H*W, 9*C + 1)."""
    n, h, w, c = x.shape
    xp = np.zeros((n, h + 2, w + 2, c), x.dtype)
    xp[:, 1:-1, 1:-1] = x
    s0, s1, s2, s3 = xp.strides
    k, m = 9 * c, n * h * w
    if 3 * c < w:
        # A window row of channels (3 * C) shorter than an output row (the one-channel images):
        # build the columns transposed, (9*C + 1, N*H*W), so the copy's inner loop runs along
        # output rows rather than 3-element window rows; the GEMM reads the transpose for free.
        win = as_strided(xp, (3, 3, c, n, h, w), (s1, s2, s3, s0, s1, s2), writeable=False)
        cols_t = np.empty((k + 1, m), x.dtype)
        cols_t[:k].reshape(3, 3, c, n, h, w)[...] = win  # the copy
        cols = cols_t.T
    else:
        win = as_strided(xp, (n, h, w, 3, 3, c), (s0, s1, s2, s1, s2, s3), writeable=False)
        cols = np.empty((m, k + 1), x.dtype)
        cols[:, :k].reshape(n, h, w, 3, 3, c)[...] = win  # the copy
    # The bias rides in the GEMM on a column of ones: no separate pass adding it here, and db
    # comes out of the dW GEMM in the backward (a pass of its own would loop over rows only F long).
    cols[:, k] = 1
    y = cols @ Wb
    return y.reshape(n, h, w, -1), cols


def _conv_backward(g, cols, Wb, x_shape):
    """g (N, H, W, F) -> (dx (N, H, W, C) or None when x_shape is None, dWb (9*C + 1, F): the
    weights' and (last row) the bias's gradient)."""
    g2 = g.reshape(-1, g.shape[-1])
    dWb = cols.T @ g2  # the ones column gives db
    if x_shape is None:
        return None, dWb
    n, h, w, c = x_shape
    dcols = (g2 @ Wb[:-1].T).reshape(n, h, w, 3, 3, c)
    dxp = np.zeros((n, h + 2, w + 2, c), g.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + w] += dcols[:, :, :, i, j]
    return dxp[:, 1:-1, 1:-1], dWb


def _pool_forward(x):
    """2x2 max pool of x (N, H, W, C) -> (N, H/2, W/2, C) and the offset (0..3) of each first maximum."""
    views = [x[:, i::2, j::2] for i, j in OFFSETS]
    y = np.maximum(views[0], views[1])
    np.maximum(y, views[2], out=y)
    np.maximum(y, views[3], out=y)
    idx = np.zeros(y.shape, np.uint8)   # from the last offset back: idx = k where x_k == max (uint8 wraps)
    step = np.empty_like(idx)
    for k in (3, 2, 1, 0):
        np.subtract(idx, k, out=step, casting="unsafe")
        step *= views[k] == y
        idx -= step
    return y, idx


def _pool_backward(g, idx, x_shape, dtype):
    dx = np.empty(x_shape, dtype)
    for k, (i, j) in enumerate(OFFSETS):
        np.multiply(g, idx == k, out=dx[:, i::2, j::2])
    return dx


class HandwrittenCNN:
    """The network above from copies of `params` (init_params' layouts); `step(X, y)` trains on one batch."""

    def __init__(self, params, lr):
        W1, b1, W2, b2, W3, b3, W4, b4 = (np.array(p) for p in params)
        # the GEMM layout of each convolution: rows ordered (kernel row, kernel column, input
        # channel), then the bias as the last row
        self.Wb1, self.Wb2 = (np.vstack([W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0]), b[None]])
                              for W, b in ((W1, b1), (W2, b2)))
        self.W3, self.b3, self.W4, self.b4 = W3, b3, W4, b4
        self.lr = lr
        self._grads = None

    def _params(self):
        return [self.Wb1, self.Wb2, self.W3, self.b3, self.W4, self.b4]

    def loss_and_grads(self, X, y):
        """Forward and backward on X (N, 784), labels y (N,); keeps the gradients; returns the mean loss."""
        n = len(X)
        x0 = X.reshape(n, SIDE, SIDE, 1)                          # one channel: NHWC = NCHW
        a1, cols1 = _conv_forward(x0, self.Wb1)
        p1, idx1 = _pool_forward(a1)
        np.maximum(p1, 0, out=p1)                                # ReLU after the pool: they commute
        a2, cols2 = _conv_forward(p1, self.Wb2)
        p2, idx2 = _pool_forward(a2)
        np.maximum(p2, 0, out=p2)
        flat = p2.transpose(0, 3, 1, 2).reshape(n, -1)           # (C, H, W) order, as the framework's Flatten
        h = flat @ self.W3
        h += self.b3
        np.maximum(h, 0, out=h)
        z = h @ self.W4
        z += self.b4
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
        dz = e
        dz /= s
        dz[rows, y] -= 1
        dz *= 1.0 / n
        dW4 = h.T @ dz
        db4 = dz.sum(axis=0)
        dh = dz @ self.W4.T
        dh *= h > 0
        dW3 = flat.T @ dh
        db3 = dh.sum(axis=0)
        dflat = dh @ self.W3.T
        dp2 = dflat.reshape(p2.shape[0], p2.shape[3], p2.shape[1], p2.shape[2]).transpose(0, 2, 3, 1)
        dp2 *= p2 > 0                                            # in place: dp2 is a view of dflat
        da2 = _pool_backward(dp2, idx2, a2.shape, dflat.dtype)
        dp1, dWb2 = _conv_backward(da2, cols2, self.Wb2, p1.shape)
        dp1 *= p1 > 0
        da1 = _pool_backward(dp1, idx1, a1.shape, dflat.dtype)
        _, dWb1 = _conv_backward(da1, cols1, self.Wb1, None)
        self._grads = [dWb1, dWb2, dW3, db3, dW4, db4]
        return loss

    def update(self):
        for p, g in zip(self._params(), self._grads):
            p -= self.lr * g

    def step(self, X, y):
        loss = self.loss_and_grads(X, y)
        self.update()
        return loss

    @staticmethod
    def _framework_layout(arrays):
        """The conv matrices back to W (F, C, 3, 3) and b (F,); the rest as they are."""
        out = []
        for Wb, c_in in zip(arrays[:2], CHANNELS):
            out += [Wb[:-1].reshape(3, 3, c_in, -1).transpose(3, 2, 0, 1), Wb[-1]]
        return out + list(arrays[2:])

    def grads(self):
        return self._framework_layout(self._grads)

    def params(self):
        return self._framework_layout(self._params())
