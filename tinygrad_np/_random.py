"""The library's default random generator, as PyTorch's `torch.manual_seed`.

Initializers, Dropout, `MiniBatches` and the factories `randn` / `rand` draw from it when
they are given no `rng`.  It is an `np.random.Generator` of the library's own, seeded from
OS entropy at import: NumPy's global random state is never read or changed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_default = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (so that a script gives the same numbers on every run);
    returns it."""
    global _default
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    """The generator used where no `rng` is given (the one `manual_seed` set last)."""
    return _default


def make_rng(rng: Any) -> np.random.Generator:
    """An `np.random.Generator` from a Generator (used as is), an int seed (a new generator), or
    None (the default generator, shared: see `manual_seed`)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return _default
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an np.random.Generator, an int seed or None, got {type(rng).__name__}")


def from_random_state(random_state: Any) -> np.random.Generator:
    """A Generator from a scikit-learn `random_state`: as `make_rng`, and a legacy RandomState is
    drawn from (so it advances, as scikit-learn's estimators do)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    return make_rng(random_state)
