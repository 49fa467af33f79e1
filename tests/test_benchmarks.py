"""Smoke test: every benchmark runs at toy size and prints / writes what it should.

No assertion on time: the machine is shared and noisy.  PyTorch and JAX are used only when installed.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
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
    # JAX's compilations would double this smoke test; its column is run in test_bench_mlp_quick_jax
    out = _run("bench_mlp.py", "--quick", "--processes", "1", "--no-jax", "--out-dir", str(tmp_path))
    python = f"{platform.python_implementation()} {platform.python_version()}"
    for text in ("BLAS:", "threads pinned to", "agreement with the hand-written reference",
                 "tinygrad_np / hand-written", "PyTorch / tinygrad_np", "JAX / tinygrad_np", "control hw/hw",
                 "epoch 60000", "data: MNIST", "tinygrad_np jit / hand-written", python + " | numpy", "CPU time / wall time"):
        assert text in out, text
    assert "MISMATCH" not in out
    md = (tmp_path / "bench_mlp_quick.md").read_text()
    assert md.count("\n| b") >= 6 and "| epoch" in md
    assert f"PyTorch and JAX ({python})" in md.splitlines()[0]
    targets = [ln for ln in md.splitlines() if ln.startswith("- b")]
    assert len(targets) == 10 and all(": PASS, " in ln or ": FAIL, " in ln or ln.endswith("not measured")
                                     for ln in targets), targets
    data = json.loads((tmp_path / "bench_mlp_quick.json").read_text())
    # the command as a shell would read it back (an --only name with a space stays one argument)
    assert shlex.split(data["meta"]["command"]) == ["python", "benchmarks/bench_mlp.py", "--quick", "--processes", "1",
                                                    "--no-jax", "--out-dir", str(tmp_path)]
    res = data["results"]
    assert {"b20 f64 ReLU SGD", "b20 f32 ReLU SGD", "b128 f32 ReLU SGD", "b1024 f32 ReLU SGD",
            "b20 f64 Tanh AdaGrad (seed)", "b20 f32 ReLU Adam"} <= set(res)
    for name, r in res.items():
        if "ms" in r:
            for v in ("hand-written", "control", "tinygrad_np", "tinygrad_np jit", "matmul-bound"):
                assert r["ms"][v]["median"] > 0
            assert {"control/hw", "tg/hw", "tg/mm", "jit/hw", "jit/tg"} <= set(r["ratios"])
            for v in ("tinygrad_np", "tinygrad_np jit"):   # always float64; the jit's is a replayed step
                chk = r["check"][v]
                assert chk["grads"] <= 1e-12 and chk["params"] <= 1e-12, (name, v, chk)


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


@pytest.fixture
def jax_x64_restored():
    """make_jax turns on jax_enable_x64 and synchronous dispatch: put both back after the test."""
    jax = pytest.importorskip("jax")
    old = {k: jax.config.values[k] for k in ("jax_enable_x64", "jax_cpu_enable_async_dispatch")}
    yield jax
    for k, v in old.items():
        jax.config.update(k, v)


@pytest.mark.parametrize("opt", ["sgd", "adagrad", "adam"])
def test_jax_variant_passes_the_agreement_check(opt, jax_x64_restored):
    """The JAX column's step reproduces the hand-written float64 step (the check the benchmark reports)."""
    import bench_mlp
    from handwritten import init_params
    act = "tanh" if opt == "adagrad" else "relu"
    cfg = dict(name=f"toy {opt}", batch=9, act=act, opt=opt, lr=0.05)
    params = init_params((12, 8, 6, 5), act, np.float64, seed=3)
    rng = np.random.default_rng(1)
    X, y = rng.random((9, 12)), rng.integers(0, 5, 9)
    variants = bench_mlp.build_variants(cfg, params, 1, {"jax"})
    checks = bench_mlp.check_config(cfg, params, X, y, variants)
    assert bench_mlp.check_failures(cfg["name"], checks, variant="jax") == [], checks["jax"]
    assert checks["jax"]["loss"] <= 1e-12
    # and it is a real step: the weights moved, by the reference's amounts (checked above)
    _, grads, ps = bench_mlp.make_jax(params, act, opt, 0.05).check(X, y)
    assert max(float(np.max(np.abs(p - q))) for p, q in zip(ps, (a for pair in params for a in pair))) > 1e-3
    assert all(g.dtype == np.float64 for g in grads)


def test_jax_variant_keeps_float32(jax_x64_restored):
    import bench_mlp
    from handwritten import init_params
    params = init_params((12, 8, 6, 5), "relu", np.float32, seed=3)
    X = np.random.default_rng(1).random((9, 12), dtype=np.float32)
    for opt in ("sgd", "adagrad", "adam"):
        _, grads, ps = bench_mlp.make_jax(params, "relu", opt, 0.05).check(X, np.arange(9) % 5)
        assert {a.dtype for a in grads + ps} == {np.dtype(np.float32)}, opt


def test_bench_mlp_quick_jax(tmp_path):
    """The JAX column in a run: a value in the table and the check reported (skipped without jax)."""
    pytest.importorskip("jax")
    _run("bench_mlp.py", "--quick", "--processes", "1", "--no-torch", "--no-epoch", "--only", "b20 f32 ReLU SGD",
         "--out-dir", str(tmp_path))
    data = json.loads((tmp_path / "bench_mlp_quick.json").read_text())
    r = data["results"]["b20 f32 ReLU SGD"]
    assert r["ms"]["jax"]["median"] > 0 and "jax/tg" in r["ratios"]
    assert r["check"]["jax"]["grads"] <= 1e-12 and r["check"]["jax"]["params"] <= 1e-12
    assert "--xla_cpu_multi_thread_eigen=false" in data["info"]["XLA_FLAGS"]


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
