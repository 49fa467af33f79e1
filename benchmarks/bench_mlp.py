"""tinygrad_np against hand-written NumPy backprop, the matmul lower bound and PyTorch.

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
* tinygrad_np  : nn.Module of nn.FC + F.relu/F.tanh + F.softmax_cross_entropy + optim.*
* matmul-bound : the step's 8 GEMMs alone (`handwritten.MatmulBound`)
* pytorch      : nn.Sequential(nn.Linear...) + F.cross_entropy + torch.optim.* (only when
                 torch is installed; never required)

Method: each process first checks, for every config, that one step of tinygrad_np gives the
hand-written gradients and updated weights (relative difference, float64 <= 1e-12); a mismatch
aborts the run (exit status 3) before anything is timed.  Then it times the variants
interleaved: each round runs a block of steps of every variant (after one untimed step that
absorbs the switch of caches and thread pools), in an order that rotates and reverses from
round to round.  ms/step is the median over rounds; a ratio is
the median over rounds of the ratio of the two blocks of the same round (paired, so slow
phases of the machine cancel).  Several fresh processes (`--processes`) are aggregated:
median of the per-process medians, spread = min..max over processes (with one process:
the 25th..75th percentile over rounds).  BLAS and torch thread counts are pinned
(`--threads`, default 1: see --help) and printed.  Results: benchmarks/results/bench_mlp.{md,json}.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
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
VARIANTS = ("hand-written", "control", "tinygrad_np", "matmul-bound", "pytorch")


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
    import numpy as np
    import tinygrad_np.functional as F
    from tinygrad_np import Tensor, nn, optim

    activation = F.relu if act == "relu" else F.tanh

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.FC(W.shape[0], W.shape[1]) for W, _ in params]
            for layer, (W, b) in zip(self.layers, params):
                layer.W.data = W.copy()
                layer.B.data = b.copy()

        def forward(self, x):
            for layer in self.layers[:-1]:
                x = activation(layer(x))
            return self.layers[-1](x)

    model = MLP()
    optimizer = {"sgd": optim.SGD, "adagrad": optim.AdaGrad, "adam": optim.Adam}[opt](model.parameters(), lr=lr)

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
    info = {"numpy": np.__version__, "python": platform.python_version(), "threads_requested": threads,
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
    return info


def check_config(cfg, params, X, y, variants, torch_step):
    """One step from the same weights and batch: tinygrad_np (and PyTorch) against hand-written."""
    from handwritten import HandwrittenMLP
    n = cfg["batch"]
    Xb, yb = X[:n], y[:n]
    ref = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    ref_loss = ref.loss_and_grads(Xb, yb)
    ref_grads = [g.copy() for g in ref.grads()]
    ref.update()
    ref_params = [p.copy() for p in ref.params()]
    out = {}
    for name, step in (("tinygrad_np", variants["tinygrad_np"][1]), ("pytorch", torch_step)):
        if step is not None:
            loss, grads, ps = step.check(Xb, yb)
            out[name] = {"loss": abs(loss - ref_loss) / abs(ref_loss), "grads": rel_diff(grads, ref_grads),
                         "params": rel_diff(ps, ref_params)}
    return out


# The agreement the benchmark enforces (float64) and the one it only reports (float32 rounds
# differently along the two paths: one Adam step moves near-zero gradients by up to lr).
CHECK_TOL = {"check": ("float64", 1e-12), "check_own_dtype": ("float32", 1e-4)}


def check_failures(name, checks, key="check"):
    """Lines describing where tinygrad_np exceeds the tolerance of `checks` (empty: agreement)."""
    dt, tol = CHECK_TOL[key]
    c = checks.get("tinygrad_np")
    if c is None:
        return [f"{name}: no tinygrad_np result in the agreement check"]
    return [f"{name}: {what} of tinygrad_np differ from the hand-written reference by {c[k]:.2e} "
            f"(max relative difference, {dt}; tolerance {tol:g})"
            for k, what in (("grads", "gradients"), ("params", "updated weights")) if not c[k] <= tol]


def build_variants(cfg, params, threads, use_torch):
    from handwritten import HandwrittenMLP, MatmulBound
    hw = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    ctl = HandwrittenMLP(params, cfg["act"], cfg["opt"], cfg["lr"])
    v = {"hand-written": (hw, hw.step), "control": (ctl, ctl.step)}
    tg = make_tinygrad(params, cfg["act"], cfg["opt"], cfg["lr"])
    v["tinygrad_np"] = (None, tg)
    mm = MatmulBound(params)
    v["matmul-bound"] = (mm, mm.step)
    ts = make_torch(params, cfg["act"], cfg["opt"], cfg["lr"], threads) if use_torch else None
    if ts is not None:
        v["pytorch"] = (None, ts)
    return v, ts


def time_config(cfg, variants, X, y, rounds, block, proc_index):
    """Interleaved rounds; returns {variant: [ms/step per round]}."""
    n = cfg["batch"]
    nb = len(X) // n
    batches = [(X[i * n:(i + 1) * n], y[i * n:(i + 1) * n]) for i in range(nb)]
    names = list(variants)
    cursor = {k: 0 for k in names}
    perf = time.perf_counter

    def run(name, steps):
        fn = variants[name][1]
        c = cursor[name]
        Xb, yb = batches[c]
        fn(Xb, yb)              # untimed: absorbs the switch from the previous variant
        c = c + 1 if c + 1 < nb else 0
        t0 = perf()
        for _ in range(steps):
            Xb, yb = batches[c]
            fn(Xb, yb)
            c += 1
            if c == nb:
                c = 0
        dt = perf() - t0
        cursor[name] = c
        return dt * 1e3 / steps

    for name in names:          # warm-up: allocations, BLAS thread pools, caches
        run(name, max(2, block))
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


def run_checks(configs, sizes, args, get_data, threads, use_torch):
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
            variants, torch_step = build_variants(c, params, threads, use_torch)
            entry[key] = check_config(c, params, *get_data(dtype)[:2], variants, torch_step)
        failures += check_failures(cfg["name"], entry["check"])
    if failures:
        raise CheckFailed(failures)
    return out


def worker(args) -> dict:
    import numpy as np
    threads = args.threads
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
    use_torch = not args.no_torch
    n_data = 2000 if quick else 60000
    data_cache = {}

    def get_data(dtype):
        if dtype not in data_cache:
            data_cache[dtype] = load_data(n_data, sizes[0], dtype, args.data, seed=args.seed)
            print(f"  [process {args.proc_index + 1}] data ({np.dtype(dtype).name}): {data_cache[dtype][2]}",
                  file=sys.stderr, flush=True)
        return data_cache[dtype]

    t_start = time.perf_counter()
    checks = run_checks(configs, sizes, args, get_data, threads, use_torch)
    for cfg in configs + ([dict(EPOCH)] if args.epoch else []):
        dtype = np.dtype(cfg["dtype"]).type
        X, y, source = get_data(dtype)
        params = init_params(sizes, cfg["act"], dtype, seed=args.seed)
        # fresh variants (the check's instances have taken a step): all start from the same weights
        variants, _ = build_variants(cfg, params, threads, use_torch)
        entry = {"config": cfg, "data": source, **checks.get(cfg["name"], {})}
        if not cfg.get("epoch"):
            rounds = max(3, int(round(cfg["rounds"] * args.rounds_scale)))
            entry["times"] = time_config(cfg, variants, X, y, rounds, cfg["block"], args.proc_index)
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
          ("tg/mm", "tinygrad_np", "matmul-bound"), ("torch/tg", "pytorch", "tinygrad_np")]
TARGETS = {"tg/hw": ("<=", 1.05), "tg/mm": ("<=", 1.35)}


def aggregate(results):
    """Per config: ms/step and ratio medians with spreads over processes (or rounds for one)."""
    import numpy as np
    names = list(results[0]["configs"])
    out = {}
    for name in names:
        entries = [r["configs"][name] for r in results]
        e0 = entries[0]
        agg = {"data": e0["data"], "config": e0["config"], "processes": len(entries)}
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


def render(agg, info, meta) -> str:
    spread = ("min-max over processes" if meta["processes"] > 1 else "25th-75th percentile over rounds")
    lines = ["## tinygrad_np vs hand-written NumPy, matmul bound and PyTorch", "",
             f"Command: `{meta['command']}`  ",
             f"{meta['processes']} fresh process(es), {meta['threads']} BLAS/torch thread(s); numpy "
             f"{info.get('numpy')}, torch {info.get('torch') or 'not installed'}, model "
             f"{'-'.join(map(str, meta['sizes']))}; {meta['date']}.  ",
             f"ms/step: median; ratios: median of paired per-round ratios, [spread: {spread}].  ",
             "Agreement check (one step, same weights and batch): max relative difference of "
             "tinygrad_np vs hand-written gradients / updated weights, in float64.  ",
             f"Data: {'; '.join(sorted({a['data'] for a in agg.values()}))}.", "",
             "| config | hand-written ms | tinygrad_np ms | PyTorch ms | matmul-bound ms | control hw/hw "
             "| tinygrad_np / hand-written | tinygrad_np / matmul-bound | PyTorch / tinygrad_np "
             "| check grads / weights |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, a in agg.items():
        r = a["ratios"]
        if "epoch_seconds" in a:
            es = a["epoch_seconds"]

            def cell(v):
                return f"{es[v]['median']:.2f} s ({es[v]['ms_per_step']:.3f}/step)" if v in es else "-"
            lines.append(f"| {name} | {cell('hand-written')} | {cell('tinygrad_np')} | {cell('pytorch')} | "
                         f"{cell('matmul-bound')} | - | {_fmt_ratio(r.get('tg/hw'))} | {_fmt_ratio(r.get('tg/mm'))} "
                         f"| {_fmt_ratio(r.get('torch/tg'))} | - |")
            continue
        ms = a["ms"]
        chk = a.get("check", {}).get("tinygrad_np")
        chk_s = f"{chk['grads']:.1e} / {chk['params']:.1e}" if chk else "-"
        lines.append(f"| {name} | {_fmt_ms(ms.get('hand-written'))} | {_fmt_ms(ms.get('tinygrad_np'))} | "
                     f"{_fmt_ms(ms.get('pytorch'))} | {_fmt_ms(ms.get('matmul-bound'))} | "
                     f"{_fmt_ratio(r.get('control/hw'))} | {_fmt_ratio(r.get('tg/hw'))} | "
                     f"{_fmt_ratio(r.get('tg/mm'))} | {_fmt_ratio(r.get('torch/tg'))} | {chk_s} |")
    lines += ["", "Targets (issue 5): tinygrad_np / hand-written <= 1.05 everywhere; PyTorch / tinygrad_np >= 1.15 "
              "at b20 f32 and >= 1.0 for the seed's Tanh+AdaGrad; tinygrad_np / matmul-bound <= 1.35 at b128 f32.", ""]
    return "\n".join(lines)


def print_info(info):
    print("numpy", info["numpy"], "| python", info["python"], "| threads pinned to", info["threads_requested"])
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


def print_checks(agg):
    print("agreement with the hand-written reference after one step from the same weights and batch "
          "(max relative difference):")
    for name, a in agg.items():
        for key, (dt, tol) in CHECK_TOL.items():
            for v, c in a.get(key, {}).items():
                verdict = ""
                if v == "tinygrad_np":
                    ok = max(c["grads"], c["params"]) <= tol
                    verdict = "ok" if ok else ("MISMATCH" if key == "check" else "above tol (reported only)")
                print(f"  {name:28s} {dt} {v:12s} loss {c['loss']:.1e}  grads {c['grads']:.1e}  "
                      f"updated weights {c['params']:.1e}  (tol {tol:g}) {verdict}")


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
    results = []
    base = [sys.executable, str(Path(__file__).resolve())]
    passthru = ["--threads", str(args.threads), "--repeats", str(args.rounds_scale), "--data", args.data,
                "--seed", str(args.seed), "--epochs", str(args.epochs)]
    passthru += ["--quick"] * args.quick + ["--no-torch"] * args.no_torch + ["--no-epoch"] * (not args.epoch)
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
    meta = {"command": "python benchmarks/bench_mlp.py " + " ".join(argv if argv is not None else sys.argv[1:]),
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
