"""Autodiff semantics: graph walk, accumulation, freeing, no_grad, custom Functions, dtype,
numerical stability and special values.  Expected values come from formulas written here."""
from __future__ import annotations

import gc
import tracemalloc
import weakref

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_np.functional as F
from tinygrad_np import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing import strategies as st


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ---- graph walk ---------------------------------------------------------------------------------
def test_chain_of_100k_ops_backpropagates_without_recursion_error() -> None:
    x = leaf(1.0)
    c = 1.00001
    y = x
    for _ in range(100_000):
        y = y * c
    y.backward()
    np.testing.assert_allclose(x.grad, c ** 100_000, rtol=1e-9)


def test_node_used_twice_gets_the_sum_of_both_paths() -> None:
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


class CountingIdentity(Function):
    """y = x, counting how often its backward runs (and with which gradient)."""
    calls: list[np.ndarray] = []

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        CountingIdentity.calls.append(grad.copy())
        return grad


def test_shared_node_sums_its_gradient_once_before_propagating() -> None:
    # x -> a -> (b = 2a, c = 3a) -> out = sum(b + c): a's backward must run once, with 2 + 3.
    CountingIdentity.calls = []
    x = leaf([0.5, 1.0, -1.0])
    a = CountingIdentity.apply(x)
    ((a * 2.0) + (a * 3.0)).sum().backward()
    assert len(CountingIdentity.calls) == 1
    np.testing.assert_allclose(CountingIdentity.calls[0], [5.0, 5.0, 5.0])
    np.testing.assert_allclose(x.grad, [5.0, 5.0, 5.0])


def test_diamond_through_exp() -> None:
    x = leaf([0.3, -0.7])
    a = x.exp()
    (a * a + a).sum().backward()  # d/dx (e^2x + e^x) = 2e^2x + e^x
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data) + np.exp(x.data))


# ---- accumulation -------------------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls_and_reset_with_none() -> None:
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3.0 + 2 * x.data)
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_intermediates_and_constants_keep_no_grad() -> None:
    x, c = leaf([1.0, 2.0]), Tensor([4.0, 5.0])
    h = x * c
    out = h.sum()
    out.backward()
    assert h.grad is None and out.grad is None and c.grad is None
    np.testing.assert_allclose(x.grad, [4.0, 5.0])


def test_leaf_gradients_are_not_aliases_of_each_other_or_of_the_seed() -> None:
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = np.array([1.0, 1.0])
    (a + b).backward(seed)
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, seed)
    a.grad += 10.0  # in-place accumulation into one grad must not leak elsewhere
    np.testing.assert_allclose(b.grad, [1.0, 1.0])
    np.testing.assert_allclose(seed, [1.0, 1.0])


def test_backward_on_a_leaf_and_with_a_tensor_upstream_gradient() -> None:
    x = leaf([1.0, 2.0])
    x.backward(Tensor([0.5, -1.0]))
    np.testing.assert_allclose(x.grad, [0.5, -1.0])


def test_detach_cuts_the_graph() -> None:
    x = leaf([1.0, 2.0])
    (x * x.detach()).sum().backward()  # the detached factor is a constant
    np.testing.assert_allclose(x.grad, x.data)
    assert not x.detach().requires_grad


# ---- freeing ------------------------------------------------------------------------------------
class SaveProbe(Function):
    """y = 2x, saving a fresh array whose lifetime the test observes."""
    saved: list[weakref.ref] = []

    @staticmethod
    def forward(ctx, x):
        probe = np.ones(1000)
        SaveProbe.saved.append(weakref.ref(probe))
        ctx.save_for_backward(probe)
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        (probe,) = ctx.saved_tensors
        assert probe.shape == (1000,)
        return 2 * grad


