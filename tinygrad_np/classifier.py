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
import time
from math import isfinite
from typing import Any, Callable

import numpy as np

from tinygrad_np import distributed
from tinygrad_np import functional as F
from tinygrad_np import _persistence, init, nn, optim
from tinygrad_np._threads import blas_threads
from tinygrad_np._progress import progress_bar
from tinygrad_np._validation import (NotFittedError, check_sample_weight, check_targets, check_X,
                                     sklearn_flavour)
from tinygrad_np._validation import is_int as _is_int
from tinygrad_np.data import MiniBatches
from tinygrad_np._training import (CURVES, Stopping, TrainingState, hold_out, l2_penalty, epoch_batches,
                                   weight_matrices)
from tinygrad_np.jit import jit
from tinygrad_np.autograd import no_grad
from tinygrad_np.tensor import Tensor

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
_EVAL_BATCH = {"mlp": 4096, "cnn": 128}  # rows per forward pass when evaluating whole sets (cache-sized for cnn)
MODELS = ("mlp", "cnn")
CNN_CHANNELS = (16, 32)  # model="cnn": two 3x3 convolutions (padding 1), each followed by a 2x2 max pool


def _sync_ranks(state: TrainingState, shapes: tuple) -> None:
    """Data-parallel: every rank must take the same steps, so all check that their data shapes (and
    the dtype X is computed in) agree and take rank 0's weights and shuffling state (nothing
    happens in a single process)."""
    if distributed.is_initialized():
        distributed.check_same(shapes, "fit: the shape and dtype of X, the number of classes and the shape of X_val")
        state.rng.bit_generator.state = distributed.broadcast_object(state.rng.bit_generator.state)
        distributed.broadcast_parameters(state.model)


class TrainingDivergedError(ValueError):
    """`fit` stopped because the loss or the weights became NaN or infinite."""


