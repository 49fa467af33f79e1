"""Checks of estimator inputs with scikit-learn's contract (its error types and wording), without
importing scikit-learn: `DeepNeuralNetworkClassifier` uses them so that `check_estimator` passes.
`check_params` validates the classifier's hyperparameters, as its `fit` does first.

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

from tinygrad_np._architecture import ACTIVATIONS, INITIALIZERS, MODELS, OPTIMIZERS


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


def check_labels(y: Any, n: int, estimator: str, name: str = "y") -> tuple[np.ndarray, bool]:
    """(labels, one_hot): labels (N,) as given, or the argmax of one-hot rows (N, C); y must have
    `n` rows."""
    y = check_targets(y, estimator, name)
    if y.ndim == 2 and y.shape[1] > 1:
        if y.dtype.kind not in "biuf" or not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise ValueError(f"{name} of shape {y.shape} is not one-hot (rows of zeros with a single 1)")
        labels, one_hot = y.argmax(axis=1), True
    elif y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        labels, one_hot = y.reshape(-1), False
    else:
        raise ValueError(f"{name} must be labels (N,) or one-hot rows (N, C), got shape {y.shape}")
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels but X has {n} samples")
    return labels, one_hot


def class_indices(y: Any, labels: np.ndarray, one_hot: bool, classes: np.ndarray, name: str, against: str,
                  unseen_message: str) -> np.ndarray:
    """`check_labels`' labels of `y` as indices into the sorted `classes` (np.intp, (N,)).

    One-hot rows must have a column per class (else a ValueError naming `name` and `against`);
    other labels must all be in `classes`, else `unseen_message` is raised, formatted with
    `unseen` (the first five such labels) and `classes`.
    """
    if one_hot:
        columns = np.asarray(y).shape[1]
        if columns != len(classes):
            raise ValueError(f"{name} has {columns} one-hot columns, {against} has {len(classes)}")
        return labels.astype(np.intp)
    unseen = np.setdiff1d(labels, classes)
    if len(unseen):
        raise ValueError(unseen_message.format(unseen=unseen[:5].tolist(), classes=classes.tolist()))
    return np.searchsorted(classes, labels).astype(np.intp)


def weighted_rows(X: np.ndarray, y_idx: np.ndarray, sample_weight: Any,
                  classes: np.ndarray, min_classes: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(X, y_idx, weight) without the rows of weight 0; weight None when all are equal.  `classes`
    names a class in the error when fewer than `min_classes` classes keep a positive weight."""
    w = check_sample_weight(sample_weight, len(X))
    if w is None:
        return X, y_idx, None
    if not w.all():
        keep = w > 0
        X, y_idx, w = X[keep], y_idx[keep], w[keep]
        if len(np.unique(y_idx)) < min_classes:
            raise ValueError(f"only one class ({plain_label(classes[y_idx[0]])!r}) has samples of positive "
                             "sample_weight; a classifier needs at least two")
    return X, y_idx, (None if (w == w[0]).all() else w)


def plain_label(v: Any) -> Any:
    """A class label as a plain Python value, for messages (1, not np.int64(1))."""
    return v.item() if isinstance(v, np.generic) else v


