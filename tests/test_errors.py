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


@pytest.mark.parametrize("labels, bad", [(np.array([0, 4, 1]), 4), (np.array([2, -1, -3], np.int32), -1),
                                         (np.array([9], np.uint8), 9)])
def test_the_loss_primitive_checks_its_labels_itself(labels, bad) -> None:
    # The check lives in the op's forward, so a direct call (and a jit's replay) is checked too.
    from tinygrad_np import ops
    logits = leaf(np.zeros((len(labels), 4)))
    with pytest.raises(ValueError, match=f"label {bad} is out of range for 4 classes"):
        ops.SoftmaxCrossEntropy.apply(logits, labels, reduction="mean")


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


# ---- the smaller findings of issue 10 (item 11), each with the behaviour PyTorch has ---------------
def test_matmul_with_empty_operands_differentiates() -> None:
    a, b = leaf(np.zeros(0)), leaf(np.zeros((0, 3)))
    (a @ b).sum().backward()
    assert a.grad.shape == (0,) and b.grad.shape == (0, 3)
    a, b = leaf(np.zeros(0)), leaf(np.zeros(0))
    (a @ b).backward()
    assert a.grad.shape == b.grad.shape == (0,)


def test_max_over_a_zero_length_axis_is_an_error_but_over_another_axis_is_empty() -> None:
    x = leaf(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="max.*zero-length axis.*\\(2, 0\\)"):
        x.max(axis=1)
    with pytest.raises(ValueError, match="zero-length"):
        x.max()
    assert x.max(axis=0).shape == (0,)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
@pytest.mark.parametrize("shape", [(2, 0), (0, 3)])
def test_softmax_of_an_empty_tensor_is_empty(fn, shape) -> None:
    x = leaf(np.zeros(shape))
    y = fn(x)
    assert y.shape == shape
    y.backward(np.zeros(shape))
    assert x.grad.shape == shape


def test_mean_cross_entropy_over_no_rows_is_nan_as_in_pytorch() -> None:
    loss = F.softmax_cross_entropy(leaf(np.zeros((0, 3))), np.zeros(0, np.int64))
    assert np.isnan(loss.item())
    assert F.softmax_cross_entropy(leaf(np.zeros((0, 3))), np.zeros(0, np.int64), reduction="sum").item() == 0.0


@pytest.mark.parametrize("call", [lambda x: x.sum(axis=True), lambda x: x.sum(axis=1.5), lambda x: x.mean(axis="0"),
                                  lambda x: x.max(axis=[0, 1.0]), lambda x: x.reshape(2.5),
                                  lambda x: x.reshape((2, "3")), lambda x: x.transpose(0.0, 1)])
def test_non_integer_axes_and_shapes_raise_type_error_naming_the_op(call) -> None:
    with pytest.raises(TypeError, match="(sum|mean|max|reshape|transpose): (axis|the shape|the axes) must be"):
        call(leaf(np.ones((2, 3))))


def test_flatten_start_axis_out_of_range_is_an_error() -> None:
    from tinygrad_np import nn
    with pytest.raises(ValueError, match="Flatten: start_axis 5 .* \\(2, 3\\)"):
        nn.Flatten(start_axis=5)(Tensor(np.ones((2, 3))))
    assert nn.Flatten(start_axis=-1)(Tensor(np.ones((2, 3)))).shape == (2, 3)


class ListBackward(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, grad):
        return [grad, grad * 2]  # a list, as many users write it


class StringBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        return "oops"


class NumberBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return np.sum(x)

    @staticmethod
    def backward(ctx, grad):
        return float(grad) * 3  # a Python float for a 0-d input: fine


def test_custom_backward_may_return_a_list_or_a_number_but_not_a_string() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ListBackward.apply(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad, [2.0, 2.0])
    s = leaf(2.0)
    NumberBackward.apply(s).backward()
    assert s.grad == 3.0
    with pytest.raises(TypeError, match="StringBackward.backward returned a str"):
        StringBackward.apply(leaf([1.0])).sum().backward()


def test_one_element_tensors_convert_to_python_values_and_others_refuse() -> None:
    assert bool(Tensor(0.0)) is False and bool(Tensor([2.0])) is True
    assert float(Tensor([[1.5]])) == 1.5 and int(Tensor(3.7)) == 3
    for convert in (bool, float, int):
        with pytest.raises(TypeError, match="ambiguous"):
            convert(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="item: a Tensor with 2 elements"):
        Tensor([1.0, 2.0]).item()
    t = Tensor(np.arange(3.0))
    assert np.asarray(t) is t.data and np.asarray(t, dtype=np.float32).dtype == np.float32
    assert t.tolist() == [0.0, 1.0, 2.0] and t.numel() == 3
