"""Data-parallel training throughput: 1 process x 1 thread, 1 process x 2 threads, 2 MPI processes x 1 thread.

    python benchmarks/bench_distributed.py             # batches 128 and 20, 5 rounds (~2 min)
    python benchmarks/bench_distributed.py --rounds 9  # tighter medians
    python benchmarks/bench_distributed.py --quick     # toy sizes, seconds (the smoke test)

Needs the `mpi` extra (pip install "tinygrad_np[mpi]"): the 2-process rows run under the
mpiexec next to this Python.  Model: the seed's MLP 784-400-200-10 ReLU, float32, SGD lr 0.1,
softmax cross-entropy (mean); data: MNIST's training images in [0, 1] (the shipped copy, via
`tinygrad_np.datasets.mnist.load_data`).  At global batch B each step trains on B rows in
total: one process takes all B; two processes take B / 2 each (MiniBatches' shards) and
average their gradients with `DistributedOptimizer` (one Allreduce of all 396,210 float32
gradients per step).

Method: every measurement is a fresh process (or mpiexec job) that loads the data, takes
untimed warm-up steps, then times a block of steps (between two Barriers when there are
two ranks) and reports examples per second (B x steps / seconds).  Rounds interleave the
variants, in an order that rotates from round to round; a control row runs the 1 x 1
variant a second time, so its ratio to the first is the noise band of this shared machine.
Reported: median examples/s over rounds and the median [min-max] over rounds of each
round's ratio to the same round's 1 x 1 run (paired: slow phases of the machine cancel).
For two ranks it also reports the Allreduce share of a step: the time spent in
`synchronize()` (packing, the Allreduce, waiting for the other rank, unpacking) over the
step time, and the cost of the bare Allreduce of the gradient buffer (after a Barrier).
Results: benchmarks/results/bench_distributed.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import tinygrad_np.functional as F  # noqa: E402
from tinygrad_np import Tensor, init, nn, optim  # noqa: E402
from tinygrad_np._malloc import tune_malloc  # noqa: E402
from tinygrad_np._threads import blas_threads  # noqa: E402
from tinygrad_np.data import MiniBatches  # noqa: E402
from tinygrad_np.datasets import mnist  # noqa: E402

MPIEXEC = Path(sys.executable).parent / "mpiexec"
# name -> (processes, BLAS threads per process)
VARIANTS = {"1 process x 1 thread": (1, 1), "1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1),
            "control: 1 process x 1 thread": (1, 1)}
BASE = "1 process x 1 thread"


def worker(batch: int, steps: int, warmup: int, threads: int, sizes: tuple[int, ...], rows: int) -> None:
    """Train and print one JSON line (from rank 0): examples/s and, with ranks, the Allreduce share."""
    from tinygrad_np import distributed as dist
    tune_malloc()  # as the command line does
    parallel = dist.launched_world_size() > 1
    if parallel:
        dist.init(abort_on_error=True)
    r, w = dist.rank(), dist.world_size()
    (X, y), _ = mnist.load_data(flatten=True, normalize=True)
    X, y = X[:rows], y[:rows].astype(np.intp)
    rng = np.random.default_rng(0)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.FC(a, b, initializer=init.HeInitializer(rng=rng)))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt: optim.Optimizer = optim.SGD(model.parameters(), lr=0.1)
    sync_s = [0.0]
    if parallel:
        dist.broadcast_parameters(model)
        opt = dist.DistributedOptimizer(opt, gradient_as_bucket_view=True)
        synchronize = opt.synchronize

        def timed_sync() -> None:
            t = time.perf_counter()
            synchronize()
            sync_s[0] += time.perf_counter() - t
        opt.synchronize = timed_sync  # type: ignore[method-assign]
    batches = MiniBatches(X, y, batch, rng=1, rank=r, world_size=w)

    def run(n: int) -> None:
        done = 0
        while done < n:
            for Xb, yb in batches:
                opt.zero_grad()
                F.softmax_cross_entropy(model(Tensor(Xb)), yb).backward()
                opt.step()
                done += 1
                if done == n:
                    return

    with blas_threads(threads):
        run(warmup)
        if parallel:
            dist.all_reduce(0.0)  # a barrier
        sync_s[0] = 0.0
        t0 = time.perf_counter()
        run(steps)
        if parallel:
            dist.all_reduce(0.0)
        seconds = time.perf_counter() - t0
    out = {"examples_per_s": batch * steps / seconds, "step_ms": seconds / steps * 1e3}
    if parallel:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        buf = np.zeros(sum(p.size for p in model.parameters()), dtype=np.float32)
        comm.Barrier()
        t = time.perf_counter()
        for _ in range(steps):
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        bare = (time.perf_counter() - t) / steps
        out.update(sync_ms=sync_s[0] / steps * 1e3, sync_share=sync_s[0] / seconds,
                   bare_allreduce_ms=bare * 1e3, n_grads=int(buf.size))
    if r == 0:
        print(json.dumps(out), flush=True)


def measure(variant: str, args: argparse.Namespace, batch: int) -> dict:
    procs, threads = VARIANTS[variant]
    steps = max(args.min_steps, int(args.examples / batch))
    cmd = [sys.executable, __file__, "--worker", "--batch", str(batch), "--steps", str(steps),
           "--warmup", str(args.warmup), "--threads", str(threads), "--rows", str(args.rows),
           "--sizes", *map(str, args.sizes)]
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if procs > 1:
        cmd = [str(MPIEXEC), "-n", str(procs), *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"{variant} at batch {batch} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of fresh processes (default 5)")
    p.add_argument("--batches", type=int, nargs="+", default=[128, 20], help="global batch sizes (default 128 20)")
    p.add_argument("--examples", type=int, default=38400, help="examples timed per measurement (default 38400)")
    p.add_argument("--min-steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rows", type=int, default=60000, help="MNIST training rows to load (default all)")
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 400, 200, 10])
    p.add_argument("--quick", action="store_true", help="toy sizes, one round: checks the benchmark runs")
    p.add_argument("--out-dir", default=str(HERE / "results"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.batch, args.steps, args.warmup, args.threads, tuple(args.sizes), args.rows)
        return
    if not MPIEXEC.exists():
        raise SystemExit(f"no mpiexec next to {sys.executable}: pip install 'tinygrad_np[mpi]'")
    if args.quick:
        args.rounds, args.examples, args.min_steps, args.warmup, args.rows = 1, 400, 10, 2, 2000
        args.batches, args.sizes = [20], [784, 32, 10]
    names = list(VARIANTS)
    load_before = os.getloadavg()[0]
    results: dict[int, dict[str, list[dict]]] = {b: {v: [] for v in names} for b in args.batches}
    print(f"model {'-'.join(map(str, args.sizes))} ReLU f32 SGD; MNIST {args.rows} rows; {args.rounds} rounds; "
          f"numpy {np.__version__}; {os.cpu_count()} CPUs", flush=True)
    for rnd in range(args.rounds):
        for b in args.batches:
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for v in order:
                res = measure(v, args, b)
                results[b][v].append(res)
                extra = f"  synchronize {100 * res['sync_share']:.1f}% of a step" if "sync_share" in res else ""
                print(f"  round {rnd + 1} batch {b:>4}  {v:<30} {res['examples_per_s']:>9,.0f} ex/s{extra}",
                      flush=True)

    lines = ["## Data-parallel training throughput (MPI)", "",
             f"Command: `python benchmarks/bench_distributed.py{' --quick' if args.quick else ''}`  ",
             f"Model {'-'.join(map(str, args.sizes))} ReLU, float32, SGD; MNIST, {args.rows} training rows; "
             f"{args.rounds} interleaved rounds of fresh processes, {args.examples} examples timed per "
             f"measurement; numpy {np.__version__}, {os.cpu_count()} CPUs (shared with other jobs); "
             f"{time.strftime('%Y-%m-%d %H:%M')}; 1-minute load average {load_before:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end (the other jobs of this machine).  ",
             "examples/s: median over rounds; ratio: median [min-max] over rounds of the round's ratio to its "
             "1 x 1 run. Allreduce share: time in `synchronize()` (pack, Allreduce, wait, unpack) / step time; "
             "bare: one Allreduce of the gradient buffer after a Barrier.", "",
             "| global batch | variant | examples/s | vs 1 process x 1 thread | Allreduce share of a step |",
             "|---:|---|---:|---|---|"]
    for b in args.batches:
        base = [r["examples_per_s"] for r in results[b][BASE]]
        for v in names:
            runs = results[b][v]
            eps = [r["examples_per_s"] for r in runs]
            ratios = [e / x for e, x in zip(eps, base)]
            share = "-"
            if "sync_share" in runs[0]:
                sh = [r["sync_share"] for r in runs]
                share = (f"{100 * np.median(sh):.1f}% ({np.median([r['sync_ms'] for r in runs]):.3f} ms of "
                         f"{np.median([r['step_ms'] for r in runs]):.3f} ms; bare "
                         f"{np.median([r['bare_allreduce_ms'] for r in runs]):.3f} ms for "
                         f"{runs[0]['n_grads']:,} floats)")
            lines.append(f"| {b} | {v} | {np.median(eps):,.0f} | {np.median(ratios):.2f} "
                         f"[{min(ratios):.2f}-{max(ratios):.2f}] | {share} |")
    if 128 in args.batches:
        ratio = np.median([a["examples_per_s"] / x["examples_per_s"]
                           for a, x in zip(results[128]["2 processes x 1 thread"], results[128][BASE])])
        lines += ["", f"Target (issue 15): 2 processes >= 1.6x one 1-thread process at global batch 128: "
                      f"measured {ratio:.2f}x ({'met' if ratio >= 1.6 else 'NOT met'})."]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench_distributed{'_quick' if args.quick else ''}.md").write_text(text)


if __name__ == "__main__":
    main()
