"""Bad input gets a clear error, and an error leaves no graph or gradient changed behind."""
from __future__ import annotations

import operator

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Function, Tensor


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


# ---- shape mismatches name the op and both shapes ----------------------------------------------
@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                                      (operator.truediv, "div")])
@pytest.mark.parametrize("other_kind", ["tensor", "ndarray"])
def test_broadcasting_mismatch(op, name, other_kind) -> None:
    x = leaf(np.ones((2, 3)))
    other = np.ones((4, 3)) if other_kind == "ndarray" else leaf(np.ones((4, 3)))
    for a, b in ((x, other), (other, x)):
        with pytest.raises(ValueError, match=name) as err:
            op(a, b)
        assert "(2, 3)" in str(err.value) and "(4, 3)" in str(err.value)


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4, 3)), ((3,), (4,)), ((2, 2, 3), (3, 3, 4)),
                                              ((5, 3), (2,))])
def test_matmul_mismatch(a_shape, b_shape) -> None:
    for a, b in ((leaf(np.ones(a_shape)), leaf(np.ones(b_shape))), (np.ones(a_shape), leaf(np.ones(b_shape)))):
        with pytest.raises(ValueError, match="matmul") as err:
            a @ b
        assert str(a_shape) in str(err.value) and str(b_shape) in str(err.value)


def test_linear_mismatch() -> None:
    with pytest.raises(ValueError, match="linear") as err:
        F.linear(np.ones((2, 3)), leaf(np.ones((4, 3))))
    assert "(2, 3)" in str(err.value) and "(4, 3)" in str(err.value)
    with pytest.raises(ValueError, match="linear") as err:
        F.linear(np.ones((2, 3)), leaf(np.ones((3, 4))), leaf(np.ones(3)))
    assert "(3,)" in str(err.value) and "(3, 4)" in str(err.value)
    with pytest.raises(ValueError, match="linear"):
        F.linear(np.ones((2, 3)), leaf(np.ones(3)))  # W must be 2-D


def test_backward_grad_of_the_wrong_shape() -> None:
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError) as err:
        y.backward(np.ones((3, 2)))
    assert "(3, 2)" in str(err.value) and "(2, 3)" in str(err.value)


@pytest.mark.parametrize("call", [lambda x: x.sum(axis=2), lambda x: x.mean(axis=(0, 0)),
                                  lambda x: x.max(axis=-3), lambda x: F.softmax(x, axis=5)],
                         ids=["sum axis 2", "mean repeated axis", "max axis -3", "softmax axis 5"])
def test_bad_axis(call) -> None:
    with pytest.raises(ValueError, match="axis"):
        call(leaf(np.ones((2, 3))))


def test_pow_needs_a_number_exponent() -> None:
    with pytest.raises(TypeError, match="exponent"):
        leaf([1.0]) ** leaf([2.0])


# ---- class labels and targets -------------------------------------------------------------------
LOGITS = np.zeros((3, 4))


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 4, 1]), "out of range"),
    (np.array([0, -1, 1]), "out of range"),
    (np.array([0.0, 1.0, 2.0]), "integer dtype"),
    (np.array([True, False, True]), "integer dtype"),
    (np.array([0, 1]), "2 labels for 3 rows"),
    (np.array([0, 1, 2, 3]), "4 labels for 3 rows"),
], ids=["too large", "negative", "float dtype", "bool dtype", "too few", "too many"])
def test_bad_class_labels(labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        F.softmax_cross_entropy(leaf(LOGITS), labels)


@pytest.mark.parametrize("logits, target, kwargs", [
    (LOGITS, np.full((3, 3), 1 / 3), {}),           # probabilities of the wrong shape
    (LOGITS, np.zeros((3, 4, 1)), {}),
    (LOGITS[0], np.array([0]), {}),                 # logits must be (N, C)
    (LOGITS, np.array([0, 1, 2]), {"reduction": "avg"}),
], ids=["probs shape", "3-D target", "1-D logits", "reduction"])
def test_bad_cross_entropy_arguments(logits, target, kwargs) -> None:
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        F.softmax_cross_entropy(leaf(logits), target, **kwargs)


# ---- data and backward --------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["abc", ["a", "b"], None, {"a": 1}, object(), 1 + 2j, [[1, 2], [3]]],
                         ids=["str", "list of str", "None", "dict", "object", "complex", "ragged"])
def test_non_numeric_data(data) -> None:
    with pytest.raises(TypeError):
        Tensor(data)
    t = Tensor([1.0])
    with pytest.raises(TypeError):
        t.data = data
    np.testing.assert_array_equal(t.data, [1.0])


def test_backward_on_non_scalar_without_grad() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="single-element"):
        (x * 2.0).backward()


def test_backward_on_a_tensor_without_graph() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


# ---- errors change nothing ----------------------------------------------------------------------
class FailsInBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        raise ArithmeticError("backward failed on purpose")


def test_an_error_leaves_every_grad_unchanged() -> None:
    x, W = leaf([1.0, 2.0]), leaf([[1.0], [2.0]])
    x.grad, W.grad = np.array([10.0, 20.0]), np.array([[30.0], [40.0]])
    failing = [
        lambda: x @ leaf(np.ones((3, 1))),
        lambda: (x * 2.0).backward(),
        lambda: (x * 2.0).backward(np.ones(3)),
        lambda: F.softmax_cross_entropy(F.linear(x[None], W), np.array([1])),
        # one branch fails after the other was already walked: nothing may be written
        lambda: ((x * 3.0).sum() + FailsInBackward.apply(F.linear(x, W)).sum()).backward(),
        lambda: ((x * 3.0).sum() + FailsInBackward.apply(x).sum()).backward(),
    ]
    for call in failing:
        with pytest.raises((ValueError, RuntimeError, ArithmeticError)):
            call()
        np.testing.assert_array_equal(x.grad, [10.0, 20.0])
        np.testing.assert_array_equal(W.grad, [[30.0], [40.0]])
    # and no half-built node is left behind: a fresh graph differentiates normally
    x.grad = W.grad = None
    F.linear(x[None], W).sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 2.0])
    np.testing.assert_allclose(W.grad, [[1.0], [2.0]])