def check_params(clf: Any) -> dict[str, Any]:
    """Validate every hyperparameter of the `DeepNeuralNetworkClassifier` `clf`; return
    {"sizes": hidden widths (tuple), "dtype": None or a float dtype, "epochs": int}.  Changes nothing."""
    sizes = clf.hidden_layer_sizes
    sizes = (sizes,) if is_int(sizes) else sizes
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(is_int(n) and n >= 1 for n in sizes):
        raise ValueError(f"hidden_layer_sizes must be a sequence of positive integers, got "
                         f"{clf.hidden_layer_sizes!r}")
    if clf.model not in MODELS:
        raise ValueError(f"unknown model {clf.model!r}; choose one of {', '.join(MODELS)}")
    if not isinstance(clf.batch_norm, (bool, np.bool_)):
        raise ValueError(f"batch_norm must be True or False, got {clf.batch_norm!r}")
    if clf.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {clf.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if isinstance(clf.initializer, str):
        if clf.initializer not in INITIALIZERS:
            raise ValueError(f"unknown initializer {clf.initializer!r}; choose one of "
                             f"{', '.join(INITIALIZERS)} or pass an initializer instance")
    elif not (callable(getattr(clf.initializer, "W", None)) and callable(getattr(clf.initializer, "B", None))):
        raise ValueError(f"initializer must be a name or an object with W(n_in, n_out) and B(n_out) "
                         f"methods, got {clf.initializer!r}")
    if isinstance(clf.optimizer, str):
        if clf.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {clf.optimizer!r}; choose one of {', '.join(OPTIMIZERS)} "
                             "or pass a factory f(params, lr=...)")
    elif not callable(clf.optimizer):
        raise ValueError(f"optimizer must be a name or a callable factory, got {clf.optimizer!r}")
    decay = clf.lr_decay
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.floating)) or not 0 < decay <= 1:
        raise ValueError(f"lr_decay must be a number in (0, 1], got {decay!r}")
    lr = clf.lr
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                           or not np.isfinite(lr) or lr <= 0):
        raise ValueError(f"lr must be a positive finite number or None, got {lr!r}")
    epochs = _checked_epochs(clf)
    bs = clf.batch_size
    if not (isinstance(bs, str) and bs == "auto") and (not is_int(bs) or bs < 1):
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {bs!r}")
    dtype = None
    if clf.dtype is not None:  # np.dtype(None) would be float64
        try:
            dtype = np.dtype(clf.dtype)
        except TypeError:
            pass
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {clf.dtype!r}")
    bt = clf.blas_threads
    if bt is not None and (not is_int(bt) or bt < 1):
        raise ValueError(f"blas_threads must be a positive integer or None, got {bt!r}")
    if not isinstance(clf.jit, bool):
        raise ValueError(f"jit must be True or False, got {clf.jit!r}")
    rs = clf.random_state
    if not (rs is None or is_int(rs) or isinstance(rs, (np.random.Generator, np.random.RandomState))):
        raise ValueError(f"random_state must be an int, a numpy.random.Generator, a numpy.random.RandomState "
                         f"or None, got {rs!r}")
    _check_mlp_params(clf)
    return dict(sizes=sizes, dtype=dtype, epochs=epochs)


def _checked_epochs(clf: Any) -> int:
    """`epochs` or its alias `max_iter` (scikit-learn's name); both given must agree."""
    for name in ("epochs", "max_iter"):
        v = getattr(clf, name)
        if v is not None and (not is_int(v) or v < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
    if clf.epochs is not None and clf.max_iter is not None and clf.epochs != clf.max_iter:
        raise ValueError(f"epochs={clf.epochs!r} and max_iter={clf.max_iter!r} differ: max_iter is "
                         "scikit-learn's name for epochs; give one of them")
    return int(clf.max_iter if clf.max_iter is not None else clf.epochs if clf.epochs is not None else 10)


def _check_mlp_params(clf: Any) -> None:
    """The MLPClassifier parameters: alpha, tol >= 0, n_iter_no_change >= 1, validation_fraction
    in [0, 1), early_stopping and warm_start booleans."""
    for name in ("alpha", "tol"):
        v = getattr(clf, name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not (0 <= v < np.inf):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if not is_int(clf.n_iter_no_change) or clf.n_iter_no_change < 1:
        raise ValueError(f"n_iter_no_change must be a positive integer, got {clf.n_iter_no_change!r}")
    vf = clf.validation_fraction
    if isinstance(vf, bool) or not isinstance(vf, (int, float, np.floating)) or not 0 <= vf < 1:
        raise ValueError(f"validation_fraction must be a number in [0, 1), got {vf!r}")
    for name in ("early_stopping", "warm_start"):
        if not isinstance(getattr(clf, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {getattr(clf, name)!r}")
