"""Saving and loading a `DeepNeuralNetworkClassifier`: one checked .npz file.

The file holds the weights (`param:<name>`), `classes`, the optimizer's state arrays
(`opt:<parameter index>:<name>`), and a JSON `meta` string with the format tag, the
hyperparameters, `n_features_in`, the per-epoch curves and counters, the optimizer's
hyperparameters and step counts, and the shuffling generator's state: everything a fit
continues from, so that fit 2 epochs, save, load, fit 2 more with `warm_start=True` is
bit for bit the model of 4 epochs straight.  Loading checks every entry before building
anything, so a crafted or damaged file is a ValueError naming the path, never a huge
allocation or a half-built classifier.  Files of format 1 (weights and curves only) load
too; they resume with a fresh optimizer.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from tinygrad_np._architecture import INITIALIZERS, OPTIMIZERS, build_network, layer_plan, make_optimizer, n_weights
from tinygrad_np._io import atomic_savez, load_npz
from tinygrad_np._training import CURVES, TrainingState
from tinygrad_np._validation import check_params
from tinygrad_np._validation import is_int as _is_int

FORMAT = "tinygrad_np.DeepNeuralNetworkClassifier/2"
_FORMAT_1 = "tinygrad_np.DeepNeuralNetworkClassifier/1"  # no optimizer or generator state, no loss_curve
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def check_savable(clf: Any) -> None:
    """ValueError unless `optimizer` and `initializer` are names: an object cannot be written as
    data, and a classifier reloaded without it could not continue training the same way."""
    for name, choices in (("optimizer", OPTIMIZERS), ("initializer", INITIALIZERS)):
        value = getattr(clf, name)
        if not isinstance(value, str):
            raise ValueError(f"save: {name}={value!r} is an object, which cannot be saved by name; use one of "
                             f"{', '.join(map(repr, choices))}, or save the network alone with "
                             f"clf.model_.save(path)")


def save(clf: Any, path: str | os.PathLike) -> None:
    """Write the fitted classifier to an .npz file at `path`, atomically.

    Stored: the weights, `classes_`, the curves and counters, the optimizer state, the
    shuffling generator's state, and the hyperparameters.  `optimizer` and `initializer`
    must be names (`check_savable`); a `random_state` Generator is saved by its repr and
    comes back as None (the generator's current state is saved separately).
    """
    clf._check_fitted()
    check_savable(clf)
    params = {k: _plain(v) for k, v in clf.get_params().items()}
    params["dtype"] = None if clf.dtype is None else np.dtype(clf.dtype).name  # np.float32 as its name
    opt_state = clf.optimizer_.state_dict()
    meta = {"format": FORMAT, "params": params, "n_features_in": int(clf.n_features_in_),
            **{k: getattr(clf, f"{k}_") for k in CURVES}, "n_iter": clf.n_iter_, "t": clf.t_,
            "best_loss": clf.best_loss_, "validation_scores": clf.validation_scores_,
            "best_validation_score": clf.best_validation_score_,
            "optimizer": {"param_groups": [_plain_group(g) for g in opt_state["param_groups"]],
                          "steps": {str(i): st["step"] for i, st in opt_state["state"].items()}},
            "shuffle_rng": _to_json(clf._shuffle_rng.bit_generator.state)}
    arrays = {f"param:{k}": v for k, v in clf.model_.state_dict().items()}
    for i, st in opt_state["state"].items():
        arrays.update({f"opt:{i}:{k}": v for k, v in st.items() if k != "step"})
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
        p = check_params(clf)
        dims = (meta["n_features_in"], *p["sizes"], len(classes))
        plan = layer_plan(clf.model, clf.batch_norm, p["sizes"], dims[0], len(classes))
        implied, held = n_weights(plan), sum(v.size for v in state.values())
        if implied != held:  # checked before building: crafted sizes must not allocate beyond the file
            raise ValueError(f"the layer sizes {dims} need {implied} weights, the file holds {held}")
        model = build_network(plan, clf.activation, clf.initializer,
                              _weights_dtype(state) if p["dtype"] is None else p["dtype"], np.random.default_rng(0))
        model.load_state_dict(state)  # checks names and shapes
        training = TrainingState(model, None, None, {k: list(meta.get(k, [])) for k in CURVES}, meta["n_iter"],
                                 meta.get("t", 0), meta.get("best_loss"), meta.get("validation_scores"),
                                 meta.get("best_validation_score"))
        if meta["format"] == FORMAT:
            training.optimizer = _loaded_optimizer(clf, model, meta["optimizer"], arrays)
            training.rng = _loaded_rng(meta["shuffle_rng"])
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{os.fspath(path)}: not a valid DeepNeuralNetworkClassifier file ({e})") from None
    clf._set_learned(classes, meta["n_features_in"], training)
    return clf


def _weights_dtype(state: dict[str, np.ndarray]) -> np.dtype:
    """The dtype a network saved with dtype=None was fitted in: its weights' (float32 or float64)."""
    dtypes = {v.dtype for v in state.values()}
    if len(dtypes) != 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise ValueError(f"the weights must all be float32 or all float64, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def _loaded_optimizer(clf: Any, model: Any, saved: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The classifier's optimizer over `model`, with the saved hyperparameters and state (checked by
    `Optimizer.load_state_dict`)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("steps"), dict):
        raise ValueError("'optimizer' must be a JSON object with 'param_groups' (a list) and 'steps' (an object)")
    state: dict[int, dict[str, Any]] = {}
    for key, step in saved["steps"].items():
        if not key.isdigit():
            raise ValueError(f"optimizer state for a parameter index {key!r}")
        state[int(key)] = {"step": step}
    for name, v in arrays.items():
        if name.startswith("opt:"):
            index, _, entry = name[len("opt:"):].partition(":")
            if not index.isdigit() or int(index) not in state:
                raise ValueError(f"array {name!r} belongs to no parameter with a step count")
            state[int(index)][entry] = v
    opt = make_optimizer(clf.optimizer, clf.lr, list(model.parameters()))
    opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    return opt


