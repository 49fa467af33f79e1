"""Smoke test: the optimizer benchmark runs at toy size (no assertion on time)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_optim.py"


def test_bench_optim_quick_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_optim", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--repeats", "1", "--number", "1", "--no-torch"]) == 0
    out = capsys.readouterr().out
    for name in ("SGD", "AdaGrad", "RMSProp", "Adam", "AdamW", "float32", "float64", "ratio"):
        assert name in out
