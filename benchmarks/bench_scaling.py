"""Scaling: backward time linear in graph size, memory flat over long training.

    python benchmarks/bench_scaling.py            # graphs of 10^3..10^6 nodes, 10,000 steps (~1 min)
    python benchmarks/bench_scaling.py --quick    # 10^3..10^4 nodes, 300 steps (seconds)

1. Graph size: a chain of N ops on a small array (y = (y + x) * c, two nodes per link, plus
   a final sum), built, then differentiated; the time per node of `backward()` should not
   grow with N (linear total time; the graph walk is iterative, so depth is unlimited).
2. Memory: the seed's model (784-400-200-10, Tanh, AdaGrad, batch 20, float32) trained for
   10,000 steps with tracemalloc on (it sees NumPy's buffers too): the memory held after a
   step and the peak during the last interval must stay flat -- every step's graph and
   saved arrays are freed (by reference counting alone: the cyclic gc finds nothing).

Writes benchmarks/results/bench_scaling.{md,json}.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import tinygrad_np.functional as F  # noqa: E402
from tinygrad_np import Tensor, nn, optim  # noqa: E402


def chain(n_links: int, x: Tensor) -> Tensor:
    y = x
    for _ in range(n_links):
        y = (y + x) * 0.999
    return y.sum()


def graph_scaling(sizes, repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        links = max(1, (n - 1) // 2)
        nodes = 2 * links + 1
        fwd, bwd = [], []
        for _ in range(repeats):
            x = Tensor(np.ones(4), requires_grad=True)
            t0 = time.perf_counter()
            out = chain(links, x)
            t1 = time.perf_counter()
            out.backward()
            t2 = time.perf_counter()
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            assert x.grad is not None and np.all(np.isfinite(x.grad))
            del out, x
            gc.collect()
        f, b = float(np.median(fwd)), float(np.median(bwd))
        rows.append({"nodes": nodes, "forward_s": f, "backward_s": b,
                     "forward_us_per_node": f / nodes * 1e6, "backward_us_per_node": b / nodes * 1e6})
        print(f"  {nodes:>9,d} nodes: forward {f * 1e3:9.2f} ms ({f / nodes * 1e6:5.2f} us/node)   "
              f"backward {b * 1e3:9.2f} ms ({b / nodes * 1e6:5.2f} us/node)", flush=True)
    return rows


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = [nn.FC(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.tanh(layer(x))
        return self.layers[-1](x)


def memory_over_training(steps: int, sizes, batch: int, checkpoints: int = 10) -> list[dict]:
    rng = np.random.default_rng(0)
    X = rng.random((2000, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], 2000)
    model = MLP(sizes)
    opt = optim.AdaGrad(model.parameters(), lr=0.01)
    nb = len(X) // batch
    every = max(1, steps // checkpoints)
    rows = []
    tracemalloc.start()
    t0 = time.perf_counter()
    for s in range(1, steps + 1):
        i = s % nb
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X[i * batch:(i + 1) * batch])), y[i * batch:(i + 1) * batch])
        loss.backward()
        opt.step()
        del loss
        if s % every == 0 or s == 1:
            # gc.collect() also empties CPython's free lists (spare tuples etc., traced as allocated);
            # the number of objects it frees says whether steps leave reference cycles behind.
            cycles = gc.collect()
            cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            rows.append({"step": s, "current_bytes": cur, "peak_bytes": peak, "gc_collected": cycles})
            print(f"  step {s:>6d}: held {cur / 2**20:8.3f} MiB   peak in interval {peak / 2**20:8.3f} MiB   "
                  f"objects in reference cycles freed by gc: {cycles}", flush=True)
    tracemalloc.stop()
    rows[-1]["elapsed_s"] = time.perf_counter() - t0
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small graphs and few steps")
    p.add_argument("--steps", type=int, default=None, help="training steps for the memory check (default 10000)")
    p.add_argument("--out-dir", default=str(HERE / "results"))
    args = p.parse_args(argv)

    sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5, 10**6]
    steps = args.steps or (300 if args.quick else 10_000)
    model_sizes = (64, 32, 16, 10) if args.quick else (784, 400, 200, 10)

    print("graph size vs backward time (chain of y = (y + x) * c on a 4-vector; gc enabled):")
    graph = graph_scaling(sizes, repeats=3 if args.quick else 2)
    base = graph[0]["backward_us_per_node"]
    worst = max(r["backward_us_per_node"] for r in graph) / base
    print(f"backward us/node, largest / smallest graph: {graph[-1]['backward_us_per_node'] / base:.2f} "
          f"(worst over sizes {worst:.2f}; 1.0 = perfectly linear)")

    print(f"memory over {steps} training steps ({'-'.join(map(str, model_sizes))}, Tanh, AdaGrad, batch 20, "
          f"float32; tracemalloc):")
    mem = memory_over_training(steps, model_sizes, 20)
    early = [r for r in mem if r["step"] >= max(2, steps // 10)]
    cur_growth = mem[-1]["current_bytes"] / early[0]["current_bytes"]
    peak_growth = mem[-1]["peak_bytes"] / early[0]["peak_bytes"]
    print(f"held memory, last / step {early[0]['step']}: {cur_growth:.3f}; interval peak, last / step "
          f"{early[0]['step']}: {peak_growth:.3f} (1.0 = flat)")

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_scaling_quick" if args.quick else "bench_scaling"
    md = ["## Scaling", "", f"Command: `python benchmarks/bench_scaling.py{' --quick' if args.quick else ''}`", "",
          "| graph nodes | forward ms | backward ms | backward us/node |", "|---|---|---|---|"]
    md += [f"| {r['nodes']:,} | {r['forward_s'] * 1e3:.2f} | {r['backward_s'] * 1e3:.2f} | "
           f"{r['backward_us_per_node']:.2f} |" for r in graph]
    md += ["", f"Backward us/node, largest / smallest graph: {graph[-1]['backward_us_per_node'] / base:.2f}.", "",
           "| training step | held MiB | peak MiB in interval |", "|---|---|---|"]
    md += [f"| {r['step']} | {r['current_bytes'] / 2**20:.3f} | {r['peak_bytes'] / 2**20:.3f} |" for r in mem]
    md += ["", f"Held memory last / step {early[0]['step']}: {cur_growth:.3f}; peak: {peak_growth:.3f}.", ""]
    (out / f"{stem}.md").write_text("\n".join(md))
    (out / f"{stem}.json").write_text(json.dumps({"graph": graph, "memory": mem}, indent=1))
    print(f"wrote {out / (stem + '.md')} and {out / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
