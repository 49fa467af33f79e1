"""Hypothesis strategies to property-test ops, built-in or your own (needs `hypothesis`).

    from hypothesis import given
    from tinygrad_np.testing import gradcheck, strategies as st

    @given(st.tensors(elements=st.away_from([0.0])))     # no element within 0.01 of ReLU's kink
    def test_relu_grad(x):
        assert gradcheck(lambda t: t.relu(), x)

Arrays are drawn small (sides 1..4, up to 3 dims, values in [-3, 3]) so that a
`gradcheck` stays cheap, and by default are sometimes non-contiguous views
(transposed, strided or reversed): backward bugs live in those layouts.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_np.tensor import Tensor

Shape = tuple[int, ...]

__all__ = ["shapes", "away_from", "arrays", "tensors", "broadcastable_shapes", "matmul_shapes",
           "class_labels", "class_probabilities"]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[Shape]:
    """Array shapes, e.g. (), (1,), (3, 1, 4); size-1 dims are common."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def away_from(points: Sequence[float] = (0.0,), margin: float = 1e-2, min_value: float = -3.0,
              max_value: float = 3.0) -> st.SearchStrategy[float]:
    """Floats in [min_value, max_value] at least `margin` from every point in `points`.

    Use it for elements near which an op is not differentiable (ReLU at 0) or is
    undefined (1/x at 0), so that central differences do not straddle the kink.
    """
    cuts = sorted((p - margin, p + margin) for p in points)
    pieces, lo = [], min_value
    for left, right in cuts:
        if left > lo:
            pieces.append((lo, min(left, max_value)))
        lo = max(lo, right)
    if lo < max_value:
        pieces.append((lo, max_value))
    pieces = [(a, b) for a, b in pieces if a < b]
    if not pieces:
        raise ValueError(f"away_from: no room in [{min_value}, {max_value}] at {margin} from {list(points)}")
    # Open ends at the cuts: the exact cut value is margin away, but rounding must not land on it.
    return st.one_of([st.floats(a, b, exclude_min=a != min_value, exclude_max=b != max_value)
                      for a, b in pieces])


def _spaced(min_value: float, max_value: float, gap: float) -> st.SearchStrategy[int]:
    """Grid indices k with min_value <= k * gap <= max_value (distinct k are `gap` apart)."""
    return st.integers(int(np.ceil(min_value / gap)), int(np.floor(max_value / gap)))


def _layout(draw: st.DrawFn, values: np.ndarray, contiguous: bool | None) -> np.ndarray:
    """`values` as a C-contiguous array, or as an equal non-contiguous view into a bigger buffer."""
    kinds = (["transposed"] if values.ndim > 1 else []) + (["strided", "reversed"] if values.ndim else [])
    if contiguous is None:
        kinds.append("contiguous")
    kind = "contiguous" if contiguous or not kinds else draw(st.sampled_from(kinds))
    if kind == "transposed":  # a permutation of a contiguous buffer
        perm = draw(st.permutations(range(values.ndim)).filter(lambda p: p != sorted(p)))
        return np.ascontiguousarray(values.transpose(perm)).transpose(np.argsort(perm))
    if kind == "strided":  # every other element of a buffer twice as long on each axis
        buf = np.full(tuple(2 * n for n in values.shape), np.nan, dtype=values.dtype)
        view = buf[tuple(slice(None, None, 2) for _ in values.shape)]
        view[...] = values
        return view
    if kind == "reversed":  # negative strides
        flip = tuple(slice(None, None, -1) for _ in values.shape)
        return np.ascontiguousarray(values[flip])[flip]
    return np.array(values, order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)


