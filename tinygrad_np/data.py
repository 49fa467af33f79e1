"""Feeding data to a training loop: mini-batches, one-hot labels, a seeded train/validation split.

    batches = MiniBatches(X, y, batch_size=20, rng=0)
    for epoch in range(10):
        for Xb, yb in batches:          # a fresh shuffle every epoch, last partial batch kept
            ...
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinygrad_np._random import make_rng


class MiniBatches:
    """Iterate over (X[idx], y[idx]) batches of `batch_size` rows; the last batch may be smaller.

    X: (N, ...), y: (N, ...) or None (then the batches are X alone).  With `shuffle=True`
    each iteration (each epoch) draws a new permutation from `rng`; batches are gathered
    from it one at a time (one fancy index per batch, the dataset itself is never copied
    whole).  `len(batches)` is the number of batches; `batches[i]` is batch i of the
    current order (that of the last iteration started, or one drawn at construction).

    Data-parallel training: with `rank` and `world_size`, every rank draws the same order
    (give every rank the same `rng` seed) and yields only its contiguous share of each
    global batch of `batch_size` rows (which must divide by `world_size`): rows
    [b * rank / world_size, b * (rank + 1) / world_size) of a batch of b rows, so a full
    batch gives each rank batch_size / world_size rows and the last, partial one splits
    as evenly as possible (a rank may get none).  `len()` is still the number of global
    batches: every rank takes the same number of steps.
    """

    def __init__(self, X: Any, y: Any = None, batch_size: int = 20, shuffle: bool = True,
                 rng: int | np.random.Generator | None = None, rank: int = 0, world_size: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"MiniBatches: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(world_size, bool) or not isinstance(world_size, (int, np.integer)) or world_size < 1:
            raise ValueError(f"MiniBatches: world_size must be a positive integer, got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < world_size:
            raise ValueError(f"MiniBatches: rank must be an integer in [0, {world_size}), got {rank!r}")
        if batch_size % world_size:
            raise ValueError(f"MiniBatches: batch_size {batch_size} (the global batch) must be divisible by "
                             f"world_size {world_size}")
        self.X = np.asarray(X)
        self.y = None if y is None else np.asarray(y)
        if self.X.ndim == 0:
            raise ValueError("MiniBatches: X must have at least one dimension (one row per example)")
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(f"MiniBatches: X has {len(self.X)} rows but y has {len(self.y)}")
        self.batch_size = int(batch_size)
        self.rank, self.world_size = int(rank), int(world_size)
        self.shuffle = shuffle
        self.rng = make_rng(rng)
        self._order: np.ndarray | None = None  # None: natural order
        if shuffle:
            self._reshuffle()

    def _reshuffle(self) -> None:
        self._order = self.rng.permutation(len(self.X))

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def _batch(self, start: int) -> Any:
        stop = min(start + self.batch_size, len(self.X))
        if self.world_size > 1:  # this rank's contiguous share of the global batch
            n, r, w = stop - start, self.rank, self.world_size
            start, stop = start + n * r // w, start + n * (r + 1) // w
        if self._order is None:
            Xb = self.X[start:stop]
            return Xb if self.y is None else (Xb, self.y[start:stop])
        idx = self._order[start:stop]
        Xb = self.X[idx]
        return Xb if self.y is None else (Xb, self.y[idx])

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"MiniBatches indices must be integers, got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"batch index {i} is out of range for {n} batches")
        return self._batch((int(i) % n) * self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        if self.shuffle:
            self._reshuffle()
        for start in range(0, len(self.X), self.batch_size):
            yield self._batch(start)

    def __repr__(self) -> str:
        shard = f", rank {self.rank} of {self.world_size}" if self.world_size > 1 else ""
        return (f"MiniBatches({len(self.X)} examples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, {len(self)} batches{shard})")


def one_hot(labels: Any, n_classes: int | None = None, dtype: Any = np.float32) -> np.ndarray:
    """(N,) integer labels in [0, n_classes) -> (N, n_classes) rows of zeros with a single 1."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot: labels must have shape (N,), got {labels.shape}")
    if labels.size and labels.dtype.kind not in "iu":
        if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
            raise ValueError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {n_classes}), got min {labels.min()} "
                         f"max {labels.max()}")
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def train_val_split(X: Any, y: Any, val_size: float | int = 0.2,
                    random_state: int | np.random.Generator | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split into `X_train, X_val, y_train, y_val` (the order of sklearn's train_test_split).

    `val_size`: a fraction in (0, 1) of the rows, or a number of rows.  The seed held out 20%.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_val_split: X has {n} rows but y has {len(y)}")
    if isinstance(val_size, (float, np.floating)):
        if not 0 < val_size < 1:
            raise ValueError(f"train_val_split: a fractional val_size must lie in (0, 1), got {val_size}")
        n_val = int(np.ceil(val_size * n))
    elif isinstance(val_size, (int, np.integer)) and not isinstance(val_size, bool):
        n_val = int(val_size)
    else:
        raise ValueError(f"train_val_split: val_size must be a float fraction or an int count, got {val_size!r}")
    if not 0 < n_val < n:
        raise ValueError(f"train_val_split: val_size={val_size} leaves {n_val} of {n} rows for validation; "
                         "both parts must be non-empty")
    order = make_rng(random_state).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return X[train], X[val], y[train], y[val]
