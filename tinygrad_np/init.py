"""Weight initializers: objects with `W(n_in, n_out)` and `B(n_out)` returning arrays.

This is the seed's protocol: `nn.FC` asks its initializer for W of shape (n_in, n_out)
and B of shape (n_out,).  Any object with those two methods works as an initializer.

    fc = nn.FC(784, 400, initializer=init.HeInitializer(rng=0))
    init.apply(model, init.XavierInitializer(rng=1))   # re-draw every FC of a model

Every initializer takes `rng` (an `np.random.Generator`, an int seed, or None for the
library's default generator, see `tinygrad_np.manual_seed`) and `dtype` (float32 by
default).  No global NumPy random state is used.

Biases start at zero.  The seed drew them from the same distribution as the weights;
pass `random_bias=True` to get that back (the spread is the one of the weights of the
layer, i.e. of the last `W(n_in, n_out)` call unless `n_in` is passed to `B`).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np._random import default_generator, make_rng
from tinygrad_np.tensor import _FLOATS

__all__ = ["Initializer", "SimpleInitializer", "XavierInitializer", "HeInitializer",
           "GlorotUniformInitializer", "HeUniformInitializer", "GlorotUniform", "HeUniform",
           "make_rng", "apply"]


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in _FLOATS:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _check_dims(*dims: Any) -> None:
    for n in dims:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"layer sizes must be positive integers, got {n!r}")


class Initializer:
    """Base class: draws W (n_in, n_out) from a zero-mean distribution of spread `scale(n_in, n_out)`.

    Subclasses define `scale` and `distribution` ("normal": std = scale; "uniform": U(-scale, scale)).
    """

    distribution = "normal"

    @property
    def rng(self) -> np.random.Generator:
        """The generator drawn from: the one given, else the default (see `tinygrad_np.manual_seed`)."""
        return default_generator() if self._rng is None else self._rng

    def __init__(self, rng: Any = None, dtype: Any = np.float32, random_bias: bool = False) -> None:
        self._rng = None if rng is None else make_rng(rng)
        self.dtype = _float_dtype(dtype)
        self.random_bias = bool(random_bias)
        self._last_fan: tuple[int, int] | None = None

    def scale(self, n_in: int, n_out: int) -> float:
        raise NotImplementedError

    def _draw(self, shape: tuple[int, ...], scale: float) -> np.ndarray:
        if self.distribution == "normal":
            out = self.rng.standard_normal(shape, dtype=self.dtype)
            out *= scale  # a Python float: keeps the dtype
        else:
            out = self.rng.random(shape, dtype=self.dtype)
            out *= 2.0 * scale
            out -= scale
        return out

    def W(self, n_in: int, n_out: int) -> np.ndarray:
        """Weights of shape (n_in, n_out)."""
        _check_dims(n_in, n_out)
        self._last_fan = (int(n_in), int(n_out))
        return self._draw((int(n_in), int(n_out)), float(self.scale(n_in, n_out)))

    def B(self, n_out: int, n_in: int | None = None) -> np.ndarray:
        """Biases of shape (n_out,): zeros, or with `random_bias=True` drawn like the weights.

        The spread uses `n_in` if given, else the fan-in of the last `W` call (as the seed did).
        """
        _check_dims(n_out)
        if not self.random_bias:
            return np.zeros(int(n_out), dtype=self.dtype)
        if n_in is None:
            if self._last_fan is None:
                raise ValueError(f"{type(self).__name__}.B: random_bias needs n_in (or a W call first)")
            n_in = self._last_fan[0]
        _check_dims(n_in)
        return self._draw((int(n_out),), float(self.scale(n_in, n_out)))

    def __repr__(self) -> str:
        extra = self._repr_args()
        return (f"{type(self).__name__}({extra}{', ' if extra else ''}dtype={self.dtype.name}"
                f"{', random_bias=True' if self.random_bias else ''})")

    def _repr_args(self) -> str:
        return ""


class SimpleInitializer(Initializer):
    """Gaussian with a fixed standard deviation `sigma` (the seed's default: 0.01)."""

    def __init__(self, sigma: float = 0.01, rng: Any = None, dtype: Any = np.float32,
                 random_bias: bool = False) -> None:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating, np.integer)) \
                or not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"SimpleInitializer: sigma must be a finite number >= 0, got {sigma!r}")
        super().__init__(rng, dtype, random_bias)
        self.sigma = float(sigma)

    def scale(self, n_in: int, n_out: int) -> float:
        return self.sigma

    def _repr_args(self) -> str:
        return f"sigma={self.sigma}"


class XavierInitializer(Initializer):
    """Gaussian with std 1/sqrt(n_in) (the seed's Xavier formula; suits tanh and sigmoid)."""

    def scale(self, n_in: int, n_out: int) -> float:
        return 1.0 / math.sqrt(n_in)


class HeInitializer(Initializer):
    """Gaussian with std sqrt(2/n_in) (He et al. 2015; suits ReLU)."""

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(2.0 / n_in)


class GlorotUniformInitializer(Initializer):
    """Uniform on [-a, a] with a = sqrt(6/(n_in + n_out)) (Glorot & Bengio 2010, `xavier_uniform_`)."""

    distribution = "uniform"

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(6.0 / (n_in + n_out))


class HeUniformInitializer(Initializer):
    """Uniform on [-a, a] with a = sqrt(6/n_in) (He uniform, `kaiming_uniform_` for ReLU)."""

    distribution = "uniform"

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(6.0 / n_in)


GlorotUniform = GlorotUniformInitializer
HeUniform = HeUniformInitializer


def apply(model: Any, initializer: Any) -> Any:
    """Re-draw the weights of every layer in `model`'s tree that has `reset_parameters`
    (`nn.FC` and the other weight layers) with `initializer`, in place.

    The Parameters keep their identity and dtype (values are cast), so an optimizer built
    on the model stays valid.  Returns `model`.
    """
    modules = getattr(model, "modules", None)
    if not callable(modules):
        raise TypeError(f"init.apply: expected an nn.Module, got {type(model).__name__}")
    for m in modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset):
            reset(initializer)
    return model
