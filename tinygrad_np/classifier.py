"""`DeepNeuralNetworkClassifier`: the seed's fully connected classifier with a scikit-learn face.

    clf = DeepNeuralNetworkClassifier(random_state=0, verbose=True)
    clf.fit(X_train, y_train, X_val, y_val)         # X: (N, n_features) floats, y: labels
    clf.score(X_test, y_test), clf.loss_train_, clf.loss_val_

It follows scikit-learn's conventions without importing it: the constructor only stores
its arguments, `get_params` / `set_params`, learned attributes end in `_`, validation
happens in `fit` (so `sklearn.base.clone`, `cross_val_score` and `Pipeline` work).
`fit` checks everything before it changes anything, and builds the new model aside: a
bad input raises ValueError and leaves a fitted classifier as it was.
"""
from __future__ import annotations

import json
import os
import time
import zipfile
from typing import Any, Callable

import numpy as np

from tinygrad_np import functional as F
from tinygrad_np import init, nn, optim
from tinygrad_np._threads import blas_threads
from tinygrad_np._io import atomic_savez
from tinygrad_np._progress import ProgressBar
from tinygrad_np.data import MiniBatches
from tinygrad_np.tensor import Tensor, no_grad

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
INITIALIZERS = ("auto", "he", "xavier", "simple")
# name -> (optimizer class, extra keyword arguments, default lr)
OPTIMIZERS: dict[str, tuple[type, dict[str, Any], float]] = {
    "sgd": (optim.SGD, {}, 0.1),
    "momentum": (optim.SGD, {"momentum": 0.9}, 0.01),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}, 0.01),
    "adagrad": (optim.AdaGrad, {}, 0.01),
    "rmsprop": (optim.RMSProp, {}, 0.001),
    "adam": (optim.Adam, {}, 0.001),
    "adamw": (optim.AdamW, {}, 0.001),
}
_EVAL_BATCH = 4096  # rows per forward pass when evaluating whole sets
_FORMAT = "tinygrad_np.DeepNeuralNetworkClassifier/1"


