"""`jit`: record a training step once, then replay it without the graph's Python cost.

    @tinygrad_np.jit
    def train_step(X, y):
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        return loss

    for X, y in batches:
        loss = train_step(X, y)          # a Tensor, fresh at every call

Semantics:

* **Calls.**  The first call with a new input signature runs `fn` eagerly and records what
  it does.  The signature is the shape and dtype of every ndarray and Tensor argument
  (with `requires_grad`, and which arguments are the same object), the value of every other
  argument (hashable: ints, floats, strings, objects by identity) and the grad mode.  Later
  calls with that signature replay the recording; another signature records again.  The
  last `cache_size` signatures are kept (least recently used first out).
* **What is captured.**  Every `Function` call (the library's ops and user Functions: the
  same static `forward` and `backward` are called on the new arrays), the order and the
  summation of the backward pass, `Optimizer.zero_grad`, `Module.zero_grad` and
  `Optimizer.step`, and the steps marked `replayed` (Dropout's random draw,
  `nn.utils.clip_grad_norm_` / `clip_grad_value_`).  (Checks inside an op's forward, such as
  softmax cross-entropy's label check, run again with it.)  So a
  replay computes exactly what eager mode computes: the same NumPy calls on the same arrays
  in the same order.  What a replay skips is the Python
  around them: Tensor and context objects, argument checks that depend only on shapes, the
  heap that orders the backward, gradient dictionaries.
* **Read at each replay.**  Parameters' arrays (`p.data`), `.grad`, the optimizer's
  `param_groups` and hyperparameters (so a scheduler or a hand-set `group["lr"]` takes
  effect at the next call) and its state.  An optimizer subclass whose `step()` calls
  `Optimizer.step` (`super().step()`, once) is replayed by calling its `step()`, so its own
  code runs at every call as in eager mode.  Dropout draws fresh random numbers from its
  module's `rng` at every replay, exactly as eager mode would.  A module switched to
  `eval()` (or a Dropout's `p` changed), or a parameter given another shape or dtype, makes
  the next call record again.
* **Return values** may be Tensors, ndarrays, None, strings and tuples, lists or dicts of
  them.  Returned tensors are fresh and detached (`requires_grad=False`): a replay builds
  no graph, so call `backward` inside the function.  No later call overwrites them.
* **Errors at record time** (`JitError`), naming what to change, for what a replay cannot
  reproduce: `.item()`, `float()` or `bool()` of a Tensor (a value read into Python, or a
  branch on data); an ndarray that an op receives but that is neither an argument nor an
  op's output (computed with NumPy inside the function); returning a number; returning a
  tensor whose graph is still live; an in-place operator on a Tensor (`+=`, `fill_`, ...);
  a scheduler changing the learning rate inside the function; a jitted call inside another
  one.  A tensor made from NumPy results (comparisons such as `x > 0`, `argmax`) raises
  when an op uses it.  Nothing falls back silently.  (They are raised
  during the recording call, most where the offending line runs; what that call had already
  done eagerly, such as an optimizer step before a bad `return`, stays done, as in eager mode.)
* **Not seen by the jit** (like any tracing jit): other Python side effects of `fn` (printing,
  appending to a list, `p.grad = None` by hand) happen at the recording call only, and NumPy
  code that reads a tensor's `.data` and branches on it follows the recording's branch.
* **Input aliasing.**  Arguments that are the same object as each other record their own
  signature; an argument that is a parameter's array is read where eager mode reads it, so
  the replay sees the optimizer's in-place update exactly as eager mode does.  Passing a
  `Parameter` itself as an argument raises (the model reads its parameters directly).
* **Ordinary code still works** after a jitted call: the parameters, their `.grad`, the
  optimizer's state are what eager mode leaves, so `state_dict()`, saving, and eager steps
  between jitted ones behave as without the jit.

A recording is one Python function, generated as source (`JitFunction.sources()` shows it),
with the recorded objects (ops' classes, parameters, optimizers, constants) bound to names.
The recorder that writes it is `tinygrad_np._jit_record`; this module is the public side.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from tinygrad_np._jit_record import _STALE, JitError, _detached, _Program, _Recorder
from tinygrad_np.autograd import _jit_state, is_grad_enabled
from tinygrad_np.tensor import Tensor

__all__ = ["jit", "JitFunction", "JitError", "replayed", "guard"]


def replayed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a NumPy-level function whose call a jit records and makes again at every replay.

    `fn(*args)` returns an ndarray (it becomes an input of later ops: a random draw) or None
    (a check that reads data and may raise).  Its arguments may be ndarrays and Tensors of
    the step, and other objects, which are passed again as they are (so `fn` reads their
    attributes afresh).
    """
    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        out = fn(*args)
        rec = _jit_state.recorder
        if rec is not None:
            rec.replayed(fn, args, out)
        return out
    return call


