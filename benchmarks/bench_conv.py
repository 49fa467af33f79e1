"""One training step of the MNIST CNN: tinygrad_np against hand-written NumPy, PyTorch and MyGrad.

    python benchmarks/bench_conv.py                  # 3 fresh processes (~4 min on an idle machine)
    python benchmarks/bench_conv.py --processes 5    # tighter medians
    python benchmarks/bench_conv.py --quick          # a few rounds on little data (the smoke test)

Model (`handwritten_conv.py`): conv 3x3 (1 -> 16, padding 1) -> ReLU -> max pool 2 -> conv 3x3
(16 -> 32) -> ReLU -> max pool 2 -> flatten -> FC 1568 -> 128 -> ReLU -> FC 128 -> 10, softmax
cross-entropy (batch mean), plain SGD lr 0.01, float32, on MNIST's training images in [0, 1]
(through `tinygrad_np.datasets.mnist`; an error if none is found).  One step = forward + backward
+ SGD update.  Variants, all from the same initial weights and data:

* hand-written : `handwritten_conv.HandwrittenCNN`, im2col NumPy kept channels-last (the reference)
* control      : a second, independent hand-written instance: its ratio to the first is the
                 noise band of this machine
* tinygrad_np  : nn.Sequential(nn.Unflatten, nn.Conv2d, nn.ReLU, nn.MaxPool2d, ..., nn.FC) + optim.SGD
* pytorch      : the same torch.nn network + torch.optim.SGD (only when torch is installed)
* mygrad       : mygrad.nnet's conv_nd / max_pool / softmax_crossentropy (only when mygrad is installed)

Method (as bench_mlp.py): each process first checks in float64 that one step of tinygrad_np
gives the hand-written gradients and updated weights (max relative difference <= 1e-12; a
mismatch aborts with exit status 3 before anything is timed; PyTorch and MyGrad are reported).
Then it times the variants interleaved in rounds (a block of steps each, after one untimed step,
in an order rotating and reversing from round to round).  ms/step is the median over rounds;
a ratio is the median of the per-round ratios (paired).  Processes aggregate as median of
their medians, spread min..max over processes (one process: 25th..75th percentile over rounds).
BLAS and torch run on `--threads` threads (default 1).  Each worker calls
`tinygrad_np.tune_malloc()` first, as the CLI does (all variants share its allocator).
Results: benchmarks/results/bench_conv.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from bench_mlp import _pct, blas_info, load_data, print_info, rel_diff, time_config, tinygrad_step  # noqa: E402

CONFIGS = [dict(name="b32 f32 SGD", batch=32, block=6, rounds=20),
           dict(name="b128 f32 SGD", batch=128, block=2, rounds=16)]
LR = 0.01
CHECK_TOL = 1e-12
RATIOS = [("control/hw", "control", "hand-written"), ("tg/hw", "tinygrad_np", "hand-written"),
          ("mygrad/tg", "mygrad", "tinygrad_np"), ("tg/torch", "tinygrad_np", "pytorch")]


# ---- variants ----------------------------------------------------------------------------------
def make_tinygrad(params):
    from tinygrad_np import nn, optim
    from handwritten_conv import CHANNELS, HIDDEN, SIDE

    (c0, c1, c2), side = CHANNELS, SIDE // 4
    model = nn.Sequential(nn.Unflatten(1, (1, SIDE, SIDE)), nn.Conv2d(c0, c1, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.FC(c2 * side * side, HIDDEN), nn.ReLU(), nn.FC(HIDDEN, 10))
    for p, value in zip(model.parameters(), params):
        p.data = value.copy()
    return tinygrad_step(model, optim.SGD(model.parameters(), lr=LR))


def make_torch(params, threads):
    try:
        import torch
    except ImportError:
        return None
    import numpy as np
    from handwritten_conv import CHANNELS, HIDDEN, SIDE
    torch.set_num_threads(threads)
    (c0, c1, c2), side = CHANNELS, SIDE // 4
    dt = torch.float64 if params[0].dtype == np.float64 else torch.float32
    tnn = torch.nn
    model = tnn.Sequential(tnn.Unflatten(1, (1, SIDE, SIDE)), tnn.Conv2d(c0, c1, 3, padding=1), tnn.ReLU(),
                           tnn.MaxPool2d(2), tnn.Conv2d(c1, c2, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                           tnn.Flatten(), tnn.Linear(c2 * side * side, HIDDEN), tnn.ReLU(),
                           tnn.Linear(HIDDEN, 10)).to(dt)
    tparams = list(model.parameters())
    with torch.no_grad():
        for i, (p, value) in enumerate(zip(tparams, params)):
            p.copy_(torch.from_numpy(np.ascontiguousarray(value.T if i >= 4 and value.ndim == 2 else value)))
    optimizer = torch.optim.SGD(tparams, lr=LR)
    cross_entropy = torch.nn.functional.cross_entropy

    def step(X, y):
        optimizer.zero_grad()
        loss = cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        return loss

    def ours(t, i):
        a = t.detach().numpy()
        return (a.T if i >= 4 and a.ndim == 2 else a).copy()

    def check(X, y):
        optimizer.zero_grad()
        loss = cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        grads = [ours(p.grad, i) for i, p in enumerate(tparams)]
        optimizer.step()
        return float(loss.item()), grads, [ours(p, i) for i, p in enumerate(tparams)]

    step.check = check
    step.version = torch.__version__
    return step


def make_mygrad(params):
    try:
        import mygrad as mg
        from mygrad.nnet.activations import relu
        from mygrad.nnet.layers import conv_nd, max_pool
        from mygrad.nnet.losses import softmax_crossentropy
    except ImportError:
        return None
    import numpy as np
    from handwritten_conv import SIDE
    ps = [mg.tensor(p.copy()) for p in params]

    def loss_of(X, y):
        W1, b1, W2, b2, W3, b3, W4, b4 = ps
        n = len(X)
        x = X.reshape(n, 1, SIDE, SIDE)
        a = max_pool(relu(conv_nd(x, W1, stride=1, padding=1) + b1[:, None, None]), (2, 2), 2)
        a = max_pool(relu(conv_nd(a, W2, stride=1, padding=1) + b2[:, None, None]), (2, 2), 2)
        h = relu(mg.matmul(a.reshape(n, -1), W3) + b3)
        return softmax_crossentropy(mg.matmul(h, W4) + b4, y)

    def update():
        for p in ps:
            p.data -= LR * p.grad

    def step(X, y):
        loss = loss_of(X, y)
        loss.backward()
        update()
        return loss

    def check(X, y):
        loss = loss_of(X, y)
        loss.backward()
        grads = [np.array(p.grad) for p in ps]
        update()
        return float(loss.item()), grads, [np.array(p.data) for p in ps]

    step.check = check
    step.version = mg.__version__
    return step


def build_variants(params, threads, use_optional):
    from handwritten_conv import HandwrittenCNN
    hw, ctl = HandwrittenCNN(params, LR), HandwrittenCNN(params, LR)
    v = {"hand-written": hw.step, "control": ctl.step, "tinygrad_np": make_tinygrad(params)}
    if use_optional:
        for name, fn in (("pytorch", make_torch(params, threads)), ("mygrad", make_mygrad(params))):
            if fn is not None:
                v[name] = fn
    return v


# ---- the agreement check ------------------------------------------------------------------------
def run_check(args, threads, use_optional, X, y):
    """One float64 step from the same weights and batch, each variant against hand-written."""
    import numpy as np
    from handwritten_conv import HandwrittenCNN, init_params
    params = init_params(np.float64, seed=args.seed)
    n = CONFIGS[0]["batch"]
    Xb, yb = X[:n].astype(np.float64), y[:n]
    ref = HandwrittenCNN(params, LR)
    ref_loss = ref.loss_and_grads(Xb, yb)
    ref_grads = [g.copy() for g in ref.grads()]
    ref.update()
    ref_params = [p.copy() for p in ref.params()]
    out = {}
    for name, fn in build_variants(params, threads, use_optional).items():
        if hasattr(fn, "check"):
            loss, grads, ps = fn.check(Xb, yb)
            out[name] = {"loss": abs(loss - ref_loss) / abs(ref_loss), "grads": rel_diff(grads, ref_grads),
                         "params": rel_diff(ps, ref_params)}
    c = out["tinygrad_np"]
    if not max(c["grads"], c["params"]) <= CHECK_TOL:
        print(f"bench_conv: ABORTED before timing: tinygrad_np differs from the hand-written CNN by "
              f"{c['grads']:.2e} (gradients) / {c['params']:.2e} (updated weights) in float64; tolerance "
              f"{CHECK_TOL:g}", file=sys.stderr, flush=True)
        raise SystemExit(3)
    return out


def worker(args) -> dict:
    import numpy as np
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.threads)
    except ImportError:
        pass
    from handwritten_conv import init_params
    import tinygrad_np
    tinygrad_np.tune_malloc()  # what `python -m tinygrad_np mnist` does; every variant shares the allocator
    X, y, source = load_data(1024 if args.quick else 60000, 784, np.float32, "mnist", seed=args.seed)
    use_optional = not args.no_optional
    result = {"info": blas_info(args.threads), "data": source, "check": run_check(args, args.threads, use_optional,
                                                                                  X, y), "configs": {}}
    try:
        import mygrad
        result["info"]["mygrad"] = mygrad.__version__
    except ImportError:
        result["info"]["mygrad"] = None
    for cfg in CONFIGS:
        variants = build_variants(init_params(np.float32, seed=args.seed), args.threads, use_optional)
        rounds, block = (3, 1) if args.quick else (max(3, round(cfg["rounds"] * args.rounds_scale)), cfg["block"])
        timed = {k: (None, fn) for k, fn in variants.items()}
        result["configs"][cfg["name"]] = time_config(cfg, timed, X, y, rounds, block, args.proc_index)
        print(f"  [process {args.proc_index + 1}] {cfg['name']} done", file=sys.stderr, flush=True)
    return result


# ---- aggregation and report ------------------------------------------------------------------------
def aggregate(results):
    import numpy as np
    out = {}
    for name in results[0]["configs"]:
        runs = [r["configs"][name] for r in results]
        ms, ratios = {}, {}
        for v in runs[0]:
            meds = [float(np.median(t[v])) for t in runs]
            lo, hi = (min(meds), max(meds)) if len(meds) > 1 else (_pct(runs[0][v], 25), _pct(runs[0][v], 75))
            ms[v] = {"median": float(np.median(meds)), "lo": lo, "hi": hi}
        for label, a, b in RATIOS:
            if a in runs[0] and b in runs[0]:
                per = [[x / z for x, z in zip(t[a], t[b])] for t in runs]
                meds = [float(np.median(p)) for p in per]
                lo, hi = (min(meds), max(meds)) if len(meds) > 1 else (_pct(per[0], 25), _pct(per[0], 75))
                ratios[label] = {"median": float(np.median(meds)), "lo": lo, "hi": hi}
        out[name] = {"ms": ms, "ratios": ratios}
    check = {v: {k: max(r["check"][v][k] for r in results) for k in results[0]["check"][v]}
             for v in results[0]["check"]}
    return out, check


def _ms(d):
    return f"{d['median']:.2f}" if d else "-"


def _ratio(d):
    return f"{d['median']:.2f} [{d['lo']:.2f}-{d['hi']:.2f}]" if d else "-"


def render(agg, check, info, meta) -> str:
    spread = "min-max over processes" if meta["processes"] > 1 else "25th-75th percentile over rounds"
    c = check["tinygrad_np"]
    lines = ["## MNIST CNN training step: tinygrad_np vs hand-written NumPy, PyTorch and MyGrad", "",
             f"Command: `{meta['command']}`  ",
             f"{meta['processes']} fresh process(es), {meta['threads']} BLAS/torch thread(s); "
             f"numpy {info.get('numpy')}, "
             f"torch {info.get('torch') or 'not installed'}, mygrad {info.get('mygrad') or 'not installed'}; "
             f"{meta['date']}.  ",
             "Model: conv3x3(16)-ReLU-maxpool2-conv3x3(32)-ReLU-maxpool2-FC(1568, 128)-ReLU-FC(128, 10), softmax "
             "cross-entropy, SGD; float32; one step = forward + backward + update.  ",
             f"ms/step: median; ratios: median of paired per-round ratios [spread: {spread}].  ",
             f"Agreement check (float64, one step, same weights and batch): tinygrad_np vs hand-written gradients "
             f"{c['grads']:.1e}, updated weights {c['params']:.1e} "
             f"(max relative difference; tolerance {CHECK_TOL:g}).  ",
             f"Data: {meta['data']}.", "",
             "| config | hand-written ms | tinygrad_np ms | PyTorch ms | MyGrad ms | control hw/hw "
             "| tinygrad_np / hand-written | MyGrad / tinygrad_np | tinygrad_np / PyTorch |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, a in agg.items():
        ms, r = a["ms"], a["ratios"]
        lines.append(f"| {name} | {_ms(ms.get('hand-written'))} | {_ms(ms.get('tinygrad_np'))} | "
                     f"{_ms(ms.get('pytorch'))} | {_ms(ms.get('mygrad'))} | {_ratio(r.get('control/hw'))} | "
                     f"{_ratio(r.get('tg/hw'))} | {_ratio(r.get('mygrad/tg'))} | {_ratio(r.get('tg/torch'))} |")
    lines += ["", "Targets (issue 13): tinygrad_np / hand-written <= 1.05; MyGrad / tinygrad_np >= 2; the ratio to "
              "PyTorch as measured.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--processes", type=int, default=3, help="fresh worker processes to aggregate (default 3)")
    p.add_argument("--repeats", type=float, default=1.0, dest="rounds_scale",
                   help="scale the number of interleaved rounds (default 1.0)")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a few rounds on 1024 images: checks the benchmark runs")
    p.add_argument("--no-optional", action="store_true", help="skip PyTorch and MyGrad even when installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=str(HERE / "results"), help="where bench_conv.md/.json go")
    p.add_argument("--worker", metavar="JSON_OUT", help=argparse.SUPPRESS)
    p.add_argument("--proc-index", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        Path(args.worker).write_text(json.dumps(worker(args)))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    passthru = ["--threads", str(args.threads), "--repeats", str(args.rounds_scale), "--seed", str(args.seed)]
    passthru += ["--quick"] * args.quick + ["--no-optional"] * args.no_optional
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            out = Path(tmp) / f"w{i}.json"
            t0 = time.time()
            cmd = [sys.executable, str(Path(__file__).resolve()), *passthru, "--worker", str(out),
                   "--proc-index", str(i)]
            rc = subprocess.run(cmd, env=env, check=False).returncode
            if rc:
                print(f"bench_conv: worker process {i + 1} failed (exit status {rc}, its message is above); "
                      "no results written", file=sys.stderr)
                return rc
            results.append(json.loads(out.read_text()))
            print(f"process {i + 1}/{args.processes} done in {time.time() - t0:.0f} s", flush=True)
    info = results[0]["info"]
    print_info(info)
    print("mygrad:", info.get("mygrad") or "not installed (skipped)")
    agg, check = aggregate(results)
    print("data:", results[0]["data"])
    print("agreement with the hand-written CNN after one float64 step (max relative difference):")
    for v, c in check.items():
        verdict = " ok" if v == "tinygrad_np" and max(c["grads"], c["params"]) <= CHECK_TOL else ""
        print(f"  {v:12s} loss {c['loss']:.1e}  grads {c['grads']:.1e}  updated weights {c['params']:.1e}{verdict}")
    meta = {"command": "python benchmarks/bench_conv.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "processes": args.processes, "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M"),
            "data": results[0]["data"], "quick": args.quick}
    md = render(agg, check, info, meta)
    print()
    print(md)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "bench_conv_quick" if args.quick else "bench_conv"
    (out_dir / f"{stem}.md").write_text(md)
    (out_dir / f"{stem}.json").write_text(json.dumps({"meta": meta, "info": info, "results": agg, "check": check,
                                                      "raw": results}, indent=1))
    print(f"wrote {out_dir / (stem + '.md')} and {out_dir / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