@pytest.mark.parametrize("retain", [False, True])
def test_backward_frees_saved_arrays_unless_retain_graph(retain: bool) -> None:
    SaveProbe.saved = []
    x = leaf([1.0])
    out = SaveProbe.apply(x).sum()
    out.backward(retain_graph=retain)
    gc.collect()
    assert (SaveProbe.saved[0]() is not None) == retain
    if retain:
        out.backward()
        np.testing.assert_allclose(x.grad, [4.0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.backward()
    np.testing.assert_allclose(x.grad, [4.0] if retain else [2.0])


def test_freed_graph_error_also_from_a_later_output_sharing_the_graph() -> None:
    x = leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2.0).sum().backward()  # h's node was freed by the first pass
    np.testing.assert_allclose(x.grad, np.exp(x.data))


def test_memory_stays_flat_over_many_steps_even_when_losses_are_kept() -> None:
    # Each step's graph saves ~80 kB of activations; keeping every loss (as a training log
    # might) must not keep those graphs alive once backward has run.
    W = leaf(np.full((100, 100), 0.01))
    x = np.ones((100, 100))
    labels = np.zeros(100, dtype=np.int64)
    history = []
    tracemalloc.start()
    try:
        for step in range(100):
            loss = F.softmax_cross_entropy(F.linear(x, W).tanh(), labels)
            loss.backward()
            history.append(loss)
            W.grad = None
            if step == 9:
                baseline = tracemalloc.get_traced_memory()[0]
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert growth < 500_000, f"memory grew by {growth} bytes over 90 steps"


# ---- no_grad ------------------------------------------------------------------------------------
def test_no_grad_as_context_manager() -> None:
    x = leaf([1.0, 2.0])
    with no_grad():
        y = x * 2.0 + 1.0
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad
    with pytest.raises(RuntimeError):
        y.sum().backward()
    assert x.grad is None


def test_no_grad_as_decorator_and_restored_after_errors_and_recursion() -> None:
    x = leaf([1.0])

    @no_grad()
    def f(n: int) -> Tensor:
        assert not is_grad_enabled()
        return x * 2.0 if n == 0 else f(n - 1)

    assert not f(3).requires_grad
    assert is_grad_enabled()  # also after the nested (recursive) uses of one decorator instance

    @no_grad()
    def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_nested_no_grad() -> None:
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_enable_grad_and_set_grad_enabled() -> None:
    x = leaf([1.0])
    with no_grad():
        with enable_grad():
            assert (x * 2.0).requires_grad
        assert not (x * 2.0).requires_grad
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()
    with set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
    assert is_grad_enabled()
    set_grad_enabled(False)  # as a plain call: from now on, in this thread
    try:
        assert not is_grad_enabled()
    finally:
        set_grad_enabled(True)

    @set_grad_enabled(False)  # as a decorator: only while the function runs
    def infer() -> bool:
        return is_grad_enabled()

    assert is_grad_enabled() and infer() is False and is_grad_enabled()

    @enable_grad()
    def train_inside() -> bool:
        return (x * 2.0).requires_grad

    with no_grad():
        assert train_inside()


# ---- grad mode is per thread, as in PyTorch (issue 10, finding 1) ------------------------------------
def test_a_thread_in_no_grad_does_not_turn_recording_off_in_another() -> None:
    inside, leave = threading.Event(), threading.Event()

    def infer() -> None:
        with no_grad():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=infer)
    t.start()
    inside.wait(10)
    try:
        x = leaf([1.0, 2.0])
        (x * 3.0).sum().backward()  # this thread still records while the other is inside no_grad
        np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    finally:
        leave.set()
        t.join()


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_thread() -> None:
    # enter A, enter B, exit A, exit B: each thread ends with recording on.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a() -> None:
        with no_grad():
            a_in.set()
            b_in.wait(10)
        seen["a"] = is_grad_enabled()
        a_out.set()

    def b() -> None:
        a_in.wait(10)
        with no_grad():
            b_in.set()
            a_out.wait(10)
            seen["b inside"] = is_grad_enabled()
        seen["b"] = is_grad_enabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": True, "b inside": False, "b": True}
    assert is_grad_enabled()


