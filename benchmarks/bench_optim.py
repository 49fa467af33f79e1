"""Time each optimizer's step against a hand-written in-place NumPy update of the same rule.

The parameters have the seed MLP's shapes (784x400, 400, 400x200, 200, 200x10, 10).
Variants are timed interleaved (each repeat runs every variant once, in turn) so that
machine noise hits them alike; medians and ratios are printed.  For AdaGrad, the hottest
case, several formulations are compared (and torch.optim.Adagrad if torch is installed,
for reference only).

    python benchmarks/bench_optim.py            # full size
    python benchmarks/bench_optim.py --quick    # toy size smoke run (--no-torch: skip torch)
"""
from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
from typing import Callable

import numpy as np

from tinygrad_np import Parameter, optim

SEED_SHAPES = [(784, 400), (400,), (400, 200), (200,), (200, 10), (10,)]
TOY_SHAPES = [(20, 10), (10,), (10, 3), (3,)]
LR, EPS = 0.01, 1e-10


# ---- hand-written in-place NumPy updates: what one writes without the library --------------------
def hand_sgd(P, G):
    def step():
        for p, g in zip(P, G):
            p -= LR * g
    return step


def hand_sgd_momentum(P, G, mu=0.9):
    B = [np.zeros_like(p) for p in P]

    def step():
        for p, g, b in zip(P, G, B):
            b *= mu
            b += g
            p -= LR * b
    return step


def hand_adagrad(P, G):
    H = [np.zeros_like(p) for p in P]

    def step():
        for p, g, h in zip(P, G, H):
            h += g * g
            p -= LR * g / (np.sqrt(h) + EPS)
    return step


def hand_rmsprop(P, G, alpha=0.99, eps=1e-8):
    S = [np.zeros_like(p) for p in P]

    def step():
        for p, g, s in zip(P, G, S):
            s *= alpha
            s += (1 - alpha) * g * g
            p -= LR * g / (np.sqrt(s) + eps)
    return step


def hand_adam(P, G, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    M = [np.zeros_like(p) for p in P]
    V = [np.zeros_like(p) for p in P]
    t = [0]

    def step():
        t[0] += 1
        bc1, bc2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        for p, g, m, v in zip(P, G, M, V):
            if wd:
                p *= 1 - LR * wd
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= (LR / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + EPS)
    return step


# ---- AdaGrad formulations (the library uses "scratch, 7 passes") ------------------------------------
def adagrad_inplace(P, G, hypot: bool = False, lr_first: bool = False):
    """AdaGrad in place, one scratch buffer s per parameter; the formulations differ in two spots.

    hypot=False: state h = sum g*g, s = sqrt(h) + eps (the library's rule: 7 passes in all).
    hypot=True:  h holds r = sqrt(sum g*g) instead, updated by one np.hypot pass, s = r + eps (5 passes,
                 but hypot is a slow libm call).
    lr_first=False: s = g / s * lr.  lr_first=True: s = lr / s * g (a scalar numerator: lr
                 folded into the division).
    """
    H = [np.zeros_like(p) for p in P]
    S = [np.empty_like(p) for p in P]

    def step():
        for p, g, h, s in zip(P, G, H, S):
            if hypot:
                np.hypot(h, g, out=h)
                np.add(h, EPS, out=s)
            else:
                np.multiply(g, g, out=s)
                np.add(h, s, out=h)
                np.sqrt(h, out=s)
                np.add(s, EPS, out=s)
            numerator, factor = (LR, g) if lr_first else (g, LR)
            np.divide(numerator, s, out=s)
            np.multiply(s, factor, out=s)
            np.subtract(p, s, out=p)
    return step


def torch_adagrad(P, G):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)  # NumPy's ufuncs are single-threaded too
    T = [torch.tensor(p.copy()) for p in P]
    for t, g in zip(T, G):
        t.grad = torch.tensor(g)
    opt = torch.optim.Adagrad(T, lr=LR)

    def step():
        with torch.no_grad():
            opt.step()
    return step


