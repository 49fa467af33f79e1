"""Data-parallel training over MPI: N processes that take the single-process path together.

    # mpiexec -n 2 python train.py         (pip install "tinygrad_np[mpi]")
    from tinygrad_np import distributed as dist
    dist.init()                                     # MPI.COMM_WORLD (or init(comm))
    model = build_model()
    dist.broadcast_parameters(model)                # every rank starts from rank 0's weights
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    batches = MiniBatches(X, y, batch_size=128, rng=0,      # the same seed on every rank
                          rank=dist.rank(), world_size=dist.world_size())
    for Xb, yb in batches:                          # this rank's 128 / N rows of each global batch
        opt.zero_grad()
        F.softmax_cross_entropy(model(Tensor(Xb)), yb).backward()
        opt.step()                                  # average .grad over the ranks, then step

The pattern is Horovod's and PyTorch DDP's: broadcast the initial parameters, give each
rank a deterministic share of every global batch, average the gradients with one
Allreduce (per bucket), run the same optimizer step everywhere.  With equal shares, the
mean over ranks of per-rank mean gradients is the global batch's mean gradient, so the
ranks follow the single-process trajectory up to rounding, and stay bitwise equal to each
other (MPI gives every rank the same reduced buffer; the step is deterministic).

Errors: a collective only returns once every rank has called it, so a rank that raises
leaves the others waiting in their next one.  `init(abort_on_error=True)` (the command
line does this) makes an uncaught exception call `MPI_Abort`, which ends the whole job
with a non-zero status; without it, call `abort()` yourself.  Inconsistencies the ranks
can detect together (different parameter layouts, a gradient present on only some
ranks) raise the same error on every rank instead of hanging.

mpi4py is imported at the first call that needs it, never by `import tinygrad_np`.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

import numpy as np

from tinygrad_np.optim import Optimizer
from tinygrad_np.tensor import Tensor

__all__ = ["init", "is_initialized", "rank", "world_size", "launched_world_size", "abort", "all_reduce",
           "broadcast_object", "check_same", "broadcast_parameters", "broadcast_optimizer_state",
           "DistributedOptimizer"]

_INSTALL_HINT = 'pip install "tinygrad_np[mpi]"'
# World-size variables set by launchers: MPICH/Intel MPI/Slurm (PMI), Open MPI, MVAPICH.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

_comm: Any = None
_ABORT_GRACE_S = 0.2  # see abort()
_MPI: Any = None


def _mpi() -> Any:
    """The mpi4py.MPI module, imported now (which initializes MPI); ImportError naming the extra."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(f"tinygrad_np.distributed needs mpi4py and an MPI library: {_INSTALL_HINT} "
                              f"(mpi4py plus the MPICH wheel) ({e})") from None
        _MPI = MPI
    return _MPI


def launched_world_size() -> int:
    """The number of processes `mpiexec` (or srun) started, read from the launcher's environment
    without touching MPI; 1 when this process was not started by an MPI launcher."""
    for var in _SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def init(comm: Any = None, *, abort_on_error: bool = False) -> Any:
    """Start data-parallel mode on `comm` (default `MPI.COMM_WORLD`); returns the communicator.

    Idempotent: a second call (with no communicator or the same one) returns the first's.
    `abort_on_error=True` replaces `sys.excepthook` so that an uncaught exception on any rank
    prints its traceback and calls `MPI_Abort`, ending every rank (see the module docstring).
    """
    global _comm
    MPI = _mpi()
    if comm is None:
        comm = _comm if _comm is not None else MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Comm):
        raise TypeError(f"distributed.init: comm must be an mpi4py communicator, got {type(comm).__name__}")
    if _comm is not None and comm is not _comm:
        raise RuntimeError("distributed.init: already initialized with another communicator")
    _comm = comm
    if abort_on_error and not getattr(sys.excepthook, "_tinygrad_np_abort", False):
        previous = sys.excepthook

        def hook(*exc: Any) -> None:
            previous(*exc)
            abort(1)  # flushes and gives the launcher time to forward the traceback first
        hook._tinygrad_np_abort = True  # type: ignore[attr-defined]
        sys.excepthook = hook
    return comm


def is_initialized() -> bool:
    """Whether `init()` was called in this process (False without mpi4py; imports nothing)."""
    return _comm is not None