def _label(v: Any) -> Any:
    """A class label as a plain Python value, for messages (1, not np.int64(1))."""
    return v.item() if isinstance(v, np.generic) else v


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

    # ---- checks ----------------------------------------------------------------------------------
    def _checked_params(self) -> dict[str, Any]:
        """Validate every hyperparameter; return them normalised (dtype: None or a float dtype).
        Changes nothing."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if _is_int(sizes) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(_is_int(n) and n >= 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be a sequence of positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if not isinstance(self.batch_norm, (bool, np.bool_)):
            raise ValueError(f"batch_norm must be True or False, got {self.batch_norm!r}")
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
        decay = self.lr_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float, np.floating)) or not 0 < decay <= 1:
            raise ValueError(f"lr_decay must be a number in (0, 1], got {decay!r}")
        lr = self.lr
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                               or not np.isfinite(lr) or lr <= 0):
            raise ValueError(f"lr must be a positive finite number or None, got {lr!r}")
        epochs = self._checked_epochs()
        bs = self.batch_size
        if not (isinstance(bs, str) and bs == "auto") and (not _is_int(bs) or bs < 1):
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {bs!r}")
        dtype = None
        if self.dtype is not None:  # np.dtype(None) would be float64
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                pass
            if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
                raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        bt = self.blas_threads
        if bt is not None and (not _is_int(bt) or bt < 1):
            raise ValueError(f"blas_threads must be a positive integer or None, got {bt!r}")
        if not isinstance(self.jit, bool):
            raise ValueError(f"jit must be True or False, got {self.jit!r}")
        rs = self.random_state
        if not (rs is None or _is_int(rs) or isinstance(rs, (np.random.Generator, np.random.RandomState))):
            raise ValueError(f"random_state must be an int, a numpy.random.Generator, a numpy.random.RandomState "
                             f"or None, got {rs!r}")
        self._check_mlp_params()
        return dict(sizes=sizes, dtype=dtype, epochs=epochs)

    def _checked_epochs(self) -> int:
        """`epochs` or its alias `max_iter` (scikit-learn's name); both given must agree."""
        for name in ("epochs", "max_iter"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if self.epochs is not None and self.max_iter is not None and self.epochs != self.max_iter:
            raise ValueError(f"epochs={self.epochs!r} and max_iter={self.max_iter!r} differ: max_iter is "
                             "scikit-learn's name for epochs; give one of them")
        return int(self.max_iter if self.max_iter is not None else self.epochs if self.epochs is not None else 10)

    def _check_mlp_params(self) -> None:
        """The MLPClassifier parameters: alpha, tol >= 0, n_iter_no_change >= 1, validation_fraction
        in [0, 1), early_stopping and warm_start booleans."""
        for name in ("alpha", "tol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not (0 <= v < np.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if not _is_int(self.n_iter_no_change) or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be a positive integer, got {self.n_iter_no_change!r}")
        vf = self.validation_fraction
        if isinstance(vf, bool) or not isinstance(vf, (int, float, np.floating)) or not 0 <= vf < 1:
            raise ValueError(f"validation_fraction must be a number in [0, 1), got {vf!r}")
        for name in ("early_stopping", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

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
                  classes: np.ndarray, min_classes: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, y_idx, weight) without the rows of weight 0; weight None when all are equal."""
        w = check_sample_weight(sample_weight, len(X))
        if w is None:
            return X, y_idx, None
        if not w.all():
            keep = w > 0
            X, y_idx, w = X[keep], y_idx[keep], w[keep]
            if len(np.unique(y_idx)) < min_classes:
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

    def _plan(self, sizes: tuple[int, ...], n_in: int, n_out: int) -> list[tuple[str, tuple[int, ...]]]:
        """The layers as (kind, sizes), nothing allocated: "unflatten" (side,), "conv" (in, out),
        "bn2d" / "bn1d" (channels,), "act", "pool", "flatten", "fc" (n_in, n_out)."""
        plan: list[tuple[str, tuple[int, ...]]] = []
        if self.model == "cnn":
            side = int(np.sqrt(n_in))
            if side * side != n_in or side < 4:
                raise ValueError(f"model='cnn' needs rows of square one-channel images (a square number of "
                                 f"features >= 16, like MNIST's 784 = 28 x 28), got {n_in} features")
            plan.append(("unflatten", (side,)))
            channels = 1
            for c in CNN_CHANNELS:
                plan += [("conv", (channels, c))] + [("bn2d", (c,))] * bool(self.batch_norm)
                plan += [("act", ()), ("pool", ())]
                channels, side = c, side // 2
            plan.append(("flatten", ()))
            n_in = channels * side * side
        dims = (n_in, *sizes, n_out)
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            plan.append(("fc", (a, b)))
            if i < len(dims) - 2:
                plan += [("bn1d", (b,))] * bool(self.batch_norm) + [("act", ())]
        return plan

    @staticmethod
    def _n_weights(plan: list[tuple[str, tuple[int, ...]]]) -> int:
        """The number of values in the state dict of the network `plan` describes."""
        sizes = {"conv": lambda a, b: a * 9 * b + b, "fc": lambda a, b: a * b + b,
                 "bn2d": lambda c: 4 * c, "bn1d": lambda c: 4 * c}  # BatchNorm: weight, bias, 2 running statistics
        return sum(sizes[kind](*args) for kind, args in plan if kind in sizes)

    def _build(self, plan: list[tuple[str, tuple[int, ...]]], dtype: np.dtype,
               rng: np.random.Generator) -> nn.Sequential:
        initializer = self._make_initializer(rng, dtype)
        make = {"unflatten": lambda side: nn.Unflatten(1, (1, side, side)),
                "conv": lambda a, b: nn.Conv2d(a, b, 3, padding=1, initializer=initializer),
                "bn2d": nn.BatchNorm2d, "bn1d": nn.BatchNorm1d, "act": ACTIVATIONS[self.activation],
                "pool": lambda: nn.MaxPool2d(2), "flatten": nn.Flatten,
                "fc": lambda a, b: nn.FC(a, b, initializer=initializer)}
        return nn.Sequential(*(make[kind](*args) for kind, args in plan)).to(dtype)

    # ---- training ------------------------------------------------------------------------------------
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
        p = self._checked_params()
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

        if continuing:
            state = self._resumed(classes, X.shape[1], p)
        else:
            state = self._started(p, X.shape[1], len(classes))
        _sync_ranks(state, (X.shape, dtype.name, len(classes), None if val is None else val[0].shape))
        if self.early_stopping and val is None:
            train, held = hold_out(len(X), y_idx, self.validation_fraction, state.rng)
            val = (X[held], y_idx[held])
            X, y_idx, weight = X[train], y_idx[train], None if weight is None else weight[train]
        self._train(state, len(classes), X, y_idx, weight, val, p["epochs"], self.early_stopping, on_first_step)
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
        p = self._checked_params()
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
        if one_hot:
            if np.asarray(y).shape[1] != len(classes):
                raise ValueError(f"y has {np.asarray(y).shape[1]} one-hot columns, classes has {len(classes)}")
            y_idx = labels.astype(np.intp)
        else:
            unseen = np.setdiff1d(labels, classes)
            if len(unseen):
                raise ValueError(f"`y` has classes not in `self.classes_`: {unseen[:5].tolist()}; "
                                 f"`self.classes_` has {classes.tolist()}")
            y_idx = np.searchsorted(classes, labels).astype(np.intp)
        X, y_idx, weight = self._weighted(X, y_idx, sample_weight, classes, min_classes=1)
        state = self._resumed(classes, X.shape[1], p) if fitted else self._started(p, X.shape[1], len(classes))
        _sync_ranks(state, (X.shape, X.dtype.name, len(classes), None))
        self._train(state, len(classes), X, y_idx, weight, None, 1, False, None, stop_rule=False)
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
        rng = _rng(self.random_state)
        model = self._build(self._plan(p["sizes"], n_features, n_classes), p["dtype"], rng)
        return TrainingState(model, self._make_optimizer(list(model.parameters())), rng)

    def _resumed(self, classes: np.ndarray, n_features: int, p: dict[str, Any]) -> TrainingState:
        """A copy of the fitted state to continue (warm_start, partial_fit), after checking that the
        data and the hyperparameters describe the same network."""
        if not np.array_equal(classes, self.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous "
                             f"call to fit. Previously got {self.classes_.tolist()}, `y` has {classes.tolist()}")
        if n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but DeepNeuralNetworkClassifier is expecting "
                             f"{self.n_features_in_} features as input")
        probe = self._build(self._plan(p["sizes"], n_features, len(classes)), p["dtype"], np.random.default_rng(0))
        if _layout(probe) != _layout(self.model_):
            raise ValueError("warm_start / partial_fit: hidden_layer_sizes, activation or dtype changed since the "
                             "network was fitted; set warm_start=False to fit a new one")
        rng = getattr(self, "_shuffle_rng", None)
        state = TrainingState(self.model_, self.optimizer_, rng if rng is not None else _rng(self.random_state),
                              {k: list(getattr(self, f"{k}_")) for k in CURVES}, self.n_iter_, self.t_,
                              self.best_loss_, self.validation_scores_, self.best_validation_score_).copy()
        if state.optimizer is None:  # loaded from a file of format 1, which had no optimizer state
            state.optimizer = self._make_optimizer(list(state.model.parameters()))
        elif self.lr is not None:
            for group in state.optimizer.param_groups:
                group["lr"] = self.lr
        return state

    def _train(self, state: TrainingState, n_classes: int, X: np.ndarray, y_idx: np.ndarray, weight: np.ndarray | None,
               val: tuple[np.ndarray, np.ndarray] | None, n_epochs: int, early_stopping: bool,
               hook: Callable[[Tensor, nn.Module], None] | None, stop_rule: bool = True) -> None:
        """Up to `n_epochs` epochs on `state` (in place): curves and counters appended, the
        stopping rule applied (`_training.Stopping`), the best weights restored with early stopping."""
        model, opt = state.model, state.optimizer
        if distributed.is_initialized():  # gradients averaged over the ranks; fit keeps no .grad
            opt = distributed.DistributedOptimizer(opt, gradient_as_bucket_view=True)
        verbose = self.verbose and distributed.rank() == 0
        targets = y_idx if weight is None else _weighted_one_hot(y_idx, weight, n_classes, X.dtype)
        batch_size, world = self.batch_size, distributed.world_size()
        if isinstance(batch_size, str):  # "auto", MLPClassifier's
            batch_size = min(200, len(X))
            if batch_size % world:
                raise ValueError(f"batch_size='auto' is min(200, n_samples) = {batch_size} here, which does not "
                                 f"divide by the {world} processes; pass a batch_size that does")
        batches = epoch_batches(X, targets, batch_size, state.rng, resumed=state.n_iter > 0,
                                rank=distributed.rank(), world_size=world)
        stopping = Stopping(state, early_stopping, self.tol, self.n_iter_no_change)
        curves = state.curves
        for epoch in range(n_epochs):
            where = f"epoch {epoch + 1}/{n_epochs}"
            seconds, batch_loss = self._train_epoch(model, opt, batches, where, verbose, hook)
            hook = None
            if self.lr_decay != 1:  # kept in the optimizer's groups, so a resumed fit decays on
                for group in state.optimizer.param_groups:
                    group["lr"] *= self.lr_decay
            t0 = time.perf_counter()
            loss, acc = self._evaluate(model, X, y_idx, weight)
            _check_finite(model, opt, loss, where, len(batches))
            curves["loss_train"].append(loss)
            curves["accuracy_train"].append(acc)
            loss_v = acc_v = None
            if val is not None:
                loss_v, acc_v = self._evaluate(model, *val)
                curves["loss_val"].append(loss_v)
                curves["accuracy_val"].append(acc_v)
            curves["epoch_time"].append(seconds)
            curves["loss_curve"].append(batch_loss)
            state.n_iter += 1
            state.t += len(X)
            stop = stopping.end_epoch(batch_loss, acc_v) and stop_rule
            if verbose:
                line = f"epoch {epoch + 1:>{len(str(n_epochs))}}/{n_epochs}  train loss {loss:.4f}"
                if val is not None:
                    line += f"  val loss {loss_v:.4f}  val acc {100 * acc_v:.2f}%"
                else:
                    line += f"  train acc {100 * acc:.2f}%"
                line += f"  {seconds:.1f} s (+{time.perf_counter() - t0:.1f} s eval)"
                print(line, flush=True)
                if stop:
                    what = "validation accuracy" if early_stopping else "mean batch loss"
                    print(f"stopped: the {what} did not improve by tol={self.tol:g} for "
                          f"{self.n_iter_no_change + 1} epochs", flush=True)
            if stop:
                break
        stopping.restore()

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

    def _train_epoch(self, model: nn.Sequential, opt: Any, batches: MiniBatches, desc: str,
                     verbose: bool, hook: Callable[[Tensor, nn.Module], None] | None = None) -> tuple[float, float]:
        """One pass over the mini-batches; returns (its seconds, not counting `hook`, called with the
        first step's loss before its backward; the mean batch loss, the alpha penalty included).
        This loop is the hot path."""
        model.train()
        bar = progress_bar(len(batches), desc, enabled=None if verbose else False)
        # Data-parallel: a rank's share of the last, partial batch may be smaller than the others'
        # (or empty); its loss is weighted so that the mean over the ranks is the batch mean.
        world = batches.world_size
        share = batches.batch_size // world
        last = len(batches.X) - (len(batches) - 1) * batches.batch_size
        every = 25
        forward, zero_grad, step = model.forward, opt.zero_grad, opt.step
        loss_fn = F.softmax_cross_entropy
        penalised = weight_matrices(model) if self.alpha else []
        total, seen = 0.0, 0

        def train_step(Xb: np.ndarray, yb: np.ndarray) -> Tensor:
            loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
            zero_grad()
            loss.backward()
            step()
            return loss

        # The whole step is jitted unless something outside the graph joins it: the first-step
        # hook, the alpha penalty on the gradients, or (data-parallel) the Allreduce.
        jitted = jit(train_step) if self.jit and not penalised and world == 1 else None
        # overflow shows as a non-finite loss, reported with a remedy, not as numpy warnings
        with blas_threads(self.blas_threads), np.errstate(over="ignore", invalid="ignore"):
            start = time.perf_counter()
            for i, (Xb, yb) in enumerate(batches, 1):
                whole = jitted is not None and hook is None
                if whole:  # the whole step: its loss is checked after its update
                    loss = jitted(Xb, yb)
                elif world > 1 and len(yb) != share:
                    loss = loss_fn(forward(Tensor(Xb)), yb, reduction="sum") * (world / last)
                else:
                    loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
                value = loss.item()
                # The cheap divergence check, one scalar per step.  Data-parallel, a rank's own batch
                # loss would stop that rank alone; the epoch's check (same weights, global loss) stops all.
                if world == 1 and not isfinite(value):
                    bar.close()
                    raise _diverged(opt, f"the batch loss became {value} at {desc}, step {i}/{len(batches)}")
                if not whole:
                    if hook is not None:
                        t0 = time.perf_counter()
                        hook(loss, model)
                        hook = None
                        start += time.perf_counter() - t0
                    zero_grad()
                    loss.backward()
                    if penalised:
                        value += l2_penalty(penalised, self.alpha, len(Xb))
                    step()
                total += value * len(Xb)
                seen += len(Xb)
                if i % every == 0 and bar.enabled:
                    bar.set_postfix_str(f"loss {total / seen:.4f}")
                    bar.update(every)
            seconds = time.perf_counter() - start
        bar.close()
        return seconds, total / seen

    def _logits(self, model: nn.Sequential, X: np.ndarray) -> np.ndarray:
        model.eval()
        rows = _EVAL_BATCH[self.model]
        with no_grad():
            return np.concatenate([model(Tensor(X[i:i + rows])).data for i in range(0, len(X), rows)])

    def _evaluate(self, model: nn.Sequential, X: np.ndarray, y_idx: np.ndarray,
                  weight: np.ndarray | None = None) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over the whole set (weighted means with `weight`), in
        large batches, without a graph.

        Data-parallel: each rank evaluates a contiguous part of the rows and the sums are added up."""
        total, correct = 0.0, 0.0
        r, w = distributed.rank(), distributed.world_size()
        lo, hi = len(X) * r // w, len(X) * (r + 1) // w
        model.eval()
        rows = _EVAL_BATCH[self.model]
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):  # fit checks the result is finite
            for i in range(lo, hi, rows):
                j = min(i + rows, hi)
                logits = model(Tensor(X[i:j]))
                yb = y_idx[i:j]
                hit = logits.data.argmax(axis=1) == yb
                if weight is None:
                    total += float(F.softmax_cross_entropy(logits, yb, reduction="sum").item())
                    correct += int(hit.sum())
                else:
                    wb = weight[i:j]
                    total += float(F.softmax_cross_entropy(logits, yb, reduction="none").data @ wb)
                    correct += float(hit @ wb)
        if w > 1:
            total, correct = (float(v) for v in distributed.all_reduce(np.array([total, correct]), op="sum"))
        n = len(X) if weight is None else float(weight.sum())
        return total / n, correct / n

    # ---- prediction ----------------------------------------------------------------------------------
    def _dtype(self) -> np.dtype:
        return next(self.model_.parameters()).dtype

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


def _rng(random_state: Any) -> np.random.Generator:
    """A Generator from `random_state`; a legacy RandomState is drawn from (so it advances)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    return init.make_rng(random_state)


def _layout(model: nn.Module) -> list[Any]:
    """What must agree for a network to continue another's training: layer types, weight names,
    shapes and dtypes."""
    return [type(m).__name__ for m in model.modules()] + [(k, v.shape, v.dtype) for k, v in
                                                         model.state_dict().items()]


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


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects compare as different
        return False


__all__ = ["DeepNeuralNetworkClassifier", "NotFittedError", "TrainingDivergedError", "ACTIVATIONS", "OPTIMIZERS",
           "INITIALIZERS", "MODELS"]