# ---- harness ------------------------------------------------------------------------------------------
def library(make_opt: Callable[[list[Parameter]], optim.Optimizer]):
    """The optimizer's step on Parameters holding the arrays P (updated in place) with gradients G."""
    def build(P, G):
        ps = [Parameter(p) for p in P]
        opt = make_opt(ps)
        for p, g in zip(ps, G):
            p.grad = g
        return opt.step
    return build


CASES = [
    ("SGD", lambda ps: optim.SGD(ps, lr=LR), hand_sgd),
    ("SGD momentum=0.9", lambda ps: optim.SGD(ps, lr=LR, momentum=0.9), hand_sgd_momentum),
    ("AdaGrad", lambda ps: optim.AdaGrad(ps, lr=LR), hand_adagrad),
    ("RMSProp", lambda ps: optim.RMSProp(ps, lr=LR), hand_rmsprop),
    ("Adam", lambda ps: optim.Adam(ps, lr=LR), hand_adam),
    ("AdamW", lambda ps: optim.AdamW(ps, lr=LR), lambda P, G: hand_adam(P, G, wd=0.01)),
]

ADAGRAD_VARIANTS = [
    ("naive, temporaries (hand-written)", hand_adagrad),
    ("scratch, 7 passes (library rule)", adagrad_inplace),
    ("scratch, lr/(sqrt+eps) then *g", functools.partial(adagrad_inplace, lr_first=True)),
    ("sqrt-sum state via hypot, 5 passes", functools.partial(adagrad_inplace, hypot=True)),
    ("library optim.AdaGrad", library(lambda ps: optim.AdaGrad(ps, lr=LR))),
    ("torch.optim.Adagrad (reference)", torch_adagrad),
]


def arrays(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    P = [rng.standard_normal(s).astype(dtype) * 0.05 for s in shapes]
    G = [rng.standard_normal(s).astype(dtype) * 0.01 for s in shapes]
    return P, G


def time_interleaved(steps: dict[str, Callable[[], None]], repeats: int, number: int) -> dict[str, float]:
    """Median seconds per call of each step function; variants alternate within every repeat."""
    for f in steps.values():  # warm up: first-step allocations, caches
        f()
    samples: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for name, f in steps.items():
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            samples[name].append((time.perf_counter() - t0) / number)
    return {k: statistics.median(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="toy shapes and few repeats (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (median over them)")
    ap.add_argument("--number", type=int, default=None, help="steps per timing sample")
    ap.add_argument("--no-torch", action="store_true", help="skip the torch.optim.Adagrad reference")
    args = ap.parse_args(argv)
    shapes = TOY_SHAPES if args.quick else SEED_SHAPES
    repeats = args.repeats or (3 if args.quick else 15)
    number = args.number or (2 if args.quick else 10)
    n = sum(math.prod(s) for s in shapes)
    print(f"optimizer step on {len(shapes)} params, {n:,} weights {shapes}; "
          f"median of {repeats} interleaved repeats x {number} steps; NumPy {np.__version__}")
    print(f"{'optimizer':<18} {'dtype':<8} {'library us':>11} {'hand us':>9} {'library/hand':>13}")
    for dtype in (np.float32, np.float64):
        for name, make_opt, hand in CASES:
            P1, G1 = arrays(shapes, dtype)
            P2, G2 = arrays(shapes, dtype)
            med = time_interleaved({"library": library(make_opt)(P1, G1), "hand": hand(P2, G2)}, repeats, number)
            assert all(p.dtype == dtype for p in P1), "library step changed the dtype"
            print(f"{name:<18} {np.dtype(dtype).name:<8} {med['library'] * 1e6:>11.1f} {med['hand'] * 1e6:>9.1f} "
                  f"{med['library'] / med['hand']:>13.2f}")
    print("\nAdaGrad formulations (ratio to the hand-written naive update):")
    for dtype in (np.float32, np.float64):
        steps = {}
        for label, build in ADAGRAD_VARIANTS:
            if args.no_torch and build is torch_adagrad:
                continue
            P, G = arrays(shapes, dtype)
            f = build(P, G)
            if f is not None:
                steps[label] = f
        med = time_interleaved(steps, repeats, number)
        base = med[ADAGRAD_VARIANTS[0][0]]
        for label, t in med.items():
            print(f"  {np.dtype(dtype).name:<8} {label:<36} {t * 1e6:>9.1f} us {t / base:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
