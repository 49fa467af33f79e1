"""Convolution, pooling and batch-normalisation layers: thin Modules over `tinygrad_np.functional`.

    model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.FC(16 * 14 * 14, 10))

Layouts and names are PyTorch's.  BatchNorm's running statistics are buffers: in
`state_dict()`, cast by `to()`, not returned by `parameters()`; they are updated in
training mode only (`model.train()` / `model.eval()`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import functional as F
from tinygrad_np._malloc import aligned_copy
from tinygrad_np.init import HeInitializer
from tinygrad_np.nn.module import _Leaf
from tinygrad_np.tensor import Parameter, Tensor

__all__ = ["Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d"]


def _positive(op: str, **values: Any) -> None:
    for name, n in values.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{op}: {name} must be a positive integer, got {n!r}")


class _ConvNd(_Leaf):
    """W (out_channels, in_channels, *kernel) and B (out_channels,) or None (`bias=False`).

    The weights come from `initializer.weight(W.shape, fan_in, fan_out)` with fan_in =
    in_channels * kernel area and fan_out = out_channels * kernel area (an object with only the
    seed's `W(n_in, n_out)` gives W(fan_in, out_channels), reshaped), and B from
    `initializer.B(out_channels)`; None means `init.HeInitializer()`.
    """

    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 bias: bool = True, initializer: Any = None) -> None:
        super().__init__()
        op = type(self).__name__
        _positive(op, in_channels=in_channels, out_channels=out_channels)
        pairs = [F._pair(v, name, op, low) for v, name, low in
                 ((kernel_size, "kernel_size", 1), (stride, "stride", 1), (padding, "padding", 0))]
        if self._dims == 1:
            if any(p[0] != p[1] for p in pairs):
                raise TypeError(f"{op}: kernel_size, stride and padding must be ints, got "
                                f"{kernel_size!r}, {stride!r}, {padding!r}")
            pairs = [p[:1] for p in pairs]
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = pairs
        W, B = self._draw(initializer, bias)
        self.W = Parameter(aligned_copy(W))
        self.B = Parameter(aligned_copy(B)) if bias else None

    def _draw(self, initializer: Any, bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        initializer = initializer if initializer is not None else HeInitializer()
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        area = int(np.prod(self.kernel_size))
        fan_in, fan_out = self.in_channels * area, self.out_channels * area
        if callable(getattr(initializer, "weight", None)):
            W = np.asarray(initializer.weight(shape, fan_in, fan_out))
        else:  # the seed's protocol: W(n_in, n_out), the weights of one output in each column
            W = np.asarray(initializer.W(fan_in, self.out_channels))
            W = W.T.reshape(shape) if W.shape == (fan_in, self.out_channels) else W
        B = np.asarray(initializer.B(self.out_channels)) if bias else None
        if W.shape != shape or (B is not None and B.shape != (self.out_channels,)):
            raise ValueError(f"{type(self).__name__}: initializer {initializer!r} returned W {W.shape} and B "
                             f"{None if B is None else B.shape}; need {shape} and ({self.out_channels},)")
        return W, B

    def reset_parameters(self, initializer: Any = None) -> None:
        """Re-draw W and B in place (Parameters keep identity and dtype)."""
        W, B = self._draw(initializer, self.B is not None)
        np.copyto(self.W.data, W, casting="unsafe")
        if B is not None:
            np.copyto(self.B.data, B, casting="unsafe")

    def extra_repr(self) -> str:
        b = f", B{self.B.shape}" if self.B is not None else ", bias=False"
        return (f"{self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, W{self.W.shape}{b}, {self.W.dtype}")


class Conv1d(_ConvNd):
    """1-D convolution: x (N, in_channels, L) -> (N, out_channels, L_out); see `F.conv1d`.

    kernel_size, stride and padding are ints; W has shape (out_channels, in_channels, kernel_size).
    """

    _dims = 1

    def forward(self, x: Any) -> Tensor:
        return self.forward_with(x, None)

    def forward_with(self, x: Any, activation: str | None) -> Tensor:
        """activation(conv1d(x)) as one node (`nn.Sequential` calls this for Conv1d + activation)."""
        return F.conv1d(x, self.W, self.B, stride=self.stride[0], padding=self.padding[0], activation=activation)


class Conv2d(_ConvNd):
    """2-D convolution: x (N, in_channels, H, W) -> (N, out_channels, OH, OW); see `F.conv2d`.

    kernel_size, stride and padding are ints or (height, width) pairs; W has shape
    (out_channels, in_channels, KH, KW).
    """

    def forward(self, x: Any) -> Tensor:
        return self.forward_with(x, None)

    def forward_with(self, x: Any, activation: str | None) -> Tensor:
        """activation(conv2d(x)) as one node (`nn.Sequential` calls this for Conv2d + activation)."""
        return F.conv2d(x, self.W, self.B, stride=self.stride, padding=self.padding, activation=activation)


class _Pool2d(_Leaf):
    _fn: Any

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        op = type(self).__name__
        self.kernel_size = F._pair(kernel_size, "kernel_size", op, 1)
        self.stride = self.kernel_size if stride is None else F._pair(stride, "stride", op, 1)
        self.padding = F._pair(padding, "padding", op, 0)

    def forward(self, x: Any) -> Tensor:
        return self._fn(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over windows of x (N, C, H, W); stride defaults to kernel_size.  See `F.max_pool2d`."""

    _fn = staticmethod(F.max_pool2d)

    def forward_with(self, x: Any, activation: str | None) -> Tensor:
        """max_pool2d(activation(x)) as one node, the activation on the pooled output (`nn.Sequential`
        calls this for ReLU + MaxPool2d; see `F.max_pool2d`)."""
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, activation=activation)


class AvgPool2d(_Pool2d):
    """Mean over windows of x (N, C, H, W), padding counted as zeros.  See `F.avg_pool2d`."""

    _fn = staticmethod(F.avg_pool2d)


class _BatchNorm(_Leaf):
    """Parameters `weight` (ones) and `bias` (zeros) of shape (num_features,) unless `affine=False`;
    buffers `running_mean` (zeros) and `running_var` (ones), all float32 until `to()`."""

    _ranks: tuple[int, ...]
    _layouts: str

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        _positive(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        n = self.num_features
        self.weight = Parameter(np.ones(n, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(n, np.float32)) if affine else None
        self.register_buffer("running_mean", np.zeros(n, np.float32))
        self.register_buffer("running_var", np.ones(n, np.float32))

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in self._ranks:
            raise ValueError(f"{type(self).__name__}: x must be {self._layouts}, got shape {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) or (N, C, L) per channel C; see `F.batch_norm`."""

    _ranks, _layouts = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel C; see `F.batch_norm`."""

    _ranks, _layouts = (4,), "(N, C, H, W)"
