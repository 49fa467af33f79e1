"""`Tensor`, `Parameter` and the `Function` base class every op derives from.

This module knows no op by name: `Function.apply` records which `Function` produced each
tensor, and the Tensor's operators and methods call the ops in `tinygrad_np.ops` (one small
class each).  The backward pass and grad mode (`no_grad`, ...) live in `tinygrad_np.autograd`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.autograd import _grad_mode, _jit_state, _next_index, _ones_seed, backward_pass

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert `data` to the array a Tensor holds.

    With `dtype` None: float32/float64 arrays and NumPy scalars keep their dtype (arrays
    are not copied), and so do NumPy integer and bool arrays (class labels stay labels);
    Python numbers and lists, and float16, become float32.  With a `dtype`, the data is
    converted to it.  Complex, string and object data raise TypeError.
    """
    if dtype is None and isinstance(data, (np.ndarray, np.generic)) and data.dtype in _FLOATS:
        return data if type(data) is np.ndarray else np.asarray(data)
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
        """Compute the op's output array from the input arrays (Tensors arrive as their data);
        keep what backward needs on `ctx`."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> Any:
        """Given `grad`, the gradient of the output (its shape), return one gradient per positional
        input (a tuple, or one array for a single input; None where `ctx.needs_input_grad` is False)."""
        raise NotImplementedError

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep `arrays` for `backward`, which reads them back as `ctx.saved_tensors`."""
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
        """The NumPy array holding the values; assigning converts the value (as `Tensor(...)`) and
        replaces it."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = as_array(value)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, a tuple of ints."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the data."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """The number of elements (NumPy's `size`; PyTorch's `size()` is `shape` here)."""
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
        """The data as a NumPy array, shared (not copied)."""
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
            grad = _ones_seed(self._data.shape, self._data.dtype)
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
        backward_pass(self, grad, upstream, retain_graph)

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
        """All axes reversed (the transpose of a matrix), as NumPy's `.T`."""
        return ops.Transpose.apply(self, axes=None)

    def exp(self) -> Tensor:
        """e ** x, elementwise; same shape and dtype."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm, elementwise; same shape and dtype."""
        return ops.Log.apply(self)

    def relu(self) -> Tensor:
        """max(x, 0), elementwise; the gradient at exactly 0 is 0."""
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent, elementwise; same shape and dtype."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), elementwise, finite for every input."""
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
