"""Optimizers and LR schedulers: trajectories against the published update rules (written here in
plain NumPy), PyTorch as an optional extra oracle, state round trips, and bad input."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Parameter, Tensor, init, nn, optim

STEPS = 25
N, D_IN, H, C = 16, 5, 7, 3


# ---- the reference: a tanh MLP's loss gradient by hand, and each rule from its paper / torch docs ----
def ref_grads(params, X, y):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d = p.copy()
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    dz1 = (d @ W2.T) * (1 - h * h)
    return [X.T @ dz1, dz1.sum(0), h.T @ d, d.sum(0)]


def ref_sgd(p, g, st, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    g = g + weight_decay * p
    if momentum:
        st["buf"] = g.copy() if "buf" not in st else momentum * st["buf"] + (1 - dampening) * g
        g = g + momentum * st["buf"] if nesterov else st["buf"]
    return p - lr * g


def ref_adagrad(p, g, st, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    st["t"] = st.get("t", 0) + 1
    g = g + weight_decay * p
    st["sum"] = st.get("sum", np.full_like(p, initial_accumulator_value)) + g * g
    clr = lr / (1 + (st["t"] - 1) * lr_decay)
    return p - clr * g / (np.sqrt(st["sum"]) + eps)


def ref_rmsprop(p, g, st, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    g = g + weight_decay * p
    st["sq"] = alpha * st.get("sq", 0.0) + (1 - alpha) * g * g
    if centered:
        st["ga"] = alpha * st.get("ga", 0.0) + (1 - alpha) * g
        avg = np.sqrt(st["sq"] - st["ga"] ** 2) + eps
    else:
        avg = np.sqrt(st["sq"]) + eps
    if momentum > 0:
        st["buf"] = momentum * st.get("buf", 0.0) + g / avg
        return p - lr * st["buf"]
    return p - lr * g / avg


def ref_adam(p, g, st, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas
    st["t"] = t = st.get("t", 0) + 1
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
    v = st["v"]
    if amsgrad:
        st["vmax"] = v = np.maximum(st.get("vmax", 0.0), v)
    m_hat = st["m"] / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, st, weight_decay=1e-2, **kw):
    return ref_adam(p, g, st, weight_decay=weight_decay, decoupled=True, **kw)


REFS = {"SGD": ref_sgd, "AdaGrad": ref_adagrad, "RMSProp": ref_rmsprop, "Adam": ref_adam, "AdamW": ref_adamw}
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("AdaGrad", dict()),
    ("AdaGrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-8)),
    ("RMSProp", dict()),
    ("RMSProp", dict(lr=0.01, alpha=0.9, weight_decay=0.01, momentum=0.5)),
    ("RMSProp", dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CONFIGS]


def data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D_IN)).astype(dtype)
    y = rng.integers(0, C, size=N)
    return X, y


def mlp(dtype=np.float64, seed=0):
    return nn.Sequential(nn.FC(D_IN, H, initializer=init.XavierInitializer(rng=seed, dtype=dtype, random_bias=True)),
                         nn.Tanh(),
                         nn.FC(H, C, initializer=init.XavierInitializer(rng=seed + 1, dtype=dtype, random_bias=True)))


def train(model, opt, X, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        F.softmax_cross_entropy(model(Tensor(X)), y).backward()
        opt.step()


def ref_trajectory(name, kw, params, X, y, steps):
    params = [p.astype(np.float64) for p in params]
    X = X.astype(np.float64)
    states = [{} for _ in params]
    for _ in range(steps):
        grads = ref_grads(params, X, y)
        params = [REFS[name](p, g, st, **kw) for p, g, st in zip(params, grads, states)]
    return params


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_trajectory_matches_published_rule_float64(name, kw):
    X, y = data(np.float64)
    model = mlp(np.float64)
    start = [p.data.copy() for p in model.parameters()]
    train(model, getattr(optim, name)(model.parameters(), **kw), X, y, STEPS)
    expected = ref_trajectory(name, kw, start, X, y, STEPS)
    assert not all(np.allclose(p.data, s) for p, s in zip(model.parameters(), start))  # it did train
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_float32_is_kept_and_close_to_reference(name, kw):
    X, y = data(np.float32)
    model = mlp(np.float32)
    start = [p.data.copy() for p in model.parameters()]
    opt = getattr(optim, name)(model.parameters(), **kw)
    train(model, opt, X, y, STEPS)
    expected = ref_trajectory(name, kw, start, X, y, STEPS)
    for p, e in zip(model.parameters(), expected):
        assert p.dtype == np.float32
        for v in opt.state.get(p, {}).values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32
        np.testing.assert_allclose(p.data, e, rtol=1e-3, atol=2e-4)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_torch_oracle(name, kw):
    torch = pytest.importorskip("torch")
    torch_name = {"AdaGrad": "Adagrad", "RMSProp": "RMSprop"}.get(name, name)
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (3,)]
    ps = [Parameter(rng.standard_normal(s)) for s in shapes]
    ts = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt, topt = getattr(optim, name)(ps, **kw), getattr(torch.optim, torch_name)(ts, **kw)
    for _ in range(STEPS):
        for p, t in zip(ps, ts):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = g, torch.tensor(g)
        opt.step()
        topt.step()
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


# The steps above use arrays below `_blas._AXPY_MIN_SIZE`, where `axpy` is two NumPy passes; a
# (100, 100) weight takes the one-pass BLAS kernel (when OpenBLAS is found), a (100,) bias does not.
# "numpy" disables the kernel, so both branches are checked against the same reference.
BIG_SHAPES = [(100, 100), (100,)]


@pytest.mark.parametrize("kernel", ["blas", "numpy"])
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-3, 2e-4)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_large_parameters_match_reference(name, kw, dtype, rtol, atol, kernel, monkeypatch):
    from tinygrad_np import _blas
    assert np.prod(BIG_SHAPES[0]) >= _blas._AXPY_MIN_SIZE > np.prod(BIG_SHAPES[1])
    # None: looked up again at the first large axpy, which the end of the test checks happened
    monkeypatch.setattr(_blas, "_axpy_kernels", {} if kernel == "numpy" else None)
    rng = np.random.default_rng(3)
    ps = [Parameter(rng.standard_normal(s).astype(dtype)) for s in BIG_SHAPES]
    expected = [p.data.astype(np.float64) for p in ps]
    states = [{} for _ in ps]
    opt = getattr(optim, name)(ps, **kw)
    for _ in range(STEPS):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in ps]
        for p, g in zip(ps, grads):
            p.grad = g
        opt.step()
        expected = [REFS[name](e, g.astype(np.float64), st, **kw) for e, g, st in zip(expected, grads, states)]
    for p, e in zip(ps, expected):
        assert p.dtype == dtype and p.data.flags.c_contiguous
        assert all(v.dtype == dtype for v in opt.state.get(p, {}).values() if isinstance(v, np.ndarray))
        np.testing.assert_allclose(p.data, e, rtol=rtol, atol=atol)
    assert _blas._axpy_kernels is not None  # the large-array branch of axpy was taken


# ---- semantics ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(REFS))
def test_step_reads_grad_only_and_skips_params_without_grad(name):
    a, b = Parameter(np.ones((3, 2))), Parameter(np.ones(2))
    opt = getattr(optim, name)([a, b], lr=0.1)
    g = np.full((3, 2), 0.5)
    a.grad = g
    opt.step()
    assert a.grad is g and np.all(g == 0.5)  # grad untouched
    assert not np.allclose(a.data, 1.0)
    np.testing.assert_array_equal(b.data, np.ones(2))  # grad None: skipped
    data_before = a.data
    opt.step()
    assert a.data is data_before  # in place


def test_defaults_match_torch():
    p = [Parameter(np.zeros(2))]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0)
    assert optim.AdaGrad(p).defaults == dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                                             eps=1e-10)
    assert optim.RMSProp(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                                             centered=False)
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.Adagrad is optim.AdaGrad and optim.RMSprop is optim.RMSProp


def test_param_groups_have_their_own_lr():
    a, b = Parameter(np.zeros(3)), Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, -0.5)
    np.testing.assert_allclose(b.data, -0.1)
    c = Parameter(np.zeros(1))
    opt.add_param_group({"params": [c], "lr": 2.0})
    c.grad = np.ones(1)
    opt.step()
    np.testing.assert_allclose(c.data, -2.0)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1, 2.0]


def test_zero_grad():
    p = Parameter(np.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(2)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, 0)
    opt.zero_grad()
    assert p.grad is None


def test_closure_loss_is_returned():
    p = Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (Tensor(p.data) * 0 + p * p).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == pytest.approx(1.0)
    assert p.data[0] == pytest.approx(0.8)


def test_adam_lr_zero_leaves_params():
    p = Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.0)
    p.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(p.data, 1.0)
    assert opt.state[p]["step"] == 1


# ---- checkpoints -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_resume_is_bit_identical(name, kw):
    X, y = data(np.float32)
    model = mlp(np.float32)
    opt = getattr(optim, name)(model.parameters(), **kw)
    train(model, opt, X, y, 5)
    msd, osd = model.state_dict(), copy.deepcopy(opt.state_dict())
    train(model, opt, X, y, 5)

    resumed = mlp(np.float32, seed=9)
    ropt = getattr(optim, name)(resumed.parameters(), **{**kw, "lr": 123.0})  # lr comes from the state dict
    resumed.load_state_dict(msd)
    ropt.load_state_dict(osd)
    train(resumed, ropt, X, y, 5)
    for p, q in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert ropt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_state_dict_is_a_copy():
    p = Parameter(np.zeros(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(3)
    opt.step()
    sd = opt.state_dict()
    saved = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)
    assert sd["param_groups"][0]["params"] == [0] and sd["state"][0]["step"] == 1


def test_load_state_dict_validates_before_changing():
    p = Parameter(np.zeros(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(3)
    opt.step()
    good = copy.deepcopy(opt.state_dict())
    bad = copy.deepcopy(good)
    bad["state"][0]["exp_avg"] = np.zeros(4)
    bad["param_groups"][0]["lr"] = 0.7
    before = opt.state[p]["exp_avg"].copy()
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], before)
    with pytest.raises(ValueError, match="groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    bad_lr = copy.deepcopy(good)
    bad_lr["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="learning rate"):
        opt.load_state_dict(bad_lr)
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_load_state_dict_missing_hyperparameter_is_a_value_error(name, kw):
    p = Parameter(np.zeros(3))
    opt = getattr(optim, name)([p], **kw)
    p.grad = np.ones(3)
    opt.step()
    before = copy.deepcopy(opt.state_dict())
    bad = copy.deepcopy(before)
    dropped = [k for k in opt.defaults if k != "lr"][-2:]  # e.g. Adam's betas: a KeyError once
    for k in dropped:
        del bad["param_groups"][0][k]
    bad["param_groups"][0]["lr"] = 0.5
    bad["state"] = {}
    with pytest.raises(ValueError, match="group 0 lacks " + ", ".join(repr(k) for k in dropped)):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"] and after["state"].keys() == before["state"].keys()


def test_load_state_dict_group_without_params():
    opt = optim.Adam([Parameter(np.zeros(3))])
    sd = opt.state_dict()
    del sd["param_groups"][0]["params"]
    with pytest.raises(ValueError, match="'params'"):
        opt.load_state_dict(sd)


# ---- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,err,match", [
    (lambda p: optim.SGD([p, np.zeros(2)], lr=0.1), TypeError, "not a Parameter"),
    (lambda p: optim.SGD([p, Tensor(np.zeros(2), requires_grad=True)], lr=0.1), TypeError, "not a Parameter"),
    (lambda p: optim.SGD(p, lr=0.1), TypeError, "iterable"),
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty"),
    (lambda p: optim.SGD(iter([]), lr=0.1), ValueError, "empty"),
    (lambda p: optim.SGD([p, p], lr=0.1), ValueError, "more than one"),
    (lambda p: optim.SGD([p], lr=-0.1), ValueError, "learning rate"),
    (lambda p: optim.SGD([p], lr=float("nan")), ValueError, "learning rate"),
    (lambda p: optim.SGD([p], lr="0.1"), TypeError, "real number"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=1.5), ValueError, "momentum"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda p: optim.SGD([p], lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.999)), ValueError, "beta"),
    (lambda p: optim.Adam([p], betas=(0.9, -0.1)), ValueError, "beta"),
    (lambda p: optim.Adam([p], betas=0.9), ValueError, "betas"),
    (lambda p: optim.AdamW([p], eps=-1e-8), ValueError, "epsilon"),
    (lambda p: optim.AdaGrad([p], lr_decay=-1), ValueError, "lr_decay"),
    (lambda p: optim.AdaGrad([p], initial_accumulator_value=-1), ValueError, "initial_accumulator"),
    (lambda p: optim.RMSProp([p], alpha=1.5), ValueError, "alpha"),
    (lambda p: optim.SGD([{"params": [p], "lr": -1}], lr=0.1), ValueError, "learning rate"),
    (lambda p: optim.SGD([{"lr": 1}], lr=0.1), TypeError, "params"),
])
def test_bad_input_raises(make, err, match):
    p = Parameter(np.ones(2))
    with pytest.raises(err, match=match):
        make(p)
    np.testing.assert_array_equal(p.data, 1.0)


def test_bad_param_group_leaves_optimizer_unchanged():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = optim.SGD([a], lr=0.1)
    for bad in ({"params": [b], "lr": -1.0}, {"params": [a]}, {"params": [b, "x"]}):
        with pytest.raises((ValueError, TypeError)):
            opt.add_param_group(bad)
    assert len(opt.param_groups) == 1


# ---- schedulers --------------------------------------------------------------------------------------
def test_step_lr():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert sched.get_last_lr() == [0.125]


def test_cosine_annealing_lr_and_resume():
    opt = optim.Adam([{"params": [Parameter(np.zeros(1))], "lr": 0.1},
                      {"params": [Parameter(np.zeros(1))], "lr": 0.01}])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    for epoch in range(1, 11):
        sched.step()
        for g, base in zip(opt.param_groups, (0.1, 0.01)):
            expected = 0.001 + (base - 0.001) * (1 + math.cos(math.pi * epoch / 10)) / 2
            assert g["lr"] == pytest.approx(expected, rel=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)
    sd = sched.state_dict()
    opt2 = optim.Adam([{"params": [Parameter(np.zeros(1))], "lr": 0.1},
                       {"params": [Parameter(np.zeros(1))], "lr": 0.01}])
    sched2 = optim.CosineAnnealingLR(opt2, T_max=10, eta_min=0.001)
    sched2.load_state_dict(sd)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_schedulers_are_plain_attributes_of_optim():
    from tinygrad_np.optim import lr_scheduler
    assert not hasattr(optim, "__getattr__")  # visible to IDEs and type checkers
    assert vars(optim)["lr_scheduler"] is lr_scheduler
    for name in ("LRScheduler", "StepLR", "CosineAnnealingLR"):
        assert vars(optim)[name] is getattr(lr_scheduler, name)
        assert name in optim.__all__ and name in lr_scheduler.__all__


def test_scheduler_bad_input():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(ValueError):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError):
        optim.StepLR(object(), step_size=1)


def test_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    for mine, theirs in [(optim.StepLR(opt, 4, gamma=0.3), torch.optim.lr_scheduler.StepLR(topt, 4, gamma=0.3))]:
        for _ in range(12):
            topt.step()
            mine.step()
            theirs.step()
            assert mine.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12)
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    mine, theirs = optim.CosineAnnealingLR(opt, 7, 0.01), torch.optim.lr_scheduler.CosineAnnealingLR(topt, 7, 0.01)
    for _ in range(20):
        topt.step()
        mine.step()
        theirs.step()
        assert mine.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-9, abs=1e-12)


# ---- optimizers own nothing but their state (issue 9) ------------------------------------------------
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_an_array_passed_to_parameter_keeps_training_in_place(name, kw):
    W = np.linspace(-1, 1, 12).reshape(3, 4)
    p = Parameter(W)
    opt = getattr(optim, name)([p], **kw)
    for k in range(3):
        p.grad = np.full((3, 4), 0.5 + k)
        before = W.copy()
        opt.step()
        assert p.data is W  # updated in place, never rebound
        assert not np.array_equal(W, before)


def test_step_reads_param_groups_at_every_step():
    a, b, c = (Parameter(np.ones(3)) for _ in range(3))
    opt = optim.SGD([a, b], lr=0.5)
    opt.param_groups[0]["params"].append(c)
    opt.param_groups[0]["params"].remove(a)
    for p in (a, b, c):
        p.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(a.data, np.ones(3))  # removed: not updated
    np.testing.assert_array_equal(b.data, np.full(3, 0.5))
    np.testing.assert_array_equal(c.data, np.full(3, 0.5))  # appended: updated


def test_a_parameter_given_a_new_array_is_updated_in_that_array():
    p = Parameter(np.ones((2, 3)))
    opt = optim.SGD([p], lr=0.5)
    p.grad = np.ones((2, 3))
    opt.step()
    old = p.data
    new = np.full(5, 4.0, dtype=np.float32)  # another shape and dtype: the step's scratch must follow
    p.data, p.grad = new, np.full(5, 1.0, dtype=np.float32)
    opt.step()
    assert p.data is new and new.dtype == np.float32
    np.testing.assert_array_equal(new, np.full(5, 3.5, dtype=np.float32))
    np.testing.assert_array_equal(old, np.full((2, 3), 0.5))  # the array it left is not touched again


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_a_second_optimizer_on_the_same_parameters_trains_exactly_like_the_first(name, kw):
    X, y = data(np.float64)
    m1, m2 = mlp(), mlp()
    getattr(optim, name)(m2.parameters(), **kw)  # a notebook cell run twice: the first one is dropped
    train(m1, getattr(optim, name)(m1.parameters(), **kw), X, y, 5)
    train(m2, getattr(optim, name)(m2.parameters(), **kw), X, y, 5)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)


def test_a_dropped_optimizer_leaves_no_trace_on_the_parameters():
    X, y = data(np.float64)
    model = mlp()
    optim.Adam(model.parameters())
    F.softmax_cross_entropy(model(Tensor(X)), y).backward()
    for p in model.parameters():  # the gradient is a fresh array of the backward pass, nothing else
        assert type(p.grad) is np.ndarray and p.grad.base is None


# ---- step() is all or nothing (issue 10, finding 2 and 3) -------------------------------------------
BAD_GRADS = [
    ("wrong shape", np.ones((2, 2)), ValueError),
    ("broadcastable 0-d", np.array(1.0), ValueError),
    ("broadcastable row", np.ones(3), ValueError),
    ("string", "grad", TypeError),
    ("complex", np.ones((2, 3), complex), ValueError),
    ("integer", np.ones((2, 3), int), ValueError),
    ("a Tensor", Tensor(np.ones((2, 3))), TypeError),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("label,bad,err", BAD_GRADS, ids=[b[0] for b in BAD_GRADS])
def test_a_bad_gradient_changes_no_weight_and_no_state(name, kw, label, bad, err):
    good, worse = Parameter(np.ones((2, 3))), Parameter(np.ones((2, 3)))
    opt = getattr(optim, name)([good, worse], **kw)
    good.grad, worse.grad = np.full((2, 3), 0.1), np.full((2, 3), 0.2)
    opt.step()  # some state exists now
    before = copy.deepcopy(opt.state_dict())
    weights = (good.data.copy(), worse.data.copy())
    worse.grad = bad
    with pytest.raises(err, match=r"param_groups\[0\]\['params'\]\[1\].*\(2, 3\)"):
        opt.step()
    np.testing.assert_array_equal(good.data, weights[0])
    np.testing.assert_array_equal(worse.data, weights[1])
    after = opt.state_dict()
    assert after["state"].keys() == before["state"].keys()
    for i, st in before["state"].items():
        assert after["state"][i]["step"] == st["step"]
        for k, v in st.items():
            np.testing.assert_array_equal(after["state"][i][k], v)


# ---- load_state_dict checks every entry (issue 10, finding 5) ----------------------------------------
@pytest.mark.parametrize("entry", [
    {"step": "3"}, {"step": -5}, {"step": float("nan")}, {"step": True},
    {"step": 1, "exp_avg": [0.0, 0.0]}, {"step": 1, "exp_avg": np.zeros(5)},
    {"step": 1, "exp_avg": np.full(3, np.nan)}, {"step": 1, "bogus": np.zeros(3)}, "not a dict",
], ids=repr)
def test_load_state_dict_refuses_state_it_cannot_use(entry):
    p = Parameter(np.ones(3))
    opt = optim.Adam([p])
    p.grad = np.ones(3)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0] = entry
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match="state of parameter 0"):
        opt.load_state_dict(sd)
    assert opt.state_dict()["state"][0]["step"] == before["state"][0]["step"]
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], before["state"][0]["exp_avg"])


# ---- the other schedulers, step by step against torch (issue 11) ---------------------------------------
SCHEDULERS = [
    ("MultiStepLR", dict(milestones=[2, 5, 6], gamma=0.5), "sgd", None),
    ("ExponentialLR", dict(gamma=0.8), "sgd", None),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4), "sgd", None),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=12), "sgd_momentum", "momentum"),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=12, anneal_strategy="linear", three_phase=True), "adam", "betas"),
    ("OneCycleLR", dict(max_lr=0.5, epochs=3, steps_per_epoch=4, cycle_momentum=False, pct_start=0.5), "sgd",
     None),
]


def _optimizers(kind, torch):
    if kind == "adam":
        return optim.Adam([Parameter(np.zeros(1))], lr=0.1), torch.optim.Adam([torch.zeros(1, requires_grad=True)],
                                                                                lr=0.1)
    mu = 0.9 if kind == "sgd_momentum" else 0.0
    return (optim.SGD([Parameter(np.zeros(1))], lr=0.3, momentum=mu),
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3, momentum=mu))


@pytest.mark.parametrize("name,kw,kind,momentum", SCHEDULERS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULERS)])
def test_scheduler_trajectories_match_torch(name, kw, kind, momentum):
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers(kind, torch)
    mine, theirs = getattr(optim, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    steps = 11 if name == "OneCycleLR" else 10
    for _ in range(steps):
        assert mine.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-10, abs=1e-15)
        if momentum:
            key = "momentum" if momentum == "momentum" else "betas"
            ours, torchs = opt.param_groups[0][key], topt.param_groups[0][key]
            assert np.allclose(ours, torchs, rtol=1e-10)
        topt.step()
        mine.step()
        theirs.step()


def test_reduce_lr_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _optimizers("sgd", torch)
    kw = dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.01)
    mine, theirs = optim.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    losses = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]
    for loss in losses:
        topt.step()
        mine.step(loss)
        theirs.step(loss)
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    assert opt.param_groups[0]["lr"] < 0.3  # it did reduce
    with pytest.raises(TypeError, match="metrics must be a number"):
        mine.step("loss")


def test_one_cycle_refuses_steps_past_its_total():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps=3"):
        sched.step()
