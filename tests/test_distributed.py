"""Data-parallel training over MPI (tinygrad_np.distributed), launched with the venv's mpiexec.

Each MPI test runs this file as a script under `mpiexec -n N` (`python test_distributed.py
<worker> <outdir> ...`); the ranks write what they ended with to `outdir`, and the test,
in this process and without MPI, computes the single-process reference and compares.
The MiniBatches shard tests and the missing-mpi4py tests need no MPI.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_np import Parameter, Tensor, nn, optim
from tinygrad_np import functional as F
from tinygrad_np.classifier import DeepNeuralNetworkClassifier
from tinygrad_np.data import MiniBatches
from tinygrad_np.init import XavierInitializer

MPIEXEC = Path(sys.executable).parent / "mpiexec"
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and MPIEXEC.exists()
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="needs the mpi extra (mpi4py and the venv's mpiexec): "
                                                    "pip install 'tinygrad_np[mpi]'")
ROWS_PER_RANK = 10
STEPS = 50


# ---- shared by the workers and the single-process references --------------------------------------
def make_data(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    return rng.standard_normal((n, 6)), rng.integers(0, 3, n)


def make_model(seed: int) -> nn.Sequential:
    ini = XavierInitializer(rng=seed, dtype=np.float64, random_bias=True)
    return nn.Sequential(nn.FC(6, 8, initializer=ini), nn.Tanh(), nn.FC(8, 3, initializer=ini))


def make_optimizer(name: str, model: nn.Module) -> optim.Optimizer:
    if name == "momentum":
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return optim.Adam(model.parameters(), lr=0.01)


def train(model: nn.Module, opt: optim.Optimizer, batch_size: int, rank: int = 0, world: int = 1,
          ) -> list[np.ndarray]:
    """STEPS steps over global batches of `batch_size` rows, this rank's share of each."""
    X, y = make_data()
    batches = MiniBatches(X, y, batch_size=batch_size, rng=7, rank=rank, world_size=world)
    steps = 0
    while steps < STEPS:
        for Xb, yb in batches:
            assert len(yb) == batch_size // world
            opt.zero_grad()
            F.softmax_cross_entropy(model(Tensor(Xb)), yb).backward()
            opt.step()
            steps += 1
            if steps == STEPS:
                break
    return [p.data.copy() for p in model.parameters()]


def reference(opt_name: str, world: int) -> list[np.ndarray]:
    """One process, every row of each global batch, from rank 0's initial weights (seed 100)."""
    model = make_model(100)
    return train(model, make_optimizer(opt_name, model), ROWS_PER_RANK * world)


def fit_classifier(n: int, batch_size: int, weighted: bool = False, epochs: int = 3) -> DeepNeuralNetworkClassifier:
    X, y = make_data(n)
    w = np.random.default_rng(5).uniform(0, 2, n) * (np.arange(n) % 7 != 0) if weighted else None  # some 0
    clf = DeepNeuralNetworkClassifier(hidden_layer_sizes=(8,), optimizer="momentum", lr=0.05, epochs=epochs,
                                      batch_size=batch_size, dtype="float64", random_state=3)
    return clf.fit(X, y, X[:17], y[:17], sample_weight=w)


# ---- workers: run under mpiexec ----------------------------------------------------------------------
def worker_ddp(out: Path, opt_name: str, mode: str) -> None:
    from tinygrad_np import distributed as dist
    dist.init()
    r, w = dist.rank(), dist.world_size()
    model = make_model(100 + r)  # differently seeded: the broadcast makes them rank 0's
    dist.broadcast_parameters(model)
    opt = dist.DistributedOptimizer(make_optimizer(opt_name, model), gradient_as_bucket_view=mode == "view",
                                    bucket_cap_mb=None if mode in ("one", "view") else float(mode))
    weights = train(model, opt, ROWS_PER_RANK * w, r, w)
    np.savez(out / f"rank{r}.npz", *weights, buckets=opt.num_buckets)


