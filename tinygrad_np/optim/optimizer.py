"""`Optimizer`: parameter groups, the all-or-nothing `step`, `zero_grad`, checkpoints.

A concrete optimizer is one update rule (a plain function over one parameter's arrays,
in `sgd.py`, `adagrad.py`, ...) and a small subclass naming its defaults and checking them.
As in PyTorch, `step()` reads `group["params"]` and every hyperparameter afresh each time,
updates `p.data` in place (never rebinding it) and only reads `p.grad`.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import numpy as np

from tinygrad_np.autograd import _jit_state
from tinygrad_np.tensor import Parameter


def check_range(name: str, value: Any, lo: float, hi: float = math.inf, hi_open: bool = False) -> None:
    """Raise unless `value` is a real number in [lo, hi] (or [lo, hi) with `hi_open`); NaN fails."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (lo <= value < hi if hi_open else lo <= value <= hi):
        upper = "" if hi == math.inf else f" and {'<' if hi_open else '<='} {hi}"
        raise ValueError(f"Invalid {name}: {value!r} (must be >= {lo}{upper})")


class Optimizer:
    """Base class.  Subclasses set `rule`, the update
    `rule(p, g, state, scratch, **hyperparameters)` on arrays (p updated in place, `state` the
    parameter's dict with its int "step" already advanced, `scratch` an array like p that the
    rule may overwrite), pass their defaults to `__init__`, list the state arrays the rule may
    keep in `state_keys` and check a group's hyperparameters in `_check_group`.
    """

    rule: Callable[..., None]
    state_keys: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        if isinstance(params, (Parameter, dict)) or not isinstance(params, Iterable):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters or of dicts "
                            f"(param groups), got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Parameter, dict[str, Any]] = {}
        # per parameter: (the array it was made for, a scratch array like it) -- see step()
        self._scratch: dict[Parameter, tuple[np.ndarray, np.ndarray]] = {}
        checked: list[dict[str, Any]] = []
        for g in groups:  # all validated before any is kept
            checked.append(self._prepare_group(g, checked))
        self.param_groups = checked

    def _prepare_group(self, group: Any, existing: list[dict[str, Any]]) -> dict[str, Any]:
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got {type(group).__name__}")
        ps = group["params"]
        ps = [ps] if isinstance(ps, Parameter) else list(ps)
        if not ps:
            raise ValueError(f"{name} got an empty parameter list")
        for i, p in enumerate(ps):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, not a Parameter "
                                f"(wrap learnable arrays in tinygrad_np.Parameter)")
        seen = {id(p) for g in existing for p in g["params"]}
        if len({id(p) for p in ps}) != len(ps) or any(id(p) in seen for p in ps):
            raise ValueError(f"{name}: a parameter appears in more than one group (or twice)")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, "params": ps}
        self._check_group(full)
        return full

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group (a dict with "params"; missing hyperparameters from the defaults)."""
        self.param_groups.append(self._prepare_group(group, self.param_groups))

    def _check_group(self, group: dict[str, Any]) -> None:
        check_range("learning rate", group["lr"], 0.0)
        for key, label in (("weight_decay", "weight_decay value"), ("eps", "epsilon value")):
            if key in group:
                check_range(label, group[key], 0.0)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or fill it with zeros when `set_to_none=False`)."""
        if _jit_state.recorder is not None:  # jit hook: a replay calls this again
            _jit_state.recorder.call(Optimizer.zero_grad, self, set_to_none)
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter whose `.grad` is not None; returns `closure()` (which recomputes
        the loss first) or None.

        Every gradient is checked before anything is written: each must be a real float
        ndarray of exactly its parameter's shape, else a ValueError or TypeError names the
        parameter and no weight or state changes.
        """
        loss = closure() if closure is not None else None
        if _jit_state.recorder is not None:  # jit hook: a replay calls this again (the closure's ops are recorded)
            _jit_state.recorder.call(Optimizer.step, self)
        work = []
        for gi, group in enumerate(self.param_groups):
            hyper = {k: group[k] for k in self.defaults}
            for pi, p in enumerate(group["params"]):
                g = p.grad
                if g is not None:
                    if type(g) is not np.ndarray or g.shape != p._data.shape or g.dtype.kind != "f":
                        self._bad_grad(gi, pi, p, g)
                    work.append((p, g, hyper))
        rule, state, scratch = type(self).rule, self.state, self._scratch
        for p, g, hyper in work:
            d = p._data
            st = state.get(p)
            if st is None:
                st = state[p] = {"step": 0}
            st["step"] += 1
            made = scratch.get(p)
            if made is None or made[0] is not d:  # new, or p.data was reassigned: an identity check
                made = scratch[p] = (d, np.empty_like(d))  # is all the step pays (no shape/dtype reads)
            rule(d, g, st, made[1], **hyper)
        return loss

    def _bad_grad(self, gi: int, pi: int, p: Parameter, g: Any) -> None:
        where = f"{type(self).__name__}.step: param_groups[{gi}]['params'][{pi}] (shape {p.shape})"
        if not isinstance(g, np.ndarray):
            raise TypeError(f"{where}: .grad is a {type(g).__name__}, not an ndarray; nothing was updated")
        raise ValueError(f"{where}: .grad has shape {g.shape} and dtype {g.dtype}; need {p.shape} and a "
                         f"float dtype; nothing was updated")

    # ---- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: copy}}, "param_groups": [{hyperparameters, "params": [index, ...]}]}.

        Parameters are numbered in group order, as in PyTorch.
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = [index.setdefault(id(p), len(index)) for p in g["params"]]
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                 for p, st in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict()` (arrays are copied, cast to
        the parameter's dtype).  Every group and state entry is checked first (keys, types,
        shapes, step counts); on any problem a ValueError says which, and nothing changes."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups'")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: {len(saved_groups) if isinstance(saved_groups, (list, tuple)) else 'no'} "
                             f"parameter groups saved, {len(self.param_groups)} in the optimizer")
        if not isinstance(saved_state, dict):
            raise ValueError(f"{name}: 'state' must be a dict of parameter index -> dict")
        params: dict[Any, Parameter] = {}
        new_groups = []
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            missing = [k for k in ("params", *self.defaults) if not isinstance(sg, dict) or k not in sg]
            if missing:
                raise ValueError(f"{name}: parameter group {i} lacks {', '.join(map(repr, missing))}")
            if not isinstance(sg["params"], (list, tuple)) or len(sg["params"]) != len(g["params"]):
                raise ValueError(f"{name}: group {i} has {len(sg['params'])} parameters saved, "
                                 f"{len(g['params'])} in the optimizer")
            params.update(zip(sg["params"], g["params"]))
            ng = {**{k: v for k, v in sg.items() if k != "params"}, "params": g["params"]}
            try:
                self._check_group(ng)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name}: parameter group {i}: {e}") from None
            new_groups.append(ng)
        new_state = {}
        for idx, st in saved_state.items():
            if idx not in params:
                raise ValueError(f"{name}: state for unknown parameter index {idx!r}")
            new_state[params[idx]] = self._checked_state(name, idx, st, params[idx])
        self.param_groups[:] = new_groups
        self.state = new_state

    def _checked_state(self, name: str, idx: Any, st: Any, p: Parameter) -> dict[str, Any]:
        where = f"{name}: state of parameter {idx}"
        if not isinstance(st, dict):
            raise ValueError(f"{where} is a {type(st).__name__}, not a dict")
        step = st.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"{where}: 'step' must be a non-negative integer, got {step!r}")
        entry: dict[str, Any] = {"step": int(step)}
        for k, v in st.items():
            if k == "step":
                continue
            if k not in self.state_keys:
                raise ValueError(f"{where}: unknown entry {k!r} (this optimizer keeps {self.state_keys})")
            if (not isinstance(v, np.ndarray) or v.shape != p.shape or v.dtype.kind not in "iuf"
                    or not np.isfinite(v).all()):
                raise ValueError(f"{where}: {k!r} must be a finite real array of shape {p.shape}, got "
                                 f"{type(v).__name__} {np.shape(v)} {getattr(v, 'dtype', '')}")
            entry[k] = np.array(v, dtype=p.dtype)
        return entry

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"  group {i}: {len(g['params'])} params, "
                         + ", ".join(f"{k}={v}" for k, v in g.items() if k != "params"))
        return "\n".join(lines) + "\n)"
