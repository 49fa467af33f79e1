"""The jit's recorder: what `tinygrad_np.jit` runs during a recording call, and the replay program
it generates (one Python function, as source).  See `tinygrad_np.jit` for the semantics."""
from __future__ import annotations

import itertools
import re
from typing import Any, Callable

import numpy as np

from tinygrad_np.autograd import _ones_seed, _store_leaf_grads, _unbroadcast
from tinygrad_np.tensor import Parameter, Tensor, as_array

_STALE = object()  # returned by a replay whose parameters changed shape or dtype: record again
_INLINE = (type(None), bool, int, str)  # constants written into the source as literals


class JitError(RuntimeError):
    """A jitted function does something a replay cannot reproduce (raised while recording)."""


def _fix(g: Any, parent: np.ndarray, shaped: Any, ctx: Any) -> np.ndarray:
    """What the engine does with a gradient that is None (zeros) or of a broadcast shape (sum it back)."""
    return np.zeros_like(parent) if g is None else _unbroadcast(g, shaped, ctx)


class _ShapeOf:
    """Stands in for a parent Tensor in `_unbroadcast`, which reads only `._data.shape`."""

    __slots__ = ("_data",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._data = np.broadcast_to(np.empty((), np.int8), shape)


def _fresh(arr: Any) -> Tensor:
    t = object.__new__(Tensor)
    t._data, t.grad, t.requires_grad, t._ctx = arr, None, False, None
    return t


def _detached(out: Any) -> Any:
    """The recording call's return value, with each Tensor replaced by a fresh detached one."""
    if isinstance(out, Tensor):
        return _fresh(out._data)
    if type(out) in (tuple, list):
        return type(out)(_detached(o) for o in out)
    if type(out) is dict:
        return {k: _detached(v) for k, v in out.items()}
    return out


class _Recorder:
    """Built by one recording call; `finish` turns what the hooks saw into a `_Program`."""

    def __init__(self, flat: tuple[Any, ...]) -> None:
        self.ns: dict[str, Any] = {"asarray": np.asarray, "_seed": _ones_seed, "array": np.array, "tuple": tuple,
                                   "_fix": _fix, "_store": _store_leaf_grads, "_fresh": _fresh, "_STALE": _STALE}
        self.names: dict[int, str] = {}   # id(constant) -> its name in ns
        self.head: list[str] = []         # read the arguments and the parameters' arrays
        self.checks: list[str] = []       # (shape, dtype) of those arrays, compared at each replay
        self.expected: list[Any] = []
        self.lines: list[str] = []        # the step, in the order eager mode ran it
        self.arrays: dict[int, str] = {}  # id(ndarray) -> the variable holding it at replay
        self.tensors: dict[int, tuple[str, str, Any]] = {}  # id(Tensor) -> (array var, kind, key)
        self.keep: list[Any] = []         # everything whose id is a key above stays alive
        self.ctxs: dict[int, int] = {}    # id(ctx) -> op number
        self.ops: dict[int, tuple[type, list[Any]]] = {}  # op number -> (class, parent descriptors)
        self.shapes: dict[int, tuple[int, ...]] = {}       # op number -> its output's shape
        self.guards: list[tuple[Callable[..., Any], tuple, Any]] = []
        self.optimizers: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
        self.count = itertools.count()
        for i, a in enumerate(flat):
            self.head.append(f"x{i} = flat[{i}]")
            if isinstance(a, Tensor):
                if isinstance(a, Parameter):
                    raise JitError(f"jit: argument {i} is a Parameter; the model reads its parameters itself, "
                                   f"so pass only data (arrays or Tensors) to the jitted function")
                if a._ctx is not None:
                    raise JitError(f"jit: argument {i} is a tensor with a graph (the output of an op outside the "
                                   f"jitted function); pass its .detach() or compute it inside the function")
                self.tensors.setdefault(id(a), (f"d{i}", "input", a))
                self.head.append(f"d{i} = x{i}._data")
                self.arrays.setdefault(id(a._data), f"d{i}")
            elif isinstance(a, np.ndarray):
                self.arrays.setdefault(id(a), f"x{i}")
        self.keep.append(flat)

    # ---- names --------------------------------------------------------------------------------
    def const(self, obj: Any, hint: str = "k") -> str:
        name = self.names.get(id(obj))
        if name is None:
            name = self.names[id(obj)] = f"{re.sub(r'[^0-9A-Za-z_]', '_', hint)}_{next(self.count)}"
            self.ns[name] = obj
            self.keep.append(obj)
        return name

    def var(self, prefix: str) -> str:
        return f"{prefix}{next(self.count)}"

    def value(self, v: Any, where: str) -> str:
        """The source expression for a non-Tensor argument `v` of `where`."""
        if type(v) in _INLINE:
            return repr(v)
        if isinstance(v, Tensor):
            return self.tensor_src(v, where)[0]
        if isinstance(v, np.ndarray):
            e = self.arrays.get(id(v))
            if e is None:
                raise JitError(f"jit: {where} received a NumPy array of shape {v.shape} that is neither an argument "
                               f"of the jitted function nor an op's output (was it computed with NumPy, or read "
                               f"from a tensor's .data, inside the function?); a replay would reuse this one. Pass it "
                               f"as an argument, compute it with tinygrad_np ops, or make it a Tensor outside")
            return e
        if isinstance(v, np.generic):
            raise JitError(f"jit: {where} received the NumPy scalar {v!r}; if it is a constant pass a Python "
                           f"number, if it comes from the data compute it with tinygrad_np ops")
        if type(v) is tuple:
            return "(" + "".join(self.value(x, where) + ", " for x in v) + ")"
        return self.const(v)

    def tensor_src(self, t: Tensor, where: str) -> tuple[str, str, Any]:
        """(array variable, kind, key) of a Tensor: an op's output, an argument, one made inside
        the call, or one from outside (a parameter), whose array each replay reads afresh."""
        s = self.tensors.get(id(t))
        if s is not None:
            if s[1] == "unknown":
                raise JitError(f"jit: {where} received a tensor made inside the jitted function from data that "
                               f"is not an argument (a NumPy array computed inside, or a NumPy scalar); a replay "
                               f"would reuse this one. Compute it with tinygrad_np ops or pass it as an argument")
            return s
        if t._ctx is not None:
            raise JitError(f"jit: {where} received a tensor with a graph built before the jitted call; "
                           f"pass its .detach() or build it inside the function")
        name = self.var("e")
        tname = self.const(t, "t")
        self.head.append(f"{name} = {tname}._data")
        self.checks.append(f"{name}.shape, {name}.dtype")
        self.expected.extend((t._data.shape, t._data.dtype))
        s = self.tensors[id(t)] = (name, "outer", t)
        self.keep.append(t)
        return s

    # ---- hooks (called from tensor.py, optim, nn, functional) -----------------------------------
    def tensor(self, t: Tensor, data: Any) -> None:
        self.keep.append(t)
        arr = t._data
        src = data._data if isinstance(data, Tensor) else data
        e = self.arrays.get(id(arr))
        if e is None and isinstance(data, Tensor) and src is arr:
            e = self.tensor_src(data, "Tensor()")[0]  # Tensor(outer_tensor): shares its array
        if e is None:
            if isinstance(src, np.ndarray) and id(src) in self.arrays:  # converted argument
                e = self.var("v")
                self.lines.append(f"{e} = {self.const(as_array, 'as_array')}({self.arrays[id(src)]})")
            elif isinstance(src, (np.ndarray, np.generic, Tensor)):
                self.tensors[id(t)] = ("", "unknown", t)
                return
            else:  # Python numbers and lists: constants of the recording
                e = self.const(arr, "c")
            self.arrays[id(arr)] = e
        self.tensors[id(t)] = (e, "made", t)

    def operand(self, other: Any, out: np.ndarray) -> None:
        """`tensor.operand` turned `other` into `out`: a Python number or list is a constant of the
        recording; an argument or op output converted to another dtype is converted again."""
        if out is other or id(out) in self.arrays:
            return
        if isinstance(other, np.ndarray):
            src = self.arrays.get(id(other))
            if src is not None:
                e = self.var("v")
                self.lines.append(f"{e} = {src}.astype({self.const(out.dtype)})")
                self.arrays[id(out)] = e
                self.keep.append(out)
        elif not isinstance(other, np.generic):
            self.arrays[id(out)] = self.const(out, "c")
            self.keep.append(out)

    def op(self, cls: type, ctx: Any, args: tuple, kwargs: dict[str, Any], out: Any, t: Tensor) -> None:
        where = cls.__name__
        parents, exprs = [], []
        for a in args:
            if isinstance(a, Tensor):
                s = self.tensor_src(a, where)
                parents.append(s)
                exprs.append(s[0])
            else:
                parents.append(None)
                exprs.append(self.value(a, where))
        exprs.extend(f"{k}={self.value(v, where)}" for k, v in kwargs.items())
        n = next(self.count)
        c, a = f"c{n}", f"a{n}"
        C = self.const(cls, cls.__name__)
        self.lines.append(f"{c} = {C}()")
        self.lines.append(f"{a} = {self.const(cls.forward, 'fwd')}({c}, {', '.join(exprs)})")
        if type(out) is not np.ndarray:
            self.lines.append(f"{a} = asarray({a})")
        if t._ctx is not None:
            self.lines.append(f"{c}.needs_input_grad = {self.const(ctx.needs_input_grad)}")
            self.ctxs[id(ctx)] = n
            self.ops[n] = (cls, parents)
        self.keep.extend((ctx, t))
        self.tensors[id(t)] = (a, "op", n)
        self.shapes[n] = t._data.shape
        self.arrays[id(t._data)] = a

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        obj = args[0]
        if hasattr(obj, "param_groups") and id(obj) not in self.optimizers:
            self.optimizers[id(obj)] = (obj, _hyperparameters(obj))
        if fn.__name__ == "step":  # a subclass's step() that calls Optimizer.step: replay the whole of it
            fn = type(obj).step
        self.lines.append(f"{self.const(fn, fn.__qualname__.replace('.', '_'))}("
                          f"{', '.join(self.value(a, fn.__qualname__) for a in args)})")

    def replayed(self, fn: Callable[..., Any], args: tuple, out: Any) -> None:
        call = f"{self.const(fn, fn.__name__)}({', '.join(self.value(a, fn.__name__) for a in args)})"
        if out is None:
            self.lines.append(call)
        elif isinstance(out, np.ndarray):
            e = self.var("v")
            self.lines.append(f"{e} = {call}")
            self.arrays[id(out)] = e
            self.keep.append(out)
        else:
            raise JitError(f"jit: the replayed function {fn.__name__} returned a {type(out).__name__}; "
                           f"it must return an ndarray or None")

    def in_place(self, t: Tensor, op: str) -> None:
        raise JitError(f"jit: {op} changes a Tensor in place inside a jitted function, which a replay would not "
                       f"repeat; write it as an op (y = x + 1) or do it outside the function")

    def python_value(self, t: Tensor, what: str) -> None:
        raise JitError(f"jit: {what} of a Tensor inside a jitted function reads its value into Python, which a "
                       f"replay cannot reproduce (it would keep this call's value, or take this call's branch). "
                       f"Return the tensor and call {what} on the result outside the function, or keep the "
                       f"computation in tensor ops")

    def backward(self, root: Tensor, given: Any, done: list[Any], leaf_grads: dict[Tensor, Any]) -> None:
        s = self.var("s")
        if given is None:
            self.lines.append(f"{s} = _seed({self.const(root._data.shape)}, {self.const(root._data.dtype)})")
        else:
            self.lines.append(f"{s} = array({self.value(given, 'backward')}, dtype={self.const(root._data.dtype)})")
        interior: dict[int, str] = {}  # op number -> its output's gradient so far
        leaves: dict[int, str] = {}    # id(leaf) -> its gradient so far, in eager mode's order
        names: dict[int, str] = {}     # id(leaf) -> the leaf tensor's name
        if root._ctx is None:
            src = self.tensor_src(root, "backward")
            leaves[id(root)], names[id(root)] = s, self.leaf_name(src)
        else:
            interior[self.tensors[id(root)][2]] = s
        for ctx in done:  # the order the engine ran, with its accumulation (autograd._propagate)
            n = self.ctxs[id(ctx)]
            cls, parents = self.ops[n]
            r = self.var("r")
            self.lines.append(f"{r} = {self.const(cls.backward, 'bwd')}(c{n}, {interior.pop(n)})")
            self.lines.append(f"if type({r}) is not tuple: {r} = ({r},)")
            for i, (par, needs) in enumerate(zip(parents, ctx.needs_input_grad)):
                if not needs:
                    continue
                e, kind, key = par
                g = self.var("g")
                shape = self.shapes[key] if kind == "op" else key._data.shape
                self.lines.append(f"{g} = {r}[{i}]")
                self.lines.append(f"if {g} is None or {g}.shape != {self.const(shape)}: "
                                  f"{g} = _fix({g}, {e}, {self.const(_ShapeOf(shape))}, c{n})")
                k, acc = (key, interior) if kind == "op" else (id(key), leaves)
                if k in acc:
                    total = self.var("g")
                    self.lines.append(f"{total} = {acc[k]} + {g}")
                    acc[k] = total
                else:
                    acc[k] = g
                    if kind != "op":
                        names[k] = self.leaf_name(par)
        self.lines.append("_store({" + ", ".join(f"{names[k]}: {g}" for k, g in leaves.items()) + f"}}, {s})")

    def leaf_name(self, par: tuple[str, str, Any]) -> str:
        e, kind, key = par
        if kind == "outer":
            return self.const(key, "t")
        if kind == "input":
            return "x" + e[1:]
        raise JitError("jit: a tensor made inside the jitted function requires grad, but a replay has no such "
                       "tensor to give a gradient to; pass it as an argument instead")

    # ---- the program --------------------------------------------------------------------------------
    def finish(self, out: Any) -> _Program:
        for opt, before in self.optimizers.values():
            if _hyperparameters(opt) != before:
                raise JitError(f"jit: {type(opt).__name__}'s hyperparameters changed during the jitted call (a "
                               f"learning-rate scheduler's step() inside the function?); a replay would not change "
                               f"them. Call scheduler.step() outside the jitted function")
        ret = self.output(out)
        head = list(self.head)
        if self.checks:
            head.append(f"if ({', '.join(self.checks)},) != {self.const(tuple(self.expected))}: return _STALE")
        body = head + self.lines + [f"return {ret}"]
        source = "def replay(flat):\n" + "".join(f"    {ln}\n" for ln in body)
        exec(compile(source, "<tinygrad_np.jit recording>", "exec"), self.ns)  # noqa: S102  (our own source)
        return _Program(self.ns["replay"], self.guards, source)

    def output(self, out: Any) -> str:
        if isinstance(out, Tensor):
            ctx = out._ctx
            if ctx is not None and getattr(ctx, "parents", None) is not None:
                raise JitError("jit: the function returns a tensor whose graph is still live (backward was not "
                               "called through it inside the function); a replay builds no graph. Call backward "
                               "inside the function, or return .detach()")
            return f"_fresh({self.tensor_src(out, 'return')[0]})"
        if isinstance(out, np.ndarray):
            return self.value(out, "return")
        if out is None or isinstance(out, str):
            return repr(out)
        if type(out) in (tuple, list):
            items = "".join(self.output(o) + ", " for o in out)
            return f"({items})" if type(out) is tuple else f"[{items}]"
        if type(out) is dict:
            return "{" + ", ".join(f"{self.value(k, 'return')}: {self.output(v)}" for k, v in out.items()) + "}"
        raise JitError(f"jit: the function returns a {type(out).__name__}; a replay would return this call's value "
                       f"again. Return Tensors (and call .item() outside), arrays, or containers of them")


def _hyperparameters(opt: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


class _Program:
    __slots__ = ("run", "guards", "source")

    def __init__(self, run: Callable[[tuple], Any], guards: list, source: str) -> None:
        self.run, self.guards, self.source = run, guards, source
