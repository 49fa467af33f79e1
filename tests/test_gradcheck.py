"""`gradcheck` itself: it passes right gradients and, above all, fails wrong ones."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from tinygrad_np import Function, Tensor
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing import strategies as st


class Mul(Function):
    """a * b, with a backward that can be broken on purpose."""
    bad_element: tuple | None = None  # add 1 to b's gradient there
    b_factor = 1.0                    # scale b's gradient

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        db = grad * a * Mul.b_factor
        if Mul.bad_element is not None:
            db[Mul.bad_element] += 1.0
        return grad * b, db


@pytest.fixture(autouse=True)
def _correct_mul():
    Mul.bad_element, Mul.b_factor = None, 1.0
    yield
    Mul.bad_element, Mul.b_factor = None, 1.0


def _pair(shape=(2, 3)) -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(0)
    return (Tensor(rng.normal(size=shape), requires_grad=True),
            Tensor(rng.normal(size=shape), requires_grad=True))


def test_passes_a_correct_backward() -> None:
    assert gradcheck(Mul.apply, *_pair()) is True


def test_fails_on_a_wrong_element_naming_input_element_and_both_values() -> None:
    Mul.bad_element = (1, 2)
    with pytest.raises(AssertionError, match=r"input 1 .*element \(1, 2\)") as err:
        gradcheck(Mul.apply, *_pair())
    number = r"(?:np\.float64\()?([-+0-9.eE]+)"
    m = re.search(rf"analytical {number}\)? vs numerical {number}", str(err.value))
    assert m, str(err.value)
    analytical, numerical = float(m.group(1)), float(m.group(2))
    assert analytical - numerical == pytest.approx(1.0, abs=1e-5)


def test_fails_on_a_slightly_scaled_gradient() -> None:
    Mul.b_factor = 1.01  # 1% off: beyond rtol=1e-3
    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(Mul.apply, *_pair())


@settings(max_examples=10)
@given(st.shapes(), hst.data())
def test_fails_on_a_wrong_backward_for_every_shape(shape, data) -> None:
    Mul.b_factor = 1.5
    # a is away from 0, so b's true gradient (weights * a) is too and 1.5x it is clearly wrong
    a = data.draw(st.tensors(shape, elements=st.away_from([0.0], margin=0.5)))
    b = data.draw(st.tensors(shape))
    with pytest.raises(AssertionError, match="gradient mismatch for input 1"):
        gradcheck(Mul.apply, a, b)


def test_fails_on_nan_gradient() -> None:
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return grad * np.nan

    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(NanGrad.apply, Tensor(np.ones(3), requires_grad=True))


def test_fails_when_backward_ignores_an_input_it_depends_on() -> None:
    class ForgetsB(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(ForgetsB.apply, *_pair())


def test_checks_only_inputs_that_require_grad_and_passes_constants_through() -> None:
    a, b = _pair()
    labels = np.array([0, 2])
    assert gradcheck(lambda x, y, lab: (x * y)[np.arange(2), lab], a, Tensor(b.data), labels)


def test_leaves_the_callers_inputs_untouched() -> None:
    a, b = (Tensor(t.data.astype(np.float32), requires_grad=True) for t in _pair())
    before = a.data.copy(), b.data.copy()
    assert gradcheck(Mul.apply, a, b)  # float32 inputs are checked in float64 copies
    np.testing.assert_array_equal(a.data, before[0])
    np.testing.assert_array_equal(b.data, before[1])
    assert a.grad is None and b.grad is None


def test_rejects_calls_with_nothing_to_check() -> None:
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2.0, Tensor([1.0]))
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda x: x.data, Tensor([1.0], requires_grad=True))


def test_gradcheck_keeps_strided_and_reversed_layouts_of_the_inputs() -> None:
    seen = []

    def probe(t):
        seen.append((t.data.flags.c_contiguous, np.sign(t.data.strides).tolist()))
        return t * 2.0

    base = np.arange(24.0, dtype=np.float32).reshape(4, 6)
    for view in (base[::2, ::3], base[::-1], base.T):
        seen.clear()
        assert gradcheck(probe, Tensor(view, requires_grad=True))
        assert seen[0] == (view.flags.c_contiguous, np.sign(view.strides).tolist())


# ---- float32 inputs run the float32 path (issue 10, finding 7) -----------------------------------------
class WrongOnlyInFloat32(Function):
    """2x, whose backward is 1.5 times too large in float32 only."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        return grad * (3.0 if grad.dtype == np.float32 else 2.0)


def test_a_backward_wrong_only_in_float32_fails_for_float32_inputs():
    x64 = Tensor(np.linspace(-1, 1, 6), requires_grad=True)
    assert gradcheck(WrongOnlyInFloat32.apply, x64)
    x32 = Tensor(np.linspace(-1, 1, 6).astype(np.float32), requires_grad=True)
    with pytest.raises(AssertionError, match="backward in float32 against float64"):
        gradcheck(WrongOnlyInFloat32.apply, x32)


def test_float32_backward_sees_float32_arrays():
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(x.dtype)
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            seen.append(grad.dtype)
            return grad

    gradcheck(Spy.apply, Tensor(np.ones(3, np.float32), requires_grad=True))
    assert seen[:2] == [np.float32, np.float32]  # the analytical pass; the reference runs in float64
    assert set(seen[2:]) == {np.dtype(np.float64)}
