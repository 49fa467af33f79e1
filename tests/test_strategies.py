"""The public hypothesis strategies draw what their docstrings promise."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from tinygrad_np import Tensor
from tinygrad_np.testing import strategies as st


@given(st.arrays(dtype=np.float32, min_value=-2.0, max_value=0.5))
def test_arrays_default_shape_dtype_and_range(a: np.ndarray) -> None:
    assert a.dtype == np.float32 and 0 <= a.ndim <= 3 and all(1 <= n <= 4 for n in a.shape)
    assert np.all((a >= -2.0) & (a <= 0.5))


@given(st.arrays((2, 3, 4), contiguous=False))
def test_arrays_non_contiguous_views(a: np.ndarray) -> None:
    assert a.shape == (2, 3, 4) and not a.flags.c_contiguous
    assert np.all(np.isfinite(a))  # the buffer's hidden elements never show


@given(st.arrays(st.shapes(min_dims=2, max_dims=2), contiguous=True))
def test_arrays_contiguous_and_shape_strategy(a: np.ndarray) -> None:
    assert a.ndim == 2 and a.flags.c_contiguous


def test_arrays_zero_d() -> None:
    @given(st.arrays(()))
    def check(a: np.ndarray) -> None:
        assert a.shape == ()
    check()


@given(st.arrays((4, 4), unique=True, gap=0.1))
def test_arrays_unique_are_spaced_by_gap(a: np.ndarray) -> None:
    v = np.sort(a.ravel())
    assert np.all(np.diff(v) >= 0.1 - 1e-9)


@given(st.arrays((10,), elements=st.away_from([0.0, 1.0], margin=0.25)))
def test_away_from_keeps_the_margin(a: np.ndarray) -> None:
    assert np.all(np.abs(a) >= 0.25) and np.all(np.abs(a - 1.0) >= 0.25)
    assert np.all((a >= -3) & (a <= 3))


def test_away_from_with_no_room() -> None:
    with pytest.raises(ValueError, match="no room"):
        st.away_from([0.0], margin=5.0)


@given(st.tensors((3,), np.float32))
def test_tensors_require_grad(t: Tensor) -> None:
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float32 and t.shape == (3,)


@given(st.broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes: tuple) -> None:
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@given(st.matmul_shapes())
def test_matmul_shapes_are_valid(shapes: tuple) -> None:
    a_shape, b_shape = shapes
    assert len(a_shape) >= 1 and len(b_shape) >= 1 and a_shape[-1] == b_shape[-2 if len(b_shape) > 1 else 0]
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    rows, cols = a_shape[-2:-1], b_shape[-1:] if len(b_shape) > 1 else ()  # a 1-D operand loses its axis
    assert np.matmul(np.zeros(a_shape), np.zeros(b_shape)).shape == batch + rows + cols


def test_shape_strategies_cover_edge_cases() -> None:
    seen: set[str] = set()

    @settings(max_examples=200, derandomize=True, database=None)
    @given(st.broadcastable_shapes(), st.matmul_shapes())
    def collect(pair: tuple, mm: tuple) -> None:
        a, b = pair
        cases = {"0-d": () in pair,
                 "rank differs": len(a) != len(b),
                 "size-1 broadcast": any(x == 1 != y for x, y in zip(a[::-1], b[::-1])),
                 "1-D matmul": 1 in (len(mm[0]), len(mm[1])),
                 "batched matmul": max(len(mm[0]), len(mm[1])) >= 3}
        seen.update(name for name, hit in cases.items() if hit)

    collect()
    assert seen == {"0-d", "rank differs", "size-1 broadcast", "1-D matmul", "batched matmul"}


@given(st.class_labels(n=6, n_classes=3))
def test_class_labels(labels: np.ndarray) -> None:
    assert labels.shape == (6,) and labels.dtype.kind == "i"
    assert np.all((labels >= 0) & (labels < 3))


@given(st.class_probabilities(n=hst.integers(1, 3), n_classes=4, dtype=np.float32))
def test_class_probabilities(p: np.ndarray) -> None:
    assert p.shape[1] == 4 and p.dtype == np.float32 and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_importing_testing_does_not_need_hypothesis() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import tinygrad_np.testing as t; t.gradcheck"
    subprocess.run([sys.executable, "-c", code], check=True)
