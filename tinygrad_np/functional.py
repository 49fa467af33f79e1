"""Fused primitives: each call is ONE graph node with a hand-derived backward (see `ops`).

    import tinygrad_np.functional as F
    logits = F.linear(F.relu(F.linear(x, W1, b1)), W2, b2)
    loss = F.softmax_cross_entropy(logits, labels)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np.tensor import Tensor, operand

_REDUCTIONS = ("mean", "sum", "none")


def _tensor(x: Any, op: str) -> Tensor:
    """x as a Tensor; a value that cannot be one raises TypeError naming `op`."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except TypeError as e:
        raise TypeError(f"{op}: {str(e).removeprefix('Tensor: ')}") from None


def linear(x: Any, W: Tensor, b: Tensor | None = None, activation: str | None = None, *,
           transposed: bool = False) -> Tensor:
    """activation(x @ W + b), as one graph node.

    x: (..., n_in), W: (n_in, n_out) -- the seed's layout; with `transposed=True`, W is
    (n_out, n_in), PyTorch's `F.linear` layout, read transposed without a copy --
    b: (n_out,) or None -> (..., n_out).  activation:
    None, "relu", "tanh" or "sigmoid", applied in place on the op's own output (so
    `linear(x, W, b, "relu")` costs one array where `relu(linear(x, W, b))` costs two).
    The backward computes dW and db, and dx only when x requires grad.
    """
    x, W = _tensor(x, "linear"), _tensor(W, "linear")
    if b is not None:
        b = _tensor(b, "linear")
    xs, ws = x._data.shape, W._data.shape
    n_in, n_out = (ws[::-1] if transposed else ws) if len(ws) == 2 else (None, None)
    if len(ws) != 2 or not xs or xs[-1] != n_in:
        layout = "W (n_out, n_in)" if transposed else "W (n_in, n_out)"
        raise ValueError(f"linear: x of shape {x.shape} does not match W of shape {W.shape} "
                         f"(need x (..., n_in) and {layout})")
    if b is not None and b._data.shape != (n_out,):
        raise ValueError(f"linear: bias of shape {b.shape} does not match W of shape {W.shape} "
                         f"(need ({n_out},))")
    if activation is not None and activation not in ops.LINEAR_ACTIVATIONS:
        raise ValueError(f"linear: activation must be None or one of {tuple(ops.LINEAR_ACTIVATIONS)}, "
                         f"got {activation!r}")
    if transposed:
        return ops.Linear.apply(x, W, b, activation=activation, transposed=True)
    return ops.Linear.apply(x, W, b, activation=activation)


def _target_array(target: Any, op: str) -> np.ndarray:
    """A loss target as an array: labels stay integers (a list of ints too), values real."""
    if type(target) is np.ndarray and target.dtype.kind in "biuf":
        return target
    try:
        t = np.asarray(target)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{op}: cannot convert the target ({type(target).__name__}) to an array: {e}") from None
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{op}: the target must be real numbers, got dtype {t.dtype}")
    return t


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise.  The gradient at exactly 0 is 0 (as in PyTorch)."""
    return ops.ReLU.apply(_tensor(x, "relu"))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise."""
    return ops.Tanh.apply(_tensor(x, "tanh"))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), elementwise, finite for any finite x."""
    return ops.Sigmoid.apply(_tensor(x, "sigmoid"))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, computed max-subtracted. Same shape as x."""
    x = _tensor(x, "softmax")
    (axis,) = ops.normalize_axis(axis, x.ndim, "softmax")
    return ops.Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, computed max-subtracted. Same shape as x."""
    x = _tensor(x, "log_softmax")
    (axis,) = ops.normalize_axis(axis, x.ndim, "log_softmax")
    return ops.LogSoftmax.apply(x, axis=axis)


def softmax_cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy between softmax(logits) and `target`, fused and numerically stable.

    logits: (N, C).  target: integer class labels of shape (N,) (an integer dtype), or
    class probabilities / one-hot rows of shape (N, C).  reduction: "mean" (over N,
    returns a 0-d tensor), "sum", or "none" (returns the N per-example losses).
    """
    logits = _tensor(logits, "softmax_cross_entropy")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"softmax_cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    shape = logits._data.shape
    if len(shape) != 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (N, C), got {shape}")
    n = shape[0]
    t = target.data if isinstance(target, Tensor) else _target_array(target, "softmax_cross_entropy")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise ValueError(f"softmax_cross_entropy: class labels must have an integer dtype, got {t.dtype} "
                             "(pass probabilities as an (N, C) array)")
        if t.shape[0] != n:
            raise ValueError(f"softmax_cross_entropy: {t.shape[0]} labels for {n} rows of logits "
                             f"(shapes {logits.shape} and {t.shape})")
    elif t.shape != logits.shape:
        raise ValueError(f"softmax_cross_entropy: target of shape {t.shape} does not match logits of shape "
                         f"{logits.shape} (need labels (N,) or probabilities (N, C))")
    elif t.dtype != logits.dtype and not isinstance(target, Tensor):
        t = t.astype(logits.dtype)  # a constant target follows the logits' dtype, like a Python number
    if isinstance(target, Tensor) and t.ndim == 2:
        t = target
    return ops.SoftmaxCrossEntropy.apply(logits, t, reduction=reduction)


