"""Containers: `Sequential` (layers in order, linear + activation and ReLU + max pool fused),
`ModuleList`, `ModuleDict`."""
from __future__ import annotations

from typing import Any, Iterator

from tinygrad_np.nn.conv import Conv1d, Conv2d, MaxPool2d
from tinygrad_np.nn.layers import FC, Linear, ReLU, Sigmoid, Tanh
from tinygrad_np.nn.module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]

_LINEAR = (FC, Linear, Conv1d, Conv2d)  # layers with forward_with(x, activation)
_FUSED_ACTIVATION = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}  # Sequential runs a linear + these as one node

class Sequential(Module):
    """Layers applied in order: `Sequential(FC(4, 8), ReLU(), FC(8, 2))`; indexable like a list.

    Children are named "0", "1", ... (so parameters are `0.W`, `0.B`, `2.W`, ...).  An `FC`
    (or `Linear`, `Conv1d`, `Conv2d`) followed by a `ReLU`, `Tanh` or `Sigmoid` runs as one fused node,
    `F.linear(x, W, B, activation)`: same parameters and results, one array and one graph
    node fewer per layer (subclasses of those layers run as written).  A `ReLU` followed by a
    `MaxPool2d` runs as one pooling node with ReLU on its output (`F.max_pool2d(x, ...,
    activation="relu")`: the two commute), so ReLU's work is on the pooled array.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, m in enumerate(layers):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
        self.__dict__["_layers"] = list(layers)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self._layers))
        yield from super()._members()

    def forward(self, x: Any) -> Any:
        """Apply the layers in order to x; returns the last layer's output."""
        layers = self._layers
        i, n = 0, len(layers)
        while i < n:
            m = layers[i]
            after = type(layers[i + 1]) if i + 1 < n else None
            if type(m) is ReLU and after is MaxPool2d:  # one node, ReLU on the pooled output
                x = layers[i + 1].forward_with(x, "relu")
                i += 2
                continue
            act = _FUSED_ACTIVATION.get(after) if type(m) in _LINEAR else None
            if act is None or (act == "relu" and i + 2 < n and type(layers[i + 2]) is MaxPool2d):
                x = m(x)  # (a ReLU before a MaxPool2d fuses into the pooling instead)
                i += 1
            else:
                x = m.forward_with(x, act)
                i += 2
        return x

    def append(self, layer: Module) -> Sequential:
        """Add `layer` at the end; returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(layer).__name__}")
        self._layers.append(layer)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)


class ModuleList(Module):
    """A list of Modules, registered as children "0", "1", ... (as `torch.nn.ModuleList`); it has no
    forward of its own."""

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        self.__dict__["_modules_list"] = []
        self.extend(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self._modules_list))
        yield from super()._members()

    @staticmethod
    def _check(module: Any, where: str) -> Module:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.{where}: expected a Module, got {type(module).__name__}")
        return module

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        self._modules_list.append(self._check(module, "append"))
        return self

    def extend(self, modules: Any) -> ModuleList:
        """Add each Module of the iterable `modules` at the end (all checked first); returns self."""
        new = [self._check(m, "extend") for m in modules]  # all checked before any is added
        self._modules_list.extend(new)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index`."""
        self._modules_list.insert(index, self._check(module, "insert"))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._modules_list[index])
        return self._modules_list[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._modules_list[index] = self._check(module, "__setitem__")

    def __len__(self) -> int:
        return len(self._modules_list)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules_list)


class ModuleDict(Module):
    """An ordered dict of name -> Module, registered under those names (as `torch.nn.ModuleDict`)."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        self.__dict__["_modules_dict"] = {}
        if modules is not None:
            self.update(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from self._modules_dict.items()
        yield from super()._members()

    def update(self, modules: Any) -> None:
        """Add or replace entries from a mapping or (name, Module) pairs (all checked first)."""
        items = list(modules.items() if hasattr(modules, "items") else modules)
        for k, m in items:  # all checked before any is added
            if not isinstance(k, str) or not k or "." in k:
                raise ValueError(f"ModuleDict: keys must be non-empty strings without dots, got {k!r}")
            if not isinstance(m, Module):
                raise TypeError(f"ModuleDict: {k!r} is a {type(m).__name__}, not a Module")
        self._modules_dict.update(items)

    def __getitem__(self, key: str) -> Module:
        return self._modules_dict[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.update({key: module})

    def __delitem__(self, key: str) -> None:
        del self._modules_dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules_dict

    def __len__(self) -> int:
        return len(self._modules_dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules_dict)

    def keys(self) -> Any:
        """The names, in insertion order."""
        return self._modules_dict.keys()

    def values(self) -> Any:
        """The Modules, in insertion order."""
        return self._modules_dict.values()

    def items(self) -> Any:
        """(name, Module) pairs, in insertion order."""
        return self._modules_dict.items()
