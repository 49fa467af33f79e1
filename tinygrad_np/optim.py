"""Optimizers with `torch.optim`'s update rules and defaults, applied in place.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    for X, y in batches:
        opt.zero_grad()
        F.softmax_cross_entropy(model(Tensor(X)), y).backward()
        opt.step()

Parameter groups work as in PyTorch: pass dicts such as
`[{"params": head.parameters(), "lr": 0.1}, {"params": body.parameters()}]`; keys not
given come from the optimizer's defaults.  `state_dict()` / `load_state_dict()` round-trip
everything a later `step()` reads, so resumed training is bit-identical.

Why the code looks the way it does: the step is on the hot path (at batch 20 one more
pass over the weights costs a sizeable part of a training step).  Every update writes
into `p.data` and into preallocated state with `out=` ufuncs, through a scratch array,
and folds scalar factors together so that each rule makes the fewest passes over the
weights NumPy allows.  Scalars are Python floats, so float32 weights stay float32.
`p.grad` is only read, never written (as in PyTorch).

Contiguous storage: the optimizer keeps the parameters of a group that share a dtype in
one array (each `p.data` becomes a view into it, values unchanged), their gradients in
another (`tensor.GradBuffer`: the backward pass writes into it) and each state array in a
third, so that one update is one NumPy call per operation for all of them instead of one
per parameter.  It packs only arrays nothing else refers to (and only where reference
counts are exact: `tensor.EXACT_REFCOUNTS`), and updates parameter by parameter, with the
same rule, whenever a step finds a `.grad`, `.data` or state array that is not its view:
at the first step, after `p.data = ...` or `model.to(...)` (build the optimizer after
converting the model), or when a parameter got no gradient.  The two ways agree up to
rounding (the packed update is one BLAS axpy where a small parameter alone gets NumPy's
two passes).

The learning-rate schedulers (`StepLR`, `CosineAnnealingLR`; call `sched.step()` once per
epoch, after `opt.step()`) live here too, and under torch's name `optim.lr_scheduler`.  They
compute the rate in closed form from the epoch counter, so one restored with
`load_state_dict` continues exactly.
"""
from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Callable, Iterable

import numpy as np

from tinygrad_np._blas import axpy
from tinygrad_np.tensor import _FLOATS, EXACT_REFCOUNTS, GradBuffer, Parameter, views_into

__all__ = ["Optimizer", "SGD", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "Adam", "AdamW",
           "LRScheduler", "StepLR", "CosineAnnealingLR", "lr_scheduler"]


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def _check_range(name: str, value: Any, lo: float, hi: float = math.inf, hi_open: bool = False) -> None:
    v = _real(name, value)
    ok = lo <= v < hi if hi_open else lo <= v <= hi
    if not ok:  # NaN fails too
        upper = "" if hi == math.inf else f" and {'<' if hi_open else '<='} {hi}"
        raise ValueError(f"Invalid {name}: {value!r} (must be >= {lo}{upper})")