def rank() -> int:
    """This process's rank in [0, world_size()); 0 when not initialized (a lone process)."""
    return 0 if _comm is None else _comm.Get_rank()


def world_size() -> int:
    """The number of ranks; 1 when not initialized."""
    return 1 if _comm is None else _comm.Get_size()


def _require(what: str) -> Any:
    if _comm is None:
        raise RuntimeError(f"{what}: call tinygrad_np.distributed.init() first (in every rank)")
    return _comm


def abort(code: int = 1) -> None:
    """End every rank of the job now with exit status `code` (MPI_Abort); a no-op if not initialized."""
    if _comm is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        # MPI_Abort ends the job at once, and the launcher may not yet have forwarded what this
        # rank just wrote (with MPICH's mpiexec the error line was lost in about 1 abort in 100): wait a moment.
        time.sleep(_ABORT_GRACE_S)
        _comm.Abort(code)


def all_reduce(array: Any, op: str = "mean") -> np.ndarray:
    """A new array: the element-wise sum or mean of `array` over the ranks (for metrics).

    array: a number or array of the same shape and dtype on every rank.  "mean" of an
    integer array is float64; otherwise the dtype is kept.
    """
    if op not in ("mean", "sum"):
        raise ValueError(f"all_reduce: op must be 'mean' or 'sum', got {op!r}")
    a = array.data if isinstance(array, Tensor) else np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"all_reduce: expected a numeric array, got dtype {a.dtype}")
    if op == "mean" and a.dtype.kind != "f":
        a = a.astype(np.float64)
    buf = np.array(a, order="C")  # a contiguous copy: the caller's array is left alone
    comm = _require("all_reduce")
    comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM)
    if op == "mean" and comm.Get_size() > 1:
        buf /= comm.Get_size()
    return buf


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank `root`'s `obj` (any picklable object) on every rank."""
    return _require("broadcast_object").bcast(obj, root=root)


def check_same(value: Any, what: str) -> None:
    """Raise the same ValueError on every rank unless `value` (picklable, comparable) is equal on all."""
    values = _require("check_same").allgather(value)
    if any(v != values[0] for v in values[1:]):
        shown = ", ".join(f"rank {i}: {v!r}" for i, v in enumerate(values))
        raise ValueError(f"{what} differs between the ranks ({shown})"[:2000])


def _params(model_or_params: Any, what: str) -> list[Tensor]:
    if hasattr(model_or_params, "parameters") and callable(model_or_params.parameters):
        params = list(model_or_params.parameters())
    elif isinstance(model_or_params, Tensor):
        params = [model_or_params]
    else:
        try:
            params = list(model_or_params)
        except TypeError:
            raise TypeError(f"{what}: expected a Module or an iterable of Tensors, "
                            f"got {type(model_or_params).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{what}: item {i} is a {type(p).__name__}, not a Tensor")
    return params


def _layout(params: list[Tensor]) -> list[tuple[tuple[int, ...], str]]:
    return [(tuple(p.shape), p.dtype.str) for p in params]


def _by_dtype(params: list[Tensor]) -> dict[np.dtype, list[Tensor]]:
    groups: dict[np.dtype, list[Tensor]] = {}
    for p in params:
        groups.setdefault(p.dtype, []).append(p)
    return groups


def broadcast_parameters(model_or_params: Any, root: int = 0) -> None:
    """Copy rank `root`'s parameter values into every rank's parameters, in place.

    model_or_params: a Module, or an iterable of Tensors in the same order on every rank.
    The layouts (shapes, dtypes) are compared first: a mismatch raises ValueError on every
    rank.  One Bcast per dtype.  Arrays are written in place, so an optimizer built
    before keeps working on them.
    """
    params = _params(model_or_params, "broadcast_parameters")
    comm = _require("broadcast_parameters")
    check_same(_layout(params), "broadcast_parameters: the parameter layout (shapes, dtypes)")
    for dtype, ps in _by_dtype(params).items():
        buf = np.empty(sum(p.size for p in ps), dtype=dtype)
        if comm.Get_rank() == root:
            _pack(ps, buf)
        comm.Bcast(buf, root=root)
        if comm.Get_rank() != root:
            offset = 0
            for p in ps:
                p.data[...] = buf[offset:offset + p.size].reshape(p.shape)
                offset += p.size


