"""tinygrad_np._blas.axpy: y += alpha * x, through OpenBLAS when found, else NumPy."""
import ctypes

import numpy as np
import pytest

from tinygrad_np import _blas


@pytest.fixture(params=["blas", "numpy"])
def kernels(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(_blas, "_axpy_kernels", {})
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (300, 100), (784, 400)])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_axpy_matches_the_formula_and_keeps_dtype(kernels, dtype, shape, layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    if layout == "transposed":
        x, y = np.asfortranarray(x), np.asfortranarray(y)  # not C-contiguous: the NumPy path
    expected = y.astype(np.float64) - 0.375 * x.astype(np.float64)
    scratch = np.empty_like(y)
    before = x.copy()
    _blas.axpy(-0.375, x, y, scratch)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-6)
    np.testing.assert_array_equal(x, before)


def _numpy_uses_openblas() -> bool:
    config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
    name = str(config.get("Build Dependencies", {}).get("blas", {}).get("name", ""))
    return "openblas" in name.lower()


def test_the_blas_kernel_is_found_for_both_dtypes_when_numpy_uses_openblas():
    # NumPy's wheels link OpenBLAS: there the kernel must be found, or the optimizers silently lose
    # their one-pass update.  Elsewhere the NumPy path is the documented behaviour.
    if not _numpy_uses_openblas():
        pytest.skip("NumPy is not built against OpenBLAS here")
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # make sure the library is mapped
    kernels = _blas._find_axpy()
    assert set(kernels) == {np.dtype(np.float32), np.dtype(np.float64)}
    assert _blas.kernel_found(np.float32) and _blas.kernel_found(np.float64)


def test_a_wrong_kernel_is_rejected():
    def adds_instead(n, alpha, x, incx, y, incy):  # a kernel that computes y += x, ignoring alpha
        xs = np.ctypeslib.as_array((ctypes.c_double * n).from_address(x))
        ys = np.ctypeslib.as_array((ctypes.c_double * n).from_address(y))
        ys += xs
    assert not _blas._kernel_is_right(adds_instead, np.dtype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_reads_a_read_only_x(kernels, dtype):
    x = np.linspace(-1, 1, 10_000, dtype=dtype)
    x.flags.writeable = False
    y = np.ones(10_000, dtype=dtype)
    _blas.axpy(2.0, x, y, np.empty_like(y))
    np.testing.assert_allclose(y, 1 + 2 * x.astype(np.float64), rtol=1e-6)


def test_axpy_never_writes_read_only_memory_nor_reads_past_a_smaller_x():
    y = np.zeros(10_000)
    y.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _blas.axpy(1.0, np.ones(10_000), y, np.empty(10_000))
    y = np.zeros((100, 100))
    _blas.axpy(1.0, np.full(100, 2.0), y, np.empty_like(y))  # NumPy broadcasting, as for small arrays
    np.testing.assert_array_equal(y, np.full((100, 100), 2.0))


def test_axpy_on_overlapping_arrays_matches_numpy():
    buf = np.arange(10_001.0)
    expected = buf[1:] + buf[:-1]
    _blas.axpy(1.0, buf[:-1], buf[1:], np.empty(10_000))
    np.testing.assert_array_equal(buf[1:], expected)
