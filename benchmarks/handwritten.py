"""The reference: an MLP trained with backprop written by hand in NumPy.

This is what a skilled NumPy programmer writes when speed matters, and what tinygrad_np
is measured against (`benchmarks/bench_mlp.py`):

* every activation, gradient and scratch buffer is allocated once (per batch size) and
  written with `out=` / in-place operators; the step allocates only a few tiny arrays;
* `x @ W + b` with W of shape (n_in, n_out); no gradient is computed for the input
  layer's x;
* a fused, max-subtracted softmax-cross-entropy with the mean loss, whose gradient
  ``(softmax - onehot) / N`` is written straight into the logits' gradient buffer;
* optimizer updates with the fewest elementwise passes NumPy allows, same rules as
  ``torch.optim`` (up to rounding):

  - SGD        ``p -= lr * g``                                   2 passes
  - AdaGrad    ``h += g*g; p -= lr * g / (sqrt(h) + eps)``      7 passes (eps=1e-10)
  - Adam       torch's rule, with ``sqrt(bc2)`` folded into eps  12 passes

The gradient buffers are scratch: the optimizer updates consume them in place.  Call
`loss_and_grads` then read `grads()` before `update()` to inspect them (the benchmark's
agreement check does).  Only NumPy is used.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["init_params", "HandwrittenMLP", "MatmulBound"]


def init_params(sizes: Sequence[int], act: str = "relu", dtype=np.float32, seed: int = 0):
    """He (ReLU) or Xavier (Tanh) Gaussian weights of shape (n_in, n_out), zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        std = math.sqrt(2.0 / n_in) if act == "relu" else 1.0 / math.sqrt(n_in)
        W = (rng.standard_normal((n_in, n_out)) * std).astype(dtype)
        params.append((W, np.zeros(n_out, dtype=dtype)))
    return params