def worker_broadcast(out: Path) -> None:
    from tinygrad_np import distributed as dist
    dist.init()
    r = dist.rank()
    model = make_model(100 + r)
    opt = optim.Adam(model.parameters(), lr=0.01 * (r + 1))
    for p in model.parameters():  # a rank-specific optimizer state
        p.grad = np.full_like(p.data, r + 1.0)
    opt.step()
    before = [p.data.copy() for p in model.parameters()]
    dist.broadcast_parameters(model)
    dist.broadcast_optimizer_state(opt)
    sd = opt.state_dict()
    np.savez(out / f"rank{r}.npz", *before, *[p.data for p in model.parameters()],
             *[sd["state"][i]["exp_avg"] for i in range(4)], lr=sd["param_groups"][0]["lr"])


def worker_basics(out: Path) -> None:
    from mpi4py import MPI

    from tinygrad_np import distributed as dist
    assert not dist.is_initialized() and dist.rank() == 0 and dist.world_size() == 1
    comm = dist.init()
    assert dist.init() is comm and dist.init(comm) is comm and comm is MPI.COMM_WORLD
    r, w = dist.rank(), dist.world_size()
    x = np.array([[r, 1.0], [2.0 * r, -r]], dtype=np.float32)
    s, m = dist.all_reduce(x, "sum"), dist.all_reduce(x)
    tot = w * (w - 1) / 2
    assert s.dtype == np.float32 and np.array_equal(s, [[tot, w], [2 * tot, -tot]])
    assert np.allclose(m, [[tot / w, 1], [2 * tot / w, -tot / w]])
    assert x[0, 1] == 1.0  # the input is left alone
    im = dist.all_reduce(r)  # an int: its mean is float64
    assert im.dtype == np.float64 and im == tot / w
    errors = []
    try:
        dist.check_same(r == 1, "the flag")
    except ValueError as e:
        errors.append(str(e))
    model = make_model(0)
    inner = optim.SGD(model.parameters(), lr=0.5)
    opt = dist.DistributedOptimizer(inner)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    assert inner.param_groups[0]["lr"] == 0.25 and opt.param_groups is inner.param_groups
    assert opt.state is inner.state and opt.defaults is inner.defaults and opt.num_buckets == 1
    for p in model.parameters():
        p.grad = np.full_like(p.data, float(r))
    opt.step()
    assert all(np.array_equal(p.grad, np.full_like(p.data, tot / w)) for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    opt.step()  # no gradient on any rank: nothing moves, nothing raises
    opt.load_state_dict(opt.state_dict())
    extra = Parameter(np.zeros(5))
    opt.add_param_group({"params": [extra]})  # the buffers follow the parameters
    inner.param_groups[0]["params"].append(Parameter(np.zeros((2, 2), dtype=np.float32)))  # noticed at step
    ps = [p for g in opt.param_groups for p in g["params"]]
    for p in ps:
        p.grad = np.full_like(p.data, float(r))
    opt.step()
    assert opt.num_buckets == 2  # float64 and float32
    assert all(np.array_equal(p.grad, np.full_like(p.data, tot / w)) for p in ps)
    (out / f"rank{r}.txt").write_text("\n".join(errors))


def worker_subcomm(out: Path) -> None:
    """init(comm) on a sub-communicator: ranks {0, 2} and {1} of 3 train apart."""
    from mpi4py import MPI

    from tinygrad_np import distributed as dist
    world_rank = MPI.COMM_WORLD.Get_rank()
    comm = MPI.COMM_WORLD.Split(world_rank % 2, world_rank)
    assert dist.init(comm) is comm and dist.init() is comm
    try:
        dist.init(MPI.COMM_WORLD)
    except RuntimeError as e:
        again = str(e)
    total = dist.all_reduce(np.array([world_rank]), "sum")
    (out / f"rank{world_rank}.txt").write_text(f"{dist.rank()} {dist.world_size()} {int(total[0])} {again}")


def worker_errors(out: Path, case: str) -> None:
    from tinygrad_np import distributed as dist
    dist.init()
    r = dist.rank()
    try:
        if case == "none_grad":  # rank 1 never uses the second layer
            model = make_model(0)
            opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
            X, y = make_data(4)
            h = model[0](Tensor(X))
            logits = model[2](model[1](h)) if r != 1 else h[:, :3]
            F.softmax_cross_entropy(logits, y).backward()
            before = [p.data.copy() for p in model.parameters()]
            try:
                opt.step()
            finally:
                assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))
        elif case == "layout":  # rank 1 builds a wider hidden layer
            model = nn.Sequential(nn.FC(6, 8 + (r == 1)), nn.Tanh(), nn.FC(8 + (r == 1), 3))
            dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
        elif case == "batch":
            MiniBatches(*make_data(), batch_size=10, rank=r, world_size=dist.world_size())
        elif case == "abort":  # opted in: rank 1's exception ends rank 0's wait
            dist.init(abort_on_error=True)
            if r == 1:
                raise RuntimeError("deliberate failure on rank 1")
            dist.broadcast_object(None, root=1)
            return
    except (RuntimeError, ValueError) as e:
        if case == "abort":
            raise
        (out / f"rank{r}.txt").write_text(f"{type(e).__name__}: {e}")
        return
    (out / f"rank{r}.txt").write_text("no error")