# ---- convolution, pooling, batch normalisation (the ops in tinygrad_np.ops.conv) -----------------
def _pair(value: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair (TypeError / ValueError naming `op`)."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is type(value[1]) is int \
            and value[0] >= minimum and value[1] >= minimum:  # what layers pass at every call: no more checks
        return value
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    if not (isinstance(items, (tuple, list)) and len(items) == 2 and _is_int(items[0]) and _is_int(items[1])):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if items[0] < minimum or items[1] < minimum:
        raise ValueError(f"{op}: {name} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return int(items[0]), int(items[1])


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_window(op: str, x: Tensor, kernel: tuple[int, int], padding: tuple[int, int], what: str) -> None:
    """The (padded) spatial size of x must hold one window."""
    padded = (x.shape[-2] + 2 * padding[0], x.shape[-1] + 2 * padding[1])
    if padded[0] < kernel[0] or padded[1] < kernel[1]:
        raise ValueError(f"{op}: {what} {kernel} is larger than the padded input {padded} "
                         f"(x of shape {x.shape}, padding {padding})")


def _check_conv(op: str, x: Tensor, W: Tensor, b: Tensor | None, layout: str) -> None:
    rank = len(layout.split(", "))
    if x.ndim != rank:
        raise ValueError(f"{op}: x must be {rank}-D ({layout}), got shape {x.shape}")
    if W.ndim != rank:
        raise ValueError(f"{op}: W must be {rank}-D (out_channels, in_channels, kernel...), got shape {W.shape}")
    if 0 in W.shape or 0 in x.shape[1:]:
        raise ValueError(f"{op}: empty x of shape {x.shape} or W of shape {W.shape}")
    if x.shape[1] != W.shape[1]:
        raise ValueError(f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but W expects {W.shape[1]} "
                         f"(shape {W.shape})")
    if b is not None and b.shape != (W.shape[0],):
        raise ValueError(f"{op}: bias of shape {b.shape} does not match W of shape {W.shape} "
                         f"(need ({W.shape[0]},))")


def _check_activation(op: str, activation: str | None) -> None:
    if activation is not None and activation not in ops.LINEAR_ACTIVATIONS:
        raise ValueError(f"{op}: activation must be None or one of {tuple(ops.LINEAR_ACTIVATIONS)}, "
                         f"got {activation!r}")


def conv1d(x: Any, W: Any, b: Any = None, stride: int = 1, padding: int = 0,
           activation: str | None = None) -> Tensor:
    """1-D cross-correlation, as `torch.nn.functional.conv1d`: x (N, C, L), W (F, C, K), b (F,) or None
    -> (N, F, L_out) with L_out = (L + 2 * padding - K) // stride + 1 (zero padding).  activation
    as in `conv2d`."""
    x, W = _tensor(x, "conv1d"), _tensor(W, "conv1d")
    b = None if b is None else _tensor(b, "conv1d")
    (stride,) = set(_pair(stride, "stride", "conv1d", 1))  # an int only
    (padding,) = set(_pair(padding, "padding", "conv1d", 0))
    _check_conv("conv1d", x, W, b, "N, C, L")
    _check_window("conv1d", x, (1, W.shape[2]), (0, padding), "kernel")
    _check_activation("conv1d", activation)
    return ops.Conv1d.apply(x, W, b, stride=stride, padding=padding, activation=activation)


def conv2d(x: Any, W: Any, b: Any = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, activation: str | None = None) -> Tensor:
    """2-D cross-correlation, as `torch.nn.functional.conv2d`: x (N, C, H, W), W (F, C, KH, KW),
    b (F,) or None -> (N, F, OH, OW), OH = (H + 2 * padding - KH) // stride + 1 (and so for OW).

    stride and padding: an int or a (height, width) pair; padding is with zeros.  activation: None,
    "relu", "tanh" or "sigmoid", applied in place on the op's own output (one node and one
    array, as `linear`'s).  The backward computes dx only when x requires grad.
    """
    x, W = _tensor(x, "conv2d"), _tensor(W, "conv2d")
    b = None if b is None else _tensor(b, "conv2d")
    stride = _pair(stride, "stride", "conv2d", 1)
    padding = _pair(padding, "padding", "conv2d", 0)
    _check_conv("conv2d", x, W, b, "N, C, H, W")
    _check_window("conv2d", x, W.shape[2:], padding, "kernel")
    _check_activation("conv2d", activation)
    return ops.Conv2d.apply(x, W, b, stride=stride, padding=padding, activation=activation)


def _pool_args(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any) -> dict[str, tuple[int, int]]:
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    padding = _pair(padding, "padding", op, 0)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be 4-D (N, C, H, W), got shape {x.shape}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    _check_window(op, x, kernel, padding, "kernel_size")
    return dict(kernel=kernel, stride=stride, padding=padding)


def max_pool2d(x: Any, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, *, activation: str | None = None) -> Tensor:
    """Maximum over windows, as `torch.nn.functional.max_pool2d`: x (N, C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size; padding (at most half the kernel) never wins the maximum.
    The gradient goes to the first maximum of each window, as in PyTorch.  activation: None or
    "relu": `max_pool2d(x, k, activation="relu")` is `max_pool2d(relu(x), k)` as one node, ReLU
    applied in place on the pooled output (the two commute); `nn.Sequential` runs ReLU + MaxPool2d
    this way.  Only with a NaN in a window can the two differ: there the fused gradient is 0.
    """
    x = _tensor(x, "max_pool2d")
    if activation is not None and activation != "relu":
        raise ValueError(f"max_pool2d: activation must be None or 'relu' (the one that commutes with the "
                         f"maximum), got {activation!r}")
    return ops.MaxPool2d.apply(x, **_pool_args("max_pool2d", x, kernel_size, stride, padding),
                               relu=activation == "relu")


def avg_pool2d(x: Any, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    """Mean over windows, as `torch.nn.functional.avg_pool2d` (count_include_pad=True: padding counts
    as zeros): x (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size."""
    x = _tensor(x, "avg_pool2d")
    return ops.AvgPool2d.apply(x, **_pool_args("avg_pool2d", x, kernel_size, stride, padding))


def _stat_array(value: Any, name: str, channels: int, writeable: bool) -> np.ndarray | None:
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f" or arr.shape != (channels,):
        raise ValueError(f"batch_norm: {name} must be a float array or Tensor of shape ({channels},), got "
                         f"{type(value).__name__} of shape {np.shape(arr)}")
    if writeable and not arr.flags.writeable:
        raise ValueError(f"batch_norm: {name} is read-only, but training updates it in place")
    return arr


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channels (1) of x (N, C), (N, C, L) or (N, C, H, W).

    PyTorch's semantics: in training the batch mean and biased variance normalise, and the
    running estimates (arrays or Tensors of shape (C,), or None) are updated in place with
    the unbiased variance: r = (1 - momentum) * r + momentum * statistic.  Not in training,
    the running estimates normalise.  weight and bias (C,) scale and shift (None: 1 and 0).
    """
    x = _tensor(x, "batch_norm")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: x must be (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}")
    c = x.shape[1]
    weight, bias = (None if t is None else _tensor(t, "batch_norm") for t in (weight, bias))
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} of shape {t.shape} does not match the {c} channels of x "
                             f"(shape {x.shape})")
    for name, v, ok in (("momentum", momentum, lambda v: 0 <= v <= 1), ("eps", eps, lambda v: v > 0)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not ok(v):
            raise ValueError(f"batch_norm: {name} must be a number {'in [0, 1]' if name == 'momentum' else '> 0'}, "
                             f"got {v!r}")
    training = bool(training)
    rm = _stat_array(running_mean, "running_mean", c, training)
    rv = _stat_array(running_var, "running_var", c, training)
    if training and x.size <= c:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got x of shape "
                         f"{x.shape}")
    if not training and (rm is None or rv is None):
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    # Tensors (a buffer as given, an array wrapped without a copy): updated in place, read anew by a jit replay
    stats = [v if isinstance(v, Tensor) or v is None else Tensor(v) for v in (running_mean, running_var)]
    return ops.BatchNorm.apply(x, weight, bias, *stats, training=training, momentum=float(momentum), eps=float(eps))
# ---- joining and selecting --------------------------------------------------------------------
def _tensors(op: str, tensors: Any) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{op}: expected a non-empty list or tuple of tensors, got {type(tensors).__name__}")
    return [_tensor(t, op) for t in tensors]


def cat(tensors: Any, dim: int = 0) -> Tensor:
    """The tensors joined along the existing axis `dim` (shapes equal elsewhere), as `torch.cat`."""
    ts = _tensors("cat", tensors)
    if len({t.ndim for t in ts}) != 1 or ts[0].ndim == 0:
        raise ValueError(f"cat: tensors must have the same number (>= 1) of dimensions, got shapes "
                         f"{[t.shape for t in ts]}")
    (axis,) = ops.normalize_axis(dim, ts[0].ndim, "cat")
    if len({t.shape[:axis] + t.shape[axis + 1:] for t in ts}) != 1:
        raise ValueError(f"cat: shapes {[t.shape for t in ts]} differ outside dim {dim}")
    return ops.Cat.apply(*ts, axis=axis)


def stack(tensors: Any, dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new axis `dim`, as `torch.stack`."""
    ts = _tensors("stack", tensors)
    if len({t.shape for t in ts}) != 1:
        raise ValueError(f"stack: tensors must have one shape, got {[t.shape for t in ts]}")
    if not ops.is_int(dim) or not -ts[0].ndim - 1 <= dim <= ts[0].ndim:
        raise ValueError(f"stack: dim {dim!r} is out of range for tensors of shape {ts[0].shape}")
    return cat([t.unsqueeze(dim) for t in ts], dim=dim)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where `condition` (booleans, broadcast) is true, else y; differentiable in x and y."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a = x if isinstance(x, Tensor) else None
    b = y if isinstance(y, Tensor) else None
    like = a if a is not None else b
    if like is None:
        x, y = _tensor(x, "where"), _tensor(y, "where")
    else:
        x, y = (operand(v, like, "where") for v in (x, y))
    try:
        np.broadcast_shapes(cond.shape, np.shape(x.data if isinstance(x, Tensor) else x),
                            np.shape(y.data if isinstance(y, Tensor) else y))
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape}, {np.shape(x)} and {np.shape(y)} do not broadcast") from None
    return ops.Where.apply(cond, x, y)


# ---- losses with PyTorch's names -----------------------------------------------------------------
def cross_entropy(logits: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """`torch.nn.functional.cross_entropy` for logits (N, C): target class labels (N,) or class
    probabilities (N, C); `label_smoothing` eps mixes the target with the uniform distribution,
    (1 - eps) * target + eps / C.  One fused node (`softmax_cross_entropy`)."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if not label_smoothing:
        return softmax_cross_entropy(logits, target, reduction)
    logits = _tensor(logits, "cross_entropy")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}")
    c = logits.shape[1]
    t = target.data if isinstance(target, Tensor) else _target_array(target, "cross_entropy")
    if t.ndim == 1:
        softmax_cross_entropy(logits, t, "none")  # the label checks, with their messages
        t = np.eye(c, dtype=logits.dtype)[t]
    t = Tensor(t, dtype=logits.dtype) * (1.0 - label_smoothing) + label_smoothing / c
    return softmax_cross_entropy(logits, t.data, reduction)


def _reduce(losses: Tensor, reduction: str, op: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """-log_probs[n, target[n]] for log-probabilities (N, C) and labels (N,), as `torch.nn.functional.nll_loss`."""
    log_probs = _tensor(log_probs, "nll_loss")
    t = target.data if isinstance(target, Tensor) else _target_array(target, "nll_loss")
    if log_probs.ndim != 2 or t.shape != log_probs.shape[:1] or t.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: need log-probabilities (N, C) and integer labels (N,), got shapes "
                         f"{log_probs.shape} and {t.shape} ({t.dtype})")
    if t.size and (t.min() < 0 or t.max() >= log_probs.shape[1]):
        raise ValueError(f"nll_loss: labels must be in [0, {log_probs.shape[1]}), got {t.min()}..{t.max()}")
    return _reduce(-log_probs[np.arange(len(t)), t], reduction, "nll_loss")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)^2, averaged or summed, as `torch.nn.functional.mse_loss` (shapes must match)."""
    x = _tensor(input, "mse_loss")
    t = target if isinstance(target, Tensor) else operand(_target_array(target, "mse_loss"), x, "mse_loss")
    if np.shape(t) != x.shape:
        raise ValueError(f"mse_loss: input of shape {x.shape} and target of shape {np.shape(t)} differ")
    d = x - t
    return _reduce(d * d, reduction, "mse_loss")


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input) against `target` in [0, 1] (same shape), fused and
    stable for any logit, as `torch.nn.functional.binary_cross_entropy_with_logits`.  `pos_weight`
    (broadcast to the last axis) weights the positive term."""
    x = _tensor(input, "binary_cross_entropy_with_logits")
    t = target if isinstance(target, Tensor) else operand(
        _target_array(target, "binary_cross_entropy_with_logits"), x, "binary_cross_entropy_with_logits")
    if np.shape(t) != x.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: input of shape {x.shape} and target of shape "
                         f"{np.shape(t)} differ")
    pw = None if pos_weight is None else np.asarray(pos_weight.data if isinstance(pos_weight, Tensor)
                                                     else pos_weight, dtype=x.dtype)
    return _reduce(ops.BCEWithLogits.apply(x, t, pos_weight=pw), reduction, "binary_cross_entropy_with_logits")
