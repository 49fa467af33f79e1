"""The jitted step (`tinygrad_np.jit`) against the eager step and hand-written NumPy backprop.

    python benchmarks/bench_jit.py                 # 3 fresh processes (~3 min)
    python benchmarks/bench_jit.py --processes 5
    python benchmarks/bench_jit.py --quick         # a few rounds, seconds (the smoke test)

As for bench_mlp.py: benchmark OpenBLAS with its defaults.  If OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE are set in your environment, unset both for this command only
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_jit.py`); measured
here, they make OpenBLAS's batch-128 GEMMs 1.6x slower.  The note above the table says
whether they were set.

Model: 784-400-200-10 MLP (nn.Sequential of nn.FC + ReLU/Tanh, softmax cross-entropy, mean
loss) on random data of MNIST's shape (pixels uniform in [0, 1), labels uniform); the same
initial weights and batches for every variant:

* hand-written : `benchmarks/handwritten.py` (in-place NumPy backprop, the reference)
* control      : a second hand-written instance (its ratio to the first is the noise band)
* eager        : the tinygrad_np step, `zero_grad(); loss.backward(); step()`
* jit          : the same function through `tinygrad_np.jit` (recorded once, then replayed)
* jax          : only when JAX is installed (never required): the same model and update under
                 `jax.jit` (value_and_grad, donated buffers), one XLA thread, blocking each step

plus the jit's own cost at toy size: a 4-4-4 MLP (batch 4, ReLU, SGD), where NumPy calls cost
next to nothing, replayed by the jit against the same NumPy calls written out by hand
(`toy_by_hand` below, which makes every call the replay makes, in its order).

Method: each process first checks that jit and eager give the same weights after 3 steps
(bit for bit) and that they agree with the hand-written step (float64: relative 1e-12);
a mismatch aborts (exit status 3).  Then rounds: a block of steps of each variant (after
one untimed step), in an order that rotates and reverses each round.  A ratio is the median
over rounds of the paired ratio of two blocks of one round; ms/step the median over rounds.
Processes are aggregated as median of the per-process medians, spread min..max over
processes.  BLAS is pinned to one thread; glibc's malloc is left at its defaults unless
`--tune-malloc` (what the CLI does) is given.  Results: benchmarks/results/bench_jit.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = [
    dict(name="b20 f32 ReLU SGD", batch=20, dtype="float32", act="relu", opt="sgd", lr=0.01, block=20, rounds=30),
    dict(name="b20 f64 ReLU SGD", batch=20, dtype="float64", act="relu", opt="sgd", lr=0.01, block=20, rounds=30),
    dict(name="b128 f32 ReLU SGD", batch=128, dtype="float32", act="relu", opt="sgd", lr=0.01, block=6, rounds=24),
    dict(name="b20 f64 Tanh AdaGrad (seed)", batch=20, dtype="float64", act="tanh", opt="adagrad", lr=0.01,
         block=15, rounds=30),
]
RATIOS = (("jit", "hand-written"), ("eager", "hand-written"), ("jit", "eager"), ("control", "hand-written"),
          ("jax", "jit"))


def _env() -> None:
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    sys.path[:0] = [str(ROOT), str(HERE)]


# ---- the variants ----------------------------------------------------------------------------------
def build(cfg: dict, seed: int = 0):
    import numpy as np

    import tinygrad_np as tg
    import tinygrad_np.functional as F
    from handwritten import HandwrittenMLP, init_params
    from tinygrad_np import Tensor, nn, optim

    sizes = cfg.get("sizes", (784, 400, 200, 10))
    dt = np.dtype(cfg["dtype"])
    params = init_params(sizes, cfg["act"], dt, seed)
    rng = np.random.default_rng(seed + 1)
    n = cfg["batch"] * 64
    X = rng.random((n, sizes[0])).astype(dt)
    y = rng.integers(0, sizes[-1], n)
    data = [(X[i:i + cfg["batch"]], y[i:i + cfg["batch"]]) for i in range(0, n, cfg["batch"])]

    def tinygrad_step(jitted: bool):
        layers: list = []
        for i, (W, b) in enumerate(params):
            fc = nn.FC(*W.shape)
            fc.W.data, fc.B.data = W.copy(), b.copy()
            layers.append(fc)
            if i < len(params) - 1:
                layers.append(nn.ReLU() if cfg["act"] == "relu" else nn.Tanh())
        model = nn.Sequential(*layers)
        opt = (optim.SGD(model.parameters(), lr=cfg["lr"]) if cfg["opt"] == "sgd"
               else optim.AdaGrad(model.parameters(), lr=cfg["lr"]))

        def step(Xb, yb):
            opt.zero_grad()
            loss = F.softmax_cross_entropy(model(Tensor(Xb)), yb)
            loss.backward()
            opt.step()
            return loss
        return (tg.jit(step) if jitted else step), model

    hand, control = (HandwrittenMLP(params, cfg["act"], cfg["opt"], lr=cfg["lr"]) for _ in range(2))
    eager, eager_model = tinygrad_step(False)
    jit, jit_model = tinygrad_step(True)
    steps = {"hand-written": hand.step, "control": control.step, "eager": eager, "jit": jit}
    jax_step = _jax_step(cfg, params)
    if jax_step is not None:
        steps["jax"] = jax_step
    return steps, data, (hand, eager_model, jit_model)


def _jax_step(cfg: dict, params: list):
    """The step under jax.jit, as a stateful callable f(X, y) that blocks until done; None without JAX."""
    import numpy as np
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    act = jax.nn.relu if cfg["act"] == "relu" else jnp.tanh
    lr, eps = cfg["lr"], 1e-10

    def loss_fn(ps, X, y):
        h = X
        for i, (W, b) in enumerate(ps):
            h = h @ W + b
            if i < len(ps) - 1:
                h = act(h)
        return -jnp.mean(jax.nn.log_softmax(h)[jnp.arange(X.shape[0]), y])

    def step(ps, acc, X, y):
        loss, gs = jax.value_and_grad(loss_fn)(ps, X, y)
        if cfg["opt"] == "sgd":
            return jax.tree.map(lambda p, g: p - lr * g, ps, gs), acc, loss
        acc = jax.tree.map(lambda a, g: a + g * g, acc, gs)
        return jax.tree.map(lambda p, g, a: p - lr * g / (jnp.sqrt(a) + eps), ps, gs, acc), acc, loss

    jstep = jax.jit(step, donate_argnums=(0, 1))
    state = {"ps": [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]}
    state["acc"] = jax.tree.map(jnp.zeros_like, state["ps"])

    def run(X, y):
        state["ps"], state["acc"], loss = jstep(state["ps"], state["acc"], X, y)
        loss.block_until_ready()
        return loss
    run.params = lambda: [np.asarray(a) for pair in state["ps"] for a in pair]  # type: ignore[attr-defined]
    return run


def check(cfg: dict) -> None:
    """jit == eager bit for bit after 3 steps; both agree with the hand-written step."""
    import numpy as np

    steps, data, (hand, eager_model, jit_model) = build(dict(cfg, dtype="float64"))
    for X, y in data[:3]:
        for name in ("hand-written", "eager", "jit", "jax"):
            if name in steps:
                steps[name](X, y)
    if "jax" in steps:
        for pj, ph in zip(steps["jax"].params(), hand.params()):
            if np.max(np.abs(pj - ph)) > 1e-10 * max(1.0, np.max(np.abs(ph))):
                sys.exit(f"bench_jit: {cfg['name']}: the JAX step differs from the hand-written step")
    for pe, pj, ph in zip(eager_model.parameters(), jit_model.parameters(), hand.params()):
        if not np.array_equal(pe.data, pj.data):
            sys.exit(f"bench_jit: {cfg['name']}: the jitted step differs from the eager step")
        if np.max(np.abs(pj.data - ph)) > 1e-12 * max(1.0, np.max(np.abs(ph))):
            sys.exit(f"bench_jit: {cfg['name']}: tinygrad_np differs from the hand-written step")


def toy_variants():
    """The jit replaying a 4-4-4 MLP step, and every NumPy call of that replay written out by hand."""
    import numpy as np

    import tinygrad_np as tg
    import tinygrad_np.functional as F
    from tinygrad_np import Tensor, init, nn, optim

    rng = np.random.default_rng(0)
    ini = init.HeInitializer(rng=rng)
    model = nn.Sequential(nn.FC(4, 4, initializer=ini), nn.ReLU(), nn.FC(4, 4, initializer=ini))
    opt = optim.SGD(model.parameters(), lr=0.01)

    @tg.jit
    def jitted(X, y):
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        return loss

    W1, b1, W2, b2 = (p.data.copy() for p in model.parameters())
    ps = [W1, b1, W2, b2]
    scratch = [np.empty_like(p) for p in ps]
    grads: list = [None] * 4
    lr = 0.01

    def toy_by_hand(X, y):
        grads[:] = [None] * 4                              # zero_grad
        if np.maximum.reduce(y.view(np.uint64)) >= 4:      # the label check
            raise ValueError
        h = np.matmul(X, W1)                               # Linear + ReLU
        h += b1
        np.maximum(h, 0, out=h)
        z = np.matmul(h, W2)                               # Linear
        z += b2
        shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)   # softmax cross-entropy
        e = np.exp(shifted)
        s = np.add.reduce(e, axis=1, keepdims=True)
        log_s = np.log(s)
        e /= s
        n = len(z)
        rows = np.arange(n)
        losses = log_s[:, 0] - shifted[rows, y]
        loss = np.asarray(np.add.reduce(losses) / n)
        seed = np.empty((), z.dtype)                       # backward
        seed.fill(1)
        d = e.copy()
        d[np.arange(n), y] -= 1
        d *= seed / n
        dh = np.matmul(d, W2.T)
        dW2 = np.matmul(h.T, d)
        db2 = np.add.reduce(d, axis=0)
        dh = dh * (h > 0)
        dW1 = np.matmul(X.T, dh)
        db1 = np.add.reduce(dh, axis=0)
        grads[:] = [dW1, db1, dW2, db2]
        for p, g, sc in zip(ps, grads, scratch):           # SGD: p += -lr * g
            np.add(p, np.multiply(g, -lr, out=sc), out=p)
        return loss

    X = rng.standard_normal((4, 4))
    y = np.array([0, 1, 2, 3])
    jitted(X, y)
    return {"toy jit": jitted, "toy by hand": toy_by_hand}, [(X, y)] * 64


# ---- timing -------------------------------------------------------------------------------------
def run_rounds(steps: dict, data: list, block: int, rounds: int) -> dict[str, list[float]]:
    names = list(steps)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order.reverse()
        for name in order:
            f = steps[name]
            X, y = data[(r * block) % len(data)]
            f(X, y)  # untimed: absorbs the switch of caches
            t0 = time.perf_counter()
            for i in range(block):
                X, y = data[(r * block + i) % len(data)]
                f(X, y)
            times[name].append((time.perf_counter() - t0) / block)
    return times


def worker(quick: bool, tune_malloc: bool) -> dict:
    import numpy as np

    import tinygrad_np as tg
    if tune_malloc:
        tg.tune_malloc()
    out: dict = {"configs": {}}
    for cfg in CONFIGS:
        check(cfg)
        steps, data, _ = build(cfg)
        rounds = 4 if quick else cfg["rounds"]
        t = run_rounds(steps, data, cfg["block"] if not quick else 2, rounds)
        out["configs"][cfg["name"]] = {
            "ms": {k: float(np.median(v)) * 1e3 for k, v in t.items()},
            "ratios": {f"{a} / {b}": float(np.median(np.array(t[a]) / np.array(t[b]))) for a, b in RATIOS
                       if a in t and b in t}}
    steps, data = toy_variants()
    t = run_rounds(steps, data, 50 if quick else 400, 4 if quick else 30)
    out["toy"] = {"us": {k: float(np.median(v)) * 1e6 for k, v in t.items()},
                  "ratio": float(np.median(np.array(t["toy jit"]) / np.array(t["toy by hand"])))}
    return out


def aggregate(runs: list[dict]) -> dict:
    import numpy as np

    def stat(values):
        return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}

    res: dict = {"processes": len(runs), "configs": {}}
    for name in runs[0]["configs"]:
        res["configs"][name] = {
            "ms": {k: stat([r["configs"][name]["ms"][k] for r in runs]) for k in runs[0]["configs"][name]["ms"]},
            "ratios": {k: stat([r["configs"][name]["ratios"][k] for r in runs])
                       for k in runs[0]["configs"][name]["ratios"]}}
    res["toy"] = {"us": {k: stat([r["toy"]["us"][k] for r in runs]) for k in runs[0]["toy"]["us"]},
                  "ratio": stat([r["toy"]["ratio"] for r in runs])}
    return res


def markdown(res: dict, note: str) -> str:
    def fmt(s, digits=3):
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}..{s['max']:.{digits}f})"

    first = next(iter(res["configs"].values()))
    variants, ratios = list(first["ms"]), list(first["ratios"])
    lines = [f"{note}", "", "| config | " + " | ".join(f"{v} ms" for v in variants) + " | "
             + " | ".join(ratios) + " |",
             "|---|" + "---:|" * (len(variants) + len(ratios))]
    for name, c in res["configs"].items():
        lines.append(f"| {name} | " + " | ".join(fmt(c["ms"][v], 2) for v in variants) + " | "
                     + " | ".join(fmt(c["ratios"][r]) for r in ratios) + " |")
    toy = res["toy"]
    lines += ["", "| toy 4-4-4 MLP, batch 4, SGD | replayed by the jit µs | same NumPy calls by hand µs "
              "| jit / by hand |",
              "|---|---:|---:|---:|",
              f"| step | {fmt(toy['us']['toy jit'], 1)} | {fmt(toy['us']['toy by hand'], 1)} | {fmt(toy['ratio'])} |"]
    return "\n".join(lines) + "\n"


def _jax_version() -> str:
    try:
        import jax
    except ImportError:
        return ""
    return jax.__version__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a few rounds (smoke test); results not written")
    ap.add_argument("--tune-malloc", action="store_true", help="call tinygrad_np.tune_malloc() in each process")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    _env()
    if args.worker:
        print(json.dumps(worker(args.quick, args.tune_malloc)))
        return 0
    runs = []
    for i in range(1 if args.quick else args.processes):
        cmd = [sys.executable, __file__, "--worker"] + ["--quick"] * args.quick + ["--tune-malloc"] * args.tune_malloc
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            return 3
        runs.append(json.loads(r.stdout))
        print(f"process {i + 1} done", file=sys.stderr, flush=True)
    res = aggregate(runs)
    import numpy as np
    blas_env = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} & set(os.environ)
    note = (f"bench_jit: {len(runs)} process(es), 1 BLAS thread, numpy {np.__version__}, python "
            f"{sys.version.split()[0]}, malloc {'tuned' if args.tune_malloc else 'default'}, "
            f"OPENBLAS_CORETYPE/L2_SIZE {'SET' if blas_env else 'unset'}"
            f"{', jax ' + _jax_version() if _jax_version() else ''}; "
            f"ratio cells: median (min..max over processes)")
    md = markdown(res, note)
    print(md)
    if not args.quick:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        suffix = "_tuned" if args.tune_malloc else ""
        (out / f"bench_jit{suffix}.md").write_text(md)
        (out / f"bench_jit{suffix}.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