def worker_fit(out: Path, n: str, batch_size: str, weighted: str) -> None:
    from tinygrad_np import distributed as dist
    dist.init()
    clf = fit_classifier(int(n), int(batch_size), weighted == "1")
    np.savez(out / f"rank{dist.rank()}.npz", *[p.data for p in clf.model_.parameters()],
             loss_train=clf.loss_train_, loss_val=clf.loss_val_, acc_val=clf.accuracy_val_)


WORKERS = {"ddp": worker_ddp, "broadcast": worker_broadcast, "basics": worker_basics, "subcomm": worker_subcomm,
           "errors": worker_errors, "fit": worker_fit}


# ---- launching -------------------------------------------------------------------------------------
def launch(cmd: list[str], timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `cmd` (an mpiexec command) in its own process group; on timeout kill the group and fail."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, cwd=cwd)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{' '.join(cmd)} still running after {timeout} s (a rank hung)")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def mpirun(n: int, worker: str, out: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return launch([str(MPIEXEC), "-n", str(n), sys.executable, __file__, worker, str(out), *args], timeout)


def run_ok(n: int, worker: str, out: Path, *args: str) -> None:
    r = mpirun(n, worker, out, *args)
    assert r.returncode == 0, r.stderr


def load(out: Path, n: int) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n)]


def arrays(d: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [d[f"arr_{i}"] for i in range(sum(k.startswith("arr_") for k in d))]


# ---- the DDP equivalence test --------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("world, mode", [(2, "one"), (2, "0.0001"), (2, "view"), (3, "one")])
@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_ranks_follow_the_single_process_and_agree_bit_for_bit(tmp_path, world, mode, opt_name):
    """N ranks x 10 rows against 1 process x 10N rows, float64, 50 steps (3 ranks: oversubscribed).
    mode: one buffer; buckets of 0.0001 MB (one per parameter, Iallreduce); gradients as views."""
    run_ok(world, "ddp", tmp_path, opt_name, mode)
    ranks = load(tmp_path, world)
    assert int(ranks[0]["buckets"]) == (4 if mode == "0.0001" else 1)
    ref = reference(opt_name, world)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(ref, [p.data for p in make_model(100).parameters()]))
    assert moved > 0.05  # the trajectory goes somewhere
    for d in ranks:
        got = arrays(d)
        assert len(got) == len(ref)
        for a, b in zip(got, ref):
            assert np.abs(a - b).max() <= 1e-12
    for d in ranks[1:]:
        for a, b in zip(arrays(d), arrays(ranks[0])):
            assert np.array_equal(a, b)  # bit for bit


