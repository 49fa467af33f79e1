"""`Module`: the base class of every layer and model, owning `Parameter`s.

Assigning a `Parameter`, a `Module`, or a list / tuple / dict of them to an attribute
registers it (the containers are walked when asked, so appending later works too).
`named_parameters()` yields dotted names in definition order: `layers.0.W`, `layers.0.B`, ...
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np

from tinygrad_np._io import atomic_savez, load_npz
from tinygrad_np._malloc import aligned_copy
from tinygrad_np.autograd import _jit_state
from tinygrad_np.tensor import Parameter, Tensor

__all__ = ["Module", "IncompatibleKeys"]

_CONTAINERS = (list, tuple, dict)


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped."""
    missing_keys: list[str]
    unexpected_keys: list[str]


def _walk(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (dotted name, Parameter or Module) inside a (possibly nested) container."""
    if isinstance(value, (Parameter, Module)):
        yield prefix, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(f"{prefix}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(f"{prefix}.{i}", v)


class Module:
    """Base class of every layer and model.  Subclasses call `super().__init__()` and define `forward`."""

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["_registered"] = {}  # ordered set of attribute names that may hold Parameters / Modules
        d["_buffers"] = {}  # ordered set of attribute names holding buffers (see register_buffer)
        d["training"] = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_buffers", ()) and not isinstance(value, Parameter):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} (a Tensor or None)")
            object.__setattr__(self, name, value)
            return
        self.__dict__.get("_buffers", {}).pop(name, None)
        reg = self.__dict__.get("_registered")
        if isinstance(value, (Parameter, Module, *_CONTAINERS)):
            if reg is None:
                raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                     f"(call super().__init__() first in {type(self).__name__}.__init__)")
            reg[name] = None
        elif reg is not None:
            reg.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        self.__dict__["_registered"].pop(name, None)
        self.__dict__.get("_buffers", {}).pop(name, None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's computation, called by `module(*args)`; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- tree walking ----------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """Direct Parameters and sub-Modules with their names relative to self, in definition order."""
        d = self.__dict__
        for name in d["_registered"]:
            yield from _walk(name, d[name])

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-Modules (also those inside lists, tuples and dicts): `("layers.0", fc)`."""
        seen: set[int] = set()
        for name, v in self._members():
            if isinstance(v, Module) and id(v) not in seen:
                seen.add(id(v))
                yield name, v

    def children(self) -> Iterator[Module]:
        """The direct sub-Modules, each once, in definition order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """self (named `prefix`) and every descendant, depth first, each once."""
        seen = {id(self)}
        stack = [(prefix, self)]
        while stack:  # iterative: deep trees are fine
            name, m = stack.pop()
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children() if id(c) not in seen]
            seen.update(id(c) for _, c in kids)
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """self and every descendant Module, depth first, each once."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) in definition order, depth first (a sub-module's parameters at
        the place the sub-module was assigned); a shared Parameter or Module is visited once."""
        seen_p: set[int] = set()
        seen_m = {id(self)}
        stack = [(prefix, self._members())]  # iterative depth-first walk over member iterators
        while stack:
            pre, members = stack[-1]
            for name, v in members:
                full = f"{pre}.{name}" if pre else name
                if isinstance(v, Parameter):
                    if id(v) not in seen_p:
                        seen_p.add(id(v))
                        yield full, v
                elif id(v) not in seen_m:
                    seen_m.add(id(v))
                    stack.append((full, v._members()))
                    break
            else:
                stack.pop()

    def parameters(self) -> Iterator[Parameter]:
        """Every Parameter of self and its descendants, each once, in definition order."""
        for _, p in self.named_parameters():
            yield p

    # ---- buffers: state that is saved and loaded but not optimized (BatchNorm's running statistics)
    def register_buffer(self, name: str, value: Any) -> None:
        """Make attribute `name` a buffer holding `value` (a Tensor, an array, or None).

        Buffers are in `state_dict()` and follow `to(dtype)`, but `parameters()` does not
        return them.  The Tensor kept is used in place (arrays are wrapped, not copied).
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"cannot register buffer {name!r} before Module.__init__() is called")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer: name must be an identifier, got {name!r}")
        if isinstance(value, Parameter):
            raise TypeError(f"register_buffer: {name!r} is a Parameter; assign it as an attribute instead")
        if name in self.__dict__ and name not in self._buffers:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = None
        object.__setattr__(self, name, value if value is None or isinstance(value, Tensor) else Tensor(value))

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer Tensor) of self and every descendant (None buffers skipped), each once."""
        seen: set[int] = set()
        for mname, m in self.named_modules(prefix):
            for name in m.__dict__.get("_buffers", ()):
                t = m.__dict__[name]
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mname}.{name}" if mname else name), t

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer (a non-learnable tensor such as BatchNorm's running mean) of self and its
        descendants, in definition order."""
        for _, t in self.named_buffers():
            yield t

    def num_parameters(self) -> int:
        """Total number of scalar weights."""
        return sum(p.size for p in self.parameters())

    def apply(self, fn: Any) -> Module:
        """Call `fn(module)` on every descendant then on self (as `torch.nn.Module.apply`); returns self."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # ---- training state --------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's `.grad` (or fill it with zeros when `set_to_none=False`), as PyTorch."""
        if _jit_state.recorder is not None:  # jit hook: a replay calls this again
            _jit_state.recorder.call(Module.zero_grad, self, set_to_none)
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Set `.training` on self and every descendant (Dropout reads it); returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (`train(False)`) on self and every descendant; returns self."""
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Cast every parameter and buffer to float32 or float64 (they keep their identity); returns self."""
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"to: dtype must be float32 or float64, got {dtype!r}")
        for p in self.parameters():
            if p.dtype != dt:
                p.data = aligned_copy(p.data, dt)
                p.grad = None
        for t in self.buffers():
            if t.dtype != dt:
                t.data = t.data.astype(dt)
        return self

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Ordered {dotted name: copy of the array}: the parameters, then the buffers."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state())

    def _state(self) -> Iterator[tuple[str, Tensor]]:
        yield from self.named_parameters()
        yield from self.named_buffers()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy `state_dict`'s arrays into the existing Parameters and buffers, cast to their dtype.

        Everything is checked first: missing and unexpected keys (when `strict`), wrong
        shapes and non-numeric values are all listed in one ValueError, and then nothing
        is changed.  Returns the (missing, unexpected) keys, as PyTorch does.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of name -> array, got {type(state_dict).__name__}")
        params = dict(self._state())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
        arrays = {}
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            try:
                arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            except Exception as e:  # noqa: BLE001 - reported below with the key
                problems.append(f"{name}: cannot convert {type(value).__name__} to an array ({e})")
                continue
            if arr.dtype.kind not in "biuf":
                problems.append(f"{name}: dtype {arr.dtype} is not numeric (need a float array)")
            elif arr.shape != p.shape:
                problems.append(f"{name}: shape {arr.shape} in the state dict, {p.shape} in the model")
            else:
                arrays[name] = arr
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
                             + " (the model was not changed)")
        for name, arr in arrays.items():
            np.copyto(params[name].data, arr, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike) -> None:
        """Write `state_dict()` to an .npz file at exactly `path`, atomically (a failed write
        leaves any previous file intact)."""
        atomic_savez(path, self.state_dict())

    def load(self, path: str | os.PathLike, strict: bool = True) -> IncompatibleKeys:
        """Load a file written by `save` (read with allow_pickle=False) via `load_state_dict`.

        A file that cannot be read as an .npz (missing, a directory, empty, truncated, corrupt,
        a .npy) or whose arrays do not fit the model raises ValueError naming the path."""
        sd = load_npz(path, f"{type(self).__name__} state file")
        try:
            return self.load_state_dict(sd, strict=strict)
        except ValueError as e:
            raise ValueError(f"{os.fspath(path)}: {e}") from None

    # ---- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses when it has no children."""
        return ""

    def _repr_lines(self) -> list[str]:
        lines = []
        for name, v in self._members():
            if isinstance(v, Parameter):
                lines.append(f"({name}): Parameter{v.shape} {v.dtype}")
            else:
                sub = v._repr_lines()
                lines.append(f"({name}): " + sub[0])
                lines.extend(sub[1:])
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines or isinstance(self, _Leaf):
            return [head + ")"]
        return [head] + ["  " + ln for ln in lines] + [")"]

    def __repr__(self) -> str:
        lines = self._repr_lines()
        n = self.num_parameters()
        return "\n".join(lines) + f"  # {n:,} parameter{'s' if n != 1 else ''}"


class _Leaf(Module):
    """A layer printed on one line (its parameters are summarised in extra_repr)."""