def _loaded_rng(saved: Any) -> np.random.Generator:
    """A Generator in the saved state of its bit generator."""
    name = saved.get("bit_generator") if isinstance(saved, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"'shuffle_rng' must be the state of one of {', '.join(_BIT_GENERATORS)}, got {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = _from_json(saved)
    return np.random.Generator(bit_generator)


def _to_json(v: Any) -> Any:
    """A bit generator's state as JSON data (MT19937's key array as a tagged list)."""
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return {"ndarray": v.tolist(), "dtype": v.dtype.str}
    return v.item() if isinstance(v, np.generic) else v


def _from_json(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"ndarray", "dtype"}:
            return np.array(v["ndarray"], dtype=np.dtype(v["dtype"]))
        return {k: _from_json(x) for k, x in v.items()}
    return v


def _plain_group(group: dict[str, Any]) -> dict[str, Any]:
    """An optimizer parameter group as JSON data; a hyperparameter that is not data is an error."""
    out = {}
    for k, v in group.items():
        plain = [_plain(x) for x in v] if isinstance(v, (list, tuple)) else _plain(v)
        if isinstance(plain, dict) or (isinstance(plain, list) and any(isinstance(x, dict) for x in plain)):
            raise ValueError(f"save: the optimizer's hyperparameter {k}={v!r} cannot be saved as data")
        out[k] = plain
    return out


def _checked_contents(arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """(meta, classes, weights) of a saved classifier, every entry's type checked; ValueError otherwise."""
    for key in ("meta", "classes"):
        if key not in arrays:
            raise ValueError(f"no {key!r} array")
    meta_arr, classes = arrays["meta"], arrays["classes"]
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise ValueError(f"'meta' must be a JSON string, got a {meta_arr.dtype} array of shape {meta_arr.shape}")
    meta = json.loads(str(meta_arr))  # JSONDecodeError is a ValueError
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, _FORMAT_1):
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"format {found!r}, expected {FORMAT!r}")
    if not isinstance(meta.get("params"), dict):
        raise ValueError("'params' must be a JSON object")
    for key, low in (("n_features_in", 1), ("n_iter", 0)):
        if not _is_int(meta.get(key)) or meta[key] < low:
            raise ValueError(f"{key!r} must be an integer >= {low}, got {meta.get(key)!r}")
    latest = meta["format"] == FORMAT
    for key in CURVES + (("validation_scores",) if latest else ()):
        curve = meta.get(key, [] if key == "loss_curve" and not latest else None)
        if key == "validation_scores" and curve is None:
            continue
        if not (isinstance(curve, list) and all(_is_number(v) for v in curve)):
            raise ValueError(f"{key!r} must be a list of numbers")
    if latest:
        if not _is_int(meta.get("t")) or meta["t"] < 0:
            raise ValueError(f"'t' must be an integer >= 0, got {meta.get('t')!r}")
        for key in ("best_loss", "best_validation_score"):
            if meta.get(key) is not None and not _is_number(meta[key]):
                raise ValueError(f"{key!r} must be a number or null, got {meta[key]!r}")
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


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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
