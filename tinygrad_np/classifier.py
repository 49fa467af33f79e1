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
from math import isfinite
from typing import Any, Callable

import numpy as np

from tinygrad_np import functional as F
from tinygrad_np import init, nn, optim
from tinygrad_np._threads import blas_threads
from tinygrad_np._io import atomic_savez, load_npz
from tinygrad_np._progress import ProgressBar
from tinygrad_np._validation import (NotFittedError, check_sample_weight, check_targets, check_X,
                                     sklearn_flavour)
from tinygrad_np.data import MiniBatches
from tinygrad_np.jit import jit
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


class TrainingDivergedError(ValueError):
    """`fit` stopped because the loss or the weights became NaN or infinite."""


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _label(v: Any) -> Any:
    """A class label as a plain Python value, for messages (1, not np.int64(1))."""
    return v.item() if isinstance(v, np.generic) else v


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
    random_state: int, Generator, legacy RandomState (drawn from, as scikit-learn does) or
        None; seeds the weights and the shuffling.
    verbose: progress bar per epoch on a terminal, and an epoch summary line.
    blas_threads: BLAS threads during the training loop, restored after (None, the
        default: leave the process's pool as it is).  Small-batch matmuls are too small
        to share out; more threads only wait on each other, badly so on a busy machine.
        Needs threadpoolctl (the `threads` extra), as scikit-learn does.
    jit: run the training step through `tinygrad_np.jit` (recorded once per batch shape,
        then replayed); the results are identical to `jit=False`, the eager step.

    Learned: `classes_`, `n_features_in_`, `model_` (an `nn.Sequential`), `optimizer_`,
    and per epoch `loss_train_`, `accuracy_train_`, `loss_val_`, `accuracy_val_` (each
    over the whole set after the epoch; the val lists stay empty without a validation
    set) and `epoch_time_` (seconds of training, evaluation excluded).
    """

    def __init__(self, hidden_layer_sizes: Any = (400, 200), activation: str = "relu",
                 initializer: Any = "auto", optimizer: Any = "sgd", lr: float | None = None,
                 epochs: int = 10, batch_size: int = 20, dtype: Any = "float32",
                 random_state: Any = None, verbose: bool = False, blas_threads: int | None = None,
                 jit: bool = True) -> None:
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
        self.jit = jit

    # ---- scikit-learn protocol -----------------------------------------------------------------
    _PARAMS = ("hidden_layer_sizes", "activation", "initializer", "optimizer", "lr", "epochs",
               "batch_size", "dtype", "random_state", "verbose", "blas_threads", "jit")

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
        if not isinstance(self.jit, bool):
            raise ValueError(f"jit must be True or False, got {self.jit!r}")
        rs = self.random_state
        if not (rs is None or _is_int(rs) or isinstance(rs, (np.random.Generator, np.random.RandomState))):
            raise ValueError(f"random_state must be an int, a numpy.random.Generator, a numpy.random.RandomState "
                             f"or None, got {rs!r}")
        return dict(sizes=sizes, dtype=dtype)

    @staticmethod
    def _checked_X(X: Any, dtype: np.dtype, n_features: int | None = None, name: str = "X") -> np.ndarray:
        return check_X(X, dtype, "DeepNeuralNetworkClassifier", n_features, name)

    @staticmethod
    def _checked_y(y: Any, n: int, name: str = "y") -> tuple[np.ndarray, bool]:
        """(labels, one_hot): labels (N,) as given, or the argmax of one-hot rows (N, C)."""
        y = check_targets(y, "DeepNeuralNetworkClassifier", name)
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

    @staticmethod
    def _weighted(X: np.ndarray, y_idx: np.ndarray, sample_weight: Any,
                  classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, y_idx, weight) without the rows of weight 0; weight None when all are equal."""
        w = check_sample_weight(sample_weight, len(X))
        if w is None:
            return X, y_idx, None
        if not w.all():
            keep = w > 0
            X, y_idx, w = X[keep], y_idx[keep], w[keep]
            if len(np.unique(y_idx)) < 2:
                raise ValueError(f"only one class ({_label(classes[y_idx[0]])!r}) has samples of positive "
                                 "sample_weight; a classifier needs at least two")
        return X, y_idx, (None if (w == w[0]).all() else w)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise sklearn_flavour(NotFittedError)("this DeepNeuralNetworkClassifier is not fitted yet; "
                                                  "call fit(X, y) first")

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
    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, sample_weight: Any = None, *,
            on_first_step: Callable[[Tensor, nn.Module], None] | None = None) -> DeepNeuralNetworkClassifier:
        """Train from scratch on X (N, n_features) and labels y (N,) or one-hot (N, C).

        With X_val / y_val, the validation loss and accuracy are recorded after every epoch.
        sample_weight (N,): each sample's loss is scaled by its weight over the mean weight, so
        the batch losses estimate the weighted mean; rows of weight 0 are left out (exactly as if
        removed), and `loss_train_` / `accuracy_train_` are weighted means.
        `on_first_step(loss, model)` is called once, with the first step's loss before its
        backward pass frees the graph (to draw it with `tinygrad_np.viz`); its time is not
        counted in `epoch_time_`.
        Raises `TrainingDivergedError` (a ValueError) when the loss or the weights become NaN or
        infinite, naming the epoch and step; a previously fitted state is then kept.
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
            raise ValueError(f"y contains only one class ({_label(classes[y_idx[0]])!r}); "
                             "a classifier needs at least two")
        X, y_idx, weight = self._weighted(X, y_idx, sample_weight, classes)
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

        rng = _rng(self.random_state)
        model = self._build(p["sizes"], X.shape[1], len(classes), dtype, rng)
        opt = self._make_optimizer(list(model.parameters()))
        history: dict[str, list[float]] = {k: [] for k in ("loss_train", "accuracy_train", "loss_val",
                                                           "accuracy_val", "epoch_time")}
        targets = y_idx if weight is None else _weighted_one_hot(y_idx, weight, len(classes), dtype)
        batches = MiniBatches(X, targets, self.batch_size, shuffle=True, rng=rng)
        for epoch in range(self.epochs):
            where = f"epoch {epoch + 1}/{self.epochs}"
            seconds = self._train_epoch(model, opt, batches, where, on_first_step)
            on_first_step = None
            t0 = time.perf_counter()
            loss, acc = self._evaluate(model, X, y_idx, weight)
            _check_finite(model, opt, loss, where, len(batches))
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

        def train_step(Xb: np.ndarray, yb: np.ndarray) -> Tensor:
            loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
            zero_grad()
            loss.backward()
            step()
            return loss

        jitted = jit(train_step) if self.jit else None
        # overflow shows as a non-finite loss, reported with a remedy, not as numpy warnings
        with blas_threads(self.blas_threads), np.errstate(over="ignore", invalid="ignore"):
            start = time.perf_counter()
            for i, (Xb, yb) in enumerate(batches, 1):
                whole = jitted is not None and hook is None
                if whole:  # the whole step: its loss is checked after its update
                    loss = jitted(Xb, yb)
                else:
                    loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
                if not isfinite(loss.item()):  # one scalar per step: the cheap divergence check
                    bar.close()
                    raise _diverged(opt, f"the batch loss became {loss.item()} at {desc}, step {i}/{len(batches)}")
                if not whole:
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

    def _evaluate(self, model: nn.Sequential, X: np.ndarray, y_idx: np.ndarray,
                  weight: np.ndarray | None = None) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over the whole set (weighted means with `weight`), in
        large batches, without a graph."""
        total, correct = 0.0, 0.0
        model.eval()
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):  # fit checks the result is finite
            for i in range(0, len(X), _EVAL_BATCH):
                logits = model(Tensor(X[i:i + _EVAL_BATCH]))
                yb = y_idx[i:i + _EVAL_BATCH]
                hit = logits.data.argmax(axis=1) == yb
                if weight is None:
                    total += float(F.softmax_cross_entropy(logits, yb, reduction="sum").item())
                    correct += int(hit.sum())
                else:
                    wb = weight[i:i + _EVAL_BATCH]
                    total += float(F.softmax_cross_entropy(logits, yb, reduction="none").data @ wb)
                    correct += float(hit @ wb)
        n = len(X) if weight is None else float(weight.sum())
        return total / n, correct / n

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

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy: the fraction of rows whose predicted class equals y (labels or one-hot),
        weighted by `sample_weight` (N,) when given."""
        self._check_fitted()
        X = self._checked_X(X, self.model_[0].W.dtype, self.n_features_in_)
        labels, one_hot = self._checked_y(y, len(X))
        weight = check_sample_weight(sample_weight, len(X))
        pred = self._logits(self.model_, X).argmax(axis=1)
        hit = pred == labels if one_hot else self.classes_[pred] == labels
        return float(np.average(hit, weights=weight))

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
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"format {found!r}, expected {_FORMAT!r}")
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


def _rng(random_state: Any) -> np.random.Generator:
    """A Generator from `random_state`; a legacy RandomState is drawn from (so it advances)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    return init.make_rng(random_state)


