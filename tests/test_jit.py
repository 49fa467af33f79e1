"""tinygrad_np.jit: a replayed step equals the eager step exactly; what it cannot replay raises."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
import tinygrad_np.functional as F
from tinygrad_np import Function, Parameter, Tensor, init, nn, optim
from tinygrad_np.jit import JitError

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05),
    "momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda ps: optim.AdaGrad(ps, lr=0.05),
    "rmsprop": lambda ps: optim.RMSProp(ps, lr=0.01, momentum=0.5, centered=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
}


def make_model(dtype, dropout: bool, seed: int = 0, acts=("tanh", "relu")) -> nn.Module:
    ini = init.XavierInitializer(rng=np.random.default_rng(seed))
    layers: list[nn.Module] = [nn.FC(6, 8, initializer=ini), {"tanh": nn.Tanh, "relu": nn.ReLU,
                                                                "sigmoid": nn.Sigmoid}[acts[0]]()]
    if dropout:
        layers.append(nn.Dropout(0.25, rng=seed + 1))
    layers += [nn.FC(8, 5, initializer=ini), {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}[acts[1]](),
               nn.FC(5, 3, initializer=ini)]
    return nn.Sequential(*layers).to(dtype)


def batches(dtype, n_steps: int, batch: int = 7, seed: int = 3):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, 6)).astype(dtype), rng.integers(0, 3, batch)) for _ in range(n_steps)]


def train_step(model, opt):
    def step(X, y):
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        return loss
    return step


def snapshot(model, opt):
    return ([p.data.copy() for p in model.parameters()],
            [None if p.grad is None else p.grad.copy() for p in model.parameters()],
            opt.state_dict())


def assert_same(a, b):
    """Bit-exact equality of nested arrays / dicts / lists / numbers."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=True)
    else:
        assert a == b


# ---- equality with eager ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dropout", [False, True])
def test_100_steps_equal_eager(dtype, name, dropout):
    """Losses, weights, gradients and optimizer state equal eager mode's bit for bit over 100
    steps, across a StepLR change of the learning rate at step 50 (scheduler outside the step)."""
    data = batches(dtype, 100)
    runs = []
    for use_jit in (False, True):
        model = make_model(dtype, dropout)
        opt = OPTIMIZERS[name](model.parameters())
        sched = optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.1)
        step = train_step(model, opt)
        if use_jit:
            step = tg.jit(step)
        losses = []
        for X, y in data:
            losses.append(step(X, y).data.copy())
            sched.step()
        runs.append((losses, snapshot(model, opt)))
        if use_jit:
            assert step.cache_info() == (99, 1, 1)  # recorded once, replayed 99 times
    assert runs[0][0][0].dtype == np.dtype(dtype)
    assert_same(runs[0], runs[1])


def test_hand_set_lr_and_param_groups_are_read_at_each_replay():
    dt = np.float64
    data = batches(dt, 12)
    results = []
    for use_jit in (False, True):
        model = make_model(dt, False)
        ps = list(model.parameters())
        opt = optim.SGD([{"params": ps[:2], "lr": 0.1}, {"params": ps[2:]}], lr=0.01, momentum=0.5)
        step = tg.jit(train_step(model, opt)) if use_jit else train_step(model, opt)
        for i, (X, y) in enumerate(data):
            if i == 4:
                opt.param_groups[0]["lr"] = 0.02
            if i == 8:
                opt.param_groups[1]["momentum"] = 0.0
            step(X, y)
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1])


