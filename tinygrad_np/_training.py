"""What a `DeepNeuralNetworkClassifier` fit continues from, and scikit-learn's `MLPClassifier` rules
for stopping (`tol`, `n_iter_no_change`, `early_stopping`) and for the L2 penalty (`alpha`).

A `TrainingState` holds the network, its optimizer (with its state), the shuffling generator, the
per-epoch curves and the counters.  A fresh fit makes one; `warm_start` and `partial_fit` continue a
copy of the fitted one (so a failed fit leaves the fitted classifier as it was); `save` / `load`
write and read every part of it, which is what makes "2 epochs, save, load, 2 more" equal 4 epochs.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from math import inf
from typing import Any

import numpy as np

from tinygrad_np.data import MiniBatches

CURVES = ("loss_train", "accuracy_train", "loss_val", "accuracy_val", "epoch_time", "loss_curve")


@dataclass
class TrainingState:
    """The learned state of a classifier, as one value.

    curves: per-epoch lists (`CURVES`); n_iter: epochs run; t: training samples seen;
    best_loss / validation_scores / best_validation_score: as `MLPClassifier`'s `best_loss_`,
    `validation_scores_`, `best_validation_score_` (None where they do not apply).
    """

    model: Any
    optimizer: Any
    rng: np.random.Generator
    curves: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in CURVES})
    n_iter: int = 0
    t: int = 0
    best_loss: float | None = None
    validation_scores: list[float] | None = None
    best_validation_score: float | None = None

    def copy(self) -> TrainingState:
        """An independent copy; model, optimizer and generator are copied together, so the copied
        optimizer's state is keyed by the copied parameters."""
        model, optimizer, rng = copy.deepcopy((self.model, self.optimizer, self.rng))
        return TrainingState(model, optimizer, rng, {k: list(v) for k, v in self.curves.items()}, self.n_iter,
                             self.t, self.best_loss, None if self.validation_scores is None
                             else list(self.validation_scores), self.best_validation_score)


class Stopping:
    """`MLPClassifier`'s convergence rule, one call of `end_epoch` per epoch.

    Without early stopping: an epoch whose mean batch loss (`loss_curve_`) is not below
    `best_loss_ - tol` counts as no improvement.  With it: one whose validation accuracy is not
    above `best_validation_score_ + tol`; the weights of the best validation score are kept and
    `restore` puts them back.  Training stops when more than `n_iter_no_change` epochs in a row
    did not improve.  The count starts at 0 in every fit, as in scikit-learn.
    """

    def __init__(self, state: TrainingState, early_stopping: bool, tol: float, n_iter_no_change: int) -> None:
        self.state, self.early_stopping, self.tol, self.patience = state, early_stopping, tol, n_iter_no_change
        self.count = 0
        self.best_weights: dict[str, np.ndarray] | None = None
        if early_stopping:
            state.best_loss = None
            if state.validation_scores is None:
                state.validation_scores = []
            if state.best_validation_score is None:
                state.best_validation_score = -inf
        else:
            state.validation_scores = state.best_validation_score = None
            if state.best_loss is None:
                state.best_loss = inf

    def end_epoch(self, loss: float, score: float | None) -> bool:
        """Record the epoch's mean batch loss and (with early stopping) validation accuracy;
        True when training should stop."""
        s = self.state
        if self.early_stopping:
            assert s.validation_scores is not None and s.best_validation_score is not None and score is not None
            s.validation_scores.append(score)
            self.count = self.count + 1 if score < s.best_validation_score + self.tol else 0
            if score > s.best_validation_score:
                s.best_validation_score = score
                self.best_weights = {k: v.copy() for k, v in s.model.state_dict().items()}
        else:
            assert s.best_loss is not None
            self.count = self.count + 1 if loss > s.best_loss - self.tol else 0
            s.best_loss = min(s.best_loss, loss)
        return self.count > self.patience

    def restore(self) -> None:
        """With early stopping: load the weights of the best validation score seen in this fit."""
        if self.early_stopping and self.best_weights is not None:
            self.state.model.load_state_dict(self.best_weights)


def hold_out(n_rows: int, y_idx: np.ndarray, fraction: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) for early stopping: a share `fraction` of each class, at least
    one row of the whole set and never a class's last row, drawn from `rng` (stratified, as
    scikit-learn's MLPClassifier splits)."""
    val = []
    for c in np.unique(y_idx):
        rows = rng.permutation(np.flatnonzero(y_idx == c))
        val.append(rows[:min(int(round(fraction * len(rows))), len(rows) - 1)])
    val_rows = np.sort(np.concatenate(val))
    if len(val_rows) == 0:
        raise ValueError(f"validation_fraction={fraction} of {n_rows} samples leaves no validation samples for "
                         "early_stopping; use a larger validation_fraction or more samples")
    train_rows = np.setdiff1d(np.arange(n_rows), val_rows)
    return train_rows, val_rows


def l2_penalty(weights: list[Any], alpha: float, n: int) -> float:
    """Add the gradient of alpha / (2 n) * sum ||W||^2 to each weight's `.grad` (in place) and return
    the penalty, as `MLPClassifier` does per batch of n rows.  `weights`: the weight matrices only,
    no biases."""
    scale = alpha / n
    total = 0.0
    for w in weights:
        d = w.data
        total += float(np.vdot(d, d))
        if w.grad is not None:
            w.grad += scale * d
    return 0.5 * scale * total


def weight_matrices(model: Any) -> list[Any]:
    """The parameters `alpha` penalises: the weights (2 or more dimensions), not the biases."""
    return [p for p in model.parameters() if p.data.ndim >= 2]


def epoch_batches(X: np.ndarray, targets: np.ndarray, batch_size: int, rng: np.random.Generator,
                  resumed: bool, rank: int = 0, world_size: int = 1) -> MiniBatches:
    """Mini-batches reshuffled from `rng` at every epoch.  A fresh fit builds them as `MiniBatches`
    does, with one permutation drawn at construction (the stream every seed has always given); a
    resumed fit skips that draw, so k epochs and then m resumed ones draw exactly what k + m epochs
    straight draw.  Data-parallel, each rank gets its share of every global batch."""
    if not resumed:
        return MiniBatches(X, targets, batch_size, shuffle=True, rng=rng, rank=rank, world_size=world_size)
    batches = MiniBatches(X, targets, batch_size, shuffle=False, rank=rank, world_size=world_size)
    batches.shuffle, batches.rng = True, rng
    return batches