def _weighted_one_hot(y_idx: np.ndarray, weight: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    """Targets (N, C): one-hot rows scaled by weight / mean(weight), so the mean batch loss
    is the weighted one (the fused cross-entropy takes unnormalised target rows)."""
    t = np.zeros((len(y_idx), n_classes), dtype=dtype)
    t[np.arange(len(y_idx)), y_idx] = weight / weight.mean()
    return t


def _diverged(opt: Any, what: str) -> TrainingDivergedError:
    groups = getattr(opt, "param_groups", None) or [{}]
    lr = groups[0].get("lr")
    return TrainingDivergedError(
        f"training diverged: {what} (non-finite); try a smaller learning rate"
        + (f" than lr={lr:g}" if isinstance(lr, (int, float)) else "")
        + " or scale the inputs (e.g. to [0, 1], or to zero mean and unit variance)")


def _check_finite(model: nn.Module, opt: Any, loss: float, where: str, n_steps: int) -> None:
    """After an epoch: every weight and the whole-set loss are finite (one pass over the weights)."""
    for name, p in model.named_parameters():
        if not np.isfinite(p.data).all():
            raise _diverged(opt, f"weight {name} became NaN or infinite during {where} "
                                 f"(found after its last step, {n_steps})")
    if not isfinite(loss):
        raise _diverged(opt, f"the training loss became {loss} after {where}")


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


__all__ = ["DeepNeuralNetworkClassifier", "NotFittedError", "TrainingDivergedError", "ACTIVATIONS", "OPTIMIZERS",
           "INITIALIZERS"]
