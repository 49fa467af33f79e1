"""`DeepNeuralNetworkClassifier`: the seed's fully connected classifier (or a small CNN) with a scikit-learn face.

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

import os
from typing import Any, Callable

import numpy as np

from tinygrad_np import _persistence, nn
from tinygrad_np import functional as F
from tinygrad_np._architecture import (ACTIVATIONS, EVAL_BATCH, INITIALIZERS, MODELS, OPTIMIZERS, build_network,
                                       layer_plan, layout, make_optimizer)
from tinygrad_np._architecture import CNN_CHANNELS  # noqa: F401  (re-exported: the CLI describes the CNN with it)
from tinygrad_np._random import from_random_state
from tinygrad_np._training import CURVES, TrainingDivergedError, TrainingState, hold_out, sync_ranks, train
from tinygrad_np._validation import (NotFittedError, check_labels, check_params, check_sample_weight, check_targets,
                                     check_X, class_indices, plain_label, sklearn_flavour, weighted_rows)
from tinygrad_np.autograd import no_grad
from tinygrad_np.tensor import Tensor


class DeepNeuralNetworkClassifier:
    """A fully connected network (FC -> activation, ..., FC -> softmax), or a small CNN in front of
    one (model="cnn"), trained by mini-batch descent.

    hidden_layer_sizes: widths of the hidden layers, e.g. (400, 200) for 784-400-200-10
        (with model="cnn": of the fully connected layers after the convolutions).
    activation: "relu" | "tanh" | "sigmoid".
    initializer: "auto" (He for ReLU, Xavier for tanh/sigmoid), "he", "xavier", "simple"
        (Gaussian with sigma 0.01, the seed's), or an initializer instance with
        `W(n_in, n_out)` / `B(n_out)` (e.g. `init.SimpleInitializer(0.01)`).
    optimizer: a name in `OPTIMIZERS` ("sgd", "momentum", "adagrad", "adam", ...) or a
        factory `f(params, lr=...)` returning an optimizer (e.g. `optim.SGD` or a partial).
    lr: learning rate; None takes the optimizer's entry in `OPTIMIZERS` (sgd 0.1,
        adagrad 0.01, adam 0.001, ...), or the factory's own default.
    epochs (scikit-learn's name: max_iter; give either, or both equal): passes over the
        training set per `fit`; None for both means 10.
    batch_size: rows per step (the loss is the batch mean); "auto", as MLPClassifier's
        default, is min(200, n_samples) for the rows each fit / partial_fit trains on.
    model: "mlp", the fully connected network, or "cnn": rows of square one-channel images
        (MNIST's 784 = 28 x 28) go through conv 3x3 (16 channels) -> activation -> max pool 2
        -> conv 3x3 (32) -> activation -> max pool 2, then the fully connected layers.
    batch_norm: batch normalisation before every hidden activation (BatchNorm2d after the
        convolutions, BatchNorm1d after the hidden FC layers).
    lr_decay: the learning rate is multiplied by this after every epoch (1.0: constant).
    dtype: None (the default, as MLPClassifier does), or "float32" / "float64" for the
        weights and the computation.  None computes in X's dtype: float32 X trains and
        predicts in float32, float64 X in float64, anything else (integers, lists) in
        float64; nothing upcasts float32.  Once fitted, the network's dtype is fixed:
        predict, score and a continued fit (warm_start, partial_fit) convert X to it, and an
        explicit dtype other than the network's is a ValueError when continuing.
    random_state: int, Generator, legacy RandomState (drawn from, as scikit-learn does) or
        None; seeds the weights and the shuffling.
    verbose: progress bar per epoch on a terminal, and an epoch summary line.
    blas_threads: BLAS threads during the training loop, restored after (None, the
        default: leave the process's pool as it is).  Small-batch matmuls are too small
        to share out; more threads only wait on each other, badly so on a busy machine.
        Needs threadpoolctl (the `threads` extra), as scikit-learn does.
    jit: run the training step through `tinygrad_np.jit` (recorded once per batch shape,
        then replayed); the results are identical to `jit=False`, the eager step.
    alpha, early_stopping, validation_fraction, n_iter_no_change, tol, warm_start: as in
        scikit-learn's MLPClassifier.  alpha: L2 penalty alpha / (2 * batch rows) * sum ||W||^2
        on the weights, not the biases (default 0: none; MLPClassifier's is 1e-4).
        Training stops when more than n_iter_no_change epochs in a row improve neither the
        mean batch loss by tol (nor, with early_stopping, the validation accuracy by tol);
        early_stopping validates on X_val / y_val when given, else holds out
        validation_fraction of the training set (per class), and restores the weights of
        the best validation accuracy.  warm_start: `fit` continues the fitted network, its
        optimizer state and its shuffling (a new lr, if given, applies); `partial_fit` is
        one epoch that always continues.

    Data-parallel: after `distributed.init()` (e.g. under `mpiexec -n 2`), call `fit` with
    the same arguments on every rank.  The ranks agree on rank 0's random state and
    weights, each trains on its share of every global batch of `batch_size` rows (which
    must divide by the number of ranks), gradients are averaged, and the per-epoch
    figures are computed over the whole sets, each rank evaluating a part.  Only rank 0
    prints.  The model follows the single-process trajectory up to rounding.

    Learned: `classes_`, `n_features_in_`, `model_` (an `nn.Sequential`), `optimizer_`,
    and per epoch `loss_train_`, `accuracy_train_`, `loss_val_`, `accuracy_val_` (each
    over the whole set after the epoch; the val lists stay empty without a validation
    set) and `epoch_time_` (seconds of training, evaluation excluded); MLPClassifier's
    `loss_curve_` (mean batch loss of each epoch, penalty included), `best_loss_`,
    `validation_scores_`, `best_validation_score_`, `n_iter_` (epochs run, over warm
    starts too) and `t_` (training samples seen).
    """

    def __init__(self, hidden_layer_sizes: Any = (400, 200), activation: str = "relu",
                 initializer: Any = "auto", optimizer: Any = "sgd", lr: float | None = None,
                 epochs: int | None = None, batch_size: int | str = "auto", dtype: Any = None,
                 random_state: Any = None, verbose: bool = False, blas_threads: int | None = None,
                 jit: bool = True, model: str = "mlp", batch_norm: bool = False, lr_decay: float = 1.0, *,
                 max_iter: int | None = None, alpha: float = 0.0, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, tol: float = 1e-4,
                 warm_start: bool = False) -> None:
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
        self.model = model
        self.batch_norm = batch_norm
        self.lr_decay = lr_decay
        self.max_iter = max_iter
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start

    # ---- scikit-learn protocol -----------------------------------------------------------------
    _PARAMS = ("hidden_layer_sizes", "activation", "initializer", "optimizer", "lr", "epochs",
               "batch_size", "dtype", "random_state", "verbose", "blas_threads", "jit", "model", "batch_norm",
               "lr_decay", "max_iter", "alpha", "early_stopping", "validation_fraction", "n_iter_no_change", "tol",
               "warm_start")

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

    # ---- checks: tinygrad_np/_validation.py ------------------------------------------------------
    @staticmethod
    def _checked_X(X: Any, dtype: np.dtype, n_features: int | None = None, name: str = "X") -> np.ndarray:
        return check_X(X, dtype, "DeepNeuralNetworkClassifier", n_features, name)

    @staticmethod
    def _checked_y(y: Any, n: int, name: str = "y") -> tuple[np.ndarray, bool]:
        return check_labels(y, n, "DeepNeuralNetworkClassifier", name)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise sklearn_flavour(NotFittedError)("this DeepNeuralNetworkClassifier is not fitted yet; "
                                                  "call fit(X, y) first")

    # ---- training: the loop in tinygrad_np/_training.py, the network in _architecture.py -------------
    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, sample_weight: Any = None, *,
            on_first_step: Callable[[Tensor, nn.Module], None] | None = None) -> DeepNeuralNetworkClassifier:
        """Train on X (N, n_features) and labels y (N,) or one-hot (N, C): from scratch, or with
        `warm_start=True` on a fitted classifier, on from where the last fit (or `load`) left off.

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
        p = check_params(self)
        continuing = self.warm_start and hasattr(self, "model_")
        X = self._checked_X(X, self._input_dtype(p, continuing))
        p["dtype"] = dtype = X.dtype
        labels, one_hot = self._checked_y(y, len(X))
        if one_hot:
            classes = np.arange(np.asarray(y).shape[1])
            y_idx = labels.astype(np.intp)
        else:
            classes, y_idx = np.unique(labels, return_inverse=True)
            y_idx = y_idx.reshape(-1).astype(np.intp)
        if len(np.unique(y_idx)) < 2:
            raise ValueError(f"y contains only one class ({plain_label(classes[y_idx[0]])!r}); "
                             "a classifier needs at least two")
        X, y_idx, weight = weighted_rows(X, y_idx, sample_weight, classes)
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        val = None
        if X_val is not None:
            Xv = self._checked_X(X_val, dtype, X.shape[1], "X_val")
            val_labels, val_one_hot = self._checked_y(y_val, len(Xv), "y_val")
            val = (Xv, class_indices(y_val, val_labels, val_one_hot, classes, "y_val", "y",
                                     "y_val has labels not seen in y: {unseen}"))

        if continuing:
            state = self._resumed(classes, X.shape[1], p)
        else:
            state = self._started(p, X.shape[1], len(classes))
        sync_ranks(state, (X.shape, dtype.name, len(classes), None if val is None else val[0].shape))
        if self.early_stopping and val is None:
            kept, held = hold_out(len(X), y_idx, self.validation_fraction, state.rng)
            val = (X[held], y_idx[held])
            X, y_idx, weight = X[kept], y_idx[kept], None if weight is None else weight[kept]
        train(self, state, len(classes), X, y_idx, weight, val, p["epochs"], self.early_stopping, on_first_step)
        # everything succeeded: publish the learned state at once
        self._set_learned(classes, X.shape[1], state)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> DeepNeuralNetworkClassifier:
        """One epoch over X (N, n_features) and labels y (N,) or one-hot (N, C), continuing the
        fitted network (its optimizer state and shuffling), as MLPClassifier.partial_fit.

        The first call builds the network and needs `classes` (every label that will occur);
        later calls may repeat it.  y may hold any subset of the classes.  No early stopping or
        `tol` rule applies; `n_iter_` and `t_` count on.
        """
        p = check_params(self)
        fitted = hasattr(self, "model_")
        X = self._checked_X(X, self._input_dtype(p, fitted), self.n_features_in_ if fitted else None)
        p["dtype"] = X.dtype
        labels, one_hot = self._checked_y(y, len(X))
        if classes is not None:
            classes = np.unique(check_targets(classes, "DeepNeuralNetworkClassifier", "classes"))
            if fitted and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes.tolist()} is not the same as on the last call to partial_fit, "
                                 f"was: {self.classes_.tolist()}")
        elif fitted:
            classes = self.classes_
        else:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if len(classes) < 2:
            raise ValueError(f"classes has {len(classes)} label(s); a classifier needs at least two")
        y_idx = class_indices(y, labels, one_hot, classes, "y", "classes",
                              "`y` has classes not in `self.classes_`: {unseen}; `self.classes_` has {classes}")
        X, y_idx, weight = weighted_rows(X, y_idx, sample_weight, classes, min_classes=1)
        state = self._resumed(classes, X.shape[1], p) if fitted else self._started(p, X.shape[1], len(classes))
        sync_ranks(state, (X.shape, X.dtype.name, len(classes), None))
        train(self, state, len(classes), X, y_idx, weight, None, 1, False, None, stop_rule=False)
        self._set_learned(classes, X.shape[1], state)
        return self

    def _input_dtype(self, p: dict[str, Any], continuing: bool) -> np.dtype | None:
        """The dtype a fit converts X to: the `dtype` parameter; for dtype=None the network's when
        continuing it, else None (`check_X` keeps float32 / float64 X, makes other input float64)."""
        if p["dtype"] is None and continuing:
            return self._dtype()
        return p["dtype"]

    def _started(self, p: dict[str, Any], n_features: int, n_classes: int) -> TrainingState:
        """A new network and optimizer; the generator seeds the weights, then shuffles."""
        rng = from_random_state(self.random_state)
        model = self._network(p, n_features, n_classes, rng)
        return TrainingState(model, make_optimizer(self.optimizer, self.lr, list(model.parameters())), rng)

    def _resumed(self, classes: np.ndarray, n_features: int, p: dict[str, Any]) -> TrainingState:
        """A copy of the fitted state to continue (warm_start, partial_fit), after checking that the
        data and the hyperparameters describe the same network."""
        if not np.array_equal(classes, self.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous "
                             f"call to fit. Previously got {self.classes_.tolist()}, `y` has {classes.tolist()}")
        if n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but DeepNeuralNetworkClassifier is expecting "
                             f"{self.n_features_in_} features as input")
        probe = self._network(p, n_features, len(classes), np.random.default_rng(0))
        if layout(probe) != layout(self.model_):
            raise ValueError("warm_start / partial_fit: hidden_layer_sizes, activation or dtype changed since the "
                             "network was fitted; set warm_start=False to fit a new one")
        rng = getattr(self, "_shuffle_rng", None)
        rng = rng if rng is not None else from_random_state(self.random_state)
        state = TrainingState(self.model_, self.optimizer_, rng,
                              {k: list(getattr(self, f"{k}_")) for k in CURVES}, self.n_iter_, self.t_,
                              self.best_loss_, self.validation_scores_, self.best_validation_score_).copy()
        if state.optimizer is None:  # loaded from a file of format 1, which had no optimizer state
            state.optimizer = make_optimizer(self.optimizer, self.lr, list(state.model.parameters()))
        elif self.lr is not None:
            for group in state.optimizer.param_groups:
                group["lr"] = self.lr
        return state

    def _set_learned(self, classes: np.ndarray, n_features: int, state: TrainingState) -> None:
        """Set every learned attribute (the ones ending in `_`) together: by `fit` and by `load`."""
        self.classes_ = classes
        self.n_features_in_ = int(n_features)
        self.model_ = state.model
        self.optimizer_ = state.optimizer
        for k in CURVES:
            setattr(self, f"{k}_", state.curves[k])
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        self.best_loss_ = state.best_loss
        self.validation_scores_ = state.validation_scores
        self.best_validation_score_ = state.best_validation_score
        self._shuffle_rng = state.rng

    def _network(self, p: dict[str, Any], n_features: int, n_classes: int, rng: np.random.Generator) -> nn.Sequential:
        """The network the checked hyperparameters `p` describe, its weights drawn from `rng`."""
        plan = layer_plan(self.model, self.batch_norm, p["sizes"], n_features, n_classes)
        return build_network(plan, self.activation, self.initializer, p["dtype"], rng)

    # ---- prediction ----------------------------------------------------------------------------------
    def _dtype(self) -> np.dtype:
        return next(self.model_.parameters()).dtype

    def _logits(self, model: nn.Sequential, X: np.ndarray) -> np.ndarray:
        model.eval()
        rows = EVAL_BATCH[self.model]
        with no_grad():
            return np.concatenate([model(Tensor(X[i:i + rows])).data for i in range(0, len(X), rows)])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, n_classes), columns in the order of `classes_`."""
        self._check_fitted()
        X = self._checked_X(X, self._dtype(), self.n_features_in_)
        logits = self._logits(self.model_, X)
        with no_grad():
            return F.softmax(logits, axis=1).data

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as values of `classes_`."""
        self._check_fitted()
        X = self._checked_X(X, self._dtype(), self.n_features_in_)
        return self.classes_[self._logits(self.model_, X).argmax(axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy: the fraction of rows whose predicted class equals y (labels or one-hot),
        weighted by `sample_weight` (N,) when given."""
        self._check_fitted()
        X = self._checked_X(X, self._dtype(), self.n_features_in_)
        labels, one_hot = self._checked_y(y, len(X))
        weight = check_sample_weight(sample_weight, len(X))
        pred = self._logits(self.model_, X).argmax(axis=1)
        hit = pred == labels if one_hot else self.classes_[pred] == labels
        return float(np.average(hit, weights=weight))

    # ---- persistence: tinygrad_np/_persistence.py -------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted classifier to an .npz file at `path`, atomically (see `_persistence.save`)."""
        _persistence.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DeepNeuralNetworkClassifier:
        """Read a classifier written by `save`; ValueError naming the path if the file is not one
        (a missing file: `MissingFileError`, both a ValueError and a FileNotFoundError)."""
        return _persistence.load(cls, path)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects compare as different
        return False


__all__ = ["DeepNeuralNetworkClassifier", "NotFittedError", "TrainingDivergedError", "ACTIVATIONS", "OPTIMIZERS",
           "INITIALIZERS", "MODELS"]