@st.composite
def arrays(draw: st.DrawFn, shape: Shape | st.SearchStrategy[Shape] | None = None,
           dtype: type | np.dtype = np.float64, min_value: float = -3.0, max_value: float = 3.0, *,
           min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4,
           elements: st.SearchStrategy[float] | None = None, unique: bool = False, gap: float = 1e-2,
           contiguous: bool | None = None) -> np.ndarray:
    """A float array of `shape` (fixed, drawn from a strategy, or drawn with the dims/sides given).

    Elements lie in [min_value, max_value] (after rounding to `dtype`), or come from
    `elements` (e.g. `away_from([0.0])`).  `unique=True` draws pairwise distinct values at
    least `gap` apart, so max/argmax have no ties, not even within a finite-difference step.
    `contiguous`: True gives C-contiguous arrays, False always a non-contiguous view
    (transposed, strided or reversed; 0-d arrays stay as they are), None either.
    """
    if shape is None:
        shape = shapes(min_dims, max_dims, min_side, max_side)
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    shape = tuple(shape)
    if unique:
        if elements is not None:
            raise ValueError("arrays: pass either elements or unique=True, not both")
        grid = draw(hnp.arrays(np.int64, shape, elements=_spaced(min_value, max_value, gap), unique=True))
        values = grid * gap
    else:
        if elements is None:
            elements = st.floats(min_value, max_value)
        values = draw(hnp.arrays(np.float64, shape, elements=elements))
    return _layout(draw, np.asarray(values, dtype=dtype), contiguous)


@st.composite
def tensors(draw: st.DrawFn, shape: Shape | st.SearchStrategy[Shape] | None = None,
            dtype: type | np.dtype = np.float64, min_value: float = -3.0, max_value: float = 3.0, *,
            requires_grad: bool = True, **kwargs: Any) -> Tensor:
    """A Tensor (requires_grad=True by default) holding an array drawn by `arrays` with the same arguments.

    The Tensor shares the drawn array, so non-contiguous views stay non-contiguous.
    """
    data = draw(arrays(shape, dtype, min_value, max_value, **kwargs))
    return Tensor(data, requires_grad=requires_grad)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                         max_side: int = 4) -> st.SearchStrategy[tuple[Shape, ...]]:
    """`num_shapes` shapes that broadcast together, e.g. ((3, 1), (2, 1, 4)) or ((), (2,)).

    Ranks may differ and dims of size 1 are common, so both broadcasting kinds are exercised.
    """
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(
        lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims: int = 2, max_side: int = 4) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Shape pairs valid for `a @ b`: 1-D, 2-D and batched N-D with broadcast batch dims.

    E.g. ((3,), (3,)), ((2, 3), (3, 4)), ((2, 1, 2, 3), (5, 3, 1)).
    """
    return hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch_dims,
                                             max_side=max_side).map(lambda b: b.input_shapes)


def _size(n: int | st.SearchStrategy[int], draw: st.DrawFn) -> int:
    return draw(n) if isinstance(n, st.SearchStrategy) else n


@st.composite
def class_labels(draw: st.DrawFn, n: int | st.SearchStrategy[int] = st.integers(1, 5),
                 n_classes: int | st.SearchStrategy[int] = st.integers(2, 5)) -> np.ndarray:
    """Integer class labels: an int64 array of shape (n,) with values in [0, n_classes)."""
    n, n_classes = _size(n, draw), _size(n_classes, draw)
    return draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_classes - 1)))


@st.composite
def class_probabilities(draw: st.DrawFn, n: int | st.SearchStrategy[int] = st.integers(1, 5),
                        n_classes: int | st.SearchStrategy[int] = st.integers(2, 5),
                        dtype: type | np.dtype = np.float64) -> np.ndarray:
    """Target distributions: an (n, n_classes) array of non-negative rows that sum to 1."""
    n, n_classes = _size(n, draw), _size(n_classes, draw)
    w = draw(hnp.arrays(np.float64, (n, n_classes), elements=st.floats(0.0, 1.0)))
    w[:, 0] += 1e-3  # no all-zero row
    return (w / w.sum(axis=1, keepdims=True)).astype(dtype)
