"""The graph: `Tensor`, the `Function` base class every op derives from, and reverse mode.

This module knows no op by name.  It records which `Function` produced each tensor,
orders the graph iteratively, sums broadcast gradients back to each input's shape,
accumulates into leaf gradients and frees saved arrays after a backward pass.
Grad mode (`no_grad`, `enable_grad`, `set_grad_enabled`) is per thread, as in PyTorch.
The ops themselves live in `tinygrad_np.ops`, one small class each.
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from heapq import heappop, heappush
from typing import Any

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_next_index = itertools.count().__next__  # creation order of recorded ops (see Tensor.backward)


class _GradMode(threading.local):
    enabled = True  # every thread starts with grad recording on, as in PyTorch


_grad_mode = _GradMode()


# ---- jit recording hooks (tinygrad_np.jit) ----------------------------------------------------
class _JitState(threading.local):
    recorder: Any = None  # the recorder of the jitted call running in this thread, else None


_jit_state = _JitState()
# ---- end of jit recording hooks ----------------------------------------------------------------


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert `data` to the array a Tensor holds.

    With `dtype` None: float32/float64 arrays and NumPy scalars keep their dtype (arrays
    are not copied), and so do NumPy integer and bool arrays (class labels stay labels);
    Python numbers and lists, and float16, become float32.  With a `dtype`, the data is
    converted to it.  Complex, string and object data raise TypeError.
    """
    if dtype is None and isinstance(data, (np.ndarray, np.generic)) and data.dtype in _FLOATS:
        return np.asarray(data)
    try:
        arr = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise TypeError(f"Tensor: cannot convert {type(data).__name__} to a numeric array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: data must be real numbers (bool, int or float), got dtype {arr.dtype} "
                        f"from {type(data).__name__}")
    if dtype is None and (arr.dtype.kind == "f" or not isinstance(data, (np.ndarray, np.generic))):
        return arr.astype(np.float32)
    return arr


def operand(other: Any, like: Tensor, op: str) -> Any:
    """`other` as the second operand of `like` in a binary op, with PyTorch's promotion.

    Tensors pass unchanged.  With a float Tensor, weak operands (Python numbers, NumPy
    scalars, 0-d arrays, lists) adopt its dtype, so float32 stays float32; arrays promote
    as in NumPy (a float64 array gives float64), except that an integer or bool array
    adopts the Tensor's dtype.  With an integer Tensor, operands follow NumPy.  Complex,
    string and object operands raise TypeError naming `op`.
    """
    if isinstance(other, Tensor):
        return other
    try:
        arr = np.asarray(other)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise TypeError(f"{op}: cannot combine a {like.dtype} Tensor with {type(other).__name__}"
                        f"{'' if arr is None else f' of dtype {arr.dtype}'} (operands must be real numbers, "
                        f"real arrays or Tensors)")
    own = like._data.dtype
    if isinstance(other, np.ndarray) and other.ndim:
        out = other.astype(own) if own.kind == "f" and arr.dtype.kind != "f" else other
    else:
        out = arr.astype(own) if own.kind == "f" else arr
    if _jit_state.recorder is not None:  # jit hook: a constant, or a conversion a replay makes again
        _jit_state.recorder.operand(other, out)
    return out


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


