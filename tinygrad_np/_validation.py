"""Checks of estimator inputs with scikit-learn's contract (its error types and wording), without
importing scikit-learn: `DeepNeuralNetworkClassifier` uses them so that `check_estimator` passes.

scikit-learn is never imported here (importing it sets process-wide environment variables).  When
the program has imported it already, the exception and warning classes raised are subclasses of
both ours and scikit-learn's, so `except sklearn.exceptions.NotFittedError` and
`warnings.simplefilter(..., sklearn.exceptions.DataConversionWarning)` work; a program that never
imports scikit-learn cannot name its classes, and gets ours.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before `fit` (ValueError and
    AttributeError, as scikit-learn's `NotFittedError`)."""


class DataConversionWarning(UserWarning):
    """The input was converted in a way the caller may not expect (as scikit-learn's)."""


_FLAVOURS: dict[type, type] = {}


def sklearn_flavour(cls: type) -> type:
    """`cls`, or, once scikit-learn is imported, a subclass of `cls` and of its namesake in
    `sklearn.exceptions`."""
    theirs = getattr(sys.modules.get("sklearn.exceptions"), cls.__name__, None)
    if theirs is None:
        return cls
    if cls not in _FLAVOURS:
        _FLAVOURS[cls] = type(cls.__name__, (cls, theirs), {"__module__": cls.__module__, "__doc__": cls.__doc__})
    return _FLAVOURS[cls]


def _is_sparse(a: Any) -> bool:
    return type(a).__module__.startswith("scipy.sparse")


def check_X(X: Any, dtype: np.dtype | None, estimator: str, n_features: int | None = None,
            name: str = "X") -> np.ndarray:
    """X as a finite 2-D array of `dtype` (no copy when it already is one); ValueError or
    TypeError with scikit-learn's wording otherwise.  dtype None keeps a float32 or float64 X
    as it is and makes any other input float64 (scikit-learn's dtype=(np.float64, np.float32))."""
    if _is_sparse(X):
        raise TypeError(f"{estimator}: sparse data was passed for {name}, but dense data is required; "
                        f"use {name}.toarray() to convert it to a dense numpy array")
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} cannot be converted to an array: {e}") from None
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}")
    if X.dtype.kind == "O":
        try:  # numbers stored as objects are numbers (numpy's message names the culprit)
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name} of dtype object cannot be converted to numbers: {e}") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    if X.ndim != 2:
        if X.ndim < 2:
            hint = (f"; Reshape your data either using {name}.reshape(-1, 1) if it has a single feature or "
                    f"{name}.reshape(1, -1) if it is a single sample")
        else:
            hint = f"; flatten images with {name}.reshape(len({name}), -1)"
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}{hint}")
    for axis, what in ((0, "sample"), (1, "feature")):
        if X.shape[axis] == 0:
            raise ValueError(f"{name} is empty: found array with 0 {what}(s) (shape={X.shape}) while a "
                             "minimum of 1 is required.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but {estimator} is expecting {n_features} "
                         "features as input")
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    with np.errstate(over="ignore"):  # a value too large for dtype becomes inf, reported next
        X = X.astype(dtype, copy=False)
    if not np.isfinite(X).all():
        what = "NaN" if np.isnan(X).any() else f"infinity or a value too large for {X.dtype}"
        raise ValueError(f"{name} contains {what}")
    return X


def check_targets(y: Any, estimator: str, name: str = "y") -> np.ndarray:
    """y as an array of class labels or one-hot rows, refusing what is not classes: None,
    sparse, continuous floats, complex, and objects that are not strings ("Unknown label type")."""
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target y is None")
    if _is_sparse(y):
        raise TypeError(f"{estimator}: sparse {name} is not supported; pass labels as a dense array")
    y = np.asarray(y)
    kind = y.dtype.kind
    if kind == "O" and not all(isinstance(v, str) for v in y.flat):
        raise ValueError(f"Unknown label type: unknown ({name} holds objects that are not strings)")
    if kind == "c" or kind not in "biufUSO":
        raise ValueError(f"Unknown label type: {name} has dtype {y.dtype}")
    if kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{name} contains NaN or infinity")
        if (y.ndim == 1 or y.shape[-1] == 1) and (y != np.round(y)).any():  # one-hot rows are checked later
            raise ValueError(f"Unknown label type: continuous; {name} holds non-integer values, as a regression "
                             "target does, but a classifier expects discrete classes")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(sklearn_flavour(DataConversionWarning)(
            f"A column-vector {name} was passed when a 1d array was expected. Please change the shape of "
            f"{name} to (n_samples,), for example using ravel()."), stacklevel=3)
    return y


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """(n,) float64 non-negative finite weights, not all zero; None stays None, a number is
    every sample's weight.  The caller's array is never modified."""
    if sample_weight is None:
        return None
    if _is_sparse(sample_weight):
        raise TypeError("sample_weight must be dense, got a sparse matrix")
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be numeric, got dtype {w.dtype}")
    w = np.full(n, w, dtype=np.float64) if w.ndim == 0 else w.astype(np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n},): one weight per sample")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (w < 0).any():
        raise ValueError(f"sample_weight must be non-negative, got {w[w < 0][0]}")
    if not w.any():
        raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
    return w


def is_int(v: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
