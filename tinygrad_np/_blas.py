"""`axpy` (y += alpha * x) through the OpenBLAS NumPy loaded: one pass over memory where NumPy
needs two (`alpha * x` into a scratch array, then `y +=`).  Every optimizer ends with such an
update (`p -= lr * step`), and at batch 20 one pass over the weights is a sizeable part of a
training step.

The kernel is looked up in the OpenBLAS mapped into this process (/proc/self/maps) and
checked against NumPy on a small array before its first use; where none is found or the
check fails (another BLAS, another OS), `axpy` takes the NumPy path.  `kernel_found()`
says which.
"""
from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

_AXPY_PREFIXES = ("scipy_cblas_", "cblas_")
_AXPY_SUFFIXES = ("64_", "_64", "")
# Below this size the ctypes call costs more than NumPy's second pass.
_AXPY_MIN_SIZE = 8192

_axpy_kernels: dict[np.dtype, Any] | None = None  # dtype -> cblas ?axpy
_axpy_max_size = 2**31 - 1  # an LP64 build (no "64" in the symbol) takes 32-bit sizes


def _openblas_paths() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []


def _load(path: str) -> Any:
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def _find_axpy() -> dict[np.dtype, Any]:
    """cblas_saxpy / cblas_daxpy of the first OpenBLAS that has them and computes them right.

    Sizes and strides are passed as 64-bit integers: right for ILP64 builds, and for LP64
    builds the 64-bit ABIs read the low 32 bits of the same register.
    """
    global _axpy_max_size
    kernels: dict[np.dtype, Any] = {}
    for lib in filter(None, map(_load, _openblas_paths())):
        for pre in _AXPY_PREFIXES:
            for suf in _AXPY_SUFFIXES:
                found = {dt: getattr(lib, f"{pre}{c}axpy{suf}", None)
                         for dt, c in ((np.dtype(np.float32), "s"), (np.dtype(np.float64), "d"))}
                if all(found.values()):
                    for dt, fn in found.items():
                        scalar = ctypes.c_float if dt == np.float32 else ctypes.c_double
                        fn.argtypes = [ctypes.c_int64, scalar, ctypes.c_void_p, ctypes.c_int64,
                                       ctypes.c_void_p, ctypes.c_int64]
                        fn.restype = None
                        if _kernel_is_right(fn, dt):
                            kernels[dt] = fn
                    if "64" in suf:
                        _axpy_max_size = 2**63 - 1
                    return kernels
    return kernels


def _kernel_is_right(fn: Any, dtype: np.dtype) -> bool:
    x = np.arange(1, 11, dtype=dtype)
    y = np.full(12, 7, dtype=dtype)  # two guard elements past the 10 the kernel may write
    fn(10, -0.5, x.ctypes.data, 1, y.ctypes.data, 1)
    return bool(np.array_equal(y, np.r_[7 - 0.5 * x, 7, 7].astype(dtype)))


def _address(a: np.ndarray) -> int:
    """The data pointer of a C-contiguous array (4x cheaper than `a.ctypes.data` when writable)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(a)) if a.flags.writeable else a.ctypes.data


def axpy(alpha: float, x: np.ndarray, y: np.ndarray, scratch: np.ndarray | None = None) -> None:
    """y += alpha * x, in place.  x, y, scratch: arrays of one shape and dtype.

    One BLAS pass for large C-contiguous float arrays of one shape that do not overlap and
    where y is writable; otherwise two NumPy passes through `scratch` (which may be x itself
    when x is no longer needed; None: a temporary), with NumPy's broadcasting and errors.
    """
    global _axpy_kernels
    if (_AXPY_MIN_SIZE <= y.size <= _axpy_max_size and x.shape == y.shape and x.dtype == y.dtype
            and x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        if _axpy_kernels is None:
            _axpy_kernels = _find_axpy()
        fn = _axpy_kernels.get(y.dtype)
        if fn is not None:
            xa, ya = _address(x), _address(y)
            if not (xa < ya + y.nbytes and ya < xa + x.nbytes):  # disjoint (both contiguous): the
                fn(y.size, alpha, xa, 1, ya, 1)                 # bounds check np.may_share_memory makes
                return
    np.add(y, np.multiply(x, alpha, out=scratch), out=y)


def kernel_found(dtype: Any) -> bool:
    """Whether `axpy` on large arrays of `dtype` runs the verified BLAS kernel (else NumPy)."""
    global _axpy_kernels
    if _axpy_kernels is None:
        _axpy_kernels = _find_axpy()
    return np.dtype(dtype) in _axpy_kernels
