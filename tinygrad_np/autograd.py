"""Reverse mode and grad mode: what runs when `Tensor.backward()` is called, and whether ops record.

Grad mode (`no_grad`, `enable_grad`, `set_grad_enabled`) is per thread, as in PyTorch.
`backward_pass` runs a graph's backward: it orders the nodes iteratively, sums broadcast
gradients back to each input's shape, accumulates into leaf gradients (all checked before
any is written) and frees saved arrays.  This module knows neither the Tensor class nor any
op: it reads the graph through the attributes `Function.apply` sets (`_ctx`, `_data`,
`parents`, `needs_input_grad`).
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_np.tensor import Function, Tensor

_next_index = itertools.count().__next__  # creation order of recorded ops (see backward_pass)


class _GradMode(threading.local):
    enabled = True  # every thread starts with grad recording on, as in PyTorch


_grad_mode = _GradMode()


# ---- jit recording hooks (tinygrad_np.jit) ----------------------------------------------------
class _JitState(threading.local):
    recorder: Any = None  # the recorder of the jitted call running in this thread, else None


_jit_state = _JitState()
# ---- end of jit recording hooks ----------------------------------------------------------------

class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: inside it no op is recorded in this thread, and results
    do not require grad.  Other threads keep their own mode, as in PyTorch."""

    _mode = False

    def __init__(self) -> None:
        self._prev: list[bool] = []  # a stack: the same instance may be entered again while inside it
        self._set_by_call = False

    def _recreate_cm(self) -> no_grad:
        # Each call of a decorated function gets its own context, so threads never share a stack.
        cm = object.__new__(type(self))
        cm._prev, cm._set_by_call, cm._mode = [], False, self._mode
        return cm

    def __enter__(self) -> None:
        if self._set_by_call:  # set_grad_enabled(m) already switched and saved the mode
            self._set_by_call = False
            return
        self._prev.append(_grad_mode.enabled)
        _grad_mode.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self._prev.pop()


class enable_grad(no_grad):
    """Context manager and decorator: record ops inside it in this thread, even within `no_grad`."""

    _mode = True


class set_grad_enabled(no_grad):
    """Set grad recording for this thread, as `torch.set_grad_enabled`: the call itself switches
    the mode; used as a context manager it restores the previous mode on exit, and as a decorator
    it sets the mode only while the function runs.

        set_grad_enabled(False)             # from now on, in this thread
        with set_grad_enabled(is_train): ...
    """

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        self._prev.append(_grad_mode.enabled)
        _grad_mode.enabled = self._mode
        self._set_by_call = True

    def __call__(self, fn: Any) -> Any:
        if self._set_by_call:  # decorating: undo the call's switch; each call of fn switches instead
            _grad_mode.enabled = self._prev.pop()
            self._set_by_call = False
        return super().__call__(fn)


def is_grad_enabled() -> bool:
    """Whether ops are recorded in the current thread (False inside `no_grad()`)."""
    return _grad_mode.enabled