@st.composite
def programs(draw):
    """A model, an optimizer and a sequence of steps (jitted or eager, two batch sizes, lr changes)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    acts = (draw(st.sampled_from(["relu", "tanh", "sigmoid"])), draw(st.sampled_from(["relu", "tanh", "sigmoid"])))
    dropout = draw(st.booleans())
    name = draw(st.sampled_from(list(OPTIMIZERS)))
    form = draw(st.sampled_from(["sequential", "ops"]))
    steps = draw(st.lists(st.tuples(st.sampled_from(["jit", "jit", "eager", "lr", "eval"]),
                                    st.sampled_from([1, 4, 7])), min_size=1, max_size=12))
    return dtype, acts, dropout, name, form, steps, draw(st.integers(0, 2**16))


class OpsNet(nn.Module):
    """A model written with Tensor operators (unfused ops, broadcasting, reductions, a Mean loss term)."""

    def __init__(self, dtype, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.W = Parameter(rng.standard_normal((6, 4)).astype(dtype) * 0.5)
        self.b = Parameter(np.zeros(4, dtype))
        self.V = Parameter(rng.standard_normal((4, 3)).astype(dtype) * 0.5)

    def forward(self, x):
        h = (x @ self.W + self.b).tanh()
        h = h * h.sigmoid() - (h ** 2).mean(axis=1, keepdims=True)
        return h @ self.V + self.b[:3] * 0.5


@settings(max_examples=30, deadline=None)
@given(programs())
def test_property_jit_equals_eager(prog):
    """Over random models, optimizers and step sequences, mixing jitted and eager steps, eval-mode
    steps, learning-rate changes and batch sizes, the jitted run equals the eager run exactly."""
    dtype, acts, dropout, name, form, steps, seed = prog
    rng = np.random.default_rng(seed)
    data = [(rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 3, n)) for _, n in steps]
    results = []
    for use_jit in (False, True):
        model = make_model(dtype, dropout, seed, acts) if form == "sequential" else OpsNet(dtype, seed)
        opt = OPTIMIZERS[name](model.parameters())
        eager = train_step(model, opt)
        jitted = tg.jit(eager)
        losses = []
        for (kind, _), (X, y) in zip(steps, data):
            if kind == "lr":
                opt.param_groups[0]["lr"] *= 0.5
            model.train(kind != "eval")
            fn = jitted if use_jit and kind in ("jit", "eval") else eager
            losses.append(fn(X, y).data.copy())
        results.append((losses, snapshot(model, opt)))
    assert_same(results[0], results[1])


def test_dropout_draws_fresh_masks_and_eval_mode_records_again():
    dt = np.float32
    model = make_model(dt, True)
    ref = make_model(dt, True)
    X, y = batches(dt, 1)[0]
    fwd = tg.jit(lambda X: model(Tensor(X)).detach())
    with tg.no_grad():
        a, b = fwd(X).data, fwd(X).data
        assert not np.array_equal(a, b)  # a new mask each call
        assert np.array_equal(a, ref(Tensor(X)).data) and np.array_equal(b, ref(Tensor(X)).data)
        model.eval()
        ref.eval()
        assert np.array_equal(fwd(X).data, ref(Tensor(X)).data)
        assert fwd.cache_info()[:2] == (1, 2)  # train mode recorded, replayed once; eval recorded


# ---- what a replay leaves behind -------------------------------------------------------------------
def test_grads_state_dict_and_eager_steps_between_jitted_ones(tmp_path):
    dt = np.float64
    data = batches(dt, 10)
    out = []
    for use_jit in (False, True):
        model = make_model(dt, True)
        opt = optim.Adam(model.parameters(), lr=0.01)
        eager = train_step(model, opt)
        step = tg.jit(eager) if use_jit else eager
        for i, (X, y) in enumerate(data):
            (eager if i in (3, 6) else step)(X, y)
        model.save(tmp_path / f"m{use_jit}.npz")
        out.append((snapshot(model, opt), model.state_dict()))
    assert_same(out[0], out[1])
    assert all(g is not None for g in out[1][0][1])  # .grad after a replay: what eager left
    loaded = make_model(dt, True, seed=9)
    loaded.load(tmp_path / "mTrue.npz")
    assert_same(list(loaded.state_dict().values()), list(out[0][1].values()))


def test_return_values_are_fresh_and_not_overwritten():
    dt = np.float32
    model = make_model(dt, False)
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = tg.jit(train_step(model, opt))
    (X, y), (X2, y2) = batches(dt, 2)
    first = step(X, y)
    kept = first.data.copy()
    second = step(X2, y2)
    third = step(X, y)
    assert first is not second and first.data is not second.data and second.data is not third.data
    assert np.array_equal(first.data, kept)
    assert not first.requires_grad and first.is_leaf


def test_structured_returns_and_user_function_with_none_and_broadcast_grads():
    class ScaleShift(Function):  # y = x * s + t; backward returns None for t and a broadcast grad for s
        @staticmethod
        def forward(ctx, x, s, t):
            ctx.save_for_backward(x)
            return x * s + t

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad, grad * x, None

    runs = []
    for use_jit in (False, True):
        m = nn.Module()
        m.s, m.t = Parameter(np.full((1, 3), 2.0)), Parameter(np.ones(3))
        s, t = m.s, m.t

        def fn(x):
            m.zero_grad()  # (not `s.grad = None`: a replay does not see plain attribute writes)
            y = ScaleShift.apply(Tensor(x), s, t)
            loss = (y * y).sum()
            loss.backward()
            return {"loss": loss, "parts": (y.detach(), y.data)}

        f = tg.jit(fn) if use_jit else fn
        res = [f(np.arange(6.0).reshape(2, 3) + i) for i in range(3)]
        runs.append(([(r["loss"].data, r["parts"][0].data, r["parts"][1]) for r in res], s.grad, t.grad))
    assert_same(runs[0], runs[1])
    assert np.array_equal(runs[1][2], np.zeros(3))  # None from backward: a zero gradient, as eager


def test_parameter_dtype_change_records_again():
    model = make_model(np.float32, False)
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = tg.jit(train_step(model, opt))
    X, y = batches(np.float64, 1)[0]
    step(X.astype(np.float32), y)
    model.to(np.float64)
    assert step(X, y).dtype == np.float64
    assert step.cache_info()[:2] == (0, 2)


# ---- aliasing ------------------------------------------------------------------------------------
def test_arguments_aliasing_each_other_record_their_own_signature():
    W = Parameter(np.eye(3) * 0.5)

    def fn(a, b):
        W.grad = None
        loss = ((Tensor(a) @ W) * Tensor(b)).sum()
        loss.backward()
        return loss

    f = tg.jit(fn)
    x = np.arange(9.0).reshape(3, 3)
    z = np.ones((3, 3))
    same = f(x, x).data        # records with a is b
    other = f(x, z).data       # a different aliasing: records again, not a replay of the first
    assert f.cache_info()[:2] == (0, 2)
    assert np.array_equal(same, fn(x, x).data) and np.array_equal(other, fn(x, z).data)


def test_argument_aliasing_a_parameter_sees_the_update_as_eager():
    runs = []
    for use_jit in (False, True):
        W = Parameter(np.arange(4.0).reshape(2, 2) / 10)
        opt = optim.SGD([W], lr=0.5)

        def fn(a):
            opt.zero_grad()
            loss = (Tensor(a) @ W).sum()
            loss.backward()
            opt.step()
            return (Tensor(a) * 1.0).sum()  # a is W's array: after the step it holds the new W

        f = tg.jit(fn) if use_jit else fn
        runs.append([f(W.data).data.copy() for _ in range(3)] + [W.data.copy()])
    assert_same(runs[0], runs[1])


def test_parameter_argument_raises():
    W = Parameter(np.ones(2))
    f = tg.jit(lambda w: (w * 2.0).sum())
    with pytest.raises(JitError, match="argument 0 is a Parameter"):
        f(W)


# ---- errors at record time -------------------------------------------------------------------------
def _loss_step(body):
    model = make_model(np.float32, False)
    X, y = batches(np.float32, 1)[0]

    def fn(X, y):
        loss = F.softmax_cross_entropy(model(Tensor(X)), y)
        return body(loss, X)
    return tg.jit(fn), X, y


@pytest.mark.parametrize("body, match", [
    (lambda loss, X: loss.item(), r"item\(\) of a Tensor"),
    (lambda loss, X: float(loss), r"float\(\) of a Tensor"),
    (lambda loss, X: loss * 2.0 if loss else loss, r"bool\(\) of a Tensor"),
    (lambda loss, X: loss + Tensor(X.mean(axis=1)).sum(), "computed with NumPy|made inside the jitted"),
    (lambda loss, X: loss * Tensor(np.float32(X.max())), "made inside the jitted function from data"),
    (lambda loss, X: loss, "graph is still live"),
    (lambda loss, X: (loss.backward(), 3.0), "returns a float"),
])
def test_record_time_errors(body, match):
    f, X, y = _loss_step(body)
    with pytest.raises(JitError, match=match):
        f(X, y)
    assert f.cache_info()[:2] == (0, 1)  # nothing kept: the next call records (and raises) again
    with pytest.raises(JitError):
        f(X, y)


def test_numpy_array_given_to_an_op_raises():
    W = Parameter(np.ones(3))
    f = tg.jit(lambda x: tg.ops.Mul.apply(W, x * 2).sum())
    with pytest.raises(JitError, match="neither an argument"):
        f(np.ones(3))


def test_scheduler_inside_the_step_raises():
    model = make_model(np.float32, False)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1)
    inner = train_step(model, opt)

    def fn(X, y):
        loss = inner(X, y)
        sched.step()
        return loss

    with pytest.raises(JitError, match="scheduler"):
        tg.jit(fn)(*batches(np.float32, 1)[0])


def test_nested_jit_leaf_requiring_grad_and_unhashable_argument_raise():
    inner = tg.jit(lambda x: Tensor(x).exp())
    with pytest.raises(JitError, match="another jitted function is being recorded"):
        tg.jit(lambda x: inner(x))(np.ones(2))

    def fn(x):
        t = Tensor(x, requires_grad=True)
        loss = (t * t).sum()
        loss.backward()
        return loss
    with pytest.raises(JitError, match="requires grad"):
        tg.jit(fn)(np.ones(2))
    with pytest.raises(TypeError, match="hashable"):
        tg.jit(lambda x, opts: Tensor(x))(np.ones(2), [1])


def test_label_check_runs_at_every_replay():
    f, X, y = _loss_step(lambda loss, X: loss.detach())
    f(X, y)
    bad = y.copy()
    bad[2] = -1
    with pytest.raises(ValueError, match="label -1 is out of range"):
        f(X, bad)
    assert f.cache_info()[0] == 1  # that call was a replay


def test_jit_arguments_are_checked():
    with pytest.raises(TypeError, match="callable"):
        tg.jit(3)
    with pytest.raises(ValueError, match="cache_size"):
        tg.jit(cache_size=0)(lambda: None)
    f = tg.jit(cache_size=2)(lambda x: Tensor(x).exp())
    for n in (1, 2, 3, 1):
        f(np.ones(n))
    assert f.cache_info() == (0, 4, 2)  # the least recently used signature was dropped
    assert "def replay" in f.sources()[0]


# ---- used by default: the classifier and the CLI ------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(activation="tanh", optimizer="adagrad", dtype="float64")])
def test_classifier_jit_is_the_default_and_identical_to_eager(kw):
    from tinygrad_np.classifier import DeepNeuralNetworkClassifier as DNN
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((130, 10)), rng.integers(0, 3, 130)  # batches of 20 and a last one of 10
    assert DNN().jit is True
    fitted = [DNN(hidden_layer_sizes=(16, 8), epochs=2, random_state=0, jit=j, **kw).fit(X, y) for j in (True, False)]
    assert_same(list(fitted[0].model_.state_dict().values()), list(fitted[1].model_.state_dict().values()))
    assert fitted[0].loss_train_ == fitted[1].loss_train_
    with pytest.raises(ValueError, match="jit must be True or False"):
        DNN(jit="yes").fit(X, y)


def test_cli_no_jit_gives_the_same_model(tmp_path):
    from tinygrad_np import cli
    paths = []
    for flags in ([], ["--no-jit"]):
        path = tmp_path / f"m{len(paths)}.npz"
        assert cli.main(["mnist", "--limit", "300", "--epochs", "1", "--hidden", "16", "--quiet",
                         "--save", str(path), *flags]) == 0
        paths.append(path)
    with np.load(paths[0]) as a, np.load(paths[1]) as b:
        assert a.files == b.files
        for k in a.files:
            if k.startswith("param:"):
                assert np.array_equal(a[k], b[k])


def test_input_gradients_retain_graph_and_a_given_seed_match_eager():
    """A Tensor argument that requires grad gets its .grad as in eager mode; two backward passes
    through one graph (retain_graph) and an explicit upstream gradient replay as recorded."""
    runs = []
    for use_jit in (False, True):
        W = Parameter(np.linspace(-1, 1, 6).reshape(3, 2))

        def fn(x, seed):
            h = (x @ W).tanh()
            h.backward(seed, retain_graph=True)
            (h * h).sum().backward()
            return h.detach()

        f = tg.jit(fn) if use_jit else fn
        out = []
        for i in range(3):
            x = Tensor(np.arange(6.0).reshape(2, 3) / (i + 1), requires_grad=True)
            h = f(x, np.full((2, 2), 0.5))
            out.append((h.data, x.grad.copy(), W.grad.copy()))
        runs.append(out)
        if use_jit:
            assert f.cache_info()[:2] == (2, 1)
    assert_same(runs[0], runs[1])


def test_bench_jit_quick_runs_and_prints_the_tables():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_jit.py"), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=str(root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in ("| b20 f32 ReLU SGD |", "| b20 f64 ReLU SGD |", "| b128 f32 ReLU SGD |",
                 "| b20 f64 Tanh AdaGrad (seed) |",
                 "jit / hand-written", "control / hand-written", "| toy 4-4-4 MLP", "jit / by hand"):
        assert text in proc.stdout, text


def test_method_decorator_and_a_tensor_argument_with_a_graph():
    class Trainer:
        def __init__(self):
            self.model = make_model(np.float64, False)
            self.opt = optim.SGD(self.model.parameters(), lr=0.1)

        @tg.jit
        def step(self, X, y):
            return train_step(self.model, self.opt)(X, y)

    a, b = Trainer(), Trainer()
    X, y = batches(np.float64, 1)[0]
    la = [a.step(X, y).data for _ in range(3)]
    lb = b.step(X, y).data
    assert la[0] == lb and la[2] < la[0]  # each instance records its own step; replays keep training
    f = tg.jit(lambda t: (t * 2.0).detach())
    f(Tensor(np.ones(2)))
    with pytest.raises(JitError, match="tensor with a graph"):
        f(Tensor(np.ones(2), requires_grad=True) * 1.0)  # not a replay of the leaf's recording


def test_optimizer_subclass_step_and_converted_operands_replay_as_eager():
    """A subclass's step() that calls super().step() runs whole at every replay; a Python number is
    a constant of the recording; an integer array argument is converted to the tensor's dtype again."""
    class Clipped(optim.SGD):
        def step(self):
            for g in self.param_groups:
                for p in g["params"]:
                    np.clip(p.grad, -0.05, 0.05, out=p.grad)  # its own NumPy code, before the update
            super().step()

    runs = []
    for use_jit in (False, True):
        model = OpsNet(np.float32, 1)
        opt = Clipped(model.parameters(), lr=0.5)

        def fn(X, k):
            opt.zero_grad()
            loss = (model(Tensor(X)) * 3.0 + k).sum()
            loss.backward()
            opt.step()
            return loss

        f = tg.jit(fn) if use_jit else fn
        rng = np.random.default_rng(0)
        out = [f(rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 5, (4, 3))).data for _ in range(4)]
        runs.append((out, [p.data.copy() for p in model.parameters()]))
        if use_jit:
            assert f.cache_info()[:2] == (3, 1)
    assert_same(runs[0], runs[1])


def test_gradient_clipping_replays_and_in_place_tensor_changes_raise():
    runs = []
    for use_jit in (False, True):
        model = make_model(np.float64, False)
        opt = optim.SGD(model.parameters(), lr=0.5)

        def fn(X, y):
            opt.zero_grad()
            loss = F.softmax_cross_entropy(model(Tensor(X)), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            nn.utils.clip_grad_value_(model.parameters(), 0.01)
            opt.step()
            return loss

        f = tg.jit(fn) if use_jit else fn
        runs.append(([f(X, y).data for X, y in batches(np.float64, 5)], snapshot(model, opt)))
    assert_same(runs[0], runs[1])

    def bad(x):
        t = Tensor(x) * 2.0
        t += 1.0
        return t
    with pytest.raises(JitError, match="add_ changes a Tensor in place"):
        tg.jit(bad)(np.ones(2))