class Optimizer:
    """Base class: parameter groups, `step`, `zero_grad`, `state_dict` / `load_state_dict`.

    Subclasses set their defaults, validate a group's hyperparameters in `_check_group`,
    read them once per step in `_hyper`, name their state arrays in `_state_names`, and
    apply the rule to arrays in `_update` (to one parameter, or to a whole `_Pack`).
    `self.state[p]` holds each parameter's state (arrays of the parameter's dtype and an
    int `step`).
    """

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
        self._scratch: dict[Parameter, tuple[np.ndarray, np.ndarray]] = {}
        self._storage: list[tuple[list[_Pack], list[Parameter]]] = []  # per group: packs, unpacked params
        checked = [self._prepare_group(g, []) for g in groups]  # validate all before keeping any
        seen: set[int] = set()
        for g in checked:
            for p in g["params"]:
                if id(p) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group (or twice)")
                seen.add(id(p))
        self.param_groups = checked
        for g in checked:
            self._init_group_state(g)
            self._storage.append(self._pack(g))

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
        old = {id(p) for g in existing for p in g["params"]}
        if any(id(p) in old for p in ps):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, "params": ps}
        self._check_group(full)
        return full

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group (a dict with "params"; missing hyperparameters from the defaults)."""
        g = self._prepare_group(group, self.param_groups)
        self.param_groups.append(g)
        self._init_group_state(g)
        self._storage.append(self._pack(g))

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_range("learning rate", group["lr"], 0.0)
        if "weight_decay" in group:
            _check_range("weight_decay value", group["weight_decay"], 0.0)
        if "eps" in group:
            _check_range("epsilon value", group["eps"], 0.0)

    def _init_group_state(self, group: dict[str, Any]) -> None:
        """Create state eagerly (only AdaGrad does, as PyTorch); others create it at the first step."""

    def _pack(self, group: dict[str, Any]) -> tuple[list[_Pack], list[Parameter]]:
        """Contiguous storage for the group's parameters, one `_Pack` per dtype of two or more.

        A parameter is packed only if its array is a C-contiguous, writable float array that
        owns its memory and that nothing but the Parameter refers to (so rebinding `p.data`
        to a view cannot leave a caller holding an array that stops training).
        """
        by_dtype: dict[np.dtype, list[Parameter]] = {}
        loose = []
        for p in group["params"]:
            d = p._data
            # References to d: the Parameter, the local name `d`, getrefcount's argument.
            if (EXACT_REFCOUNTS and type(d) is np.ndarray and d.base is None and d.flags.c_contiguous
                    and d.flags.writeable and d.dtype in _FLOATS and d.size and sys.getrefcount(d) == 3):
                by_dtype.setdefault(d.dtype, []).append(p)
            else:
                loose.append(p)
        packs = []
        for dt, ps in by_dtype.items():
            if len(ps) < 2:
                loose += ps
                continue
            pack = _Pack(ps, dt)
            pack.adopt(self.state, self._state_names(self._hyper(group)))
            packs.append(pack)
        return packs, loose

    def _hyper(self, group: dict[str, Any]) -> tuple:
        """The group's hyperparameters as Python floats and flags, in the order `_update` reads them."""
        raise NotImplementedError

    def _state_names(self, h: tuple) -> tuple[str, ...]:
        """Names of the state arrays the rule keeps with hyperparameters `h`."""
        return ()

    # State arrays the rule creates itself at their first use (the others start as zeros).
    _created_by_rule: tuple[str, ...] = ()

    def _needs_scratch(self, h: tuple) -> bool:
        """Whether the rule with hyperparameters `h` writes into the scratch array."""
        return True

    def _update(self, d: np.ndarray, g: np.ndarray, st: dict[str, Any], s: np.ndarray | None, step: int,
                h: tuple) -> None:
        """Apply the rule in place: parameter d, gradient g, state arrays st, scratch s (like d), at
        `step` (1 at the first update)."""
        raise NotImplementedError

    def _state(self, p: Parameter, names: tuple[str, ...]) -> dict[str, Any]:
        """p's state, created at its first step as {"step": 0}; missing arrays are added as zeros
        (except those in `_created_by_rule`), a missing step count (an older state) as 0."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {"step": 0}
        elif "step" not in st:
            st["step"] = 0
        for n in names:
            if n not in st and n not in self._created_by_rule:
                st[n] = np.zeros_like(p.data)
        return st

    def _buf(self, p: Parameter, d: np.ndarray) -> np.ndarray:
        """The parameter's scratch array (not part of the state), reallocated if p.data was replaced."""
        e = self._scratch.get(p)
        if e is None or e[0] is not d:
            e = self._scratch[p] = (d, np.empty_like(d))
        return e[1]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or fill it with zeros when `set_to_none=False`)."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter whose grad is not None.  `closure` (optional) recomputes the loss first."""
        loss = closure() if closure is not None else None
        state = self.state
        for group, (packs, loose) in zip(self.param_groups, self._storage):
            h = self._hyper(group)
            names = self._state_names(h)
            scratch = self._needs_scratch(h)
            for pack in packs:
                step = pack.ready(state, names)
                if step is None:  # e.g. the first step, or a parameter without a gradient
                    for p in pack.params:
                        self._update_param(p, h, names, scratch)
                    if pack.adopt(state, names):
                        for p in pack.params:  # from now on the pack's scratch serves them
                            self._scratch.pop(p, None)
                else:
                    pack.advance(step + 1)
                    self._update(pack.data, pack.grads.array, pack.state, pack.scratch() if scratch else None,
                                 step + 1, h)
            for p in loose:
                self._update_param(p, h, names, scratch)
        return loss

    def _update_param(self, p: Parameter, h: tuple, names: tuple[str, ...], scratch: bool) -> None:
        g = p.grad
        if g is None:
            return
        d = p.data
        st = self._state(p, names)
        st["step"] = step = st["step"] + 1
        self._update(d, g, st, self._buf(p, d) if scratch else None, step, h)

    # ---- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: copy}}, "param_groups": [{hyperparameters, "params": [index, ...]}]}.

        Parameters are numbered in group order, as in PyTorch.
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                 for p, st in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict()` (arrays are copied, cast to
        the parameter dtype).  Everything is checked first; on error nothing changes."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: {len(saved_groups)} parameter groups saved, "
                             f"{len(self.param_groups)} in the optimizer")
        params: dict[int, Parameter] = {}
        new_groups = []
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            missing = [k for k in ("params", *self.defaults) if not isinstance(sg, dict) or k not in sg]
            if missing:
                raise ValueError(f"{name}.load_state_dict: parameter group {i} lacks {', '.join(map(repr, missing))}")
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(sg['params'])} parameters saved, "
                                 f"{len(g['params'])} in the optimizer")
            params.update(zip(sg["params"], g["params"]))
            ng = {**{k: v for k, v in sg.items() if k != "params"}, "params": g["params"]}
            self._check_group(ng)
            new_groups.append(ng)
        new_state: dict[Parameter, dict[str, Any]] = {}
        for idx, st in state_dict["state"].items():
            if idx not in params:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter index {idx!r}")
            p = params[idx]
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape or v.dtype.kind not in "biuf":
                        raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {idx} has shape "
                                         f"{v.shape} and dtype {v.dtype}; the parameter has shape {p.shape}")
                    entry[k] = np.array(v, dtype=p.dtype)
                else:
                    entry[k] = v
            new_state[p] = entry
        self.param_groups[:] = new_groups
        self.state = new_state
        for group, (packs, _) in zip(self.param_groups, self._storage):
            for pack in packs:
                pack.adopt(new_state, self._state_names(self._hyper(group)))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"  group {i}: {len(g['params'])} params, "
                         + ", ".join(f"{k}={v}" for k, v in g.items() if k != "params"))
        return "\n".join(lines) + "\n)"


class _Pack:
    """Parameters of one group and dtype in contiguous storage, so one update is one call per op.

    `data` holds the parameters (each `p.data` is a view into it), `grads` their gradients
    (a `GradBuffer`), `state[name]` each state array the rule keeps.  The per-parameter
    state dicts stay the public face (`optimizer.state[p]`); their arrays are views too.
    """

    def __init__(self, params: list[Parameter], dtype: np.dtype) -> None:
        self.params = params
        self.data = np.empty(sum(p.size for p in params), dtype)
        self.data_views = views_into(self.data, params)
        for p, v in zip(params, self.data_views):
            np.copyto(v, p._data)
            p._data = v
        self.grads = GradBuffer(params, dtype)
        self.state: dict[str, np.ndarray] = {}
        self._state_views: dict[str, list[np.ndarray]] = {}
        self._names: tuple[str, ...] = ()
        self._adopted: list[dict[str, Any]] | None = None  # the state dicts whose arrays are views
        self._scratch: np.ndarray | None = None

    def scratch(self) -> np.ndarray:
        """A scratch array like `data` (allocated at first use)."""
        if self._scratch is None:
            self._scratch = np.empty_like(self.data)
        return self._scratch

    def adopt(self, state: dict[Parameter, dict[str, Any]], names: tuple[str, ...]) -> bool:
        """Make the parameters' state arrays `names` views into flat storage (values copied once).

        Returns whether the pack can be used: every parameter still has its packed array and a
        state with arrays of its shape under exactly these names, arrays that are views already
        or that nothing but the state refers to (one the caller holds must keep training).
        """
        self._adopted = None
        sts = [state.get(p) for p in self.params]
        for i, (p, v, st) in enumerate(zip(self.params, self.data_views, sts)):
            if p._data is not v or st is None or "step" not in st:
                return False
            for n in names:
                a = st.get(n)
                if not isinstance(a, np.ndarray) or a.shape != v.shape:
                    return False
                # References to a foreign array: the state dict, the name a, getrefcount's argument.
                if (n not in self._state_views or a is not self._state_views[n][i]) and sys.getrefcount(a) != 3:
                    return False
        for n in list(self.state):
            if n not in names:  # e.g. amsgrad switched off by load_state_dict: free the memory
                del self.state[n], self._state_views[n]
        for n in names:
            if n not in self.state:
                self.state[n] = np.empty_like(self.data)
                self._state_views[n] = views_into(self.state[n], self.params)
            for st, v in zip(sts, self._state_views[n]):
                if st[n] is not v:
                    np.copyto(v, st[n])
                    st[n] = v
        self._names = names
        self._adopted = sts
        return True

    def ready(self, state: dict[Parameter, dict[str, Any]], names: tuple[str, ...]) -> int | None:
        """The parameters' common step count if the whole pack can be updated at once (each
        has its packed array, its gradient in the GradBuffer, its adopted state), else None."""
        adopted = self._adopted
        if adopted is None or names != self._names:
            return None
        step = adopted[0]["step"]
        views = self._state_views
        for i, (p, dv, gv, st) in enumerate(zip(self.params, self.data_views, self.grads.views, adopted)):
            if p._data is not dv or p.grad is not gv or state.get(p) is not st or st["step"] != step:
                return None
            for n in names:
                if st[n] is not views[n][i]:
                    return None
        return step

    def advance(self, step: int) -> None:
        """Set every parameter's step count."""
        for st in self._adopted:
            st["step"] = step


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight decay.

    As torch.optim.SGD:  g' = g + weight_decay * p;  buf = g' at the first step, then
    buf = momentum * buf + (1 - dampening) * g';  step = g' + momentum * buf if nesterov
    else buf (g' without momentum);  p -= lr * step.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_range("momentum value", group["momentum"], 0.0, 1.0, hi_open=True)
        _check_range("dampening value", group["dampening"], 0.0, 1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _hyper(self, group: dict[str, Any]) -> tuple:
        return (float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                float(group["weight_decay"]), bool(group["nesterov"]))

    def _state_names(self, h: tuple) -> tuple[str, ...]:
        return ("momentum_buffer",) if h[1] else ()

    _created_by_rule = ("momentum_buffer",)  # torch starts it at g', whenever momentum starts

    def _needs_scratch(self, h: tuple) -> bool:
        return bool(h[1])

    def _update(self, d, g, st, s, step, h):
        lr, mu, damp, wd, nesterov = h
        if not mu:
            if wd:  # p - lr*(g + wd*p) == p*(1 - lr*wd) - lr*g
                np.multiply(d, 1.0 - lr * wd, out=d)
            axpy(-lr, g, d)
            return
        if wd:  # g' = g + wd*p, kept in the scratch array
            np.multiply(d, wd, out=s)
            np.add(s, g, out=s)
            g = s
        buf = st.get("momentum_buffer")
        if buf is None:
            buf = st["momentum_buffer"] = np.array(g, dtype=d.dtype)
        else:
            np.multiply(buf, mu, out=buf)
            if damp:  # no Nesterov with dampening, so g' (maybe in s) is not needed after this
                axpy(1.0 - damp, g, buf, s)
            else:
                np.add(buf, g, out=buf)
        if nesterov:  # p -= lr * (g' + mu*buf)
            if g is s:
                s += buf * mu
            else:
                np.multiply(buf, mu, out=s)
                np.add(s, g, out=s)
            axpy(-lr, s, d, s)
        else:
            axpy(-lr, buf, d, s)


class AdaGrad(Optimizer):
    """Adagrad (Duchi et al. 2011) as torch.optim.Adagrad:

    g' = g + weight_decay * p;  sum += g'^2;  clr = lr / (1 + (step - 1) * lr_decay);
    p -= clr * g' / (sqrt(sum) + eps).  `sum` starts at `initial_accumulator_value`.
    (The seed's version started its sum at 1 and had no eps; both fixed here.)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_range("lr_decay value", group["lr_decay"], 0.0)
        _check_range("initial_accumulator_value", group["initial_accumulator_value"], 0.0)

    def _init_group_state(self, group: dict[str, Any]) -> None:
        v = float(group["initial_accumulator_value"])
        for p in group["params"]:
            self.state[p] = {"step": 0, "sum": np.full_like(p.data, v)}

    def _hyper(self, group: dict[str, Any]) -> tuple:
        return float(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]), float(group["eps"])

    def _state_names(self, h: tuple) -> tuple[str, ...]:
        return ("sum",)

    def _update(self, d, g, st, s, step, h):
        lr, lr_decay, wd, eps = h
        clr = lr / (1.0 + (step - 1) * lr_decay)
        acc = st["sum"]
        if wd:
            g = g + wd * d  # rare: one temporary
        # 6 passes, no allocation: s = g*g; sum += s; s = sqrt(sum); s += eps; s = g/s; p -= clr*s
        np.multiply(g, g, out=s)
        np.add(acc, s, out=acc)
        np.sqrt(acc, out=s)
        np.add(s, eps, out=s)
        np.divide(g, s, out=s)
        axpy(-clr, s, d, s)


Adagrad = AdaGrad


class RMSProp(Optimizer):
    """RMSprop as torch.optim.RMSprop:

    g' = g + weight_decay * p;  sq = alpha * sq + (1 - alpha) * g'^2;
    centered: ga = alpha * ga + (1 - alpha) * g', avg = sqrt(sq - ga^2) + eps;  else avg = sqrt(sq) + eps;
    momentum > 0: buf = momentum * buf + g' / avg, p -= lr * buf;  else p -= lr * g' / avg.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_range("alpha value", group["alpha"], 0.0, 1.0)
        _check_range("momentum value", group["momentum"], 0.0, 1.0, hi_open=True)

    def _hyper(self, group: dict[str, Any]) -> tuple:
        return (float(group["lr"]), float(group["alpha"]), float(group["eps"]), float(group["weight_decay"]),
                float(group["momentum"]), bool(group["centered"]))

    def _state_names(self, h: tuple) -> tuple[str, ...]:
        return ("square_avg",) + ("momentum_buffer",) * (h[4] > 0) + ("grad_avg",) * h[5]

    def _update(self, d, g, st, s, step, h):
        lr, alpha, eps, wd, mu, centered = h
        if wd:
            g = g + wd * d
        sq = st["square_avg"]
        np.multiply(sq, alpha, out=sq)
        np.multiply(g, g, out=s)
        axpy(1.0 - alpha, s, sq, s)
        if centered:
            ga = st["grad_avg"]
            np.subtract(g, ga, out=s)  # ga.lerp_(g, 1 - alpha)
            np.multiply(s, 1.0 - alpha, out=s)
            np.add(ga, s, out=ga)
            np.multiply(ga, ga, out=s)
            np.subtract(sq, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(sq, out=s)
        np.add(s, eps, out=s)
        np.divide(g, s, out=s)
        if mu > 0:
            buf = st["momentum_buffer"]
            np.multiply(buf, mu, out=buf)
            np.add(buf, s, out=buf)
            axpy(-lr, buf, d, s)
        else:
            axpy(-lr, s, d, s)


RMSprop = RMSProp


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam (L2 weight decay added to the gradient):

    m = beta1 * m + (1 - beta1) * g';  v = beta2 * v + (1 - beta2) * g'^2  (amsgrad: vmax = max(vmax, v));
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (need a pair (beta1, beta2))")
        _check_range("beta parameter at index 0", betas[0], 0.0, 1.0, hi_open=True)
        _check_range("beta parameter at index 1", betas[1], 0.0, 1.0, hi_open=True)

    def _hyper(self, group: dict[str, Any]) -> tuple:
        return (float(group["lr"]), float(group["eps"]), float(group["weight_decay"]), bool(group["amsgrad"]),
                float(group["betas"][0]), float(group["betas"][1]))

    def _state_names(self, h: tuple) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + ("max_exp_avg_sq",) * h[3]

    def _update(self, d, g, st, s, step, h):
        lr, eps, wd, amsgrad, b1, b2 = h
        if wd:
            if self._decoupled:  # AdamW: p *= 1 - lr*wd before the Adam step
                np.multiply(d, 1.0 - lr * wd, out=d)
            else:
                g = g + wd * d
        m, v = st["exp_avg"], st["exp_avg_sq"]
        np.multiply(m, b1, out=m)  # m = beta1*m + (1-beta1)*g  (PyTorch's lerp, up to rounding)
        axpy(1.0 - b1, g, m, s)
        np.multiply(v, b2, out=v)
        np.multiply(g, g, out=s)
        axpy(1.0 - b2, s, v, s)
        if amsgrad:
            vmax = st["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        if lr == 0.0:
            return
        # step_size * m / (sqrt(v)/sqrt(bc2) + eps) == step_size*sqrt(bc2) * m / (sqrt(v) + eps*sqrt(bc2)):
        # both scalar factors move into the eps pass and the final axpy.
        step_size = lr / (1.0 - b1 ** step)
        root_bc2 = math.sqrt(1.0 - b2 ** step)
        np.sqrt(v, out=s)
        np.add(s, eps * root_bc2, out=s)
        np.divide(m, s, out=s)
        axpy(-step_size * root_bc2, s, d, s)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019) as torch.optim.AdamW: p *= 1 - lr * weight_decay, then Adam
    without weight decay in the gradient.  Default weight_decay=1e-2."""

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


# ---- learning-rate schedulers (also importable as `tinygrad_np.optim.lr_scheduler`, as in torch) ----
class LRScheduler:
    """Base class: sets `group["lr"]` of every parameter group from `get_lr()` at each `step()`.

    The first call happens in the constructor (epoch 0: the initial learning rates), as in PyTorch.
    Each group's starting rate is kept in `group["initial_lr"]`.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming")
        self.optimizer = optimizer
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last `step()`."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v) for k, v in state_dict.items()})


def _check_positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_positive_int("StepLR", "step_size", step_size)
        _check_range("gamma", gamma, 0.0)
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = self.last_epoch // self.step_size
        return [base * self.gamma ** k for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (Loshchilov & Hutter 2017)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        _check_range("eta_min", eta_min, 0.0)
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


from tinygrad_np import lr_scheduler  # noqa: E402  (the torch spelling `optim.lr_scheduler.StepLR`)
