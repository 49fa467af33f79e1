"""Smoke test: every benchmark runs at toy size and prints / writes what it should.

No assertion on time: the machine is shared and noisy.  PyTorch is used only when installed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))


def _run(script: str, *args: str, timeout: float = 120) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_bench_mlp_quick(tmp_path):
    out = _run("bench_mlp.py", "--quick", "--processes", "1", "--out-dir", str(tmp_path))
    for text in ("BLAS:", "threads pinned to", "agreement with the hand-written reference", "tinygrad_np / hand-written",
                 "PyTorch / tinygrad_np", "control hw/hw", "epoch 60000"):
        assert text in out, text
    assert "MISMATCH" not in out
    md = (tmp_path / "bench_mlp_quick.md").read_text()
    assert md.count("\n| b") >= 6 and "| epoch" in md
    data = json.loads((tmp_path / "bench_mlp_quick.json").read_text())
    res = data["results"]
    assert {"b20 f64 ReLU SGD", "b20 f32 ReLU SGD", "b128 f32 ReLU SGD", "b1024 f32 ReLU SGD",
            "b20 f64 Tanh AdaGrad (seed)", "b20 f32 ReLU Adam"} <= set(res)
    for name, r in res.items():
        if "ms" in r:
            for v in ("hand-written", "control", "tinygrad_np", "matmul-bound"):
                assert r["ms"][v]["median"] > 0
            assert {"control/hw", "tg/hw", "tg/mm"} <= set(r["ratios"])
            chk = r["check"]["tinygrad_np"]          # always float64
            assert chk["grads"] <= 1e-12 and chk["params"] <= 1e-12, (name, chk)


def test_bench_scaling_quick(tmp_path):
    out = _run("bench_scaling.py", "--quick", "--out-dir", str(tmp_path))
    assert "us/node" in out and "held memory" in out
    data = json.loads((tmp_path / "bench_scaling_quick.json").read_text())
    assert [r["nodes"] for r in data["graph"]] == [999, 9999]
    assert data["memory"][-1]["step"] == 300
    assert all(r["gc_collected"] == 0 for r in data["memory"][1:])   # no reference cycles per step
    assert (tmp_path / "bench_scaling_quick.md").exists()


@pytest.mark.parametrize("opt", ["sgd", "adagrad", "adam"])
def test_handwritten_reference_matches_autograd(opt):
    """The reference's gradients equal tinygrad_np's for one float64 step (same check as the benchmark)."""
    import bench_mlp
    from handwritten import HandwrittenMLP, init_params
    params = init_params((12, 8, 6, 5), "tanh" if opt == "adagrad" else "relu", np.float64, seed=3)
    rng = np.random.default_rng(0)
    X, y = rng.random((7, 12)), rng.integers(0, 5, 7)
    ref = HandwrittenMLP(params, "tanh" if opt == "adagrad" else "relu", opt, lr=0.05)
    loss = ref.loss_and_grads(X, y)
    grads = [g.copy() for g in ref.grads()]
    ref.update()
    step = bench_mlp.make_tinygrad(params, "tanh" if opt == "adagrad" else "relu", opt, 0.05)
    tl, tg, tp = step.check(X, y)
    assert abs(tl - loss) <= 1e-12 * abs(loss)
    assert bench_mlp.rel_diff(tg, grads) <= 1e-12
    assert bench_mlp.rel_diff(tp, ref.params()) <= 1e-12