def _ones_seed(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The gradient `backward()` starts from when none is given: ones of the (single-element)
    output's shape and dtype (a 0-d output, the usual loss, in one NumPy call)."""
    return np.ones(shape, dtype) if shape else np.array(1, dtype)


def _unbroadcast(grad: np.ndarray, parent: Tensor, ctx: Function) -> np.ndarray:
    """Sum `grad` over the axes along which `parent` was broadcast."""
    shape = parent._data.shape
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"{type(ctx).__name__}.backward returned a gradient of shape {grad.shape} "
                           f"for an input of shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return np.add.reduce(grad, axis=axes, keepdims=True).reshape(shape)


def _as_gradient(value: Any, ctx: Function) -> np.ndarray:
    """A gradient a backward returned as a NumPy scalar, a Python number or an array subclass."""
    if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        return np.asarray(value)
    raise TypeError(f"{type(ctx).__name__}.backward returned a {type(value).__name__} as a gradient; "
                    f"return an ndarray (or None) per input")


def _store_leaf_grads(leaf_grads: dict[Tensor, np.ndarray], seed: np.ndarray) -> None:
    """Accumulate each leaf's gradient into its `.grad`, cast to the leaf's dtype.

    Every existing `.grad` is checked before any is written, so a bad one changes nothing.
    An array handed to two leaves, a view, or the caller's seed is copied, so that later
    in-place accumulation into one `.grad` can never change another array.
    """
    for leaf in leaf_grads:
        old = leaf.grad
        if old is not None and not (isinstance(old, np.ndarray) and old.shape == leaf._data.shape
                                    and old.flags.writeable
                                    and np.can_cast(leaf._data.dtype, old.dtype, "same_kind")):
            raise RuntimeError(f"backward: the existing .grad of a leaf of shape {leaf._data.shape} and dtype "
                               f"{leaf._data.dtype} cannot accumulate (it is {type(old).__name__} "
                               f"{np.shape(old)} {getattr(old, 'dtype', '')}); set it to None or to a writable "
                               f"array of the leaf's shape")
    given = {id(seed)}
    for leaf, g in leaf_grads.items():
        if type(g) is not np.ndarray:  # a NumPy scalar from a 0-d reduction
            g = np.asarray(g, dtype=leaf._data.dtype)
        elif g.dtype != leaf._data.dtype:
            g = g.astype(leaf._data.dtype)
        elif id(g) in given or g.base is not None:
            g = g.copy()
        given.add(id(g))
        if leaf.grad is None:
            leaf.grad = g
        else:
            leaf.grad += g


def _propagate(heap: list[tuple[int, int, Tensor]], grads: dict[Tensor, np.ndarray],
               leaf_grads: dict[Tensor, np.ndarray]) -> list[Function]:
    """Run every node's backward, newest first, from `heap`; returns the nodes run, in order.

    `grads` holds the gradients of interior nodes until they propagate; leaves' gradients are
    summed into `leaf_grads`.
    """
    done: list[Function] = []
    while heap:
        node = heappop(heap)[2]
        ctx = node._ctx
        if ctx.parents is None:
            raise RuntimeError("backward: trying to backward through the graph a second time; its saved "
                               "arrays were freed. Pass retain_graph=True to the first backward call.")
        in_grads = ctx.backward(ctx, grads.pop(node))
        if type(in_grads) is not tuple:
            in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
        if len(in_grads) != len(ctx.parents):
            raise RuntimeError(f"{type(ctx).__name__}.backward returned {len(in_grads)} gradient(s) "
                               f"for {len(ctx.parents)} input(s)")
        for parent, needs, pg in zip(ctx.parents, ctx.needs_input_grad, in_grads):
            if not needs:
                continue
            if pg is None:  # a custom backward may return None for an input: a zero gradient
                pg = np.zeros_like(parent._data)
            elif type(pg) is not np.ndarray:
                pg = _as_gradient(pg, ctx)
            if pg.shape != parent._data.shape:
                pg = _unbroadcast(pg, parent, ctx)
            pctx = parent._ctx
            acc = grads if pctx is not None else leaf_grads
            if parent in acc:
                acc[parent] = acc[parent] + pg
            else:
                acc[parent] = pg
                if pctx is not None:
                    heappush(heap, (-pctx._creation_index, id(parent), parent))
        done.append(ctx)
    return done


def backward_pass(root: Tensor, grad: np.ndarray, upstream: Any, retain_graph: bool) -> None:
    """Backpropagate `grad` (an array of root's shape and dtype) from `root` into its leaves'
    `.grad`; `upstream` is what the caller passed (for the jit hook)."""
    # Nodes are processed newest first (a max-heap on creation order): every consumer of a
    # node was created after it, so by the time a node is popped all the gradients it will
    # receive have arrived and are summed once.  No separate pass over the graph is needed.
    grads: dict[Tensor, np.ndarray] = {}      # interior nodes, until they propagate
    leaf_grads: dict[Tensor, np.ndarray] = {}  # leaves, stored once the pass has succeeded
    heap: list[tuple[int, int, Tensor]] = []  # id() breaks ties: tensors sharing one op
    if root._ctx is None:
        leaf_grads[root] = grad
    else:
        grads[root] = grad
        heap.append((-root._ctx._creation_index, id(root), root))
    done = _propagate(heap, grads, leaf_grads)
    # Only a pass that succeeded changes state: leaf grads, then freeing the graph.
    _store_leaf_grads(leaf_grads, grad)
    if _jit_state.recorder is not None:  # jit hook: record the schedule this pass ran
        _jit_state.recorder.backward(root, upstream, done, leaf_grads)
    if not retain_graph:
        # Drop everything each node saved; `parents is None` marks it as freed (its place in the
        # creation order stays, so a later pass can reach it and report the freed graph).
        for ctx in done:
            ctx.__dict__ = {"parents": None, "_creation_index": ctx._creation_index}