class HandwrittenMLP:
    """Hidden layers with `act` ("relu" or "tanh"), a linear output layer, softmax-CE loss.

    `params` is a list of (W, b) arrays, copied.  `optimizer` is "sgd", "adagrad" or
    "adam"; keyword hyper-parameters follow torch.optim's names and defaults.
    """

    def __init__(self, params, act: str = "relu", optimizer: str = "sgd", lr: float = 0.01,
                 eps: float | None = None, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        if act not in ("relu", "tanh"):
            raise ValueError(f"act must be 'relu' or 'tanh', got {act!r}")
        self.W = [np.array(W, copy=True) for W, _ in params]
        self.B = [np.array(b, copy=True) for _, b in params]
        self.dtype = self.W[0].dtype
        self.act = act
        self.dW = [np.empty_like(W) for W in self.W]
        self.dB = [np.empty_like(b) for b in self.B]
        self.n = None
        self.lr = float(lr)
        self.optimizer = optimizer
        self.t = 0
        big = max(W.size for W in self.W)
        self._flat_tmp = np.empty(big, dtype=self.dtype)   # one optimizer scratch buffer
        self._tmp = [self._flat_tmp[:W.size].reshape(W.shape) for W in self.W]
        self._tmpb = [np.empty_like(b) for b in self.B]
        if optimizer == "sgd":
            self._update = self._sgd
        elif optimizer == "adagrad":
            self.eps = 1e-10 if eps is None else float(eps)
            self.H = [np.zeros_like(W) for W in self.W]
            self.HB = [np.zeros_like(b) for b in self.B]
            self._update = self._adagrad
        elif optimizer == "adam":
            self.eps = 1e-8 if eps is None else float(eps)
            self.beta1, self.beta2 = betas
            self.M = [np.zeros_like(W) for W in self.W]
            self.MB = [np.zeros_like(b) for b in self.B]
            self.V = [np.zeros_like(W) for W in self.W]
            self.VB = [np.zeros_like(b) for b in self.B]
            self._update = self._adam
        else:
            raise ValueError(f"unknown optimizer {optimizer!r}")

    # ---- buffers --------------------------------------------------------------------------
    def _alloc(self, n: int) -> None:
        dt = self.dtype
        self.n = n
        self.A = [np.empty((n, W.shape[1]), dt) for W in self.W]    # layer outputs (last: logits)
        self.dZ = [np.empty((n, W.shape[1]), dt) for W in self.W]   # d loss / d pre-activation
        self.mask = [np.empty((n, W.shape[1]), bool) for W in self.W[:-1]]
        self.tmpA = [np.empty((n, W.shape[1]), dt) for W in self.W[:-1]]
        self.rowbuf = np.empty((n, 1), dt)
        self.rows = np.arange(n)

    # ---- forward + backward ---------------------------------------------------------------
    def loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> float:
        """Forward, loss and all gradients into self.dW / self.dB.  Returns the mean loss."""
        n = X.shape[0]
        if n != self.n:
            self._alloc(n)
        W, B, A, dZ = self.W, self.B, self.A, self.dZ
        relu = self.act == "relu"
        L = len(W)
        h = X
        for i in range(L):
            a = A[i]
            np.matmul(h, W[i], out=a)
            a += B[i]
            if i < L - 1:
                if relu:
                    np.maximum(a, 0, out=a)
                else:
                    np.tanh(a, out=a)
            h = a
        # fused softmax-cross-entropy, mean over the batch; its gradient goes into dZ[-1]
        z, p, s = A[-1], dZ[-1], self.rowbuf
        np.max(z, axis=1, keepdims=True, out=s)
        z -= s
        np.exp(z, out=p)
        np.sum(p, axis=1, keepdims=True, out=s)
        loss = (np.log(s).sum() - z[self.rows, y].sum()) / n
        s *= n
        p /= s                      # softmax / n
        p[self.rows, y] -= 1.0 / n  # (softmax - onehot) / n
        # backward
        for i in range(L - 1, -1, -1):
            g = dZ[i]
            np.matmul((A[i - 1] if i else X).T, g, out=self.dW[i])
            np.sum(g, axis=0, out=self.dB[i])
            if i:
                prev = dZ[i - 1]
                np.matmul(g, W[i].T, out=prev)
                a = A[i - 1]
                if relu:
                    m = self.mask[i - 1]
                    np.greater(a, 0, out=m)
                    np.multiply(prev, m, out=prev)
                else:                   # tanh' = 1 - a*a
                    t = self.tmpA[i - 1]
                    np.multiply(a, a, out=t)
                    np.subtract(1, t, out=t)
                    prev *= t
        return float(loss)

    def grads(self) -> list[np.ndarray]:
        """The current gradients, [dW0, dB0, dW1, dB1, ...] (live buffers: copy to keep)."""
        return [a for pair in zip(self.dW, self.dB) for a in pair]

    def params(self) -> list[np.ndarray]:
        """The parameters, [W0, B0, W1, B1, ...] (live arrays)."""
        return [a for pair in zip(self.W, self.B) for a in pair]

    def update(self) -> None:
        """One optimizer step from the gradients (which it consumes)."""
        self.t += 1
        self._update()

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        loss = self.loss_and_grads(X, y)
        self.update()
        return loss

    # ---- optimizers (torch.optim's rules, fewest passes) ----------------------------------
    def _sgd(self) -> None:
        lr = self.lr
        for p, g in zip(self.W + self.B, self.dW + self.dB):
            np.multiply(g, lr, out=g)
            np.subtract(p, g, out=p)

    def _adagrad(self) -> None:
        lr, eps = self.lr, self.eps
        for p, g, t, h in zip(self.W + self.B, self.dW + self.dB, self._tmp + self._tmpb, self.H + self.HB):
            np.multiply(g, g, out=t)
            h += t
            np.sqrt(h, out=t)
            t += eps
            np.divide(g, t, out=t)
            t *= lr
            p -= t

    def _adam(self) -> None:
        lr, eps, b1, b2, k = self.lr, self.eps, self.beta1, self.beta2, self.t
        bc1 = 1.0 - b1 ** k
        sqrt_bc2 = math.sqrt(1.0 - b2 ** k)
        # torch: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
        #      = p - (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2))
        step = lr * sqrt_bc2 / bc1
        eps_hat = eps * sqrt_bc2
        for p, g, t, m, v in zip(self.W + self.B, self.dW + self.dB, self._tmp + self._tmpb,
                                 self.M + self.MB, self.V + self.VB):
            m *= b1                          # m = b1*m + (1-b1)*g
            np.multiply(g, 1.0 - b1, out=t)
            m += t
            v *= b2                          # v = b2*v + (1-b2)*g*g
            g *= g
            g *= 1.0 - b2
            v += g
            np.sqrt(v, out=t)                # denominator
            t += eps_hat
            np.divide(m, t, out=t)
            t *= step
            p -= t


class MatmulBound:
    """The 8 GEMMs of one step (3 forward, 3 dW, 2 dX) into preallocated buffers, nothing else.

    A lower bound for any framework that runs this MLP's step through the same BLAS.
    """

    def __init__(self, params) -> None:
        self.W = [np.array(W, copy=True) for W, _ in params]
        self.dW = [np.empty_like(W) for W in self.W]
        self.n = None

    def step(self, X: np.ndarray, y: np.ndarray | None = None) -> None:
        n = X.shape[0]
        W = self.W
        if n != self.n:
            self.n = n
            self.A = [np.empty((n, w.shape[1]), w.dtype) for w in W]
            self.G = [np.empty((n, w.shape[1]), w.dtype) for w in W]
            self.G[-1][...] = 1e-3
        A, G = self.A, self.G
        h = X
        for i in range(len(W)):
            np.matmul(h, W[i], out=A[i])
            h = A[i]
        for i in range(len(W) - 1, -1, -1):
            np.matmul((A[i - 1] if i else X).T, G[i], out=self.dW[i])
            if i:
                np.matmul(G[i], W[i].T, out=G[i - 1])