@needs_mpi
def test_broadcast_makes_differently_seeded_ranks_identical(tmp_path):
    run_ok(2, "broadcast", tmp_path)
    r0, r1 = (arrays(d) for d in load(tmp_path, 2))
    before0, before1, after0, after1 = r0[:4], r1[:4], r0[4:8], r1[4:8]
    assert not any(np.array_equal(a, b) for a, b in zip(before0, before1))
    for b0, a0, a1 in zip(before0, after0, after1):
        assert np.array_equal(a0, b0) and np.array_equal(a1, b0)  # rank 0's values, bit for bit
    for m0, m1 in zip(r0[8:], r1[8:]):  # Adam's exp_avg after a step on gradient r + 1
        assert np.array_equal(m0, m1) and np.allclose(m0, 0.1)
    assert load(tmp_path, 2)[1]["lr"] == 0.01  # the hyperparameters come along


@needs_mpi
def test_init_all_reduce_check_same_and_the_optimizer_face(tmp_path):
    run_ok(3, "basics", tmp_path)
    msgs = [(tmp_path / f"rank{r}.txt").read_text() for r in range(3)]
    assert msgs[0] == msgs[1] == msgs[2]
    assert "the flag differs between the ranks" in msgs[0] and "rank 1: True" in msgs[0]


@needs_mpi
def test_init_on_a_given_communicator(tmp_path):
    run_ok(3, "subcomm", tmp_path)
    got = [(tmp_path / f"rank{r}.txt").read_text().split(" ", 3) for r in range(3)]
    assert [g[:3] for g in got] == [["0", "2", "2"], ["0", "1", "1"], ["1", "2", "2"]]  # rank, size, sum
    assert all(g[3] == "distributed.init: already initialized with another communicator" for g in got)


@needs_mpi
@pytest.mark.parametrize("world, n, batch_size, weighted", [(2, 53, 10, 0), (3, 49, 12, 0), (2, 60, 10, 1)])
def test_fit_data_parallel_equals_fit_in_one_process(tmp_path, world, n, batch_size, weighted):
    """The last batches are partial (53 = 5 x 10 + 3; 49 = 4 x 12 + 1: two ranks get no row;
    60 rows with sample weights, every 7th 0: 51 rows are kept)."""
    run_ok(world, "fit", tmp_path, str(n), str(batch_size), str(weighted))
    ranks = load(tmp_path, world)
    ref = fit_classifier(n, batch_size, bool(weighted))
    for d in ranks:
        for a, p in zip(arrays(d), ref.model_.parameters()):
            assert np.abs(a - p.data).max() <= 1e-12
        for key, want in (("loss_train", ref.loss_train_), ("loss_val", ref.loss_val_),
                          ("acc_val", ref.accuracy_val_)):
            assert np.allclose(d[key], want, rtol=1e-12, atol=0)
    for d in ranks[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(arrays(d), arrays(ranks[0])))


# ---- error paths -------------------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("case, world, expected", [
    ("none_grad", 2, "RuntimeError: DistributedOptimizer.step: a .grad is None on some ranks only "
                     "(parameter 2 of shape (8, 3) has one on 1 of 2 ranks; parameter 3 of shape (3,)"),
    ("layout", 2, "ValueError: DistributedOptimizer: the parameter layout (shapes, dtypes, order) differs"),
    ("batch", 3, "ValueError: MiniBatches: batch_size 10 (the global batch) must be divisible by world_size 3"),
])
def test_inconsistent_ranks_raise_the_same_error_everywhere(tmp_path, case, world, expected):
    r = mpirun(world, "errors", tmp_path, case, timeout=60)
    assert r.returncode == 0, r.stderr
    msgs = [(tmp_path / f"rank{k}.txt").read_text() for k in range(world)]
    assert all(m == msgs[0] for m in msgs), msgs
    assert msgs[0].startswith(expected), msgs[0]


