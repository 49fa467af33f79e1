"""Saving and loading a `DeepNeuralNetworkClassifier`: one checked .npz file.

The file holds the weights (`param:<name>`), `classes`, and a JSON `meta` string with the
format tag, the hyperparameters, `n_features_in` and the per-epoch curves.  Loading checks
every entry before building anything, so a crafted or damaged file is a ValueError naming
the path, never a huge allocation or a half-built classifier.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from tinygrad_np._io import atomic_savez, load_npz
from tinygrad_np._validation import is_int as _is_int

FORMAT = "tinygrad_np.DeepNeuralNetworkClassifier/1"


def save(clf: Any, path: str | os.PathLike) -> None:
    """Write the fitted classifier to an .npz file at `path`, atomically.

    Stored: the weights, `classes_`, the per-epoch curves, and the hyperparameters.
    A hyperparameter that is an object (an initializer instance, an optimizer factory,
    a Generator) cannot be stored as data: it is saved by its repr and comes back as
    the default ("auto" / "sgd" / None); the weights and predictions are exact.
    """
    clf._check_fitted()
    params = {k: _plain(v) for k, v in clf.get_params().items()}
    params["dtype"] = np.dtype(clf.dtype).name
    meta = {"format": FORMAT, "params": params, "n_features_in": int(clf.n_features_in_),
            "loss_train": clf.loss_train_, "accuracy_train": clf.accuracy_train_,
            "loss_val": clf.loss_val_, "accuracy_val": clf.accuracy_val_,
            "epoch_time": clf.epoch_time_, "n_iter": clf.n_iter_}
    arrays = {f"param:{k}": v for k, v in clf.model_.state_dict().items()}
    arrays["classes"] = clf.classes_
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_savez(path, arrays)


def load(cls: type, path: str | os.PathLike) -> Any:
    """Read a classifier written by `save`.

    A file that is not a valid one raises ValueError naming the path and what is wrong
    (a missing file: `MissingFileError`, both a ValueError and a FileNotFoundError).
    """
    arrays = load_npz(path, "DeepNeuralNetworkClassifier file")
    try:
        meta, classes, state = _checked_contents(arrays)
        params = {k: v for k, v in meta["params"].items() if not isinstance(v, dict)}  # {"repr": ...}: default
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        unknown = sorted(set(params) - set(cls._PARAMS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}")
        clf = cls(**params)
        p = clf._checked_params()
        dims = (meta["n_features_in"], *p["sizes"], len(classes))
        implied, held = sum(a * b + b for a, b in zip(dims, dims[1:])), sum(v.size for v in state.values())
        if implied != held:  # checked before building: crafted sizes must not allocate beyond the file
            raise ValueError(f"the layer sizes {dims} need {implied} weights, the file holds {held}")
        model = clf._build(p["sizes"], dims[0], len(classes), p["dtype"], np.random.default_rng(0))
        model.load_state_dict(state)  # checks names and shapes
    except (ValueError, TypeError) as e:
        raise ValueError(f"{os.fspath(path)}: not a valid DeepNeuralNetworkClassifier file ({e})") from None
    clf._set_learned(classes, meta["n_features_in"], model, None, meta, meta["n_iter"])
    return clf


def _checked_contents(arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """(meta, classes, weights) of a saved classifier, every entry's type checked; ValueError otherwise."""
    for key in ("meta", "classes"):
        if key not in arrays:
            raise ValueError(f"no {key!r} array")
    meta_arr, classes = arrays["meta"], arrays["classes"]
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise ValueError(f"'meta' must be a JSON string, got a {meta_arr.dtype} array of shape {meta_arr.shape}")
    meta = json.loads(str(meta_arr))  # JSONDecodeError is a ValueError
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"format {found!r}, expected {FORMAT!r}")
    if not isinstance(meta.get("params"), dict):
        raise ValueError("'params' must be a JSON object")
    for key, low in (("n_features_in", 1), ("n_iter", 0)):
        if not _is_int(meta.get(key)) or meta[key] < low:
            raise ValueError(f"{key!r} must be an integer >= {low}, got {meta.get(key)!r}")
    for key in ("loss_train", "accuracy_train", "loss_val", "accuracy_val", "epoch_time"):
        curve = meta.get(key)
        if not (isinstance(curve, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in curve)):
            raise ValueError(f"{key!r} must be a list of numbers")
    if classes.ndim != 1 or len(classes) < 2 or classes.dtype.kind not in "biufUS":
        raise ValueError(f"'classes' must be 1-D with at least two labels, got a {classes.dtype} array of "
                         f"shape {classes.shape}")
    if len(np.unique(classes)) != len(classes):
        raise ValueError("'classes' has repeated labels")
    state = {k[len("param:"):]: v for k, v in arrays.items() if k.startswith("param:")}
    for name, v in state.items():
        if v.dtype.kind not in "biuf" or not np.isfinite(v).all():
            raise ValueError(f"weight {name!r} is not finite numbers")
    return meta, classes, state


def _plain(v: Any) -> Any:
    """`v` as JSON data, or {"repr": ...} for an object that is not data."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (list, tuple)) and all(_is_int(x) for x in v):
        return [int(x) for x in v]
    return {"repr": repr(v)}