def test_one_decorated_function_called_from_many_threads() -> None:
    x = leaf([1.0])
    errors = []

    @no_grad()
    def infer() -> None:
        for _ in range(200):
            if (x * 2.0).requires_grad or is_grad_enabled():
                errors.append("recorded inside no_grad")

    def train() -> None:
        for _ in range(200):
            if not (x * 2.0).requires_grad:
                errors.append("not recorded outside no_grad")

    threads = [threading.Thread(target=f) for f in (infer, train, infer, train)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---- custom Function ----------------------------------------------------------------------------
class Cube(Function):
    """y = scale * x**3 with a non-Tensor keyword argument."""

    @staticmethod
    def forward(ctx, x, scale=1.0):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.scale * 3 * x ** 2


class ElementwiseProduct(Function):
    """y = a * b (elementwise) where only the inputs that need it get a gradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


@settings(max_examples=10)
@given(x=st.tensors())
def test_custom_function_gradcheck(x: Tensor) -> None:
    assert gradcheck(lambda t: Cube.apply(t, scale=0.5), x)


def test_custom_function_gets_needs_input_grad_and_may_return_none() -> None:
    a, b = leaf([1.0, 2.0]), Tensor([3.0, 4.0])
    ElementwiseProduct.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [3.0, 4.0])
    assert b.grad is None
    y = ElementwiseProduct.apply(np.array([1.0, 2.0]), a)  # an ndarray argument is a constant
    assert y.requires_grad


def test_custom_function_broadcast_gradient_is_summed_back() -> None:
    a, b = leaf([[1.0], [2.0]]), leaf([3.0, 4.0, 5.0])
    ElementwiseProduct.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [[12.0], [12.0]])
    np.testing.assert_allclose(b.grad, [3.0, 3.0, 3.0])


@pytest.mark.parametrize("p, expected", [(0, [0.0, 0.0]), (1, [1.0, 1.0]), (2, [0.0, 4.0]), (3, [0.0, 12.0])])
def test_integer_powers_have_finite_gradients_at_zero(p, expected) -> None:
    x = leaf([0.0, 2.0])
    (x ** p).sum().backward()
    np.testing.assert_array_equal(x.grad, expected)  # p * x**(p-1), and 0 for p = 0


# ---- kinks, ties and stability ------------------------------------------------------------------
@pytest.mark.parametrize("relu", [lambda t: t.relu(), F.relu], ids=["Tensor.relu", "F.relu"])
def test_relu_gradient_at_zero_is_zero(relu) -> None:
    x = leaf([-1.0, 0.0, -0.0, 2.0])
    relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0])


def test_tied_maxima_share_the_gradient_equally() -> None:
    x = leaf([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    x.max().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [0.5, 0, 0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn, low", [(lambda t: t.sigmoid(), 0.0), (F.sigmoid, 0.0),
                                     (lambda t: t.tanh(), -1.0), (F.tanh, -1.0)],
                         ids=["Tensor.sigmoid", "F.sigmoid", "Tensor.tanh", "F.tanh"])
def test_squashing_functions_are_finite_at_plus_minus_1000(fn, low, dtype) -> None:
    x = leaf([-1000.0, 0.0, 1000.0], dtype)
    with np.errstate(over="raise"):  # no overflow, not even a warning
        y = fn(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.data, [low, (1 + low) / 2, 1.0])
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad[[0, 2]], [0.0, 0.0])


def _logsumexp(z: np.ndarray) -> np.ndarray:
    return np.logaddexp.reduce(z, axis=1)


EXTREME_LOGITS = [[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [1e4, 0.0, -1e4]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_stable_for_extreme_logits_with_labels(dtype, reduction) -> None:
    z64 = np.array(EXTREME_LOGITS)
    labels = np.array([1, 2, 0, 0])
    n = len(labels)
    logits = leaf(z64, dtype)
    loss = F.softmax_cross_entropy(logits, labels, reduction=reduction)
    weights = np.ones(n) if reduction == "none" else 1.0
    loss.backward(np.asarray(weights, dtype=dtype) if reduction == "none" else None)

    lse = _logsumexp(z64)
    losses = lse - z64[np.arange(n), labels]           # 2e4, 0.693, log 3, 0
    softmax = np.exp(z64 - lse[:, None])
    onehot = np.eye(3)[labels]
    scale = 1 / n if reduction == "mean" else 1.0
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    assert loss.dtype == dtype and logits.grad.dtype == dtype
    assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(loss.data, expected, rtol=1e-6)
    np.testing.assert_allclose(logits.grad, (softmax - onehot) * scale, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_extreme_logits_with_probabilities(dtype) -> None:
    z64 = np.array(EXTREME_LOGITS)
    target = np.array([[0.5, 0.5, 0], [0, 0.25, 0.75], [1, 0, 0], [0.2, 0.3, 0.5]])
    logits = leaf(z64, dtype)
    loss = F.softmax_cross_entropy(logits, target.astype(dtype))
    loss.backward()
    log_p = z64 - _logsumexp(z64)[:, None]
    np.testing.assert_allclose(loss.data, -(target * log_p).sum(axis=1).mean(), rtol=1e-6)
    np.testing.assert_allclose(logits.grad, (np.exp(log_p) - target) / len(z64), atol=1e-6)
    assert loss.dtype == dtype and logits.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_stable_for_extreme_logits(dtype) -> None:
    z64 = np.array(EXTREME_LOGITS)
    log_p = z64 - _logsumexp(z64)[:, None]
    x = leaf(z64, dtype)
    y = F.log_softmax(x)
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data, log_p, rtol=1e-6)
    np.testing.assert_allclose(F.softmax(x).data, np.exp(log_p), atol=1e-7)
    F.softmax(x).sum().backward()  # rows sum to 1: the gradient is 0
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, 0.0, atol=1e-6)


# ---- special values -----------------------------------------------------------------------------
SPECIAL = [np.nan, np.inf, -np.inf, 1.0]


@pytest.mark.parametrize("fn, expected", [
    (lambda t: t * 2.0, [np.nan, np.inf, -np.inf, 2.0]),
    (lambda t: t + 1.0, [np.nan, np.inf, -np.inf, 2.0]),
    (lambda t: t.exp(), [np.nan, np.inf, 0.0, np.e]),
    (lambda t: t.relu(), [np.nan, np.inf, 0.0, 1.0]),
    (F.relu, [np.nan, np.inf, 0.0, 1.0]),
    (lambda t: t.tanh(), [np.nan, 1.0, -1.0, np.tanh(1.0)]),
    (F.sigmoid, [np.nan, 1.0, 0.0, 1 / (1 + np.exp(-1.0))]),
    (lambda t: t.sigmoid(), [np.nan, 1.0, 0.0, 1 / (1 + np.exp(-1.0))]),
    (lambda t: t.sum(keepdims=True), [np.nan]),
    (lambda t: t.max(keepdims=True), [np.nan]),
    (lambda t: t[::-1], [1.0, -np.inf, np.inf, np.nan]),
], ids=["mul", "add", "exp", "relu", "F.relu", "tanh", "F.sigmoid", "sigmoid", "sum", "max", "index"])
def test_nan_and_inf_propagate_forward(fn, expected) -> None:
    with np.errstate(all="ignore"):
        y = fn(leaf(SPECIAL))
    np.testing.assert_array_equal(y.data, expected)


def test_nan_propagates_through_softmax_cross_entropy_and_backward() -> None:
    logits = leaf([[np.nan, 0.0], [1.0, 2.0]])
    with np.errstate(all="ignore"):
        loss = F.softmax_cross_entropy(logits, np.array([0, 1]))
        loss.backward()
    assert np.isnan(loss.item())
    assert np.isnan(logits.grad[0]).all()
    x = leaf([1.0, 2.0])
    (x * np.nan).sum().backward()
    assert np.isnan(x.grad).all()


# ---- dtype --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lambda t: t * 2.5, lambda t: 2.5 * t, lambda t: t - 1, lambda t: 1 - t,
                                lambda t: t / 3.0, lambda t: 3.0 / t, lambda t: t ** 2, lambda t: t ** 0.5,
                                lambda t: t + 1e300, lambda t: t.mean(), lambda t: F.softmax(t)],
                         ids=["x*2.5", "2.5*x", "x-1", "1-x", "x/3.0", "3.0/x", "x**2", "x**0.5",
                              "x+1e300", "mean", "softmax"])
def test_python_numbers_never_upcast_float32(fn) -> None:
    x = leaf([1.0, 4.0], np.float32)
    with np.errstate(over="ignore"):
        y = fn(x)
        y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_mixed_dtypes_follow_numpy_promotion_and_grads_keep_each_leaf_dtype() -> None:
    a, b = leaf([1.0, 2.0], np.float32), leaf([3.0, 4.0], np.float64)
    y = a * b
    assert y.dtype == np.result_type(np.float32, np.float64)
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad, [3.0, 4.0])


@pytest.mark.parametrize("data", [[1, 2], 3, True, [1.5, 2.5], 2.5, np.float16(1.5), np.ones(2, np.float16)])
def test_python_numbers_lists_and_float16_become_float32(data) -> None:
    assert Tensor(data).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_numpy_integer_and_bool_data_keep_their_dtype(dtype) -> None:
    y = np.array([0, 1, 1], dtype=dtype)
    assert Tensor(y).dtype == dtype
    assert Tensor([0, 2, 1], dtype=np.int64).dtype == np.int64
    with pytest.raises(TypeError, match="only float tensors can require grad"):
        Tensor(y, requires_grad=True)


def test_integer_label_tensors_are_loss_targets() -> None:
    logits = leaf(np.zeros((3, 4)), np.float32)
    for labels in (Tensor(np.array([0, 3, 1])), Tensor([0, 3, 1], dtype=np.int64),
                   Tensor(np.array([0, 3, 1], np.uint8))):
        loss = F.softmax_cross_entropy(logits, labels)
        assert loss.dtype == np.float32
        np.testing.assert_allclose(loss.item(), np.log(4), rtol=1e-6)


# ---- scalars are weak, as in PyTorch (issue 10, finding 4) ------------------------------------------
WEAK = [2, 2.5, True, np.float64(2.5), np.float32(2.5), np.int64(3), np.array(2.5), [1.0, 2.0, 3.0],
        np.sqrt(2), np.array([1, 2, 3])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("other", WEAK, ids=repr)
def test_weak_operands_adopt_the_tensor_dtype(dtype, other) -> None:
    x = leaf([1.0, 2.0, 4.0], dtype)
    for y in (x + other, other + x, x - other, other - x, x * other, other * x, x / other, other / x):
        assert y.dtype == dtype, y
    assert (x ** np.float64(2)).dtype == dtype
    ((x * other) + (other / x)).sum().backward()
    assert x.grad.dtype == dtype


def test_float64_arrays_and_tensors_promote_as_in_numpy() -> None:
    x = leaf([1.0, 2.0], np.float32)
    assert (x + np.array([1.0, 2.0])).dtype == np.float64
    assert (np.array([1.0, 2.0]) * x).dtype == np.float64
    assert (x + leaf([1.0, 2.0], np.float64)).dtype == np.float64
    assert (Tensor(np.array([1, 2])) * 0.5).dtype == np.float64  # integer tensors follow NumPy
    assert (Tensor(np.array([1, 2])) + 1).dtype == np.int64


@pytest.mark.parametrize("bad", [1j, np.complex128(1), np.ones(2, complex), "a", None, object(), [1, "a"]], ids=repr)
def test_complex_string_and_object_operands_raise_type_error_naming_the_op(bad) -> None:
    x = leaf([1.0, 2.0])
    for fn, name in ((lambda: x + bad, "add"), (lambda: bad * x, "mul"), (lambda: x / bad, "div"),
                     (lambda: x - bad, "sub"), (lambda: x @ bad, "matmul")):
        with pytest.raises(TypeError, match=name):
            fn()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_and_numpy_scalars_keep_their_dtype(dtype) -> None:
    a = np.ones(3, dtype=dtype)
    assert Tensor(a).data is a
    assert Tensor(dtype(2.0)).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_and_cross_entropy_keep_float32(dtype) -> None:
    x = np.ones((4, 3), dtype=dtype)
    W, b = leaf(np.full((3, 2), 0.1), dtype), leaf([0.0, 0.5], dtype)
    loss = F.softmax_cross_entropy(F.linear(x, W, b), np.array([0, 1, 1, 0]))
    loss.backward()
    assert loss.dtype == dtype and W.grad.dtype == dtype and b.grad.dtype == dtype


def test_linear_needs_no_gradient_for_its_input() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3))
    W, b = leaf(np.ones((3, 2))), leaf([0.0, 0.0])
    upstream = np.array([[1.0, 2.0], [3.0, 4.0]])
    F.linear(x, W, b).backward(upstream)
    assert x.grad is None
    np.testing.assert_allclose(W.grad, x.data.T @ upstream)
    np.testing.assert_allclose(b.grad, upstream.sum(axis=0))


@settings(max_examples=10)
@given(shapes=st.broadcastable_shapes(), data=hst.data())
def test_broadcast_gradient_sums_over_broadcast_axes(shapes, data) -> None:
    # d/da sum(w * (a + b)) = w summed over the axes a was broadcast along.
    a, b = (data.draw(st.tensors(s)) for s in shapes)
    out = a + b
    w = np.random.default_rng(0).normal(size=out.shape)
    out.backward(w)
    lead = w.ndim - a.ndim
    expected = w.sum(axis=tuple(range(lead))) if lead else w
    expected = expected.sum(axis=tuple(i for i, n in enumerate(a.shape) if n == 1), keepdims=True)
    np.testing.assert_allclose(a.grad, expected.reshape(a.shape))


class _WrongShapeGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad[..., :1].repeat(3, axis=-1)[..., :2]  # shape (…, 2) for a (…, 3) input


class _FailingBackward(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        if ctx.fail:
            raise ArithmeticError("boom")
        return grad


def test_custom_backward_with_a_wrongly_shaped_gradient_raises_naming_the_op() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongShapeGrad.*\(2, 2\).*\(2, 3\)"):
        _WrongShapeGrad.apply(x).sum().backward()
    assert x.grad is None


def test_failed_backward_changes_no_grad_and_frees_nothing() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = _FailingBackward.apply(x)
    y._ctx.fail = True
    loss = (y * w).sum()
    with pytest.raises(ArithmeticError):
        loss.backward()
    assert w.grad is None and x.grad is None
    y._ctx.fail = False
    loss.backward()  # the graph is intact: a retry works and gives the right answer
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


class _TooFewGrads(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return grad  # one gradient for two inputs


def test_custom_backward_returning_too_few_gradients_raises() -> None:
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_TooFewGrads.*1 gradient.*2 input"):
        _TooFewGrads.apply(a, b).sum().backward()
    assert a.grad is None and b.grad is None


def test_a_misshaped_existing_grad_fails_before_any_grad_changes() -> None:
    p1 = Tensor(np.ones(2), requires_grad=True)
    p2 = Tensor(np.ones(2), requires_grad=True)
    p1.grad = np.zeros(2)
    p2.grad = np.zeros(5)
    with pytest.raises(RuntimeError, match=r"\(5,\)"):
        (p1 * p2).sum().backward()
    np.testing.assert_array_equal(p1.grad, np.zeros(2))
    np.testing.assert_array_equal(p2.grad, np.zeros(5))


def test_linear_bias_of_another_dtype_follows_numpy_promotion() -> None:
    x = Tensor(np.ones((2, 3), np.float32))
    W = Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    b = Tensor(np.full(4, 0.1, np.float64), requires_grad=True)
    y = F.linear(x, W, b)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, np.full((2, 4), 3.1))
    y.sum().backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_linear_accepts_arrays_as_constants() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = F.linear(x, np.full((3, 4), 2.0), np.ones(4))
    np.testing.assert_allclose(y.data, np.full((2, 4), 7.0))
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), 8.0))


def test_a_constant_probability_target_does_not_upcast_float32_logits() -> None:
    logits = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    loss = F.softmax_cross_entropy(logits, np.eye(3)[[0, 2]])  # float64 one-hot rows
    assert loss.dtype == np.float32
    loss.backward()
    assert logits.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-6)


class _ScaleBy(Function):
    @staticmethod
    def forward(ctx, x, seq):
        ctx.seq = seq  # an op's own attribute; the graph's bookkeeping must not clash with it
        return x * seq

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.seq, None


def test_an_op_may_name_its_own_context_attributes_freely() -> None:
    x = Tensor(np.ones(2), requires_grad=True)
    _ScaleBy.apply(x, 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_two_tensors_sharing_one_op_backpropagate() -> None:
    import copy
    x = Tensor(np.ones(2), requires_grad=True)
    h = x * 2.0
    (h + copy.copy(h)).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])


@pytest.mark.parametrize("old", [np.zeros(2, np.int64), np.broadcast_to(np.zeros(1), (2,)), 0.0])
def test_an_existing_grad_that_cannot_accumulate_fails_before_any_change(old) -> None:
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    a.grad = np.zeros(2)
    b.grad = old
    loss = (a * b).sum()
    with pytest.raises(RuntimeError, match="cannot accumulate"):
        loss.backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    b.grad = None
    loss.backward()  # the graph is intact
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])


def test_softmax_cross_entropy_backward_twice_with_retain_graph_gives_the_same_gradient() -> None:
    # The forward leaves softmax - onehot in its own array; the backward must not consume it.
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    loss = F.softmax_cross_entropy(x, np.array([0, 2, 1, 1, 0]))
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    x.grad = None
    loss.backward()
    p = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    p[np.arange(5), [0, 2, 1, 1, 0]] -= 1
    np.testing.assert_allclose(first, p / 5, rtol=1e-12)
    np.testing.assert_array_equal(x.grad, first)