class NotFittedError(ValueError, AttributeError):
    """`predict` / `score` / `save` before `fit` (a ValueError, as scikit-learn's is)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class DeepNeuralNetworkClassifier:
    """A fully connected network (FC -> activation, ..., FC -> softmax) trained by mini-batch descent.

    hidden_layer_sizes: widths of the hidden layers, e.g. (400, 200) for 784-400-200-10.
    activation: "relu" | "tanh" | "sigmoid".
    initializer: "auto" (He for ReLU, Xavier for tanh/sigmoid), "he", "xavier", "simple"
        (Gaussian with sigma 0.01, the seed's), or an initializer instance with
        `W(n_in, n_out)` / `B(n_out)` (e.g. `init.SimpleInitializer(0.01)`).
    optimizer: a name in `OPTIMIZERS` ("sgd", "momentum", "adagrad", "adam", ...) or a
        factory `f(params, lr=...)` returning an optimizer (e.g. `optim.SGD` or a partial).
    lr: learning rate; None takes the optimizer's entry in `OPTIMIZERS` (sgd 0.1,
        adagrad 0.01, adam 0.001, ...), or the factory's own default.
    epochs, batch_size: passes over the training set, and rows per step (the loss is
        the batch mean).
    dtype: "float32" or "float64" for weights and computation.
    random_state: int, Generator or None; seeds the weights and the shuffling.
    verbose: progress bar per epoch on a terminal, and an epoch summary line.
    blas_threads: BLAS threads during the training loop, restored after (None, the
        default: leave the process's pool as it is).  Small-batch matmuls are too small
        to share out; more threads only wait on each other, badly so on a busy machine.
        Needs threadpoolctl (the `threads` extra), as scikit-learn does.

    Learned: `classes_`, `n_features_in_`, `model_` (an `nn.Sequential`), `optimizer_`,
    and per epoch `loss_train_`, `accuracy_train_`, `loss_val_`, `accuracy_val_` (each
    over the whole set after the epoch; the val lists stay empty without a validation
    set) and `epoch_time_` (seconds of training, evaluation excluded).
    """

    def __init__(self, hidden_layer_sizes: Any = (400, 200), activation: str = "relu",
                 initializer: Any = "auto", optimizer: Any = "sgd", lr: float | None = None,
                 epochs: int = 10, batch_size: int = 20, dtype: Any = "float32",
                 random_state: Any = None, verbose: bool = False, blas_threads: int | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.initializer = initializer
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.blas_threads = blas_threads

    # ---- scikit-learn protocol -----------------------------------------------------------------
    _PARAMS = ("hidden_layer_sizes", "activation", "initializer", "optimizer", "lr", "epochs",
               "batch_size", "dtype", "random_state", "verbose", "blas_threads")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, as given."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> DeepNeuralNetworkClassifier:
        """Set constructor arguments (checked at the next `fit`); unknown names raise ValueError."""
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise ValueError(f"set_params: unknown parameter(s) {', '.join(unknown)} for "
                             f"DeepNeuralNetworkClassifier (valid: {', '.join(self._PARAMS)})")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = DeepNeuralNetworkClassifier().get_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"DeepNeuralNetworkClassifier({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6 asks estimators for tags
        from sklearn.utils import ClassifierTags, Tags, TargetTags  # only called by scikit-learn
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    _estimator_type = "classifier"  # scikit-learn < 1.6

    # ---- checks ----------------------------------------------------------------------------------
    def _checked_params(self) -> dict[str, Any]:
        """Validate every hyperparameter; return them normalised. Changes nothing."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if _is_int(sizes) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(_is_int(n) and n >= 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be a sequence of positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if isinstance(self.initializer, str):
            if self.initializer not in INITIALIZERS:
                raise ValueError(f"unknown initializer {self.initializer!r}; choose one of "
                                 f"{', '.join(INITIALIZERS)} or pass an initializer instance")
        elif not (callable(getattr(self.initializer, "W", None)) and callable(getattr(self.initializer, "B", None))):
            raise ValueError(f"initializer must be a name or an object with W(n_in, n_out) and B(n_out) "
                             f"methods, got {self.initializer!r}")
        if isinstance(self.optimizer, str):
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)} "
                                 "or pass a factory f(params, lr=...)")
        elif not callable(self.optimizer):
            raise ValueError(f"optimizer must be a name or a callable factory, got {self.optimizer!r}")
        lr = self.lr
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                               or not np.isfinite(lr) or lr <= 0):
            raise ValueError(f"lr must be a positive finite number or None, got {lr!r}")
        if not _is_int(self.epochs) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        bt = self.blas_threads
        if bt is not None and (not _is_int(bt) or bt < 1):
            raise ValueError(f"blas_threads must be a positive integer or None, got {bt!r}")
        rs = self.random_state
        if not (rs is None or _is_int(rs) or isinstance(rs, np.random.Generator)):
            raise ValueError(f"random_state must be an int, a numpy.random.Generator or None, got {rs!r}")
        return dict(sizes=sizes, dtype=dtype)

    @staticmethod
    def _checked_X(X: Any, dtype: np.dtype, n_features: int | None = None, name: str = "X") -> np.ndarray:
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{name} cannot be converted to an array: {e}") from None
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
        if X.ndim != 2:
            hint = f"; flatten images with {name}.reshape(len({name}), -1)" if X.ndim > 2 else ""
            raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}{hint}")
        if len(X) == 0:
            raise ValueError(f"{name} is empty (0 samples)")
        if n_features is not None and X.shape[1] != n_features:
            raise ValueError(f"{name} has {X.shape[1]} features, but the classifier was fitted with {n_features}")
        X = X.astype(dtype, copy=False)  # no copy when it already has the dtype
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return X

    @staticmethod
    def _checked_y(y: Any, n: int, name: str = "y") -> tuple[np.ndarray, bool]:
        """(labels, one_hot): labels (N,) as given, or the argmax of one-hot rows (N, C)."""
        y = np.asarray(y)
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
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return labels, one_hot

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this DeepNeuralNetworkClassifier is not fitted yet; call fit(X, y) first")

    # ---- building ----------------------------------------------------------------------------------
    def _make_initializer(self, rng: np.random.Generator, dtype: np.dtype) -> Any:
        name = self.initializer
        if not isinstance(name, str):
            return name
        if name == "auto":
            name = "he" if self.activation == "relu" else "xavier"
        if name == "he":
            return init.HeInitializer(rng=rng, dtype=dtype)
        if name == "xavier":
            return init.XavierInitializer(rng=rng, dtype=dtype)
        return init.SimpleInitializer(0.01, rng=rng, dtype=dtype)

    def _make_optimizer(self, params: list) -> Any:
        if isinstance(self.optimizer, str):
            cls, kwargs, default_lr = OPTIMIZERS[self.optimizer]
            return cls(params, lr=self.lr if self.lr is not None else default_lr, **kwargs)
        return self.optimizer(params) if self.lr is None else self.optimizer(params, lr=self.lr)

    def _build(self, sizes: tuple[int, ...], n_in: int, n_out: int, dtype: np.dtype,
               rng: np.random.Generator) -> nn.Sequential:
        initializer = self._make_initializer(rng, dtype)
        act = ACTIVATIONS[self.activation]
        layers: list[nn.Module] = []
        dims = (n_in, *sizes, n_out)
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            layers.append(nn.FC(a, b, initializer=initializer))
            if i < len(dims) - 2:
                layers.append(act())
        return nn.Sequential(*layers).to(dtype)

    # ---- training ------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, *,
            on_first_step: Callable[[Tensor, nn.Module], None] | None = None) -> DeepNeuralNetworkClassifier:
        """Train from scratch on X (N, n_features) and labels y (N,) or one-hot (N, C).

        With X_val / y_val, the validation loss and accuracy are recorded after every epoch.
        `on_first_step(loss, model)` is called once, with the first step's loss before its
        backward pass frees the graph (to draw it with `tinygrad_np.viz`); its time is not
        counted in `epoch_time_`.
        """
        p = self._checked_params()
        dtype = p["dtype"]
        X = self._checked_X(X, dtype)
        labels, one_hot = self._checked_y(y, len(X))
        if one_hot:
            classes = np.arange(np.asarray(y).shape[1])
            y_idx = labels.astype(np.intp)
        else:
            classes, y_idx = np.unique(labels, return_inverse=True)
            y_idx = y_idx.reshape(-1).astype(np.intp)
        if len(np.unique(y_idx)) < 2:
            raise ValueError(f"y has a single class ({classes[y_idx[0]]!r}); a classifier needs at least two")
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        val = None
        if X_val is not None:
            Xv = self._checked_X(X_val, dtype, X.shape[1], "X_val")
            val_labels, val_one_hot = self._checked_y(y_val, len(Xv), "y_val")
            if val_one_hot:
                if np.asarray(y_val).shape[1] != len(classes):
                    raise ValueError(f"y_val has {np.asarray(y_val).shape[1]} one-hot columns, y has {len(classes)}")
                yv_idx = val_labels.astype(np.intp)
            else:
                unseen = np.setdiff1d(val_labels, classes)
                if len(unseen):
                    raise ValueError(f"y_val has labels not seen in y: {unseen[:5].tolist()}")
                yv_idx = np.searchsorted(classes, val_labels).astype(np.intp)
            val = (Xv, yv_idx)

        rng = init.make_rng(self.random_state)
        model = self._build(p["sizes"], X.shape[1], len(classes), dtype, rng)
        opt = self._make_optimizer(list(model.parameters()))
        history: dict[str, list[float]] = {k: [] for k in ("loss_train", "accuracy_train", "loss_val",
                                                           "accuracy_val", "epoch_time")}
        batches = MiniBatches(X, y_idx, self.batch_size, shuffle=True, rng=rng)
        for epoch in range(self.epochs):
            seconds = self._train_epoch(model, opt, batches, f"epoch {epoch + 1}/{self.epochs}", on_first_step)
            on_first_step = None
            t0 = time.perf_counter()
            loss, acc = self._evaluate(model, X, y_idx)
            history["loss_train"].append(loss)
            history["accuracy_train"].append(acc)
            if val is not None:
                loss_v, acc_v = self._evaluate(model, *val)
                history["loss_val"].append(loss_v)
                history["accuracy_val"].append(acc_v)
            history["epoch_time"].append(seconds)
            if self.verbose:
                line = f"epoch {epoch + 1:>{len(str(self.epochs))}}/{self.epochs}  train loss {loss:.4f}"
                if val is not None:
                    line += f"  val loss {loss_v:.4f}  val acc {100 * acc_v:.2f}%"
                else:
                    line += f"  train acc {100 * acc:.2f}%"
                line += f"  {seconds:.1f} s (+{time.perf_counter() - t0:.1f} s eval)"
                print(line, flush=True)

        # everything succeeded: publish the learned state at once
        self._set_learned(classes, X.shape[1], model, opt, history, self.epochs)
        return self

    def _set_learned(self, classes: np.ndarray, n_features: int, model: nn.Sequential, opt: Any,
                     history: dict[str, list[float]], n_iter: int) -> None:
        """Set every learned attribute (the ones ending in `_`) together: by `fit` and by `load`."""
        self.classes_ = classes
        self.n_features_in_ = int(n_features)
        self.model_ = model
        self.optimizer_ = opt
        self.loss_train_ = history["loss_train"]
        self.accuracy_train_ = history["accuracy_train"]
        self.loss_val_ = history["loss_val"]
        self.accuracy_val_ = history["accuracy_val"]
        self.epoch_time_ = history["epoch_time"]
        self.n_iter_ = n_iter

    def _train_epoch(self, model: nn.Sequential, opt: Any, batches: MiniBatches, desc: str,
                     hook: Callable[[Tensor, nn.Module], None] | None = None) -> float:
        """One pass over the mini-batches; returns its seconds (not counting `hook`, called with the
        first step's loss before its backward).  This loop is the hot path."""
        model.train()
        bar = ProgressBar(len(batches), desc, enabled=None if self.verbose else False)
        every = 25
        forward, zero_grad, step = model.forward, opt.zero_grad, opt.step
        loss_fn = F.softmax_cross_entropy
        with blas_threads(self.blas_threads):
            start = time.perf_counter()
            for i, (Xb, yb) in enumerate(batches, 1):
                loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
                if hook is not None:
                    t0 = time.perf_counter()
                    hook(loss, model)
                    hook = None
                    start += time.perf_counter() - t0
                zero_grad()
                loss.backward()
                step()
                if i % every == 0 and bar.enabled:
                    bar.update(every)
            seconds = time.perf_counter() - start
        bar.close()
        return seconds

    @staticmethod
    def _logits(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
        model.eval()
        with no_grad():
            return np.concatenate([model(Tensor(X[i:i + _EVAL_BATCH])).data
                                   for i in range(0, len(X), _EVAL_BATCH)])

    def _evaluate(self, model: nn.Sequential, X: np.ndarray, y_idx: np.ndarray) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over the whole set, in large batches, without a graph."""
        total, correct = 0.0, 0
        model.eval()
        with no_grad():
            for i in range(0, len(X), _EVAL_BATCH):
                logits = model(Tensor(X[i:i + _EVAL_BATCH]))
                yb = y_idx[i:i + _EVAL_BATCH]
                total += float(F.softmax_cross_entropy(logits, yb, reduction="sum").item())
                correct += int((logits.data.argmax(axis=1) == yb).sum())
        return total / len(X), correct / len(X)

    # ---- prediction ----------------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, n_classes), columns in the order of `classes_`."""
        self._check_fitted()
        X = self._checked_X(X, self.model_[0].W.dtype, self.n_features_in_)
        logits = self._logits(self.model_, X)
        with no_grad():
            return F.softmax(logits, axis=1).data

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as values of `classes_`."""
        self._check_fitted()
        X = self._checked_X(X, self.model_[0].W.dtype, self.n_features_in_)
        return self.classes_[self._logits(self.model_, X).argmax(axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of rows whose predicted class equals y (labels or one-hot)."""
        self._check_fitted()
        X = self._checked_X(X, self.model_[0].W.dtype, self.n_features_in_)
        labels, one_hot = self._checked_y(y, len(X))
        pred = self._logits(self.model_, X).argmax(axis=1)
        if one_hot:
            return float(np.mean(pred == labels))
        return float(np.mean(self.classes_[pred] == labels))

    # ---- persistence ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted classifier to an .npz file at `path`, atomically.

        Stored: the weights, `classes_`, the per-epoch curves, and the hyperparameters.
        A hyperparameter that is an object (an initializer instance, an optimizer factory,
        a Generator) cannot be stored as data: it is saved by its repr and comes back as
        the default ("auto" / "sgd" / None); the weights and predictions are exact.
        """
        self._check_fitted()
        params = {k: _plain(v) for k, v in self.get_params().items()}
        params["dtype"] = np.dtype(self.dtype).name
        meta = {"format": _FORMAT, "params": params, "n_features_in": int(self.n_features_in_),
                "loss_train": self.loss_train_, "accuracy_train": self.accuracy_train_,
                "loss_val": self.loss_val_, "accuracy_val": self.accuracy_val_,
                "epoch_time": self.epoch_time_, "n_iter": self.n_iter_}
        arrays = {f"param:{k}": v for k, v in self.model_.state_dict().items()}
        arrays["classes"] = self.classes_
        arrays["meta"] = np.array(json.dumps(meta))
        atomic_savez(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DeepNeuralNetworkClassifier:
        """Read a classifier written by `save`; ValueError if the file is not a valid one."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {_FORMAT!r}")
            classes = arrays.pop("classes")
            state = {k[len("param:"):]: v for k, v in arrays.items() if k.startswith("param:")}
            params = {k: v for k, v in meta["params"].items() if not isinstance(v, dict)}
            if isinstance(params.get("hidden_layer_sizes"), list):
                params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
            clf = cls(**params)
            p = clf._checked_params()
            model = clf._build(p["sizes"], int(meta["n_features_in"]), len(classes), p["dtype"],
                               np.random.default_rng(0))
            model.load_state_dict(state)  # checks names and shapes
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
                json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a valid DeepNeuralNetworkClassifier file ({e})") from None
        clf._set_learned(classes, meta["n_features_in"], model, None, meta, meta["n_iter"])
        return clf


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


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects compare as different
        return False


__all__ = ["DeepNeuralNetworkClassifier", "NotFittedError", "ACTIVATIONS", "OPTIMIZERS", "INITIALIZERS"]
