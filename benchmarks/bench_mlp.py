"""tinygrad_np against hand-written NumPy backprop, the matmul lower bound, PyTorch and JAX.

    python benchmarks/bench_mlp.py                  # 3 fresh processes, all configs (~5 min)
    python benchmarks/bench_mlp.py --processes 5    # more processes, tighter medians
    python benchmarks/bench_mlp.py --quick          # toy sizes, seconds (the smoke test)
    python benchmarks/bench_mlp.py --data synthetic # random data of MNIST's shape instead of MNIST

Benchmark a current NumPy with OpenBLAS's defaults: if OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
are set in your environment (some machines set them for old OpenBLAS builds), unset both
for this command only:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_mlp.py

Model: the seed's MLP 784-400-200-10 (x @ W + b, W of shape (n_in, n_out)), softmax
cross-entropy with the mean loss.  Data: MNIST's training images scaled to [0, 1], read through
`tinygrad_np.datasets.mnist.load_data` (the copy shipped in the package, or $TINYGRAD_NP_DATA; an
error if it finds none), or with `--data synthetic` random data of the same shape; the data used
is printed.  Variants, all from the same initial weights and data:

* hand-written : `benchmarks/handwritten.py`, in-place NumPy backprop (the reference)
* control      : a second, independent hand-written instance -- its ratio to the first is
                 the noise band of this machine
* tinygrad_np  : as users write it: nn.Sequential(nn.FC, nn.ReLU/nn.Tanh, nn.FC, ..., nn.FC) (FC +
                 activation run as one fused node) + F.softmax_cross_entropy + optim.*
* tinygrad_np jit : the same step wrapped in `tinygrad_np.jit` (recorded at its first call,
                 replayed after; issue 12)
* matmul-bound : the step's 8 GEMMs alone (`handwritten.MatmulBound`)
* pytorch      : nn.Sequential(nn.Linear...) + F.cross_entropy + torch.optim.* (only when
                 torch is installed; never required)
* jax          : jax.jit of value_and_grad of the same loss plus the update (only when jax is
                 installed; never required; CPU, XLA pinned to `--threads` through XLA_FLAGS set
                 before jax is imported; float64 through jax_enable_x64; optax for Adam when
                 installed, see `make_jax`)

Method: each process first checks, for every config, that one step of tinygrad_np gives the
hand-written gradients and updated weights (relative difference, float64 <= 1e-12); a mismatch
aborts the run (exit status 3) before anything is timed (PyTorch's and JAX's differences are
reported, not enforced).  Then it times the variants
interleaved: each round runs a block of steps of every variant (after one untimed step that
absorbs the switch of caches and thread pools), in an order that rotates and reverses from
round to round.  ms/step is the median over rounds; a ratio is
the median over rounds of the ratio of the two blocks of the same round (paired, so slow
phases of the machine cancel).  Several fresh processes (`--processes`) are aggregated:
median of the per-process medians, spread = min..max over processes (with one process:
the 25th..75th percentile over rounds).  BLAS and torch thread counts are pinned
(`--threads`, default 1: see --help) and printed, with the Python version and each variant's
CPU time / wall time (1.00: one busy thread).  Issues 9's and 12's targets are printed PASS / FAIL.
Results: benchmarks/results/bench_mlp.{md,json}.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SIZES = (784, 400, 200, 10)
QUICK_SIZES = (784, 32, 16, 10)   # MNIST's input, toy hidden layers

# name, batch, dtype, activation, optimizer, lr, steps per block, rounds
CONFIGS = [
    dict(name="b20 f64 ReLU SGD", batch=20, dtype="float64", act="relu", opt="sgd", lr=0.01, block=20, rounds=40),
    dict(name="b20 f32 ReLU SGD", batch=20, dtype="float32", act="relu", opt="sgd", lr=0.01, block=20, rounds=40),
    dict(name="b128 f32 ReLU SGD", batch=128, dtype="float32", act="relu", opt="sgd", lr=0.01, block=8, rounds=30),
    dict(name="b1024 f32 ReLU SGD", batch=1024, dtype="float32", act="relu", opt="sgd", lr=0.01, block=2, rounds=20),
    dict(name="b20 f64 Tanh AdaGrad (seed)", batch=20, dtype="float64", act="tanh", opt="adagrad", lr=0.01,
         block=15, rounds=40),
    dict(name="b20 f32 ReLU Adam", batch=20, dtype="float32", act="relu", opt="adam", lr=1e-3, block=20, rounds=40),
]
EPOCH = dict(name="epoch 60000 b20 f32 ReLU SGD", batch=20, dtype="float32", act="relu", opt="sgd", lr=0.01,
             epoch=True)


# ---- data ------------------------------------------------------------------------------------
@functools.cache
def _mnist_train():
    """MNIST's training set as uint8 (60000, 784) and labels, and the folder it was read from.

    Found by `tinygrad_np.datasets.mnist` (path search: $TINYGRAD_NP_DATA, the copy shipped in
    the package, the user cache); never downloaded here.  Not normalized: `load_data` scales
    only the images it uses, in the config's dtype (x / 255 computed in float64 for the float64
    configs, exactly what `normalize=True` computes for float32).
    """
    from tinygrad_np.datasets import mnist
    folder = mnist.locate()
    (X, y), _ = mnist.load_data(flatten=True, normalize=False)
    return X, y, folder


def load_data(n: int, n_in: int, dtype, source: str, seed: int = 0):
    """(X, y, description): MNIST's first n training images in [0, 1], or synthetic data of its shape.

    `source` is "mnist" (SystemExit with the reason if the files cannot be loaded) or
    "synthetic" (only on request: never a silent fallback).
    """
    import numpy as np
    if source == "mnist":
        if n_in != 784:
            raise ValueError(f"MNIST has 784 inputs, the model {n_in}")
        try:
            X8, y8, folder = _mnist_train()
        except (OSError, ValueError) as e:
            raise SystemExit(f"bench_mlp: cannot load MNIST: {e}\n"
                             "bench_mlp: pass --data synthetic to benchmark on random data of MNIST's shape")
        X = X8[:n].astype(dtype)
        X /= dtype(255)
        return X, y8[:n].astype(np.int64), f"MNIST, first {len(X)} training images ({folder})"
    if source != "synthetic":
        raise ValueError(f"unknown data source {source!r}")
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in), dtype=np.float64)
    X[X < 0.8] = 0.0          # MNIST-like sparsity (~80% zeros)
    return (X.astype(dtype), rng.integers(0, SIZES[-1], n).astype(np.int64),
            f"synthetic ({n} random images of MNIST's shape, --data synthetic)")


# ---- variants --------------------------------------------------------------------------------
def make_tinygrad(params, act, opt, lr):
    """The model as users write it: nn.Sequential(FC, ReLU/Tanh, FC, ReLU/Tanh, FC).

    Sequential runs each FC + activation as one fused node (F.linear(x, W, B, act)).  The
    weights are copied into the Parameters the layers created (np.copyto: never rebound).
    """
    import numpy as np
    from tinygrad_np import init, nn, optim

    Act = nn.ReLU if act == "relu" else nn.Tanh
    layers = []
    for i, (W, b) in enumerate(params):
        fc = nn.FC(W.shape[0], W.shape[1], initializer=init.XavierInitializer(rng=0, dtype=W.dtype))
        np.copyto(fc.W.data, W)
        np.copyto(fc.B.data, b)
        layers.append(fc)
        if i < len(params) - 1:
            layers.append(Act())
    model = nn.Sequential(*layers)
    optimizer = {"sgd": optim.SGD, "adagrad": optim.AdaGrad, "adam": optim.Adam}[opt](model.parameters(), lr=lr)
    return tinygrad_step(model, optimizer)


def tinygrad_step(model, optimizer):
    """The training step as users write it, softmax cross-entropy on `model`'s logits; its
    `.check(X, y)` takes the step and returns (loss, gradients, updated weights) as copies."""
    import numpy as np
    import tinygrad_np.functional as F
    from tinygrad_np import Tensor

    def step(X, y):
        optimizer.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        loss.backward()
        optimizer.step()
        return loss

    def grads_and_params(X, y):
        optimizer.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        loss.backward()
        grads = [np.array(p.grad) for p in model.parameters()]
        optimizer.step()
        return float(loss.item()), grads, [np.array(p.data) for p in model.parameters()]

    step.check = grads_and_params
    step.model = model
    step.optimizer = optimizer
    return step


def make_tinygrad_jit(params, act, opt, lr):
    """`make_tinygrad`'s step wrapped in `tinygrad_np.jit`.

    Its check records on the batch, puts the weights and the optimizer state back, then takes
    the compared step as a replay (so the agreement check covers the replayed path).
    """
    import numpy as np
    import tinygrad_np

    eager = make_tinygrad(params, act, opt, lr)
    step = tinygrad_np.jit(eager)
    model, optimizer = eager.model, eager.optimizer

    def replayed_grads_and_params(X, y):
        start = [np.array(p.data) for p in model.parameters()]
        start_state = optimizer.state_dict()
        step(X, y)                                        # records (runs eagerly)
        for p, a in zip(model.parameters(), start):
            np.copyto(p.data, a)
        optimizer.load_state_dict(start_state)
        loss = step(X, y)                                 # replays
        grads = [np.array(p.grad) for p in model.parameters()]
        return float(loss.item()), grads, [np.array(p.data) for p in model.parameters()]

    step.check = replayed_grads_and_params
    return step


def make_torch(params, act, opt, lr, threads):
    try:
        import torch
    except ImportError:
        return None
    import numpy as np
    torch.set_num_threads(threads)
    layers = []
    for i, (W, b) in enumerate(params):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64 if W.dtype == np.float64 else torch.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.ReLU() if act == "relu" else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    optimizer = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam}[opt](
        model.parameters(), lr=lr)
    cross_entropy = torch.nn.functional.cross_entropy
    cache = {}

    def as_torch(X, y):
        key = (X.__array_interface__["data"][0], X.shape)
        t = cache.get(key)
        if t is None:
            t = cache[key] = (torch.from_numpy(X), torch.from_numpy(y))
        return t

    def step(X, y):
        xt, yt = as_torch(X, y)
        optimizer.zero_grad()
        loss = cross_entropy(model(xt), yt)
        loss.backward()
        optimizer.step()
        return loss

    def grads_and_params(X, y):
        xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        optimizer.zero_grad()
        loss = cross_entropy(model(xt), yt)
        loss.backward()
        lins = [m for m in model if isinstance(m, torch.nn.Linear)]
        grads = [a for m in lins for a in (m.weight.grad.numpy().T.copy(), m.bias.grad.numpy().copy())]
        optimizer.step()
        ps = [a for m in lins for a in (m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())]
        return float(loss.item()), grads, ps

    step.check = grads_and_params
    step.version = torch.__version__
    return step


def jax_env(threads: int) -> dict:
    """Environment a worker sets before JAX is imported: CPU only, `threads` threads, float64 allowed."""
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    else:
        flags = f"intra_op_parallelism_threads={threads}"
    return {"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu", "JAX_ENABLE_X64": "1"}


def make_jax(params, act, opt, lr):
    """jax.jit of value_and_grad of the same loss plus the optimizer update (None without jax).

    SGD and AdaGrad (torch's rule: eps outside the square root, accumulator from 0; optax's
    adagrad puts eps inside and starts at 0.1, a different rule) are written in jax.numpy;
    Adam is optax.adam when optax is installed (torch's rule), else written in jax.numpy.
    Parameters and optimizer state are donated, so XLA may update them in place; dispatch is
    synchronous (jax_cpu_enable_async_dispatch=False: one thread, like the others).  A batch is
    copied to the device once and cached (PyTorch's variant caches its from_numpy view).
    """
    try:
        import jax
    except ImportError:
        return None
    import jax.numpy as jnp
    import numpy as np
    jax.config.update("jax_enable_x64", True)   # for the float64 configs; float32 arrays stay float32
    # Run each step on the calling thread: with a block_until_ready per step, asynchronous dispatch
    # only adds a hand-off to a second thread (which, on a loaded machine, waits to be scheduled).
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    activation = jax.nn.relu if act == "relu" else jnp.tanh

    def loss_fn(ps, X, y):
        h = X
        for W, b in ps[:-1]:
            h = activation(h @ W + b)
        W, b = ps[-1]
        logp = jax.nn.log_softmax(h @ W + b, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    init, update, how = _jax_rule(opt, lr)
    value_and_grad = jax.value_and_grad(loss_fn)

    def train_step(ps, state, X, y):
        loss, g = value_and_grad(ps, X, y)
        ps, state = update(ps, g, state)
        return ps, state, loss

    jstep = jax.jit(train_step, donate_argnums=(0, 1))
    ps0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    st = {"ps": ps0, "opt": init(ps0)}
    cache = {}

    def as_jax(X, y):
        key = (X.__array_interface__["data"][0], X.shape, y.__array_interface__["data"][0])
        hit = cache.get(key)
        if hit is None:         # keeps X and y alive, so their addresses are not reused
            hit = cache[key] = (X, y, jax.device_put(X), jax.device_put(y))
        return hit[2], hit[3]

    def step(X, y):
        xj, yj = as_jax(X, y)
        ps, state, loss = jstep(st["ps"], st["opt"], xj, yj)
        jax.block_until_ready((ps, state, loss))
        st["ps"], st["opt"] = ps, state
        return loss

    grad_fn = jax.jit(value_and_grad)

    def grads_and_params(X, y):
        loss, g = grad_fn(st["ps"], jnp.asarray(X), jnp.asarray(y))
        grads = [np.array(a) for pair in g for a in pair]
        step(X, y)
        ps = [np.array(a) for pair in st["ps"] for a in pair]
        if {a.dtype for a in grads + ps} != {np.dtype(params[0][0].dtype)}:
            raise TypeError(f"jax variant: dtypes {sorted({str(a.dtype) for a in grads + ps})}, "
                            f"expected {params[0][0].dtype}")
        return float(loss), grads, ps

    step.check = grads_and_params
    step.version = jax.__version__
    step.optimizer = how
    return step


def _jax_rule(opt, lr):
    """(init(ps) -> state, update(ps, grads, state) -> (ps, state), description) in jax.numpy."""
    import jax
    import jax.numpy as jnp
    tree = jax.tree_util.tree_map
    if opt == "sgd":
        return (lambda ps: (), lambda ps, g, s: (tree(lambda p, d: p - lr * d, ps, g), s), "SGD by hand")
    if opt == "adagrad":
        eps = 1e-10

        def adagrad(ps, g, h):
            h = tree(lambda a, d: a + d * d, h, g)
            return tree(lambda p, d, a: p - lr * d / (jnp.sqrt(a) + eps), ps, g, h), h
        return (lambda ps: tree(jnp.zeros_like, ps), adagrad, "AdaGrad by hand (torch's rule)")
    if opt != "adam":
        raise ValueError(f"unknown optimizer {opt!r}")
    try:
        import optax
    except ImportError:
        optax = None
    if optax is not None:
        tx = optax.adam(lr)

        def adam_optax(ps, g, s):
            u, s = tx.update(g, s, ps)
            return optax.apply_updates(ps, u), s
        return tx.init, adam_optax, f"optax {optax.__version__} adam"
    b1, b2, eps = 0.9, 0.999, 1e-8

    def adam(ps, g, s):
        t, m, v = s
        t = t + 1
        m = tree(lambda a, d: b1 * a + (1 - b1) * d, m, g)
        v = tree(lambda a, d: b2 * a + (1 - b2) * d * d, v, g)
        bc1, sqrt_bc2 = 1 - b1 ** t, jnp.sqrt(1 - b2 ** t)
        ps = tree(lambda p, a, w: p - (lr / bc1) * a / (jnp.sqrt(w) / sqrt_bc2 + eps), ps, m, v)
        return ps, (t, m, v)
    # the step count in the parameters' dtype, so the bias corrections do not upcast float32
    return (lambda ps: (jnp.zeros((), ps[0][0].dtype), tree(jnp.zeros_like, ps), tree(jnp.zeros_like, ps)), adam,
            "Adam by hand (optax not installed)")


def rel_diff(a_list, b_list):
    """max over arrays of max|a - b| / max|b| (norm-wise relative difference)."""
    import numpy as np
    worst = 0.0
    for a, b in zip(a_list, b_list):
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        scale = float(np.max(np.abs(b))) or 1.0
        worst = max(worst, float(np.max(np.abs(a - b))) / scale)
    return worst


# ---- one worker process ----------------------------------------------------------------------
def blas_info(threads):
    import numpy as np
    info = {"numpy": np.__version__, "python": f"{platform.python_implementation()} {platform.python_version()}",
            "threads_requested": threads, "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                                       "filepath")} for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed (thread count pinned through environment variables)"
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    try:
        import jax
        info["jax"] = jax.__version__
        info["jax_devices"] = [str(d) for d in jax.devices()]
    except ImportError:
        info["jax"] = None
    return info


PEERS = ("pytorch", "jax")      # optional columns, each only where its package is installed
JIT = "tinygrad_np jit"


def check_config(cfg, params, X, y, variants):
    """One step from the same weights and batch: tinygrad_np (and PyTorch, JAX) against hand-written."""
    from handwritten import HandwrittenMLP
    n = cfg["batch"]
    Xb, yb = X[:n], y[:n]
    ref = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    ref_loss = ref.loss_and_grads(Xb, yb)
    ref_grads = [g.copy() for g in ref.grads()]
    ref.update()
    ref_params = [p.copy() for p in ref.params()]
    out = {}
    for name in ("tinygrad_np", JIT, *PEERS):
        if name in variants:
            loss, grads, ps = variants[name][1].check(Xb, yb)
            out[name] = {"loss": abs(loss - ref_loss) / abs(ref_loss), "grads": rel_diff(grads, ref_grads),
                         "params": rel_diff(ps, ref_params)}
    return out


# The agreement the benchmark enforces (float64) and the one it only reports (float32 rounds
# differently along the two paths: one Adam step moves near-zero gradients by up to lr).
CHECK_TOL = {"check": ("float64", 1e-12), "check_own_dtype": ("float32", 1e-4)}


def check_failures(name, checks, key="check", variant="tinygrad_np"):
    """Lines describing where `variant` exceeds the tolerance of `checks` (empty: agreement).

    The run aborts on tinygrad_np's; the peers' are reported (and tested where installed).
    """
    dt, tol = CHECK_TOL[key]
    c = checks.get(variant)
    if c is None:
        return [f"{name}: no {variant} result in the agreement check"]
    return [f"{name}: {what} of {variant} differ from the hand-written reference by {c[k]:.2e} "
            f"(max relative difference, {dt}; tolerance {tol:g})"
            for k, what in (("grads", "gradients"), ("params", "updated weights")) if not c[k] <= tol]


def build_variants(cfg, params, threads, peers):
    """{name: (owner, step)}; `peers` is the subset of PEERS to include when installed."""
    from handwritten import HandwrittenMLP, MatmulBound
    hw = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    ctl = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    v = {"hand-written": (hw, hw.step), "control": (ctl, ctl.step)}
    tg = make_tinygrad(params, cfg["act"], cfg["opt"], cfg["lr"])
    v["tinygrad_np"] = (None, tg)
    v[JIT] = (None, make_tinygrad_jit(params, cfg["act"], cfg["opt"], cfg["lr"]))
    mm = MatmulBound(params)
    v["matmul-bound"] = (mm, mm.step)
    makers = {"pytorch": lambda: make_torch(params, cfg["act"], cfg["opt"], cfg["lr"], threads),
              "jax": lambda: make_jax(params, cfg["act"], cfg["opt"], cfg["lr"])}
    for name in PEERS:
        step = makers[name]() if name in peers else None
        if step is not None:
            v[name] = (None, step)
    return v


def time_config(cfg, variants, X, y, rounds, block, proc_index, cpu_share=None):
    """Interleaved rounds; returns {variant: [ms/step per round]} (and fills `cpu_share`, when given,
    with {variant: [process CPU time / wall time per round]})."""
    n = cfg["batch"]
    nb = len(X) // n
    batches = [(X[i * n:(i + 1) * n], y[i * n:(i + 1) * n]) for i in range(nb)]
    names = list(variants)
    cursor = {k: 0 for k in names}
    perf, cpu = time.perf_counter, time.process_time
    if cpu_share is None:
        cpu_share = {}
    cpu_share.update({k: [] for k in names})   # process CPU time / wall time: 1.0 is one busy thread

    def run(name, steps):
        fn = variants[name][1]
        c = cursor[name]
        Xb, yb = batches[c]
        fn(Xb, yb)              # untimed: absorbs the switch from the previous variant
        c = c + 1 if c + 1 < nb else 0
        c0, t0 = cpu(), perf()
        for _ in range(steps):
            Xb, yb = batches[c]
            fn(Xb, yb)
            c += 1
            if c == nb:
                c = 0
        dt = perf() - t0
        cpu_share[name].append((cpu() - c0) / dt)
        cursor[name] = c
        return dt * 1e3 / steps

    for name in names:          # warm-up: allocations, BLAS thread pools, caches, JAX's compilation
        run(name, max(2, block))
    for shares in cpu_share.values():
        shares.clear()
    times = {k: [] for k in names}
    k = len(names)
    for r in range(rounds):
        s = (r + proc_index) % k
        order = names[s:] + names[:s]
        if (r + proc_index) % 2:
            order.reverse()
        for name in order:
            times[name].append(run(name, block))
    return times


def time_epoch(cfg, variants, X, y, proc_index, epochs):
    """Seconds for full epochs (shuffle + every batch), one variant after the other, rotated order."""
    import numpy as np
    n = cfg["batch"]
    names = [k for k in variants if k != "control"]
    res = {k: [] for k in names}
    for e in range(epochs):
        s = (e + proc_index) % len(names)
        order = names[s:] + names[:s]
        for name in order:
            fn = variants[name][1]
            rng = np.random.default_rng(e)
            t0 = time.perf_counter()
            perm = rng.permutation(len(X))
            Xs, ys = X[perm], y[perm]
            for i in range(len(X) // n):
                fn(Xs[i * n:(i + 1) * n], ys[i * n:(i + 1) * n])
            res[name].append(time.perf_counter() - t0)
    return res


class CheckFailed(Exception):
    """The agreement check failed: the worker exits with status 3, before any timing."""

    STATUS = 3

    def __init__(self, failures):
        super().__init__(failures)
        self.failures = failures

    def __str__(self):
        return ("bench_mlp: ABORTED before timing: one step of tinygrad_np does not reproduce the "
                "hand-written reference\n  " + "\n  ".join(self.failures))


def run_checks(configs, sizes, args, get_data, threads, peers):
    """The agreement check of every (non-epoch) config, before anything is timed.

    Always in float64 (tolerance 1e-12: enforced) with the config's model, optimizer and
    batch; float32 configs are also checked in float32 (reported only).  Returns
    {config name: {"check": ..., "check_own_dtype": ...}}; raises CheckFailed on a float64
    mismatch.
    """
    import numpy as np
    from handwritten import init_params
    out, failures = {}, []
    for cfg in configs:
        entry = out[cfg["name"]] = {}
        for key, dtype in (("check", np.float64), ("check_own_dtype", np.dtype(cfg["dtype"]).type)):
            if key == "check_own_dtype" and dtype is np.float64:
                continue
            c = dict(cfg, dtype=np.dtype(dtype).name)
            params = init_params(sizes, cfg["act"], dtype, seed=args.seed)
            variants = build_variants(c, params, threads, peers)
            entry[key] = check_config(c, params, *get_data(dtype)[:2], variants)
        failures += check_failures(cfg["name"], entry["check"])
        failures += check_failures(cfg["name"], entry["check"], variant=JIT)
    if failures:
        raise CheckFailed(failures)
    return out


def worker(args) -> dict:
    threads = args.threads
    os.environ.update(jax_env(threads))     # read when jax is first imported (make_jax, blas_info)
    import numpy as np
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads)
    except ImportError:
        pass
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from handwritten import init_params

    quick = args.quick
    sizes = QUICK_SIZES if quick else SIZES
    configs = [dict(c) for c in CONFIGS if not args.only or any(o in c["name"] for o in args.only)]
    if quick:
        for cfg in configs:
            cfg["batch"] = min(cfg["batch"], 64)
            cfg["block"], cfg["rounds"] = 2, 3
    result = {"info": blas_info(threads), "configs": {}, "sizes": sizes}
    peers = {name for name, skip in (("pytorch", args.no_torch), ("jax", args.no_jax)) if not skip}
    n_data = 2000 if quick else 60000
    data_cache = {}

    def get_data(dtype):
        if dtype not in data_cache:
            data_cache[dtype] = load_data(n_data, sizes[0], dtype, args.data, seed=args.seed)
            print(f"  [process {args.proc_index + 1}] data ({np.dtype(dtype).name}): {data_cache[dtype][2]}",
                  file=sys.stderr, flush=True)
        return data_cache[dtype]

    t_start = time.perf_counter()
    checks = run_checks(configs, sizes, args, get_data, threads, peers)
    for cfg in configs + ([dict(EPOCH)] if args.epoch else []):
        dtype = np.dtype(cfg["dtype"]).type
        X, y, source = get_data(dtype)
        params = init_params(sizes, cfg["act"], dtype, seed=args.seed)
        # fresh variants (the check's instances have taken a step): all start from the same weights
        variants = build_variants(cfg, params, threads, peers)
        entry = {"config": cfg, "data": source, **checks.get(cfg["name"], {})}
        if "jax" in variants:
            entry["jax_optimizer"] = variants["jax"][1].optimizer
        if not cfg.get("epoch"):
            rounds = max(3, int(round(cfg["rounds"] * args.rounds_scale)))
            entry["cpu_share"] = {}
            entry["times"] = time_config(cfg, variants, X, y, rounds, cfg["block"], args.proc_index,
                                         entry["cpu_share"])
        else:
            entry["epoch_seconds"] = time_epoch(cfg, variants, X, y, args.proc_index, args.epochs)
            entry["steps_per_epoch"] = len(X) // cfg["batch"]
        result["configs"][cfg["name"]] = entry
        print(f"  [process {args.proc_index + 1}] {cfg['name']}: {time.perf_counter() - t_start:.0f} s",
              file=sys.stderr, flush=True)
    return result


# ---- aggregation and reporting ---------------------------------------------------------------
def _pct(xs, q):
    import numpy as np
    return float(np.percentile(np.asarray(xs, float), q))


RATIOS = [("control/hw", "control", "hand-written"), ("tg/hw", "tinygrad_np", "hand-written"),
          ("tg/mm", "tinygrad_np", "matmul-bound"), ("torch/tg", "pytorch", "tinygrad_np"),
          ("jax/tg", "jax", "tinygrad_np"), ("jit/hw", JIT, "hand-written"), ("jit/tg", JIT, "tinygrad_np"),
          ("torch/jit", "pytorch", JIT), ("jax/jit", "jax", JIT)]
RATIO_NAMES = {"tg/hw": "tinygrad_np / hand-written", "torch/tg": "PyTorch / tinygrad_np",
               "jit/hw": "tinygrad_np jit / hand-written", "torch/jit": "PyTorch / tinygrad_np jit",
               "jax/jit": "JAX / tinygrad_np jit"}
# Issues 9's and 12's targets, on the median ratio: (config, ratio, comparison, bound).
TARGETS = [("b20 f32 ReLU SGD", "tg/hw", "<=", 1.05), ("b20 f32 ReLU SGD", "torch/tg", ">=", 1.2),
           ("b128 f32 ReLU SGD", "tg/hw", "<=", 1.03), ("b128 f32 ReLU SGD", "torch/tg", ">=", 1.05),
           *((c, "jit/hw", "<=", 0.97) for c in ("b20 f32 ReLU SGD", "b20 f64 ReLU SGD", "b128 f32 ReLU SGD",
                                                  "b20 f64 Tanh AdaGrad (seed)")),
           ("b20 f32 ReLU SGD", "jax/jit", ">=", 0.95), ("b20 f32 ReLU SGD", "torch/jit", ">=", 1.3)]


def target_lines(agg, quick=False):
    """One line per target: PASS / FAIL (or not measured) with the median and spread."""
    lines = []
    for cfg, key, op, bound in TARGETS:
        r = agg.get(cfg, {}).get("ratios", {}).get(key)
        what = f"{cfg}: {RATIO_NAMES[key]} {op} {bound:g}"
        if r is None:
            lines.append(f"{what}: not measured")
            continue
        ok = r["median"] <= bound if op == "<=" else r["median"] >= bound
        note = " (toy sizes of --quick: not a measurement of the target)" if quick else ""
        lines.append(f"{what}: {'PASS' if ok else 'FAIL'}, {_fmt_ratio(r)}{note}")
    return lines


def aggregate(results):
    """Per config: ms/step and ratio medians with spreads over processes (or rounds for one)."""
    import numpy as np
    names = list(results[0]["configs"])
    out = {}
    for name in names:
        entries = [r["configs"][name] for r in results]
        e0 = entries[0]
        agg = {"data": e0["data"], "config": e0["config"], "processes": len(entries),
               "jax_optimizer": e0.get("jax_optimizer")}
        for key in ("check", "check_own_dtype"):
            if key in e0:
                agg[key] = {v: {k: max(e[key][v][k] for e in entries) for k in e0[key][v]} for v in e0[key]}
        if "epoch_seconds" in e0:
            per = {}
            for v in e0["epoch_seconds"]:
                vals = [s for e in entries for s in e["epoch_seconds"][v]]
                per[v] = {"median": float(np.median(vals)), "lo": min(vals), "hi": max(vals), "n": len(vals),
                          "ms_per_step": float(np.median(vals)) * 1e3 / e0["steps_per_epoch"]}
            agg["epoch_seconds"] = per
            ratios = {}
            for label, a, b in RATIOS:
                if a in per and b in per and a != "control":
                    rs = [x / z for e in entries for x, z in zip(e["epoch_seconds"][a], e["epoch_seconds"][b])]
                    ratios[label] = {"median": float(np.median(rs)), "lo": min(rs), "hi": max(rs)}
            agg["ratios"] = ratios
            out[name] = agg
            continue
        ms = {}
        for v in e0["times"]:
            meds = [float(np.median(e["times"][v])) for e in entries]
            allv = [t for e in entries for t in e["times"][v]]
            lo, hi = (min(meds), max(meds)) if len(meds) > 1 else (_pct(allv, 25), _pct(allv, 75))
            ms[v] = {"median": float(np.median(meds)), "lo": lo, "hi": hi}
        agg["ms"] = ms
        if "cpu_share" in e0:
            agg["cpu_share"] = {v: float(np.median([c for e in entries for c in e["cpu_share"][v]]))
                                for v in e0["cpu_share"]}
        ratios = {}
        for label, a, b in RATIOS:
            if a in e0["times"] and b in e0["times"]:
                per_proc = [[x / z for x, z in zip(e["times"][a], e["times"][b])] for e in entries]
                meds = [float(np.median(p)) for p in per_proc]
                if len(meds) > 1:
                    lo, hi = min(meds), max(meds)
                else:
                    lo, hi = _pct(per_proc[0], 25), _pct(per_proc[0], 75)
                ratios[label] = {"median": float(np.median(meds)), "lo": lo, "hi": hi}
        agg["ratios"] = ratios
        out[name] = agg
    return out


def _fmt_ms(d):
    return f"{d['median']:.3f}" if d else "-"


def _fmt_ratio(d):
    return f"{d['median']:.2f} [{d['lo']:.2f}-{d['hi']:.2f}]" if d else "-"


def _fmt_check(c):
    return f"{c['grads']:.1e} / {c['params']:.1e}" if c else "-"


def peer_notes(agg, info):
    """How each peer column was produced (versions, JAX's optimizer per config)."""
    torch_s = f"PyTorch {info['torch']}" if info.get("torch") else "PyTorch not installed (column -)"
    if not info.get("jax"):
        return f"{torch_s}; JAX not installed (column -)."
    rules = sorted({a["jax_optimizer"] for a in agg.values() if a.get("jax_optimizer")})
    return (f"{torch_s}; JAX {info['jax']} on {', '.join(info.get('jax_devices') or [])}, "
            f"XLA_FLAGS=`{info.get('XLA_FLAGS')}`, synchronous CPU dispatch: `jax.jit` of value_and_grad + update "
            f"(params and state donated, block_until_ready in the step; a batch copied to the device once), "
            f"update rules: {'; '.join(rules) or '-'}.")


def render(agg, info, meta) -> str:
    spread = ("min-max over processes" if meta["processes"] > 1 else "25th-75th percentile over rounds")
    lines = [f"## tinygrad_np vs hand-written NumPy, matmul bound, PyTorch and JAX ({info.get('python')})", "",
             f"Command: `{meta['command']}`  ",
             f"{meta['processes']} fresh process(es), {meta['threads']} BLAS/torch/XLA thread(s); "
             f"{info.get('python')}, numpy {info.get('numpy')}; model "
             f"{'-'.join(map(str, meta['sizes']))}; {meta['date']}.  ",
             peer_notes(agg, info) + "  ",
             f"ms/step: median; ratios: median of paired per-round ratios, [spread: {spread}].  ",
             "Agreement check (one step, same weights and batch): max relative difference of gradients / "
             "updated weights against the hand-written reference, in float64 (the run aborts above 1e-12 "
             "for tinygrad_np; PyTorch's and JAX's are reported).  ",
             f"Data: {'; '.join(sorted({a['data'] for a in agg.values()}))}.", "",
             "| config | hand-written ms | tinygrad_np ms | PyTorch ms | JAX ms | matmul-bound ms | control hw/hw "
             "| tinygrad_np / hand-written | tinygrad_np / matmul-bound | PyTorch / tinygrad_np | JAX / tinygrad_np "
             "| check tinygrad_np | check PyTorch | check JAX |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, a in agg.items():
        r = a["ratios"]
        if "epoch_seconds" in a:
            es = a["epoch_seconds"]

            def cell(v):
                return f"{es[v]['median']:.2f} s ({es[v]['ms_per_step']:.3f}/step)" if v in es else "-"
            lines.append(f"| {name} | {cell('hand-written')} | {cell('tinygrad_np')} | {cell('pytorch')} | "
                         f"{cell('jax')} | {cell('matmul-bound')} | - | {_fmt_ratio(r.get('tg/hw'))} | "
                         f"{_fmt_ratio(r.get('tg/mm'))} | {_fmt_ratio(r.get('torch/tg'))} | "
                         f"{_fmt_ratio(r.get('jax/tg'))} | - | - | - |")
            continue
        ms, chk = a["ms"], a.get("check", {})
        lines.append(f"| {name} | {_fmt_ms(ms.get('hand-written'))} | {_fmt_ms(ms.get('tinygrad_np'))} | "
                     f"{_fmt_ms(ms.get('pytorch'))} | {_fmt_ms(ms.get('jax'))} | {_fmt_ms(ms.get('matmul-bound'))} | "
                     f"{_fmt_ratio(r.get('control/hw'))} | {_fmt_ratio(r.get('tg/hw'))} | "
                     f"{_fmt_ratio(r.get('tg/mm'))} | {_fmt_ratio(r.get('torch/tg'))} | "
                     f"{_fmt_ratio(r.get('jax/tg'))} | {_fmt_check(chk.get('tinygrad_np'))} | "
                     f"{_fmt_check(chk.get('pytorch'))} | {_fmt_check(chk.get('jax'))} |")
    shares = [f"{name}: " + ", ".join(f"{v} {c:.2f}" for v, c in a["cpu_share"].items())
              for name, a in agg.items() if "cpu_share" in a]
    if shares:
        lines += ["", "Process CPU time / wall time while timing (1.00 = one busy thread): " + "; ".join(shares) + "."]
    lines += ["", f"`tinygrad_np.jit` (the same step recorded once, then replayed; check: the replayed step):", "",
              "| config | tinygrad_np jit ms | jit / hand-written | jit / eager tinygrad_np | PyTorch / jit "
              "| JAX / jit | check jit |", "|---|---|---|---|---|---|---|"]
    for name, a in agg.items():
        r = a["ratios"]
        if "epoch_seconds" in a:
            es = a["epoch_seconds"].get(JIT)
            jit_ms = f"{es['median']:.2f} s ({es['ms_per_step']:.3f}/step)" if es else "-"
            chk = "-"
        else:
            jit_ms, chk = _fmt_ms(a["ms"].get(JIT)), _fmt_check(a.get("check", {}).get(JIT))
        lines.append(f"| {name} | {jit_ms} | {_fmt_ratio(r.get('jit/hw'))} | {_fmt_ratio(r.get('jit/tg'))} | "
                     f"{_fmt_ratio(r.get('torch/jit'))} | {_fmt_ratio(r.get('jax/jit'))} | {chk} |")
    lines += ["", "Targets (issues 9 and 12, on the median ratio):", ""]
    lines += [f"- {t}" for t in target_lines(agg, meta.get("quick"))]
    lines.append("")
    return "\n".join(lines)


def print_info(info):
    print(info["python"], "| numpy", info["numpy"], "| threads pinned to", info["threads_requested"])
    print("OPENBLAS_CORETYPE =", info["OPENBLAS_CORETYPE"], "| OPENBLAS_L2_SIZE =", info["OPENBLAS_L2_SIZE"])
    tp = info["threadpools"]
    if isinstance(tp, str):
        print("BLAS:", tp)
    else:
        for p in tp:
            print(f"BLAS: {p['internal_api']} {p['version']} kernel={p['architecture']} threads={p['num_threads']}"
                  f"  ({Path(p['filepath']).name})")
    print("torch:", info.get("torch") or "not installed (skipped)",
          f"threads={info.get('torch_threads')}" if info.get("torch") else "")
    print("jax:", f"{info['jax']} {info.get('jax_devices')} XLA_FLAGS={info.get('XLA_FLAGS')!r}"
          if info.get("jax") else "not installed (skipped)")


def print_checks(agg):
    print("agreement with the hand-written reference after one step from the same weights and batch "
          "(max relative difference):")
    for name, a in agg.items():
        for key, (dt, tol) in CHECK_TOL.items():
            for v, c in a.get(key, {}).items():
                verdict = "(reported only)"
                if v in ("tinygrad_np", JIT):
                    ok = max(c["grads"], c["params"]) <= tol
                    verdict = f"(tol {tol:g}) " + ("ok" if ok else ("MISMATCH" if key == "check" else
                                                                      "above tol (reported only)"))
                print(f"  {name:28s} {dt} {v:12s} loss {c['loss']:.1e}  grads {c['grads']:.1e}  "
                      f"updated weights {c['params']:.1e}  {verdict}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--processes", type=int, default=3, help="fresh worker processes to aggregate (default 3)")
    p.add_argument("--repeats", type=float, default=1.0, dest="rounds_scale",
                   help="scale the number of interleaved rounds per config (default 1.0)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS / torch threads (default 1: on a shared 2-core machine 2 threads make every "
                        "variant 5-20x slower whenever another process runs)")
    p.add_argument("--quick", action="store_true", help="toy sizes, a few rounds: checks the benchmark runs")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    p.add_argument("--no-jax", action="store_true", help="skip JAX even when installed")
    p.add_argument("--no-epoch", dest="epoch", action="store_false", help="skip the full-epoch row")
    p.add_argument("--epochs", type=int, default=1, help="epochs per variant per process (default 1)")
    p.add_argument("--only", nargs="*", help="run only configs whose name contains one of these strings")
    p.add_argument("--data", choices=("mnist", "synthetic"), default="mnist",
                   help="mnist (default): the training images found by tinygrad_np.datasets.mnist (the copy "
                        "shipped in the package, or $TINYGRAD_NP_DATA); an error if missing.  synthetic: "
                        "random data of MNIST's shape")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=str(HERE / "results"), help="where bench_mlp.md/.json go")
    p.add_argument("--worker", metavar="JSON_OUT", help=argparse.SUPPRESS)
    p.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        try:
            res = worker(args)
        except CheckFailed as e:
            print(e, file=sys.stderr, flush=True)
            return CheckFailed.STATUS
        Path(args.worker).write_text(json.dumps(res))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    env.update(jax_env(args.threads))
    results = []
    base = [sys.executable, str(Path(__file__).resolve())]
    passthru = ["--threads", str(args.threads), "--repeats", str(args.rounds_scale), "--data", args.data,
                "--seed", str(args.seed), "--epochs", str(args.epochs)]
    passthru += (["--quick"] * args.quick + ["--no-torch"] * args.no_torch + ["--no-jax"] * args.no_jax
                 + ["--no-epoch"] * (not args.epoch))
    if args.only:
        passthru += ["--only", *args.only]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            out = Path(tmp) / f"w{i}.json"
            t0 = time.time()
            cmd = base + passthru + ["--worker", str(out), "--proc-index", str(i)]
            rc = subprocess.run(cmd, env=env, check=False).returncode
            if rc:
                print(f"bench_mlp: worker process {i + 1} failed (exit status {rc}, its message is above); "
                      "no results written", file=sys.stderr)
                return rc
            results.append(json.loads(out.read_text()))
            print(f"process {i + 1}/{args.processes} done in {time.time() - t0:.0f} s", flush=True)
    info = results[0]["info"]
    print_info(info)
    agg = aggregate(results)
    print("data:", "; ".join(sorted({a["data"] for a in agg.values()})))
    print_checks(agg)
    meta = {"command": "python benchmarks/bench_mlp.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "processes": args.processes, "threads": args.threads, "sizes": results[0]["sizes"],
            "date": time.strftime("%Y-%m-%d %H:%M"), "quick": args.quick}
    md = render(agg, info, meta)
    print()
    print(md)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "bench_mlp_quick" if args.quick else "bench_mlp"
    (out_dir / f"{stem}.md").write_text(md)
    (out_dir / f"{stem}.json").write_text(json.dumps({"meta": meta, "info": info, "results": agg,
                                                      "raw": results}, indent=1))
    print(f"wrote {out_dir / (stem + '.md')} and {out_dir / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