def _pack(params: list[Tensor], buf: np.ndarray) -> None:
    offset = 0
    for p in params:
        buf[offset:offset + p.size].reshape(p.shape)[...] = p.data
        offset += p.size


def broadcast_optimizer_state(opt: Optimizer, root: int = 0) -> None:
    """Make every rank's optimizer state and hyperparameters rank `root`'s (its `state_dict()`)."""
    if not isinstance(opt, Optimizer):
        raise TypeError(f"broadcast_optimizer_state: expected an Optimizer, got {type(opt).__name__}")
    comm = _require("broadcast_optimizer_state")
    state = comm.bcast(opt.state_dict() if comm.Get_rank() == root else None, root=root)
    if comm.Get_rank() != root:
        opt.load_state_dict(state)


class _Bucket:
    """Gradients of some parameters of one dtype, packed into `buf`, followed by one presence
    slot per parameter (1 where this rank has a gradient), so that a single Allreduce both
    sums the gradients and counts, for each parameter, the ranks that have one."""

    def __init__(self, params: list[Tensor], dtype: np.dtype) -> None:
        self.params = params
        offsets = np.cumsum([0] + [p.size for p in params]).tolist()
        self.n = offsets[-1]
        self.buf = np.empty(self.n + len(params), dtype=dtype)
        self.views = [self.buf[a:b].reshape(p.shape) for p, a, b in zip(params, offsets, offsets[1:])]

    def pack(self, scale: float) -> None:
        """Copy scale * .grad in (zeros and presence 0 where .grad is None)."""
        buf, n = self.buf, self.n
        for k, (p, view) in enumerate(zip(self.params, self.views)):
            g = p.grad
            if g is None:
                view.fill(0)
                buf[n + k] = 0
            else:
                np.multiply(g, scale, out=view)
                buf[n + k] = 1

    def counts(self) -> np.ndarray:
        return self.buf[self.n:]

    def unpack(self, as_view: bool) -> None:
        """Hand the reduced gradients back: as views into `buf` (`as_view`), else copied into each
        `.grad` in place where it is a writable array of the right shape and dtype."""
        counts = self.counts()
        for k, (p, view) in enumerate(zip(self.params, self.views)):
            if counts[k] == 0:
                continue
            g = p.grad
            if as_view:
                p.grad = view
            elif type(g) is np.ndarray and g.shape == view.shape and g.dtype == view.dtype and g.flags.writeable:
                np.copyto(g, view)
            else:
                p.grad = view.copy()  # the bucket is reused at the next step