def guard(fn: Callable[..., Any], *args: Any) -> None:
    """While recording: replay this recording only while `fn(*args)` equals its value now
    (otherwise record again).  For Python state an op's branch depends on, such as a module's
    training flag.  Does nothing outside a recording."""
    rec = _jit_state.recorder
    if rec is not None:
        rec.guards.append((fn, args, fn(*args)))


def _signature(flat: tuple[Any, ...], names: tuple[str, ...]) -> tuple:
    """Shapes, dtypes and (for tensors) requires_grad of the arrays, which argument each array
    first appeared as (aliasing), the other arguments' values, the keyword names, the grad mode."""
    first: dict[int, int] = {}
    parts: list[Any] = [is_grad_enabled(), names]
    for i, a in enumerate(flat):
        if type(a) is np.ndarray:
            parts.append((a.shape, a.dtype, first.setdefault(id(a), i)))
        elif isinstance(a, Tensor):
            d = a._data
            parts.append((d.shape, d.dtype, a.requires_grad, a._ctx is None, first.setdefault(id(a), i),
                          first.setdefault(id(d), i)))
        elif isinstance(a, np.ndarray):  # a subclass: its type too
            parts.append((type(a), a.shape, a.dtype, first.setdefault(id(a), i)))
        else:
            parts.append((type(a), a))
    return tuple(parts)


class JitFunction:
    """The callable `jit(fn)` returns: `fn`'s signature; records per input signature, replays after."""

    def __init__(self, fn: Callable[..., Any], cache_size: int = 8) -> None:
        if not callable(fn):
            raise TypeError(f"jit: expected a callable, got {type(fn).__name__}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"jit: cache_size must be a positive integer, got {cache_size!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, list[_Program]] = OrderedDict()
        self._hits = self._misses = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _jit_state.recorder is not None:
            raise JitError(f"jit: {getattr(self.fn, '__name__', 'a jitted function')} was called while another "
                           f"jitted function is being recorded; jit only the outer function")
        flat = args + tuple(kwargs.values()) if kwargs else args
        try:
            key = _signature(flat, tuple(kwargs))
            progs = self._cache.get(key)
        except TypeError as e:
            raise TypeError(f"jit: every argument that is not an array or Tensor must be hashable "
                            f"(it is part of the recording's signature): {e}") from None
        if progs is not None:
            for prog in progs:
                if not prog.guards or all(fn(*a) == v for fn, a, v in prog.guards):
                    self._hits += 1
                    out = prog.run(flat)
                    if out is not _STALE:
                        return out
                    self._hits -= 1
                    progs.remove(prog)
                    break
        return self._record(key, args, kwargs, flat)

    def _record(self, key: tuple, args: tuple, kwargs: dict[str, Any], flat: tuple) -> Any:
        self._misses += 1
        rec = _Recorder(flat)
        _jit_state.recorder = rec
        try:
            out = self.fn(*args, **kwargs)
        finally:
            _jit_state.recorder = None
        prog = rec.finish(out)
        progs = self._cache.setdefault(key, [])
        progs.insert(0, prog)
        del progs[self.cache_size:]
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return _detached(out)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """As a method decorator: the instance becomes the first argument (part of the signature)."""
        return self if obj is None else functools.partial(self, obj)

    def cache_info(self) -> tuple[int, int, int]:
        """(replays, recordings, signatures kept), as the counts of `functools.lru_cache`."""
        return self._hits, self._misses, len(self._cache)

    def sources(self) -> list[str]:
        """The generated source of every kept recording (most recently used signature last)."""
        return [p.source for progs in self._cache.values() for p in progs]

    def clear(self) -> None:
        """Drop every recording (the next call records again)."""
        self._cache.clear()

    def __repr__(self) -> str:
        return f"jit({getattr(self.fn, '__qualname__', self.fn)!r})"


def jit(fn: Callable[..., Any] | None = None, *, cache_size: int = 8) -> Any:
    """Return `fn` jitted (see the module docstring); usable as `@jit` or `@jit(cache_size=4)`."""
    if fn is None:
        return functools.partial(JitFunction, cache_size=cache_size)
    return JitFunction(fn, cache_size=cache_size)