@needs_mpi
def test_an_exception_on_one_rank_aborts_the_job(tmp_path):
    """init(abort_on_error=True): rank 0 waits for rank 1 forever unless rank 1's exception aborts."""
    r = mpirun(2, "errors", tmp_path, "abort", timeout=60)
    assert r.returncode != 0
    assert "deliberate failure on rank 1" in r.stderr


@needs_mpi
def test_the_main_job_aborts_when_one_rank_fails(tmp_path):
    """MPMD launch: rank 1 is pointed at a folder without MNIST; rank 0 would wait for it in fit."""
    mnist = [sys.executable, "-m", "tinygrad_np", "mnist", "--limit", "400", "--epochs", "1", "--hidden", "8"]
    r = launch([str(MPIEXEC), "-n", "1", *mnist, ":", "-n", "1", *mnist, "--data", str(tmp_path)], timeout=60)
    assert r.returncode == 2, r.stderr
    assert "error (rank 1 of 2): MNIST" in r.stderr and "lacks train-images-idx3-ubyte" in r.stderr


@needs_mpi
def test_the_main_job_rejects_a_batch_that_does_not_split(tmp_path):
    r = launch([str(MPIEXEC), "-n", "3", sys.executable, "-m", "tinygrad_np", "mnist", "--limit", "100"],
               timeout=60)
    assert r.returncode == 2
    assert "--batch-size 20 is the global batch: it must divide by the number of processes, 3" in r.stderr


# ---- the main job ----------------------------------------------------------------------------------------
@needs_mpi
def test_mpiexec_main_job_prints_the_single_process_figures_once(tmp_path):
    args = ["mnist", "--limit", "1000", "--epochs", "2", "--hidden", "16", "--dtype", "float64"]
    par = launch([str(MPIEXEC), "-n", "2", sys.executable, "-m", "tinygrad_np", *args,
                  "--save", str(tmp_path / "par.npz")], cwd=tmp_path)
    one = launch([sys.executable, "-m", "tinygrad_np", *args, "--save", str(tmp_path / "one.npz")], cwd=tmp_path)
    assert par.returncode == 0 and one.returncode == 0, par.stderr + one.stderr
    p_lines, o_lines = par.stdout.splitlines(), one.stdout.splitlines()
    assert len(p_lines) == len(o_lines) == 5  # header, 2 epochs, test accuracy, saved: rank 0 alone prints
    assert p_lines[0] == o_lines[0] + ", data-parallel over 2 processes"
    for p, o in zip(p_lines[1:3], o_lines[1:3]):  # global figures: equal to the printed digits
        assert p.split("  ")[:4] == o.split("  ")[:4]
    assert p_lines[3].split()[:3] == o_lines[3].split()[:3]
    a, b = (DeepNeuralNetworkClassifier.load(tmp_path / f) for f in ("par.npz", "one.npz"))
    for pa, pb in zip(a.model_.parameters(), b.model_.parameters()):
        assert np.abs(pa.data - pb.data).max() <= 1e-10
    assert sorted(f.name for f in tmp_path.iterdir()) == ["one.npz", "par.npz"]


@needs_mpi
def test_bench_distributed_quick(tmp_path):
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_distributed.py"
    r = launch([sys.executable, str(bench), "--quick", "--out-dir", str(tmp_path)], timeout=300)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "bench_distributed_quick.md").read_text()
    for variant in ("| 1 process x 1 thread |", "| 1 process x 2 threads |", "| 2 processes x 1 thread |",
                    "| control: 1 process x 1 thread |"):
        assert variant in md
    row = next(line for line in md.splitlines() if "| 2 processes x 1 thread |" in line)
    assert "% (" in row and "bare" in row and "25,450 floats" in row  # 784-32-10: the Allreduce share


# ---- without MPI -------------------------------------------------------------------------------------------
def _shard_rows(n: int, batch_size: int, world: int, shuffle: bool, seed: int) -> tuple[list, list]:
    X = np.arange(n)
    y = -np.arange(n)
    glob = MiniBatches(X, y, batch_size, shuffle=shuffle, rng=seed)
    shards = [MiniBatches(X, y, batch_size, shuffle=shuffle, rng=seed, rank=r, world_size=world)
              for r in range(world)]
    return glob, shards


