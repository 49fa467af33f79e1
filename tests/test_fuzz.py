"""Fuzzing the public operator and functional API: whatever the shapes, dtypes and values, a
call either returns a Tensor or raises ValueError, TypeError or (for indexing) IndexError whose
message names the op; nothing else escapes (no AttributeError, no NumPy internals)."""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_np.functional as F
from tinygrad_np import Tensor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf and NaN values are drawn on purpose

DTYPES = [np.float32, np.float64, np.int64, np.bool_]
WEIRD = [None, "x", 1j, object(), [1, "a"], {}, (), [[1.0], [2.0, 3.0]]]


@hst.composite
def arrays(draw: hst.DrawFn) -> np.ndarray:
    shape = tuple(draw(hst.lists(hst.integers(0, 4), max_size=3)))
    dtype = draw(hst.sampled_from(DTYPES))
    values = draw(hst.sampled_from([0.0, 1.0, -2.5, np.inf, np.nan, 1e30]))
    a = np.full(shape, values).astype(dtype) if dtype != np.bool_ else np.zeros(shape, bool)
    return a


@hst.composite
def operands(draw: hst.DrawFn) -> Any:
    kind = draw(hst.sampled_from(["tensor", "grad tensor", "array", "number", "weird"]))
    if kind == "number":
        return draw(hst.sampled_from([0, 2, -1.5, True, np.float64(2.0), np.int32(3), float("nan")]))
    if kind == "weird":
        return draw(hst.sampled_from(WEIRD))
    a = draw(arrays())
    if kind == "array":
        return a
    if kind == "grad tensor" and a.dtype.kind == "f":
        return Tensor(a, requires_grad=True)
    return Tensor(a)


def _axes(draw: hst.DrawFn) -> Any:
    return draw(hst.one_of(hst.none(), hst.integers(-4, 4), hst.tuples(hst.integers(-3, 3), hst.integers(-3, 3)),
                           hst.sampled_from([True, 1.5, "0", [0]])))


# name in the message -> how to call it on drawn values
UNARY: dict[str, Callable[[Any, hst.DrawFn], Any]] = {
    "sum": lambda x, d: x.sum(axis=_axes(d), keepdims=d(hst.booleans())),
    "mean": lambda x, d: x.mean(axis=_axes(d)),
    "max": lambda x, d: x.max(axis=_axes(d)),
    "reshape": lambda x, d: x.reshape(d(hst.lists(hst.sampled_from([-1, 0, 1, 2, 3, 2.5]), max_size=3))),
    "transpose": lambda x, d: x.transpose(*d(hst.lists(hst.integers(-3, 3), max_size=3))),
    "index": lambda x, d: x[d(hst.sampled_from([0, -1, 5, slice(1, None), (0, 0), np.array([0, 3]), None]))],
    "pow": lambda x, d: x ** d(hst.sampled_from([2, 0.5, -1, "2", None, 1j])),
    "relu": lambda x, d: F.relu(x),
    "tanh": lambda x, d: F.tanh(x),
    "sigmoid": lambda x, d: F.sigmoid(x),
    "softmax": lambda x, d: F.softmax(x, axis=d(hst.integers(-3, 3))),
    "log_softmax": lambda x, d: F.log_softmax(x, axis=d(hst.integers(-3, 3))),
}
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
          "matmul": operator.matmul}


def _check(name: str, call: Callable[[], Any]) -> None:
    try:
        out = call()
    except IndexError as e:
        assert name == "index", f"{name} raised IndexError: {e}"
        assert name in str(e).lower(), f"{name}: message does not name the op: {e}"
    except (ValueError, TypeError) as e:
        assert name.replace("_", "") in str(e).lower().replace("_", ""), f"{name}: message does not name the op: {e}"
    else:
        assert isinstance(out, Tensor), f"{name} returned {type(out).__name__}"


@settings(max_examples=400, deadline=None)
@given(data=hst.data())
def test_operators_raise_only_clear_errors(data: hst.DataObject) -> None:
    name = data.draw(hst.sampled_from(sorted(BINARY)))
    a, b = data.draw(operands()), data.draw(operands())
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        b = Tensor(np.ones(2))
    _check(name, lambda: BINARY[name](a, b))


@settings(max_examples=400, deadline=None)
@given(data=hst.data())
def test_tensor_methods_and_functional_raise_only_clear_errors(data: hst.DataObject) -> None:
    name = data.draw(hst.sampled_from(sorted(UNARY)))
    x = data.draw(operands())
    if not isinstance(x, Tensor):
        x = Tensor(data.draw(arrays()))
    _check(name, lambda: UNARY[name](x, data.draw))


@settings(max_examples=300, deadline=None)
@given(data=hst.data())
def test_linear_and_losses_raise_only_clear_errors(data: hst.DataObject) -> None:
    x, W, b = (data.draw(operands()) for _ in range(3))
    _check("linear", lambda: F.linear(x, W, b if data.draw(hst.booleans()) else None,
                                       data.draw(hst.sampled_from([None, "relu", "tanh", "gelu", 3]))))
    logits, target = data.draw(operands()), data.draw(operands())
    _check("softmax_cross_entropy", lambda: F.softmax_cross_entropy(
        logits, target, reduction=data.draw(hst.sampled_from(["mean", "sum", "none", "avg", None]))))


@settings(max_examples=200, deadline=None)
@given(data=hst.data())
def test_backward_with_any_upstream_gradient_raises_only_clear_errors(data: hst.DataObject) -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * 2.0).sum(axis=0)
    # (None, for a non-scalar output, is PyTorch's RuntimeError: see test_autograd)
    grad = data.draw(operands().filter(lambda g: g is not None))
    _check("backward", lambda: y.backward(grad) or Tensor(0.0))
