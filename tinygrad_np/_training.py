"""How a `DeepNeuralNetworkClassifier` trains: what a fit continues from, the training loop, and
scikit-learn's `MLPClassifier` rules for stopping (`tol`, `n_iter_no_change`, `early_stopping`) and
for the L2 penalty (`alpha`).

A `TrainingState` holds the network, its optimizer (with its state), the shuffling generator, the
per-epoch curves and the counters.  A fresh fit makes one; `warm_start` and `partial_fit` continue a
copy of the fitted one (so a failed fit leaves the fitted classifier as it was); `save` / `load`
write and read every part of it, which is what makes "2 epochs, save, load, 2 more" equal 4 epochs.

`train` runs the epochs of a fit on a `TrainingState` (`train_epoch` is the hot loop, `evaluate`
the per-epoch figures), data-parallel when `distributed.init()` has been called, and raises
`TrainingDivergedError` when the loss or the weights become NaN or infinite.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from math import inf, isfinite
from typing import Any, Callable

import numpy as np

from tinygrad_np import distributed, nn
from tinygrad_np import functional as F
from tinygrad_np._architecture import EVAL_BATCH
from tinygrad_np._progress import progress_bar
from tinygrad_np._threads import blas_threads
from tinygrad_np.autograd import no_grad
from tinygrad_np.data import MiniBatches
from tinygrad_np.jit import jit
from tinygrad_np.tensor import Tensor

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


class TrainingDivergedError(ValueError):
    """`fit` stopped because the loss or the weights became NaN or infinite."""


def sync_ranks(state: TrainingState, shapes: tuple) -> None:
    """Data-parallel: every rank must take the same steps, so all check that their data shapes (and
    the dtype X is computed in) agree and take rank 0's weights and shuffling state (nothing
    happens in a single process)."""
    if distributed.is_initialized():
        distributed.check_same(shapes, "fit: the shape and dtype of X, the number of classes and the shape of X_val")
        state.rng.bit_generator.state = distributed.broadcast_object(state.rng.bit_generator.state)
        distributed.broadcast_parameters(state.model)


def train(clf: Any, state: TrainingState, n_classes: int, X: np.ndarray, y_idx: np.ndarray,
          weight: np.ndarray | None, val: tuple[np.ndarray, np.ndarray] | None, n_epochs: int, early_stopping: bool,
          hook: Callable[[Tensor, nn.Module], None] | None, stop_rule: bool = True) -> None:
    """Up to `n_epochs` epochs on `state` (in place): curves and counters appended, the
    stopping rule applied (`Stopping`), the best weights restored with early stopping.
    `clf`: the classifier whose hyperparameters (batch_size, alpha, lr_decay, tol, n_iter_no_change,
    jit, blas_threads, verbose, model) the loop follows; X (N, n_features), y_idx (N,) class indices,
    weight (N,) or None; val (X_val, y_val indices) or None."""
    model, opt = state.model, state.optimizer
    rows = EVAL_BATCH[clf.model]
    if distributed.is_initialized():  # gradients averaged over the ranks; fit keeps no .grad
        opt = distributed.DistributedOptimizer(opt, gradient_as_bucket_view=True)
    verbose = clf.verbose and distributed.rank() == 0
    targets = y_idx if weight is None else weighted_one_hot(y_idx, weight, n_classes, X.dtype)
    batch_size, world = clf.batch_size, distributed.world_size()
    if isinstance(batch_size, str):  # "auto", MLPClassifier's
        batch_size = min(200, len(X))
        if batch_size % world:
            raise ValueError(f"batch_size='auto' is min(200, n_samples) = {batch_size} here, which does not "
                             f"divide by the {world} processes; pass a batch_size that does")
    batches = epoch_batches(X, targets, batch_size, state.rng, resumed=state.n_iter > 0,
                            rank=distributed.rank(), world_size=world)
    stopping = Stopping(state, early_stopping, clf.tol, clf.n_iter_no_change)
    curves = state.curves
    for epoch in range(n_epochs):
        where = f"epoch {epoch + 1}/{n_epochs}"
        seconds, batch_loss = train_epoch(model, opt, batches, where, verbose, hook, alpha=clf.alpha,
                                          use_jit=clf.jit, threads=clf.blas_threads)
        hook = None
        if clf.lr_decay != 1:  # kept in the optimizer's groups, so a resumed fit decays on
            for group in state.optimizer.param_groups:
                group["lr"] *= clf.lr_decay
        t0 = time.perf_counter()
        loss, acc = evaluate(model, X, y_idx, weight, rows=rows)
        check_finite(model, opt, loss, where, len(batches))
        curves["loss_train"].append(loss)
        curves["accuracy_train"].append(acc)
        loss_v = acc_v = None
        if val is not None:
            loss_v, acc_v = evaluate(model, *val, rows=rows)
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
                print(f"stopped: the {what} did not improve by tol={clf.tol:g} for "
                      f"{clf.n_iter_no_change + 1} epochs", flush=True)
        if stop:
            break
    stopping.restore()


def train_epoch(model: nn.Sequential, opt: Any, batches: MiniBatches, desc: str, verbose: bool,
                hook: Callable[[Tensor, nn.Module], None] | None = None, *, alpha: float, use_jit: bool,
                threads: int | None) -> tuple[float, float]:
    """One pass over the mini-batches; returns (its seconds, not counting `hook`, called with the
    first step's loss before its backward; the mean batch loss, the alpha penalty included).
    alpha: the L2 penalty (`l2_penalty`); use_jit: replay the step with `jit` where nothing
    outside the graph joins it; threads: BLAS threads during the loop (None: as they are).
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
    penalised = weight_matrices(model) if alpha else []
    total, seen = 0.0, 0

    def train_step(Xb: np.ndarray, yb: np.ndarray) -> Tensor:
        loss = loss_fn(forward(Tensor(Xb)), yb, reduction="mean")
        zero_grad()
        loss.backward()
        step()
        return loss

    # The whole step is jitted unless something outside the graph joins it: the first-step
    # hook, the alpha penalty on the gradients, or (data-parallel) the Allreduce.
    jitted = jit(train_step) if use_jit and not penalised and world == 1 else None
    # overflow shows as a non-finite loss, reported with a remedy, not as numpy warnings
    with blas_threads(threads), np.errstate(over="ignore", invalid="ignore"):
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
                raise diverged(opt, f"the batch loss became {value} at {desc}, step {i}/{len(batches)}")
            if not whole:
                if hook is not None:
                    t0 = time.perf_counter()
                    hook(loss, model)
                    hook = None
                    start += time.perf_counter() - t0
                zero_grad()
                loss.backward()
                if penalised:
                    value += l2_penalty(penalised, alpha, len(Xb))
                step()
            total += value * len(Xb)
            seen += len(Xb)
            if i % every == 0 and bar.enabled:
                bar.set_postfix_str(f"loss {total / seen:.4f}")
                bar.update(every)
        seconds = time.perf_counter() - start
    bar.close()
    return seconds, total / seen


def evaluate(model: nn.Sequential, X: np.ndarray, y_idx: np.ndarray, weight: np.ndarray | None = None, *,
             rows: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over the whole set (weighted means with `weight`), in
    batches of `rows` rows, without a graph.

    Data-parallel: each rank evaluates a contiguous part of the rows and the sums are added up."""
    total, correct = 0.0, 0.0
    r, w = distributed.rank(), distributed.world_size()
    lo, hi = len(X) * r // w, len(X) * (r + 1) // w
    model.eval()
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


def weighted_one_hot(y_idx: np.ndarray, weight: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    """Targets (N, C): one-hot rows scaled by weight / mean(weight), so the mean batch loss
    is the weighted one (the fused cross-entropy takes unnormalised target rows)."""
    t = np.zeros((len(y_idx), n_classes), dtype=dtype)
    t[np.arange(len(y_idx)), y_idx] = weight / weight.mean()
    return t


def diverged(opt: Any, what: str) -> TrainingDivergedError:
    """The error for `what` became non-finite, with a remedy (naming the lr of `opt`'s first group)."""
    groups = getattr(opt, "param_groups", None) or [{}]
    lr = groups[0].get("lr")
    return TrainingDivergedError(
        f"training diverged: {what} (non-finite); try a smaller learning rate"
        + (f" than lr={lr:g}" if isinstance(lr, (int, float)) else "")
        + " or scale the inputs (e.g. to [0, 1], or to zero mean and unit variance)")


def check_finite(model: nn.Module, opt: Any, loss: float, where: str, n_steps: int) -> None:
    """After an epoch: every weight and the whole-set loss are finite (one pass over the weights)."""
    for name, p in model.named_parameters():
        if not np.isfinite(p.data).all():
            raise diverged(opt, f"weight {name} became NaN or infinite during {where} "
                                 f"(found after its last step, {n_steps})")
    if not isfinite(loss):
        raise diverged(opt, f"the training loss became {loss} after {where}")
