"""The op table: every primitive with its NumPy reference and valid input domain.

Each row drives the same property tests over hypothesis-drawn inputs (size-1 and
broadcast dims, 0-d tensors, batch dims, non-contiguous views):

- forward values against the NumPy reference, in float32 and float64;
- gradients against central differences (`gradcheck`, float64);
- the same values and gradients whatever the memory layout of the inputs;
- invariants: dtype kept, inputs not mutated, the graph freed after backward (a
  second backward raises) unless `retain_graph=True` (then it accumulates twice).

References are written from the math with NumPy, never with tinygrad_np.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_np.functional as F
from tinygrad_np import Tensor
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing import strategies as st
from test_conv import np_avg_pool2d, np_batch_norm, np_conv1d, np_conv2d, np_max_pool2d

Args = Callable[..., hst.SearchStrategy[tuple]]


# ---- input domains: keyword arguments of `strategies.arrays` -----------------------------------
ANY: dict = {}
POSITIVE = dict(min_value=0.2)                              # log, fractional powers
NONZERO = dict(elements=st.away_from([0.0], margin=0.5))   # divisors
KINK_FREE = dict(elements=st.away_from([0.0]))              # ReLU
DISTINCT = dict(unique=True)                                # max: no ties


def args(shapes: hst.SearchStrategy[tuple], *domains: dict, kinds: str = "") -> Args:
    """Inputs of the drawn `shapes`; `domains[i]` restricts input i.

    `kinds[i]`: "t" a Tensor requiring grad (the default), "a" a plain ndarray, "n" a Python float.
    """
    def make(dtype: type, contiguous: bool | None = None) -> hst.SearchStrategy[tuple]:
        @hst.composite
        def draw_args(draw: hst.DrawFn) -> tuple:
            out = []
            for i, shape in enumerate(draw(shapes)):
                kind = kinds[i] if i < len(kinds) else "t"
                domain = domains[i] if i < len(domains) else ANY
                if kind == "n":
                    out.append(float(draw(st.arrays((), **domain))))
                    continue
                a = draw(st.arrays(shape, dtype, contiguous=contiguous, **domain))
                out.append(Tensor(a, requires_grad=True) if kind == "t" else a)
            return tuple(out)
        return draw_args()
    return make


def one(min_dims: int = 0, max_dims: int = 3, min_side: int = 1) -> hst.SearchStrategy[tuple]:
    return st.shapes(min_dims, max_dims, min_side).map(lambda s: (s,))


PAIR = st.broadcastable_shapes()
MATMUL = st.matmul_shapes()


def linear_args(bias: bool, kink_free: bool = False, transposed: bool = False) -> Args:
    """x (..., n_in) with 0-2 batch dims, W (n_in, n_out) (or (n_out, n_in) when `transposed`),
    optionally b (n_out,).

    `kink_free`: every pre-activation x @ W + b stays at least 0.05 away from 0 (for ReLU's
    finite differences), by filtering the drawn inputs.
    """
    @hst.composite
    def shapes(draw: hst.DrawFn) -> tuple:
        batch = draw(st.shapes(0, 2))
        n_in, n_out = draw(hst.integers(1, 4)), draw(hst.integers(1, 4))
        return (batch + (n_in,), (n_out, n_in) if transposed else (n_in, n_out)) + (((n_out,),) if bias else ())
    make = args(shapes())
    if not kink_free:
        return make

    def away_from_kink(inputs: tuple) -> bool:
        x, W, b = (a.data if isinstance(a, Tensor) else a for a in inputs)
        return bool(np.all(np.abs(np_linear(x.astype(np.float64), W, b)) > 0.05))
    return lambda dtype, contiguous=None: make(dtype, contiguous).filter(away_from_kink)


def cross_entropy_args(target: str) -> Args:
    """logits (N, C) and a target: "labels" (N,) ints, "probs" (N, C) rows summing to 1,
    "weights" (N, C) arbitrary non-negative (rows need not sum to 1), or "probs_tensor"
    (probabilities as a Tensor that requires grad)."""
    def make(dtype: type, contiguous: bool | None = None) -> hst.SearchStrategy[tuple]:
        @hst.composite
        def draw_args(draw: hst.DrawFn) -> tuple:
            n, c = draw(hst.integers(1, 4)), draw(hst.integers(2, 4))
            logits = Tensor(draw(st.arrays((n, c), dtype, contiguous=contiguous)), requires_grad=True)
            if target == "labels":
                return logits, draw(st.class_labels(n, c))
            if target == "weights":
                return logits, draw(st.arrays((n, c), dtype, 0.0, 2.0, contiguous=contiguous))
            probs = draw(st.class_probabilities(n, c, dtype))
            return logits, (Tensor(probs, requires_grad=True) if target == "probs_tensor" else probs)
        return draw_args()
    return make


def window_args(op: str, bias: bool = True, kink_free: bool = False) -> Args:
    """Inputs of a convolution or pooling with drawn geometry, the kernel fitting the padded input.

    "conv2d": x (N, C, H, W), W (F, C, KH, KW), b (F,) (unless not `bias`), stride pair, padding pair;
    "conv1d": x (N, C, L), W (F, C, K), b (F,), stride, padding (ints);
    "pool": x (N, C, H, W) of distinct values (no ties for max), kernel, stride and padding
    pairs (padding at most half the kernel).  `kink_free` (pool only): the values sit half a grid
    step off the 0.01 grid, so none is 0 or within a finite-difference step of ReLU's kink.
    """
    def make(dtype: type, contiguous: bool | None = None) -> hst.SearchStrategy[tuple]:
        @hst.composite
        def draw_args(draw: hst.DrawFn) -> tuple:
            def side(lo: int = 1, hi: int = 3) -> int:
                return draw(hst.integers(lo, hi))
            dims = 1 if op == "conv1d" else 2
            kernel = tuple(side() for _ in range(dims))
            padding = tuple(side(0, k // 2 if op == "pool" else 2) for k in kernel)
            spatial = tuple(side(max(1, k - 2 * p), 5) for k, p in zip(kernel, padding))
            stride = tuple(side() for _ in range(dims))
            n, c = side(1, 2), side()

            def tensor(shape: tuple, **kw: Any) -> Tensor:
                return Tensor(draw(st.arrays(shape, dtype, contiguous=contiguous, **kw)), requires_grad=True)
            if op == "pool":
                x = tensor((n, c) + spatial, unique=True)
                if kink_free:
                    x.data += 0.005  # in place: the drawn layout (a view, maybe) is kept
                return x, kernel, stride, padding
            f = side()
            geometry = (stride, padding) if dims == 2 else (stride[0], padding[0])
            b = (tensor((f,)),) if bias else ()
            return (tensor((n, c) + spatial), tensor((f, c) + kernel)) + b + geometry
        return draw_args()
    return make


def batch_norm_args(training: bool) -> Args:
    """x (N, C, ...) of well-spread distinct values (at least 2 per channel), weight and bias (C,);
    not in training also the running mean and (positive) variance, as plain arrays."""
    def make(dtype: type, contiguous: bool | None = None) -> hst.SearchStrategy[tuple]:
        @hst.composite
        def draw_args(draw: hst.DrawFn) -> tuple:
            shape = draw(hst.sampled_from([(2, 3), (3, 1, 2), (2, 2, 2, 2), (1, 2, 1, 3)]))
            c = shape[1]
            x = Tensor(draw(st.arrays(shape, dtype, unique=True, gap=0.1, contiguous=contiguous)), requires_grad=True)
            w, b = (Tensor(draw(st.arrays((c,), dtype, contiguous=contiguous)), requires_grad=True) for _ in "wb")
            if training:
                return x, w, b
            return x, w, b, draw(st.arrays((c,), dtype)), draw(st.arrays((c,), dtype, min_value=0.2))
        return draw_args()
    return make


# ---- NumPy references -------------------------------------------------------------------------
def np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x)  # inputs are in [-3, 3]: no need to shift
    return e / e.sum(axis=axis, keepdims=True)


def np_cross_entropy(reduction: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def ref(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
        log_p = np.log(np_softmax(logits, axis=1))
        if target.ndim == 1:
            losses = -log_p[np.arange(len(target)), target]
        else:
            losses = -(target * log_p).sum(axis=1)
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    return ref


def np_linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = np.einsum("...i,io->...o", x, W)
    return y if b is None else y + b


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable[..., Tensor]    # the op under test, on Tensors (and constants)
    ref: Callable[..., Any]      # NumPy reference on the same values as arrays
    args: Args                   # draws the inputs: args(dtype, contiguous=None)

    def __repr__(self) -> str:
        return self.name


def binary(sym: str, f: Callable, ref: Callable, domain_b: dict = ANY) -> list[Op]:
    """The op with Tensor, ndarray and Python-number operands on either side."""
    return [Op(f"x {sym} y", f, ref, args(PAIR, ANY, domain_b)),
            Op(f"x {sym} ndarray", f, ref, args(PAIR, ANY, domain_b, kinds="ta")),
            Op(f"ndarray {sym} x", f, ref, args(PAIR, ANY, domain_b, kinds="at")),
            Op(f"x {sym} number", f, ref, args(PAIR, ANY, domain_b, kinds="tn")),
            Op(f"number {sym} x", f, ref, args(PAIR, ANY, domain_b, kinds="nt"))]


def reductions(method: str, ref: Callable, domain: dict) -> list[Op]:
    cases = [(None, False, 0), (None, True, 0), (0, False, 1), (-1, True, 1), ((0, 2), False, 3),
             ((-1, 0), True, 2)]
    return [Op(f"x.{method}(axis={axis}, keepdims={keep})",
               lambda x, a=axis, k=keep: getattr(x, method)(axis=a, keepdims=k),
               lambda x, a=axis, k=keep: ref(x, axis=a, keepdims=k), args(one(min_dims), domain))
            for axis, keep, min_dims in cases]


SAME = st.shapes().map(lambda s: (s, s))
UNIT = dict(min_value=0.0, max_value=1.0)                   # probabilities
CLAMP_FREE = dict(elements=st.away_from([-0.5, 0.5]))      # clamp(-0.5, 0.5): off both kinks


@hst.composite
def _cat_shapes(draw: hst.DrawFn) -> tuple:
    """Two shapes equal except along axis 0 (1-3 dims)."""
    rest = draw(st.shapes(0, 2))
    return (draw(hst.integers(1, 3)),) + rest, (draw(hst.integers(1, 3)),) + rest


def np_var(x: np.ndarray, axis: Any) -> np.ndarray:
    n = x.size if axis is None else np.prod([x.shape[a] for a in np.atleast_1d(axis)])
    return ((x - x.mean(axis=axis, keepdims=True)) ** 2).sum(axis=axis) / (n - 1)


def np_bce(x: np.ndarray, t: np.ndarray, w: float = 1.0) -> np.ndarray:
    s = 1 / (1 + np.exp(-x))
    return -(w * t * np.log(s) + (1 - t) * np.log(1 - s))


def np_smoothed_cross_entropy(eps: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def ref(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        c = logits.shape[1]
        q = (1 - eps) * np.eye(c)[labels] + eps / c
        return -(q * np.log(np_softmax(logits, axis=1))).sum(axis=1).mean()
    return ref


OPS: list[Op] = [
    *binary("+", operator.add, np.add),
    *binary("-", operator.sub, np.subtract),
    *binary("*", operator.mul, np.multiply),
    *binary("/", operator.truediv, lambda a, b: a * (1.0 / b), NONZERO),
    Op("-x", operator.neg, lambda x: 0.0 - x, args(one())),
    Op("x ** 2", lambda x: x ** 2, lambda x: x * x, args(one())),
    Op("x ** 3", lambda x: x ** 3, lambda x: x * x * x, args(one())),
    Op("x ** 0.5", lambda x: x ** 0.5, np.sqrt, args(one(), POSITIVE)),
    Op("x ** -1.5", lambda x: x ** -1.5, lambda x: 1.0 / (x * np.sqrt(x)), args(one(), POSITIVE)),
    Op("x @ y", operator.matmul, np.matmul, args(MATMUL)),
    Op("x @ ndarray", operator.matmul, np.matmul, args(MATMUL, kinds="ta")),
    Op("ndarray @ x", operator.matmul, np.matmul, args(MATMUL, kinds="at")),
    *reductions("sum", np.sum, ANY),
    *reductions("mean", np.mean, ANY),
    *reductions("max", np.max, DISTINCT),
    Op("x.reshape(-1)", lambda x: x.reshape(-1), np.ravel, args(one())),
    Op("x.reshape(1, -1, 1)", lambda x: x.reshape(1, -1, 1), lambda x: x.reshape(1, -1, 1), args(one())),
    Op("x.reshape(reversed shape)", lambda x: x.reshape(x.shape[::-1]), lambda x: x.reshape(x.shape[::-1]),
       args(one())),
    Op("x.T", lambda x: x.T, lambda x: x.T, args(one())),
    Op("x.transpose()", lambda x: x.transpose(), np.transpose, args(one())),
    Op("x.transpose(1, 0, 2)", lambda x: x.transpose(1, 0, 2), lambda x: np.transpose(x, (1, 0, 2)),
       args(one(3, 3))),
    Op("x.transpose((2, 0, 1))", lambda x: x.transpose((2, 0, 1)), lambda x: np.transpose(x, (2, 0, 1)),
       args(one(3, 3))),
    Op("x.transpose(-1, 0, 1)", lambda x: x.transpose(-1, 0, 1), lambda x: np.moveaxis(x, -1, 0),
       args(one(3, 3))),
    Op("x[0]", lambda x: x[0], lambda x: x[0], args(one(1))),
    Op("x[-1, 1:]", lambda x: x[-1, 1:], lambda x: x[-1, 1:], args(one(2))),
    Op("x[1:, ::2]", lambda x: x[1:, ::2], lambda x: x[1:, ::2], args(one(2))),
    Op("x[..., ::-1]", lambda x: x[..., ::-1], lambda x: x[..., ::-1], args(one(1))),
    Op("x[None, :, 0]", lambda x: x[None, :, 0], lambda x: x[None, :, 0], args(one(2))),
    Op("x[[0, 2, 0]]", lambda x: x[np.array([0, 2, 0])], lambda x: x[[0, 2, 0]], args(one(1, 2, min_side=3))),
    Op("x[[0, 1, 0], [1, 1, 1]]", lambda x: x[[0, 1, 0], [1, 1, 1]], lambda x: x[[0, 1, 0], [1, 1, 1]],
       args(one(2, 3, min_side=2))),
    Op("x[:, [1, 1]]", lambda x: x[:, [1, 1]], lambda x: x[:, [1, 1]], args(one(2, 3, min_side=2))),
    Op("x.exp()", lambda x: x.exp(), np.exp, args(one())),
    Op("x.log()", lambda x: x.log(), np.log, args(one(), POSITIVE)),
    Op("x.relu()", lambda x: x.relu(), lambda x: np.where(x > 0, x, 0.0), args(one(), KINK_FREE)),
    Op("x.tanh()", lambda x: x.tanh(), lambda x: 1 - 2 / (np.exp(2 * x) + 1), args(one())),
    Op("x.sigmoid()", lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), args(one())),
    Op("F.linear(x, W, b)", F.linear, np_linear, linear_args(bias=True)),
    Op("F.linear(x, W)", F.linear, np_linear, linear_args(bias=False)),
    Op("F.linear(ndarray, W, b)", F.linear, np_linear,
       lambda dtype, contiguous=None: linear_args(True)(dtype, contiguous).map(lambda a: (a[0].data,) + a[1:])),
    Op("F.relu", F.relu, lambda x: np.where(x > 0, x, 0.0), args(one(), KINK_FREE)),
    Op("F.tanh", F.tanh, lambda x: 1 - 2 / (np.exp(2 * x) + 1), args(one())),
    # The fused linear + activation node (its activation runs in place on the product).
    Op("F.linear(x, W, b, 'relu')", lambda x, W, b: F.linear(x, W, b, "relu"),
       lambda x, W, b: np.maximum(np_linear(x, W, b), 0.0), linear_args(bias=True, kink_free=True)),
    Op("F.linear(x, W, b, 'tanh')", lambda x, W, b: F.linear(x, W, b, "tanh"),
       lambda x, W, b: 1 - 2 / (np.exp(2 * np_linear(x, W, b)) + 1), linear_args(bias=True)),
    Op("F.linear(x, W, None, 'sigmoid')", lambda x, W: F.linear(x, W, None, "sigmoid"),
       lambda x, W: 1 / (1 + np.exp(-np_linear(x, W))), linear_args(bias=False)),
    # PyTorch-named additions (issue 11)
    *reductions("min", np.min, DISTINCT),
    Op("x.var(axis=0)", lambda x: x.var(axis=0), lambda x: np_var(x, 0), args(one(1, 3, min_side=2))),
    Op("x.var()", lambda x: x.var(), lambda x: np_var(x, None), args(one(1, 3, min_side=2))),
    Op("x.std(dim=-1, keepdim=True)", lambda x: x.std(dim=-1, keepdim=True),
       lambda x: np.sqrt(np_var(x, -1))[..., None], args(one(1, 3, min_side=2), DISTINCT)),  # std > 0
    Op("x.sqrt()", lambda x: x.sqrt(), np.sqrt, args(one(), POSITIVE)),
    Op("x.abs()", lambda x: x.abs(), np.abs, args(one(), KINK_FREE)),
    Op("x.clamp(-0.5, 0.5)", lambda x: x.clamp(-0.5, 0.5), lambda x: np.minimum(np.maximum(x, -0.5), 0.5),
       args(one(), CLAMP_FREE)),
    Op("x.clamp(min=0.5)", lambda x: x.clamp(min=0.5), lambda x: np.maximum(x, 0.5), args(one(), CLAMP_FREE)),
    Op("x.unsqueeze(0).flatten()", lambda x: x.unsqueeze(0).flatten(), np.ravel, args(one())),
    Op("x.view(-1, 1).squeeze(1)", lambda x: x.view(-1, 1).squeeze(1), np.ravel, args(one())),
    Op("cat([x, y])", lambda x, y: F.cat([x, y]), lambda x, y: np.concatenate([x, y]), args(_cat_shapes())),
    Op("stack([x, y], dim=-1)", lambda x, y: F.stack([x, y], dim=-1), lambda x, y: np.stack([x, y], -1),
       args(SAME)),
    Op("where(x > 0, x, y)", lambda x, y: F.where(x.data > 0, x, y), lambda x, y: np.where(x > 0, x, y),
       args(SAME, KINK_FREE)),
    Op("F.linear(x, W, b, transposed=True)", lambda x, W, b: F.linear(x, W, b, transposed=True),
       lambda x, W, b: np_linear(x, W.T, b), linear_args(bias=True, transposed=True)),
    Op("F.linear(x, W, b, 'tanh', transposed=True)", lambda x, W, b: F.linear(x, W, b, "tanh", transposed=True),
       lambda x, W, b: np.tanh(np_linear(x, W.T, b)), linear_args(bias=True, transposed=True)),
    Op("F.mse_loss(x, y)", F.mse_loss, lambda x, y: ((x - y) ** 2).mean(), args(SAME)),
    Op("F.mse_loss(x, y, 'none')", lambda x, y: F.mse_loss(x, y, "none"), lambda x, y: (x - y) ** 2, args(SAME)),
    Op("F.binary_cross_entropy_with_logits(x, t)", F.binary_cross_entropy_with_logits,
       lambda x, t: np_bce(x, t).mean(), args(SAME, ANY, UNIT)),
    Op("F.binary_cross_entropy_with_logits(x, t, 'sum', pos_weight=2)",
       lambda x, t: F.binary_cross_entropy_with_logits(x, t, "sum", pos_weight=2.0),
       lambda x, t: np_bce(x, t, 2.0).sum(), args(SAME, ANY, UNIT)),
    Op("F.nll_loss(F.log_softmax(x), labels)", lambda z, t: F.nll_loss(F.log_softmax(z), t),
       lambda z, t: -np.log(np_softmax(z, axis=1))[np.arange(len(t)), t].mean(), cross_entropy_args("labels")),
    Op("F.cross_entropy(x, labels, label_smoothing=0.1)", lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1),
       np_smoothed_cross_entropy(0.1), cross_entropy_args("labels")),
    Op("F.sigmoid", F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), args(one())),
    Op("F.softmax(x)", F.softmax, np_softmax, args(one(1))),
    Op("F.softmax(x, axis=0)", lambda x: F.softmax(x, axis=0), lambda x: np_softmax(x, 0), args(one(1))),
    Op("F.log_softmax(x)", F.log_softmax, lambda x: np.log(np_softmax(x)), args(one(1))),
    Op("F.log_softmax(x, axis=0)", lambda x: F.log_softmax(x, axis=0), lambda x: np.log(np_softmax(x, 0)),
       args(one(1))),
    *[Op(f"F.softmax_cross_entropy({target}, reduction={r!r})",
         lambda z, t, r=r: F.softmax_cross_entropy(z, t, reduction=r), np_cross_entropy(r),
         cross_entropy_args(target))
      for target in ("labels", "probs", "weights", "probs_tensor") for r in ("mean", "sum", "none")],
    Op("F.conv2d(x, W, b, stride, padding)", F.conv2d, np_conv2d, window_args("conv2d")),
    Op("F.conv2d(x, W, stride=, padding=)", lambda x, W, s, p: F.conv2d(x, W, stride=s, padding=p),
       lambda x, W, s, p: np_conv2d(x, W, None, s, p), window_args("conv2d", bias=False)),
    Op("F.conv1d(x, W, b, stride, padding)", F.conv1d, np_conv1d, window_args("conv1d")),
    Op("F.conv2d(..., activation='tanh')", lambda x, W, b, s, p: F.conv2d(x, W, b, s, p, activation="tanh"),
       lambda x, W, b, s, p: np.tanh(np_conv2d(x, W, b, s, p)), window_args("conv2d")),
    Op("F.conv1d(..., activation='sigmoid')", lambda x, W, b, s, p: F.conv1d(x, W, b, s, p, activation="sigmoid"),
       lambda x, W, b, s, p: 1 / (1 + np.exp(-np_conv1d(x, W, b, s, p))), window_args("conv1d")),
    Op("F.max_pool2d", F.max_pool2d, np_max_pool2d, window_args("pool")),
    Op("F.max_pool2d(..., activation='relu')", lambda x, k, s, p: F.max_pool2d(x, k, s, p, activation="relu"),
       lambda x, k, s, p: np_max_pool2d(np.maximum(x, 0), k, s, p), window_args("pool", kink_free=True)),
    Op("F.avg_pool2d", F.avg_pool2d, np_avg_pool2d, window_args("pool")),
    # Fresh running estimates inside: in training they are updated in place, and they are not table inputs.
    Op("F.batch_norm(training=True)", lambda x, w, b: F.batch_norm(x, np.zeros(x.shape[1]), np.ones(x.shape[1]), w, b),
       lambda x, w, b: np_batch_norm(x, np.zeros(x.shape[1]), np.ones(x.shape[1]), w, b)[0], batch_norm_args(True)),
    Op("F.batch_norm(training=False)", lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False),
       lambda x, w, b, m, v: np_batch_norm(x, m, v, w, b, training=False)[0], batch_norm_args(False)),
]

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _values(a: Any) -> Any:
    """What the NumPy reference gets: arrays as float64 (integer labels and numbers as they are)."""
    a = a.data if isinstance(a, Tensor) else a
    return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


def _leaves(inputs: tuple) -> list[Tensor]:
    return [a for a in inputs if isinstance(a, Tensor)]


def _upstream(out: Tensor, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, out.shape).astype(out.dtype)


def _as_float32(a: Any) -> Any:
    """The same input in float32 (a Tensor stays a Tensor requiring grad; labels and numbers stay)."""
    if isinstance(a, Tensor):
        return Tensor(a.data.astype(np.float32), requires_grad=a.requires_grad)
    return a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=hst.data())
def test_forward_matches_numpy(op: Op, data: hst.DataObject) -> None:
    inputs64 = data.draw(op.args(np.float64))
    for dtype, inputs in ((np.float64, inputs64), (np.float32, tuple(map(_as_float32, inputs64)))):
        out = op.fn(*inputs)
        expected = np.asarray(op.ref(*map(_values, inputs)))  # in float64, from the same (rounded) values
        assert isinstance(out, Tensor)
        assert out.dtype == dtype, "dtype not kept (float32 in must give float32 out)"
        assert out.shape == expected.shape
        np.testing.assert_allclose(out.data, expected, **TOL[dtype])


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=15)
@given(data=hst.data())
def test_gradients_match_finite_differences(op: Op, data: hst.DataObject) -> None:
    assert gradcheck(op.fn, *data.draw(op.args(np.float64)))


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=8)
@given(data=hst.data())
def test_noncontiguous_inputs_give_the_same_values_and_gradients(op: Op, data: hst.DataObject) -> None:
    views = data.draw(op.args(np.float64, contiguous=False))
    copies = tuple(Tensor(np.array(a.data), requires_grad=True) if isinstance(a, Tensor)
                   else np.array(a) if isinstance(a, np.ndarray) else a for a in views)
    results = []
    for inputs in (views, copies):
        out = op.fn(*inputs)
        out.backward(_upstream(out))
        results.append([out.data] + [t.grad for t in _leaves(inputs)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=10)
@given(data=hst.data())
def test_invariants(op: Op, data: hst.DataObject) -> None:
    dtype = np.float32  # float64 is kept too: see test_forward_matches_numpy
    inputs = data.draw(op.args(dtype))
    snapshot = [np.array(a.data if isinstance(a, Tensor) else a) for a in inputs]
    out = op.fn(*inputs)
    assert out.requires_grad and out.dtype == dtype
    g = _upstream(out)
    g_before = g.copy()

    out.backward(g, retain_graph=True)
    first = []
    for t in _leaves(inputs):
        assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype == dtype
        first.append(t.grad.copy())
    out.backward(g)  # the retained graph can be walked again; gradients accumulate
    for t, g1 in zip(_leaves(inputs), first):
        np.testing.assert_allclose(t.grad, 2 * g1, rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time"):
        out.backward(g)  # the graph was freed by the second (non-retaining) pass
    for t, g1 in zip(_leaves(inputs), first):
        np.testing.assert_allclose(t.grad, 2 * g1, rtol=1e-6)  # the failed call changed nothing

    for a, before in zip(inputs, snapshot):
        np.testing.assert_array_equal(a.data if isinstance(a, Tensor) else a, before)
    np.testing.assert_array_equal(g, g_before)


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=8)
@given(data=hst.data())
def test_float32_gradients_match_finite_differences(op: Op, data: hst.DataObject) -> None:
    # The float32 code path, against float64 central differences with float32's tolerances.
    assert gradcheck(op.fn, *map(_as_float32, data.draw(op.args(np.float64))))
