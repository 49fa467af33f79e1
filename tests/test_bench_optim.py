"""Smoke test: the optimizer benchmark runs at toy size (no assertion on time)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_optim.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_optim", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_bench_optim_quick_runs(capsys):
    bench = _load()
    assert bench.main(["--quick", "--repeats", "1", "--number", "1", "--no-torch"]) == 0
    out = capsys.readouterr().out
    for name in ("SGD", "AdaGrad", "RMSProp", "Adam", "AdamW", "float32", "float64", "library/hand"):
        assert name in out
    assert "AdaGrad formulations" in out and "hypot" in out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adagrad_formulations_agree(dtype):
    """Every timed AdaGrad formulation computes the library's update (they differ in speed only)."""
    bench = _load()
    steps = 3
    finals = {}
    for label, build in bench.ADAGRAD_VARIANTS:
        if build is bench.torch_adagrad:
            continue
        P, G = bench.arrays(bench.TOY_SHAPES, dtype)
        step = build(P, G)
        for _ in range(steps):
            step()
        finals[label] = P
    ref = finals.pop("library optim.AdaGrad")
    P0, _ = bench.arrays(bench.TOY_SHAPES, dtype)
    assert all(np.abs(r - p0).max() > 0.01 for r, p0 in zip(ref, P0))   # the steps did move the weights
    assert len(finals) == 4
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for label, P in finals.items():
        for p, r in zip(P, ref):
            assert p.dtype == dtype
            np.testing.assert_allclose(p, r, rtol=tol, atol=tol * 0.05, err_msg=label)
