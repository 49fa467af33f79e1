"""The seed's layers: `FC` (x @ W + B, W of shape (n_in, n_out)), PyTorch's `Linear`
(weight of shape (out, in)), the activations, `Softmax`, `Flatten` and `Dropout`: thin
Modules over `tinygrad_np.functional`."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np import functional as F
from tinygrad_np import ops
from tinygrad_np._malloc import aligned_copy
from tinygrad_np._random import default_generator, make_rng
from tinygrad_np.init import XavierInitializer
from tinygrad_np.jit import guard, replayed
from tinygrad_np.nn.module import _Leaf
from tinygrad_np.tensor import Parameter, Tensor

__all__ = ["FC", "Linear", "ReLU", "Tanh", "Sigmoid", "Softmax", "Flatten", "Unflatten", "Dropout"]


class FC(_Leaf):
    """Fully connected layer: y = x @ W + B.  x: (..., n_in) -> (..., n_out).

    W has shape (n_in, n_out), B shape (n_out,) (None when `bias=False`).  The weights come
    from `initializer.W(n_in, n_out)` and `.B(n_out)`; None means `init.XavierInitializer()`.
    """

    def __init__(self, n_in: int, n_out: int, initializer: Any = None, bias: bool = True) -> None:
        super().__init__()
        for n in (n_in, n_out):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"FC: n_in and n_out must be positive integers, got {n_in!r}, {n_out!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        W, B = self._draw(initializer if initializer is not None else XavierInitializer(), bias)
        self.W = Parameter(aligned_copy(W))
        self.B = Parameter(aligned_copy(B)) if bias else None

    def _draw(self, initializer: Any, bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        W = np.asarray(initializer.W(self.n_in, self.n_out))
        B = np.asarray(initializer.B(self.n_out)) if bias else None
        if W.shape != (self.n_in, self.n_out) or (B is not None and B.shape != (self.n_out,)):
            raise ValueError(f"FC: initializer {initializer!r} returned W {W.shape} and B "
                             f"{None if B is None else B.shape}; need ({self.n_in}, {self.n_out}) and ({self.n_out},)")
        return W, B

    def reset_parameters(self, initializer: Any = None) -> None:
        """Re-draw W and B in place (Parameters keep identity and dtype)."""
        W, B = self._draw(initializer if initializer is not None else XavierInitializer(), self.B is not None)
        np.copyto(self.W.data, W, casting="unsafe")
        if B is not None:
            np.copyto(self.B.data, B, casting="unsafe")

    def forward_with(self, x: Any, activation: str | None) -> Tensor:
        """activation(x @ W + B) as one node (`nn.Sequential` calls this for FC + activation)."""
        return F.linear(x, self.W, self.B, activation)

    def forward(self, x: Any) -> Tensor:
        """x @ W + B: x (..., n_in) -> (..., n_out)."""
        return F.linear(x, self.W, self.B)

    # Skip Module.__call__'s *args frame: FC sits on the training hot path.
    def __call__(self, x: Any) -> Tensor:
        return self.forward(x)

    def extra_repr(self) -> str:
        b = f", B{self.B.shape}" if self.B is not None else ", bias=False"
        return f"{self.n_in} -> {self.n_out}, W{self.W.shape}{b}, {self.W.dtype}"


class Linear(_Leaf):
    """PyTorch's `nn.Linear`: y = x @ weight.T + bias, x: (..., in_features) -> (..., out_features).

    `weight` has shape (out_features, in_features) and `bias` (out_features,), as in PyTorch, so a
    PyTorch `state_dict` converted with `.numpy()` loads directly.  By default both start as
    PyTorch's do, U(-1/sqrt(in_features), 1/sqrt(in_features)) from the default generator; an
    `initializer` (the seed's protocol, `W(n_in, n_out)` / `B(n_out)`) may be given instead.
    The forward runs the same fused primitive as `FC`, reading the weight transposed (no copy).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, initializer: Any = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        for n in (in_features, out_features):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear: in_features and out_features must be positive integers, got "
                                 f"{in_features!r}, {out_features!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._dtype = np.dtype(dtype)
        W, B = self._draw(initializer, bias)
        self.weight = Parameter(aligned_copy(W))
        self.bias = Parameter(aligned_copy(B)) if bias else None

    def _draw(self, initializer: Any, bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        n_in, n_out = self.in_features, self.out_features
        if initializer is None:
            bound = 1.0 / np.sqrt(n_in)
            rng = default_generator()
            W = rng.uniform(-bound, bound, (n_out, n_in)).astype(self._dtype)
            return W, (rng.uniform(-bound, bound, n_out).astype(self._dtype) if bias else None)
        W = np.asarray(initializer.W(n_in, n_out))
        B = np.asarray(initializer.B(n_out)) if bias else None
        if W.shape != (n_in, n_out) or (B is not None and B.shape != (n_out,)):
            raise ValueError(f"Linear: initializer {initializer!r} returned W {W.shape} and B "
                             f"{None if B is None else B.shape}; need ({n_in}, {n_out}) and ({n_out},)")
        return np.ascontiguousarray(W.T), B

    def reset_parameters(self, initializer: Any = None) -> None:
        """Re-draw weight and bias in place (Parameters keep identity and dtype)."""
        W, B = self._draw(initializer, self.bias is not None)
        np.copyto(self.weight.data, W, casting="unsafe")
        if B is not None:
            np.copyto(self.bias.data, B, casting="unsafe")

    def forward_with(self, x: Any, activation: str | None) -> Tensor:
        """activation(x @ weight.T + bias) as one node."""
        return F.linear(x, self.weight, self.bias, activation, transposed=True)

    def forward(self, x: Any) -> Tensor:
        """x @ weight.T + bias: x (..., in_features) -> (..., out_features)."""
        return F.linear(x, self.weight, self.bias, transposed=True)

    def __call__(self, x: Any) -> Tensor:
        return self.forward(x)

    def extra_repr(self) -> str:
        b = f", bias{self.bias.shape}" if self.bias is not None else ", bias=False"
        return f"in_features={self.in_features}, out_features={self.out_features}, weight{self.weight.shape}{b}, " \
               f"{self.weight.dtype}"


class ReLU(_Leaf):
    """max(x, 0), elementwise (`F.relu`); same shape as the input."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Tanh(_Leaf):
    """Hyperbolic tangent, elementwise (`F.tanh`); same shape as the input."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(_Leaf):
    """1 / (1 + exp(-x)), elementwise (`F.sigmoid`); same shape as the input."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Softmax(_Leaf):
    """softmax along `axis` (default: the last)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        """softmax(x) along `axis`; same shape as x."""
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Flatten(_Leaf):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): keeps axes before `start_axis`, merges the rest."""

    def __init__(self, start_axis: int = 1) -> None:
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x: Any) -> Tensor:
        """x (d0, ..., dk) with the axes from `start_axis` on merged into one."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not -max(x.ndim, 1) <= self.start_axis < max(x.ndim, 1):
            raise ValueError(f"Flatten: start_axis {self.start_axis} is out of range for an input of shape {x.shape}")
        start = self.start_axis % x.ndim if x.ndim else 0
        return x.reshape(x.shape[:start] + (-1,))

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"


class Unflatten(_Leaf):
    """(..., d, ...) -> (..., *sizes, ...): splits axis `axis` into `sizes` (as torch.nn.Unflatten),
    e.g. Unflatten(1, (1, 28, 28)) turns MNIST's rows (N, 784) into images (N, 1, 28, 28)."""

    def __init__(self, axis: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.axis, self.sizes = axis, tuple(sizes)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        axis = self.axis % x.ndim if x.ndim else 0
        if x.ndim == 0 or math.prod(self.sizes) != x.shape[axis]:  # math.prod: np.prod is 50x slower (every step)
            raise ValueError(f"Unflatten: cannot split axis {self.axis} of shape {x.shape} into {self.sizes}")
        return x.reshape(x.shape[:axis] + self.sizes + x.shape[axis + 1:])

    def extra_repr(self) -> str:
        return f"axis={self.axis}, sizes={self.sizes}"


class Dropout(_Leaf):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p).

    Identity in eval mode.  `rng` is an `np.random.Generator` or an int seed (None: the
    library's default generator at each call, see `tinygrad_np.manual_seed`).
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self._rng = None if rng is None else make_rng(rng)

    @property
    def rng(self) -> np.random.Generator:
        """The generator the masks are drawn from."""
        return default_generator() if self._rng is None else self._rng

    def forward(self, x: Any) -> Tensor:
        """x with dropout applied in training mode (a fresh mask each call), x itself in eval mode."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        guard(_dropout_mode, self)  # a jit replays a recording only in the mode it was recorded in
        if not self.training or self.p == 0.0:
            return x
        return ops.Mul.apply(x, _dropout_mask(self, x.shape, x.dtype))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _dropout_mode(m: Dropout) -> tuple[bool, float]:
    return m.training, m.p


@replayed  # a jit draws a fresh mask from m.rng at every replay, as eager mode does
def _dropout_mask(m: Dropout, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The scaled keep-mask: 0 with probability m.p, else 1 / (1 - m.p); from m.rng."""
    if m.p == 1.0:
        return np.zeros(shape, dtype=dtype)
    mask = m.rng.random(shape, dtype=dtype) >= m.p
    return np.multiply(mask, 1.0 / (1.0 - m.p), dtype=dtype)
