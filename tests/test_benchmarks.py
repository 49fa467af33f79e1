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
    for text in ("BLAS:", "threads pinned to", "agreement with the hand-written reference",
                 "tinygrad_np / hand-written", "PyTorch / tinygrad_np", "control hw/hw", "epoch 60000", "data: MNIST"):
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


# ---- the agreement check aborts the benchmark before anything is timed --------------------------
# A deliberately wrong tinygrad_np variant: its reported gradients are off by one part in 1e9,
# far above the 1e-12 the check enforces in float64 (and far below anything a print would show).
WRONG_VARIANT = """
import sys
import bench_mlp

real = bench_mlp.make_tinygrad


def wrong(*args, **kwargs):
    step = real(*args, **kwargs)
    check = step.check

    def off(X, y):
        loss, grads, params = check(X, y)
        grads[0] = grads[0] * (1 + 1e-9)
        return loss, grads, params

    step.check = off
    return step


bench_mlp.make_tinygrad = wrong
sys.exit(bench_mlp.main(sys.argv[1:]))
"""


def test_bench_mlp_mismatch_aborts_before_timing(tmp_path):
    script = tmp_path / "wrong_variant.py"
    script.write_text(WRONG_VARIANT)
    out = tmp_path / "worker.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BENCH), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(script), "--worker", str(out), "--quick", "--no-torch", "--no-epoch",
                           "--data", "synthetic", "--only", "b20 f64 ReLU SGD", "b20 f32 ReLU Adam"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(ROOT), check=False)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ABORTED before timing" in proc.stderr
    for name in ("b20 f64 ReLU SGD", "b20 f32 ReLU Adam"):      # every config is named
        assert f"{name}: gradients of tinygrad_np differ from the hand-written reference" in proc.stderr
    assert "tolerance 1e-12" in proc.stderr
    assert "] b20 f64 ReLU SGD: " not in proc.stderr            # no "[process 1] <config>: <s> s": nothing timed
    assert not out.exists()


def test_bench_mlp_check_failures():
    import bench_mlp
    ok = {"tinygrad_np": {"loss": 0.0, "grads": 1e-16, "params": 1e-12}}
    assert bench_mlp.check_failures("c", ok) == []
    bad = {"tinygrad_np": {"loss": 0.0, "grads": float("nan"), "params": 2e-12}}
    msgs = bench_mlp.check_failures("c", bad)
    assert len(msgs) == 2 and "gradients" in msgs[0] and "updated weights" in msgs[1]
    assert bench_mlp.check_failures("c", {}) != []                       # a missing result is a failure


def test_bench_mlp_failed_worker_fails_the_run(tmp_path, monkeypatch, capsys):
    """The parent passes a worker's non-zero exit status on and writes no results."""
    import bench_mlp
    monkeypatch.setattr(bench_mlp.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, bench_mlp.CheckFailed.STATUS))
    assert bench_mlp.main(["--quick", "--processes", "1", "--out-dir", str(tmp_path)]) == 3
    assert "worker process 1 failed (exit status 3" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bench_mlp_data_sources():
    import bench_mlp
    X, y, what = bench_mlp.load_data(50, 784, np.float64, "mnist")
    assert what.startswith("MNIST") and X.shape == (50, 784) and X.dtype == np.float64
    assert 0.0 <= X.min() and X.max() <= 1.0 and y.dtype == np.int64 and set(y) <= set(range(10))
    from tinygrad_np.datasets import mnist
    (X8, y8), _ = mnist.load_data(flatten=True)
    np.testing.assert_array_equal(X, X8[:50] / 255.0)
    np.testing.assert_array_equal(y, y8[:50])
    X, y, what = bench_mlp.load_data(50, 784, np.float32, "synthetic")
    assert what.startswith("synthetic") and X.shape == (50, 784) and X.dtype == np.float32


def test_bench_conv_quick(tmp_path):
    out = _run("bench_conv.py", "--quick", "--processes", "1", "--out-dir", str(tmp_path))
    assert "tinygrad_np / hand-written" in out and "control hw/hw" in out and "data: MNIST" in out
    data = json.loads((tmp_path / "bench_conv_quick.json").read_text())
    chk = data["check"]["tinygrad_np"]  # float64, enforced by the benchmark before timing
    assert chk["grads"] <= 1e-12 and chk["params"] <= 1e-12
    assert {"b32 f32 SGD", "b128 f32 SGD"} <= set(data["results"])
    for r in data["results"].values():
        assert r["ms"]["tinygrad_np"]["median"] > 0 and "tg/hw" in r["ratios"]