class Function:
    """Base class of every differentiable op (built-in and custom), like `torch.autograd.Function`.

    Subclasses define two static methods on NumPy arrays::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):             # x: ndarray
                y = np.exp(x)
                ctx.save_for_backward(y)
                return y
            @staticmethod
            def backward(ctx, grad):         # grad: ndarray of the output's shape
                (y,) = ctx.saved_tensors
                return grad * y              # one gradient per positional input

        y = Exp.apply(x)                     # x: Tensor -> y: Tensor

    `apply` passes Tensor arguments to `forward` as their arrays and every other
    argument unchanged.  `backward` returns one gradient per positional argument
    (a tuple, or a bare array for a single input); entries for arguments that need no
    gradient (see `ctx.needs_input_grad`) may be None.  A gradient may have the
    broadcast shape: it is summed back to the input's shape here.  Gradients are
    first order only: `backward` works on plain arrays, so no graph of the backward
    pass is recorded.

    The instance is the context: `ctx.save_for_backward(*arrays)`, `ctx.saved_tensors`,
    `ctx.needs_input_grad`, plus any attribute an op sets (the graph itself reserves
    `parents` and names starting with `_`).  All of it is released after the backward
    pass unless `retain_graph=True`.
    """

    parents: tuple | None
    needs_input_grad: tuple[bool, ...]
    saved_tensors: tuple

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> Any:
        raise NotImplementedError

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run `forward` on the arrays of `args` and record the op if any input requires grad."""
        ctx = cls()
        raw = []
        needs = []
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                needs.append(a.requires_grad)
            else:
                raw.append(a)
                needs.append(False)
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except (ValueError, IndexError, TypeError) as e:  # NumPy's words, with the op's name and the shapes
            shapes = " and ".join(str(np.shape(a)) for a in raw if isinstance(a, np.ndarray))
            name = cls.__name__.lower()
            msg = str(e).removeprefix(f"{name}: ")
            kind = next(k for k in (ValueError, IndexError, TypeError) if isinstance(e, k))  # AxisError: ValueError
            raise kind(f"{name}: {msg} (input shapes {shapes})") from None
        t = _new_tensor(Tensor)
        t._data = out if type(out) is np.ndarray else np.asarray(out)
        t.grad = None
        if True in needs and _grad_mode.enabled:
            ctx.parents = args
            ctx.needs_input_grad = tuple(needs)
            ctx._creation_index = _next_index()
            t.requires_grad = True
            t._ctx = ctx
        else:
            t.requires_grad = False
            t._ctx = None
        if _jit_state.recorder is not None:  # jit hook: record this call
            _jit_state.recorder.op(cls, ctx, args, kwargs, out, t)
        return t


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


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autodiff.

    `data` is the NumPy array: float32/float64 arrays are shared, not copied; NumPy integer
    and bool arrays keep their dtype (labels stay labels); Python numbers and lists become
    float32; `dtype=` converts (`Tensor(y, dtype=np.int64)`).  Only float tensors can
    require grad.  `grad` is None until a backward
    pass reaches the tensor, then an array of its shape and dtype.
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # `ndarray + Tensor` and `np.float64(2) * Tensor` call Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = as_array(data.data if isinstance(data, Tensor) else data, dtype)
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"Tensor: only float tensors can require grad, got dtype {self._data.dtype}")
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx: Function | None = None
        if _jit_state.recorder is not None:  # jit hook: note tensors made inside a recorded call
            _jit_state.recorder.tensor(self, data)

    # ---- array-like attributes -------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = as_array(value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self._ctx is None

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: a Tensor with {self._data.size} elements cannot be converted to a Python "
                             f"number (shape {self.shape})")
        if _jit_state.recorder is not None:  # jit hook: a replay cannot reproduce a Python value
            _jit_state.recorder.python_value(self, "item()")
        return self._data.item()

    def _one_element(self, what: str) -> Any:
        if self._data.size != 1:
            raise TypeError(f"{what}: the value of a Tensor with {self._data.size} elements (shape {self.shape}) "
                            f"is ambiguous; reduce it first (e.g. .any(), .sum()) or use .item() on one element")
        if _jit_state.recorder is not None:  # jit hook: a replay cannot reproduce a Python value
            _jit_state.recorder.python_value(self, f"{what}()")
        return self._data.reshape(())[()]

    def __bool__(self) -> bool:
        return bool(self._one_element("bool"))

    def __float__(self) -> float:
        return float(self._one_element("float"))

    def __int__(self) -> int:
        return int(self._one_element("int"))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)` gives the data (shared unless a copy or another dtype is asked for)."""
        if copy:
            return np.array(self._data, dtype=dtype)
        return self._data if dtype is None or np.dtype(dtype) == self._data.dtype else self._data.astype(dtype)

    def tolist(self) -> Any:
        """The data as (nested) Python lists of numbers."""
        if _jit_state.recorder is not None:  # jit hook
            _jit_state.recorder.python_value(self, "tolist()")
        return self._data.tolist()

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def numpy(self) -> np.ndarray:
        return self._data

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self._data)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self._data.dtype}{extra})"

    # ---- reverse mode ------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `grad` is the upstream gradient, of self's shape; it may be omitted only for a
        single-element output.  The graph's saved arrays are freed afterwards unless
        `retain_graph=True`.
        """
        upstream = grad  # (for the jit hook below)
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no graph "
                               "(was it computed under no_grad, or from inputs without requires_grad?)")
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for a single-element "
                                   f"output; pass a gradient of shape {self.shape}")
            grad = np.empty(self._data.shape, self._data.dtype)
            grad.fill(1)
        else:
            try:
                given = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            except (ValueError, TypeError):
                given = None
            if given is None or given.dtype.kind not in "biuf":
                raise TypeError(f"backward: grad must be real numbers of shape {self.shape}, got "
                                f"{type(grad).__name__}{'' if given is None else f' of dtype {given.dtype}'}")
            grad = np.array(given, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad of shape {grad.shape} does not match output shape {self.shape}")
        # Nodes are processed newest first (a max-heap on creation order): every consumer of a
        # node was created after it, so by the time a node is popped all the gradients it will
        # receive have arrived and are summed once.  No separate pass over the graph is needed.
        grads: dict[Tensor, np.ndarray] = {}      # interior nodes, until they propagate
        leaf_grads: dict[Tensor, np.ndarray] = {}  # leaves, stored once the pass has succeeded
        heap: list[tuple[int, int, Tensor]] = []  # id() breaks ties: tensors sharing one op
        if self._ctx is None:
            leaf_grads[self] = grad
        else:
            grads[self] = grad
            heap.append((-self._ctx._creation_index, id(self), self))
        done = _propagate(heap, grads, leaf_grads)
        # Only a pass that succeeded changes state: leaf grads, then freeing the graph.
        _store_leaf_grads(leaf_grads, grad)
        if _jit_state.recorder is not None:  # jit hook: record the schedule this pass ran
            _jit_state.recorder.backward(self, upstream, done, leaf_grads)
        if not retain_graph:
            # Drop everything each node saved; `parents is None` marks it as freed (its place in the
            # creation order stays, so a later pass can reach it and report the freed graph).
            for ctx in done:
                ctx.__dict__ = {"parents": None, "_creation_index": ctx._creation_index}

    # ---- operators (the ops live in tinygrad_np.ops) ------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, operand(other, self, "add"))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(operand(other, self, "add"), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, operand(other, self, "sub"))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(operand(other, self, "sub"), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, operand(other, self, "mul"))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(operand(other, self, "mul"), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, operand(other, self, "div"))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(operand(other, self, "div"), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        return ops.Pow.apply(self, exponent=ops.check_exponent(exponent))

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, operand(other, self, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(operand(other, self, "matmul"), self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.Index.apply(self, index=index)

    # Reductions take numpy's `axis` / `keepdims` or torch's `dim` / `keepdim`.
    def _axes(self, op: str, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None) -> tuple[Any, bool]:
        if dim is not None:
            if axis is not None:
                raise TypeError(f"{op}: give axis or dim, not both")
            axis = dim
        return ops.normalize_axis(axis, self.ndim, op), bool(keepdims if keepdim is None else keepdim)

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Sum over `axis` (an int, a tuple of ints, or None for all)."""
        axes, keep = self._axes("sum", axis, keepdims, dim, keepdim)
        return ops.Sum.apply(self, axis=axes, keepdims=keep)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Mean over `axis` (an int, a tuple of ints, or None for all)."""
        axes, keep = self._axes("mean", axis, keepdims, dim, keepdim)
        return ops.Mean.apply(self, axis=axes, keepdims=keep)

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Maximum over `axis`; tied maxima share the gradient."""
        axes, keep = self._axes("max", axis, keepdims, dim, keepdim)
        return ops.Max.apply(self, axis=axes, keepdims=keep)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Minimum over `axis`; tied minima share the gradient."""
        axes, keep = self._axes("min", axis, keepdims, dim, keepdim)
        return ops.Min.apply(self, axis=axes, keepdims=keep)

    def var(self, axis: Any = None, keepdims: bool = False, *, correction: int = 1, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Variance over `axis`: sum((x - mean)^2) / (n - correction), as `torch.var` (unbiased by default);
        NaN where n <= correction."""
        axes, keep = self._axes("var", axis, keepdims, dim, keepdim)
        n = int(np.prod([self.shape[a] for a in (range(self.ndim) if axes is None else axes)]))
        d = self - self.mean(axis=axes, keepdims=True)
        total = (d * d).sum(axis=axes, keepdims=keep)
        return total / (n - correction) if n > correction else total * np.nan

    def std(self, axis: Any = None, keepdims: bool = False, *, correction: int = 1, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Standard deviation over `axis`: sqrt of `var` with the same arguments."""
        return self.var(axis, keepdims, correction=correction, dim=dim, keepdim=keepdim).sqrt()

    def _arg(self, op: str, fn: Any, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None) -> Tensor:
        axes, keep = self._axes(op, axis, keepdims, dim, keepdim)
        if axes is not None and len(axes) != 1:
            raise ValueError(f"{op}: takes one axis or None, got {axis if dim is None else dim!r}")
        if self._data.size == 0:
            raise ValueError(f"{op}: of an empty tensor (shape {self.shape})")
        return Tensor(fn(self._data, axis=None if axes is None else axes[0], keepdims=keep).astype(np.int64))

    def argmax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices (int64, no gradient) of the maxima along `axis` (None: of the flattened tensor)."""
        return self._arg("argmax", np.argmax, axis, keepdims, dim, keepdim)

    def argmin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices (int64, no gradient) of the minima along `axis` (None: of the flattened tensor)."""
        return self._arg("argmin", np.argmin, axis, keepdims, dim, keepdim)

    def reshape(self, *shape: Any) -> Tensor:
        """A tensor of the same data in `shape` (ints, one of them may be -1), as `np.reshape`."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not all(map(ops.is_int, shape)):
            raise TypeError(f"reshape: the shape must be ints, got {shape!r}")
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """The axes permuted (reversed when none are given), as `np.transpose`."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not all(map(ops.is_int, axes)):
            raise TypeError(f"transpose: the axes must be ints, got {axes!r}")
        return ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self) -> Tensor:
        return ops.Transpose.apply(self, axes=None)

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def sqrt(self) -> Tensor:
        """Square root, elementwise (x ** 0.5)."""
        return ops.Pow.apply(self, exponent=0.5)

    def abs(self) -> Tensor:
        """|x|, elementwise; the gradient at 0 is 0."""
        return ops.Abs.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        """x limited to [min, max] (either may be None), as `torch.clamp`."""
        if min is None and max is None:
            raise ValueError("clamp: give min, max or both")
        for v in (min, max):
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                    raise TypeError(f"clamp: min and max must be real numbers or None, got {v!r}")
        return ops.Clamp.apply(self, low=None if min is None else float(min), high=None if max is None else float(max))

    clip = clamp

    # ---- shape helpers with PyTorch's names --------------------------------------------------
    def view(self, *shape: Any) -> Tensor:
        """The same as `reshape` (the data is shared when NumPy can, as always)."""
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length 1 at position `dim` (-ndim-1 <= dim <= ndim)."""
        if not ops.is_int(dim) or not -self.ndim - 1 <= dim <= self.ndim:
            raise ValueError(f"unsqueeze: dim {dim!r} is out of range for a tensor of shape {self.shape}")
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop axes of length 1 (all of them, or those in `dim` whose length is 1, as torch)."""
        axes = ops.normalize_axis(dim, self.ndim, "squeeze")
        drop = [a for a in (range(self.ndim) if axes is None else axes) if self.shape[a] == 1]
        return self.reshape(tuple(n for a, n in enumerate(self.shape) if a not in drop))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes start_dim..end_dim (inclusive) into one."""
        if self.ndim == 0:
            return self.reshape(1)
        (start,), (end,) = (ops.normalize_axis(a, self.ndim, "flatten") for a in (start_dim, end_dim))
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    # ---- comparisons: boolean tensors without gradient ---------------------------------------
    def _compare(self, other: Any, ufunc: Any, op: str) -> Tensor:
        o = operand(other, self, op)
        try:
            return Tensor(ufunc(self._data, o._data if isinstance(o, Tensor) else o))
        except ValueError as e:
            raise ValueError(f"{op}: {e} (shapes {self.shape} and {np.shape(o)})") from None

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        try:
            return self._compare(other, np.equal, "eq")
        except TypeError:
            return NotImplemented  # then Python compares identities, as for `t == None`

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        try:
            return self._compare(other, np.not_equal, "ne")
        except TypeError:
            return NotImplemented

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less, "lt")

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal, "ge")

    __hash__ = object.__hash__  # identity, so tensors stay usable as dict keys and in sets

    # ---- in place: only where nothing is recorded ---------------------------------------------
    def _inplace(self, ufunc: Any, other: Any, op: str) -> Tensor:
        if _jit_state.recorder is not None:  # jit hook: an in-place change is not an op a replay repeats
            _jit_state.recorder.in_place(self, op)
        if self.requires_grad and _grad_mode.enabled:
            raise RuntimeError(f"{op}: a tensor that requires grad cannot be changed in place while grad is "
                               f"recorded; do it inside `with no_grad():` (as an optimizer update), or on .data")
        o = operand(other, self, op)
        o = o._data if isinstance(o, Tensor) else o
        try:
            shape = np.broadcast_shapes(self.shape, np.shape(o))
        except ValueError:
            shape = None
        if shape != self.shape:
            raise ValueError(f"{op}: an operand of shape {np.shape(o)} cannot be applied in place to shape "
                             f"{self.shape}")
        if not self._data.flags.writeable:
            raise ValueError(f"{op}: the tensor's data is read-only")
        ufunc(self._data, o, out=self._data, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, other, "add_")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, other, "sub_")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, other, "mul_")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.divide, other, "div_")

    def zero_(self) -> Tensor:
        """Fill with zeros, in place (under the same rule as `+=`); returns self."""
        return self.fill_(0)

    def fill_(self, value: float) -> Tensor:
        """Fill with `value`, in place; returns self."""
        return self._inplace(lambda a, v, out, casting: np.copyto(out, v, casting="unsafe"), value, "fill_")

    def copy_(self, src: Any) -> Tensor:
        """Copy `src`'s values (broadcast to self's shape, cast to self's dtype) in place; returns self."""
        return self._inplace(lambda a, v, out, casting: np.copyto(out, v, casting="unsafe"), src, "copy_")

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` on a leaf (float tensors only); returns self."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_: only leaves can stop requiring grad; use .detach()")
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only float tensors can require grad, got dtype {self._data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self


class Parameter(Tensor):
    """A Tensor that requires grad: a learnable weight, collected by `nn.Module.parameters()`."""

    __slots__ = ()

    def __init__(self, data: Any) -> None:
        super().__init__(data, requires_grad=True)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):].replace(", requires_grad=True", "")


_new_tensor = object.__new__

from tinygrad_np import ops  # noqa: E402  (ops subclass Function, defined above)