class DistributedOptimizer(Optimizer):
    """Wraps an optimizer so that `step()` first averages every parameter's `.grad` over the ranks.

    opt: any `Optimizer`, built over the same parameters in the same order on every rank.
    bucket_cap_mb: None (default) packs all gradients of a dtype into one preallocated
        buffer and reduces it with one Allreduce; a size in MB splits them into buckets of
        about that size (whole parameters), each reduced by a non-blocking Iallreduce
        started as soon as it is packed, so packing the next bucket overlaps it.
    gradient_as_bucket_view: False (default) copies the averaged gradients back into each
        `.grad`; True makes each `.grad` a view into the reduction buffer instead (one pass
        over the gradients less; the views are overwritten at the next step, so do not keep
        them across steps), as PyTorch DDP's option of that name.

    `param_groups`, `state`, `defaults`, `zero_grad`, `state_dict`, `load_state_dict` and
    `add_param_group` are the wrapped optimizer's, and learning-rate schedulers accept the
    wrapper (it is an `Optimizer`).  Every rank must call `step()` the same number of times.
    A parameter whose `.grad` is None on some ranks but not others raises the same
    RuntimeError on every rank (a gradient on no rank leaves the parameter untouched, as
    in a single process).
    """

    def __init__(self, opt: Optimizer, bucket_cap_mb: float | None = None,
                 gradient_as_bucket_view: bool = False) -> None:
        # Optimizer.__init__ is not called: all optimizer state lives in the wrapped optimizer.
        if not isinstance(opt, Optimizer) or isinstance(opt, DistributedOptimizer):
            raise TypeError(f"DistributedOptimizer: expected an (unwrapped) Optimizer, got {type(opt).__name__}")
        if bucket_cap_mb is not None and (isinstance(bucket_cap_mb, bool)
                                          or not isinstance(bucket_cap_mb, (int, float))
                                          or not 0 < bucket_cap_mb < float("inf")):
            raise ValueError(f"DistributedOptimizer: bucket_cap_mb must be a positive number or None, "
                             f"got {bucket_cap_mb!r}")
        self._comm = _require("DistributedOptimizer")
        self.optimizer = opt
        self.bucket_cap_mb = bucket_cap_mb
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self._build()

    # ---- the wrapped optimizer's face ---------------------------------------------------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The wrapped optimizer's parameter groups (the same list)."""
        return self.optimizer.param_groups

    @property
    def state(self) -> dict[Any, dict[str, Any]]:  # type: ignore[override]
        """The wrapped optimizer's per-parameter state (the same dict)."""
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """The wrapped optimizer's default hyperparameters."""
        return self.optimizer.defaults

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """As the wrapped optimizer's; call it on every rank (the gradient buffers are rebuilt)."""
        self.optimizer.add_param_group(group)
        self._build()

    def __getattr__(self, name: str) -> Any:  # e.g. an optimizer's own attributes
        if name == "optimizer":  # not set yet (a failed __init__, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self._comm.Get_size()} ranks, {self.optimizer!r})"

    # ---- averaging --------------------------------------------------------------------------------
    def _layout_key(self) -> list[tuple[int, tuple[int, ...], np.dtype]]:
        return [(id(p), p.shape, p.dtype) for g in self.optimizer.param_groups for p in g["params"]]

    def _build(self) -> None:
        """Buckets for the optimizer's parameters, in group order (the same on every rank)."""
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        check_same(_layout(params), "DistributedOptimizer: the parameter layout (shapes, dtypes, order)")
        cap = None if self.bucket_cap_mb is None else max(1, int(self.bucket_cap_mb * 2**20))
        self._buckets: list[_Bucket] = []
        for dtype, ps in _by_dtype(params).items():
            chunk: list[Tensor] = []
            size = 0
            for p in ps:
                nbytes = p.size * p.dtype.itemsize
                if chunk and cap is not None and size + nbytes > cap:
                    self._buckets.append(_Bucket(chunk, dtype))
                    chunk, size = [], 0
                chunk.append(p)
                size += nbytes
            self._buckets.append(_Bucket(chunk, dtype))
        self._index = {id(p): i for i, p in enumerate(params)}
        self._key = self._layout_key()

    @property
    def num_buckets(self) -> int:
        """Allreduce calls per step."""
        return len(self._buckets)

    def synchronize(self) -> None:
        """Average every parameter's `.grad` over the ranks, in place (what `step()` does first)."""
        comm = self._comm
        n = comm.Get_size()
        if n == 1:
            return
        if self._layout_key() != self._key:  # params regrouped, replaced or cast (on every rank alike)
            self._build()
        MPI = _mpi()
        scale = 1.0 / n  # applied while packing: the reduced sum is the mean
        if len(self._buckets) == 1 or self.bucket_cap_mb is None:
            for b in self._buckets:
                b.pack(scale)
                comm.Allreduce(MPI.IN_PLACE, b.buf, op=MPI.SUM)
        else:
            requests = []
            for b in self._buckets:
                b.pack(scale)
                requests.append(comm.Iallreduce(MPI.IN_PLACE, b.buf, op=MPI.SUM))
            MPI.Request.Waitall(requests)
        partial = [(self._index[id(p)], p.shape, int(c)) for b in self._buckets
                   for p, c in zip(b.params, b.counts()) if 0 < c < n]
        if partial:  # every rank sees the same counts, so every rank raises this
            shown = "; ".join(f"parameter {i} of shape {s} has one on {c} of {n} ranks" for i, s, c in partial[:5])
            raise RuntimeError(f"DistributedOptimizer.step: a .grad is None on some ranks only ({shown}); every "
                               "rank must backpropagate into the same parameters")
        for b in self._buckets:
            b.unpack(self.gradient_as_bucket_view)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """`closure()` (optional: recomputes the loss and the gradients), average the gradients, step."""
        loss = closure() if closure is not None else None
        self.synchronize()
        self.optimizer.step()
        return loss