@given(n=st.integers(0, 70), world=st.integers(1, 5), per_rank=st.integers(1, 6), shuffle=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_minibatch_shards_partition_every_global_batch(n, world, per_rank, shuffle, seed):
    batch_size = world * per_rank
    glob, shards = _shard_rows(n, batch_size, world, shuffle, seed)
    for _ in range(2):  # two epochs: every rank reshuffles the same way
        epoch = [list(s) for s in shards]
        seen = []
        for i, (Xg, yg) in enumerate(glob):
            parts = [epoch[r][i] for r in range(world)]
            assert all(np.array_equal(yb, -Xb) for Xb, yb in parts)  # rows stay paired with their labels
            # contiguous shares in rank order: their concatenation is the global batch
            assert np.array_equal(np.concatenate([Xb for Xb, _ in parts]), Xg)
            sizes = [len(Xb) for Xb, _ in parts]
            if len(Xg) == batch_size:
                assert sizes == [per_rank] * world
            else:
                assert max(sizes) - min(sizes) <= 1
            seen.extend(np.concatenate([Xb for Xb, _ in parts]).tolist())
        assert all(len(e) == len(glob) for e in epoch)
        assert sorted(seen) == list(range(n))  # no row repeats, none is missing


def test_minibatches_rejects_a_batch_that_does_not_split_and_a_bad_rank():
    X, y = make_data()
    with pytest.raises(ValueError, match="batch_size 20 .* must be divisible by world_size 3"):
        MiniBatches(X, y, batch_size=20, world_size=3)
    for rank in (-1, 2, 1.0, True):
        with pytest.raises(ValueError, match="rank must be an integer in \\[0, 2\\)"):
            MiniBatches(X, y, batch_size=20, rank=rank, world_size=2)
    with pytest.raises(ValueError, match="world_size must be a positive integer"):
        MiniBatches(X, y, world_size=0)
    assert "rank 1 of 2" in repr(MiniBatches(X, y, batch_size=20, rank=1, world_size=2))


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_importing_the_package_does_not_touch_mpi():
    r = _python("import sys, tinygrad_np, tinygrad_np.distributed as d, tinygrad_np.cli\n"
                "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
                "assert not d.is_initialized() and d.rank() == 0 and d.world_size() == 1")
    assert r.returncode == 0, r.stderr


def test_without_mpi4py_distributed_names_the_extra():
    hide = "import sys; sys.modules['mpi4py'] = None\n"  # `import mpi4py` now raises ImportError
    r = _python(hide + "import tinygrad_np.distributed as d\n"
                "try:\n    d.init()\nexcept ImportError as e:\n    print(e)\n")
    assert r.returncode == 0, r.stderr
    assert 'pip install "tinygrad_np[mpi]"' in r.stdout
    r = _python(hide + "from tinygrad_np.cli import main; raise SystemExit(main(['mnist', '--limit', '10']))",
                PMI_SIZE="2", PMI_RANK="0")
    assert r.returncode == 2
    assert "started by mpiexec with 2 processes" in r.stderr and "tinygrad_np[mpi]" in r.stderr


def test_launched_world_size_reads_the_launchers_environment():
    code = "import tinygrad_np.distributed as d; print(d.launched_world_size())"
    clean = {k: "" for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")}
    assert _python(code, **clean).stdout.strip() == "1"
    assert _python(code, **{**clean, "PMI_SIZE": "4"}).stdout.strip() == "4"
    assert _python(code, **{**clean, "OMPI_COMM_WORLD_SIZE": "3"}).stdout.strip() == "3"


if __name__ == "__main__":  # a worker, under mpiexec
    WORKERS[sys.argv[1]](Path(sys.argv[2]), *sys.argv[3:])
