"""Contiguous storage: optimizers packing parameters, gradients written into `GradBuffer`s,
and elementwise ops reusing temporaries.  Each fast path must give the results of the plain
one, and must never overwrite an array that someone else still holds."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_np.functional as F
from tinygrad_np import Function, Parameter, Tensor, init, nn, optim
from tinygrad_np.tensor import EXACT_REFCOUNTS

# The fast paths exist only where reference counts are exact; elsewhere everything must
# still be right, which the tests without this mark check.
fast_paths = pytest.mark.skipif(not EXACT_REFCOUNTS, reason="no exact reference counts: fast paths are off")

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("AdaGrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSProp", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]


def model(dtype=np.float64, seed=0):
    return nn.Sequential(nn.FC(5, 7, initializer=init.XavierInitializer(rng=seed, dtype=dtype, random_bias=True)),
                         nn.Tanh(),
                         nn.FC(7, 3, initializer=init.XavierInitializer(rng=seed + 1, dtype=dtype, random_bias=True)))


def batch(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 5)).astype(dtype), rng.integers(0, 3, 8)


def loss(m, X, y):
    return F.softmax_cross_entropy(m(Tensor(X)), y)


def pack_of(opt):
    (packs, loose), = opt._storage
    return packs, loose


def hold_arrays(m):
    """Keep a reference to every parameter's array, so that no optimizer may pack it."""
    return [p.data for p in m.parameters()]


# ---- packing -------------------------------------------------------------------------------------
@fast_paths
def test_optimizer_packs_parameters_into_one_array_keeping_values():
    m = model()
    before = [p.data.copy() for p in m.parameters()]
    opt = optim.SGD(m.parameters(), lr=0.1)
    (pack,), loose = pack_of(opt)
    assert loose == [] and pack.params == list(m.parameters())
    for p, b in zip(m.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
        assert p.data.base is pack.data and p.data.flags.c_contiguous
    X, y = batch()
    loss(m, X, y).backward()
    for p, v in zip(m.parameters(), pack.grads.views):
        assert p.grad is v and v.base is pack.grads.array


@fast_paths
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packed_training_equals_parameter_by_parameter(name, kw, dtype):
    packed, plain = model(dtype), model(dtype)
    held = hold_arrays(plain)
    opt_packed = getattr(optim, name)(packed.parameters(), **kw)
    opt_plain = getattr(optim, name)(plain.parameters(), **kw)
    assert pack_of(opt_packed)[0] and not pack_of(opt_plain)[0]
    for step in range(6):
        X, y = batch(step, dtype)
        for m, o in ((packed, opt_packed), (plain, opt_plain)):
            o.zero_grad()
            loss(m, X, y).backward()
            o.step()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for p, q in zip(packed.parameters(), plain.parameters()):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=rtol)
    for p, q in zip(packed.parameters(), plain.parameters()):
        sp, sq = opt_packed.state[p], opt_plain.state[q]
        assert sp.keys() == sq.keys() and sp["step"] == sq["step"] == 6
        for k, v in sp.items():
            if isinstance(v, np.ndarray):
                assert v.dtype == dtype
                np.testing.assert_allclose(v, sq[k], rtol=rtol, atol=rtol)
    assert held[0] is plain[0].W.data  # the held arrays were trained in place


def test_an_array_held_elsewhere_is_not_packed_and_still_trains_in_place():
    W = np.ones((3, 2))
    a, b = Parameter(W), Parameter(np.ones((3, 2)))
    opt = optim.SGD([a, b], lr=0.5)
    assert a.data is W
    a.grad = np.ones((3, 2))
    opt.step()
    np.testing.assert_array_equal(W, np.full((3, 2), 0.5))


@fast_paths
def test_the_pack_path_runs_and_its_state_arrays_are_views():
    m = model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    (pack,), _ = pack_of(opt)
    X, y = batch()
    names = ("exp_avg", "exp_avg_sq")
    for step in range(1, 4):
        opt.zero_grad()
        loss(m, X, y).backward()
        ready = pack.ready(opt.state, names)
        assert (ready is None) == (step == 1)  # the first step creates the state parameter by parameter
        opt.step()
        assert all(opt.state[p]["step"] == step for p in m.parameters())
    for i, p in enumerate(m.parameters()):
        for n in names:
            assert opt.state[p][n].base is pack.state[n]
        assert p not in opt._scratch  # the pack's scratch array serves them


# ---- nothing held is overwritten -----------------------------------------------------------------
@fast_paths
@pytest.mark.parametrize("keep", ["grad", "view", "memoryview"])
def test_a_gradient_kept_by_the_caller_is_never_overwritten(keep):
    m = model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    X, y = batch()
    loss(m, X, y).backward()
    W = m[0].W
    kept = {"grad": lambda g: g, "view": lambda g: g[1:], "memoryview": memoryview}[keep](W.grad)
    values = np.array(kept, copy=True)
    opt.step()
    opt.zero_grad()
    loss(m, *batch(1)).backward()
    np.testing.assert_array_equal(np.asarray(kept), values)
    assert not np.shares_memory(W.grad, np.asarray(kept))
    opt.step()  # parameter by parameter this time: still right
    del kept
    opt.zero_grad()
    loss(m, X, y).backward()
    assert W.grad is pack_of(opt)[0][0].grads.views[0]  # free again: reused


def test_grad_buffer_offers_each_view_once_per_pass_and_gradients_still_add_up():
    """A parameter used twice (weight tying): the second contribution is added, not written over."""
    W = Parameter(np.random.default_rng(0).standard_normal((4, 4)))
    other = Parameter(np.zeros(4))
    opt = optim.SGD([W, other], lr=0.1)
    x = np.random.default_rng(1).standard_normal((3, 4))
    out = F.linear(F.linear(Tensor(x), W, other), W, other).sum()
    out.backward()
    h = x @ W.data + other.data
    g_out = np.ones((3, 4))
    expected = h.T @ g_out + x.T @ (g_out @ W.data.T)
    np.testing.assert_allclose(W.grad, expected, rtol=1e-12)
    np.testing.assert_allclose(other.grad, g_out.sum(0) + (g_out @ W.data.T).sum(0), rtol=1e-12)
    before = W.data.copy()
    opt.step()
    np.testing.assert_allclose(W.data, before - 0.1 * expected, rtol=1e-12)


def test_accumulating_backward_passes_add_into_the_buffer():
    m = model()
    optim.SGD(m.parameters(), lr=0.1)
    X, y = batch()
    loss(m, X, y).backward()
    first = m[0].W.grad.copy()
    loss(m, X, y).backward()  # no zero_grad: accumulates
    np.testing.assert_allclose(m[0].W.grad, 2 * first, rtol=1e-12)
    m.zero_grad(set_to_none=False)
    assert np.all(m[0].W.grad == 0)
    loss(m, X, y).backward()
    np.testing.assert_allclose(m[0].W.grad, first, rtol=1e-12)


def test_a_failed_backward_leaves_no_gradient_behind():
    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            raise ArithmeticError("boom")

    m = model()
    optim.SGD(m.parameters(), lr=0.1)
    X, _ = batch()
    out = Boom.apply(m(Tensor(X))).sum() + m(Tensor(X)).sum()
    with pytest.raises(ArithmeticError):
        out.backward()
    assert all(p.grad is None for p in m.parameters())


# ---- changes behind the optimizer's back -----------------------------------------------------------
def test_parameter_without_gradient_and_rebound_data_fall_back_correctly():
    a, b = model(), model()
    held = hold_arrays(b)
    oa, ob = optim.Adam(a.parameters(), lr=0.01), optim.Adam(b.parameters(), lr=0.01)
    X, y = batch()
    for step in range(4):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            if step == 2:  # only the last layer gets a gradient
                F.softmax_cross_entropy(m[2](Tensor(np.tanh(X @ np.ones((5, 7))))), y).backward()
            else:
                loss(m, X, y).backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)
    a.to(np.float32)  # rebinds every p.data: the packed arrays are no longer the parameters'
    b.to(np.float32)
    del held
    oa.zero_grad()
    loss(a, X.astype(np.float32), y).backward()
    before = [p.data.copy() for p in a.parameters()]
    oa.step()
    assert all(not np.array_equal(p.data, q) for p, q in zip(a.parameters(), before))


def test_state_replaced_by_the_caller_is_the_one_updated():
    m = model()
    opt = optim.AdaGrad(m.parameters(), lr=0.1)
    X, y = batch()
    W = m[0].W
    opt.zero_grad()
    loss(m, X, y).backward()
    opt.step()
    new_sum = np.full(W.shape, 4.0)
    opt.state[W]["sum"] = new_sum
    opt.zero_grad()
    loss(m, X, y).backward()
    g = W.grad.copy()
    before = W.data.copy()
    opt.step()
    expected_sum = 4.0 + g * g
    assert opt.state[W]["sum"] is new_sum
    np.testing.assert_allclose(new_sum, expected_sum, rtol=1e-12)
    np.testing.assert_allclose(W.data, before - 0.1 * g / (np.sqrt(expected_sum) + 1e-10), rtol=1e-12)


@fast_paths
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_a_model_written_with_matmul_and_add_trains_packed_like_plain(name, kw):
    """`x @ W + b`: MatMul writes dW into the buffer, the engine sums the broadcast bias gradient into it."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((5, 7)), rng.standard_normal(7), rng.standard_normal((7, 3)), rng.standard_normal(3)]
    packed = [Parameter(a.copy()) for a in arrays]
    plain = [Parameter(a) for a in arrays]  # `arrays` holds these: they stay unpacked
    opt_packed, opt_plain = getattr(optim, name)(packed, **kw), getattr(optim, name)(plain, **kw)
    (pack,), loose = pack_of(opt_packed)
    assert not pack_of(opt_plain)[0]
    for step in range(4):
        X, y = batch(step)
        for ps, o in ((packed, opt_packed), (plain, opt_plain)):
            o.zero_grad()
            W1, b1, W2, b2 = ps
            F.softmax_cross_entropy(F.tanh(Tensor(X) @ W1 + b1) @ W2 + b2, y).backward()
            if ps is packed:
                assert all(p.grad is v for p, v in zip(ps, pack.grads.views))
            o.step()
    for p, q in zip(packed, plain):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-12)


@fast_paths
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_load_state_dict_into_a_packed_optimizer_resumes_exactly(name, kw):
    a = model()
    oa = getattr(optim, name)(a.parameters(), **kw)
    X, y = batch()
    for _ in range(3):
        oa.zero_grad()
        loss(a, X, y).backward()
        oa.step()
    msd, osd = a.state_dict(), copy.deepcopy(oa.state_dict())
    b = model(seed=5)
    ob = getattr(optim, name)(b.parameters(), **kw)
    b.load_state_dict(msd)
    ob.load_state_dict(osd)
    (pack,), _ = pack_of(ob)
    assert all(v.base is pack.state[k] for p in b.parameters() for k, v in ob.state[p].items()
               if isinstance(v, np.ndarray))
    for m, o in ((a, oa), (b, ob)):
        for _ in range(3):
            o.zero_grad()
            loss(m, X, y).backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


@fast_paths
def test_a_second_optimizer_on_packed_parameters_works_parameter_by_parameter():
    m = model()
    first = optim.SGD(m.parameters(), lr=0.1)
    second = optim.SGD(m.parameters(), lr=0.1)
    assert pack_of(first)[0] and not pack_of(second)[0]
    X, y = batch()
    loss(m, X, y).backward()
    g = [p.grad.copy() for p in m.parameters()]
    before = [p.data.copy() for p in m.parameters()]
    second.step()
    for p, b, gg in zip(m.parameters(), before, g):
        np.testing.assert_allclose(p.data, b - 0.1 * gg, rtol=1e-12)


@fast_paths
@pytest.mark.parametrize("change", ["dtype", "shape"])
def test_grad_buffer_is_not_offered_once_the_parameter_changed_dtype_or_shape(change):
    m = model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    (pack,), _ = pack_of(opt)
    W = m[2].W
    if change == "dtype":
        W.data = W.data.astype(np.float32)
        X = batch()[0]
    else:  # a new Parameter holding another one's slot, of another shape
        m[2].W = W = Parameter(np.ones((7, 3)))
        W._grad_slot = m[0].W._grad_slot
        X = batch()[0]
    F.softmax_cross_entropy(m(Tensor(X)), batch()[1]).backward()
    assert W.grad is not None and not np.shares_memory(W.grad, pack.grads.array)
    assert W.grad.dtype == W.dtype and W.grad.shape == W.shape
    assert m[0].W.grad is pack.grads.views[0]


# ---- elementwise ops on temporaries ----------------------------------------------------------------
@fast_paths
@pytest.mark.parametrize("fn", [F.relu, F.tanh], ids=["relu", "tanh"])
def test_activation_of_a_temporary_reuses_its_array_and_differentiates_the_same(fn):
    rng = np.random.default_rng(0)
    xd, Wd, gd = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    results = []
    for temporary in (True, False):
        x, W = Tensor(xd, requires_grad=True), Parameter(Wd.copy())
        if temporary:
            out = fn(F.linear(x, W))  # the linear output is a temporary: overwritten
            assert out._ctx.parents[0]._data is out._data
        else:
            h = F.linear(x, W)        # held by the caller: kept
            out = fn(h)
            assert not np.shares_memory(out.data, h.data)
            np.testing.assert_allclose(h.data, xd @ Wd, rtol=1e-12)
        (out * Tensor(gd)).sum().backward()
        results.append((out.data.copy(), x.grad, W.grad))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn", [F.relu, F.tanh], ids=["relu", "tanh"])
def test_activation_never_overwrites_an_array_an_op_saved_or_the_caller_holds(fn):
    x = Tensor(np.linspace(-2, 2, 6), requires_grad=True)
    out = fn(x.exp())                 # Exp saved its output for its backward: not overwritten
    assert not np.shares_memory(out.data, out._ctx.parents[0].data)
    out.sum().backward()
    y = fn(Tensor(np.exp(np.linspace(-2, 2, 6)))).data
    dy = np.where(y > 0, 1.0, 0.0) if fn is F.relu else 1 - y * y
    np.testing.assert_allclose(x.grad, dy * np.exp(x.data), rtol=1e-12)
    arr = np.linspace(-1, 1, 5)
    fn(Tensor(arr))                   # the caller's array
    np.testing.assert_array_equal(arr, np.linspace(-1, 1, 5))


@pytest.mark.parametrize("fn", [F.relu, F.tanh], ids=["relu", "tanh"])
def test_activation_never_overwrites_memory_a_view_shares(fn):
    X = np.array([[-1.0, 2.0], [3.0, -4.0]])
    fn(Tensor(X).reshape(4))                      # a view of the caller's array
    W = Parameter(np.array([[-1.0, 0.5], [2.0, -3.0]]))
    fn(W.T)                                       # a view of a parameter
    batch = np.array([[[-1.0, 1.0]], [[2.0, -2.0]]])
    fn(nn.Flatten()(Tensor(batch)))
    np.testing.assert_array_equal(X, [[-1.0, 2.0], [3.0, -4.0]])
    np.testing.assert_array_equal(W.data, [[-1.0, 0.5], [2.0, -3.0]])
    np.testing.assert_array_equal(batch.ravel(), [-1.0, 1.0, 2.0, -2.0])
    out = fn(Tensor(np.broadcast_to(np.array([-1.0]), (3,))))  # a read-only view
    np.testing.assert_array_equal(out.data, fn(Tensor(np.full(3, -1.0))).data)

    def read_only_temporary():
        a = np.array([-1.0, 2.0])
        a.flags.writeable = False
        return Tensor(a)
    np.testing.assert_array_equal(fn(read_only_temporary()).data, fn(Tensor(np.array([-1.0, 2.0]))).data)
    x = Tensor(np.array([[0.3, -0.8]]), requires_grad=True)
    fn(x.exp().reshape(2)).sum().backward()       # Exp saved the array the reshape views
    y = fn(Tensor(np.exp(x.data))).data
    dy = (y > 0) if fn is F.relu else 1 - y * y
    np.testing.assert_allclose(x.grad, dy * np.exp(x.data), rtol=1e-12)


def test_sgd_momentum_buffer_starts_at_the_gradient_whenever_momentum_starts():
    """torch: the buffer is created as g' (undamped) at its first use, also after plain steps."""
    ps = [Parameter(np.zeros(3)), Parameter(np.zeros(2))]
    opt = optim.SGD(ps, lr=1.0)
    for k in range(3):
        if k == 2:
            opt.param_groups[0].update(momentum=0.9, dampening=0.5)
        for p in ps:
            p.grad = np.ones(p.shape)
        opt.step()
    np.testing.assert_array_equal(ps[0].data, [-3.0, -3.0, -3.0])  # 1 + 1 + buffer g = 1
    np.testing.assert_array_equal(opt.state[ps[0]]["momentum_buffer"], np.ones(3))


def test_sgd_state_without_a_step_count_loads_and_trains():
    """A state dict from before SGD kept a step count (torch's SGD keeps none)."""
    ps = [Parameter(np.ones(3)), Parameter(np.ones(2))]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    sd = {"state": {0: {"momentum_buffer": np.full(3, 2.0)}, 1: {"momentum_buffer": np.full(2, 2.0)}},
          "param_groups": [{**opt.state_dict()["param_groups"][0]}]}
    opt.load_state_dict(sd)
    for p in ps:
        p.grad = np.ones(p.shape)
    opt.step()
    np.testing.assert_allclose(ps[0].data, 1 - 0.1 * (0.9 * 2.0 + 1.0), rtol=1e-12)


def test_a_state_array_the_caller_holds_keeps_training():
    m = model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    X, y = batch()
    W = m[0].W
    for k in range(4):
        opt.zero_grad()
        loss(m, X, y).backward()
        if k == 1:
            mine = np.full(W.shape, 0.1)
            opt.state[W]["exp_avg"] = mine
        opt.step()
        if k >= 1:
            assert opt.state[W]["exp_avg"] is mine  # not swapped for a copy the caller cannot see
    del mine
    opt.zero_grad()
    loss(m, X, y).backward()
    opt.step()
    opt.zero_grad()
    loss(m, X, y).backward()
    opt.step()  # once no one else holds it, the pack takes it over again


def test_pickle_and_deepcopy_leave_the_gradient_buffer_behind():
    m = model()
    optim.SGD(m.parameters(), lr=0.1)
    X, y = batch()
    loss(m, X, y).backward()
    assert b"GradBuffer" not in pickle.dumps(m)  # the grads travel, the buffer does not
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        for p, q in zip(clone.parameters(), m.parameters()):
            assert p._grad_slot is None and p.requires_grad
            np.testing.assert_array_equal(p.data, q.data)
            np.testing.assert_array_equal(p.grad, q.grad)
        opt = optim.SGD(clone.parameters(), lr=0.1)
        opt.step()
        for p, q in zip(clone.parameters(), m.parameters()):
            np.testing.assert_allclose(p.data, q.data - 0.1 * q.grad, rtol=1e-12)


# ---- property: any sequence of steps, packed or not, trains the same ------------------------------
@given(sizes=hst.lists(hst.integers(1, 6), min_size=2, max_size=4),
       config=hst.sampled_from(CONFIGS),
       dtype=hst.sampled_from([np.float64, np.float32]),
       # per step: which layers get no gradient (their output is not used), and whether the
       # step starts with zero_grad(set_to_none=False) instead of dropping the gradients
       steps=hst.lists(hst.tuples(hst.sets(hst.integers(0, 2), max_size=1), hst.booleans()),
                       min_size=1, max_size=5),
       seed=hst.integers(0, 2**16))
@settings(max_examples=30)
def test_property_packed_and_plain_optimizers_follow_the_same_trajectory(sizes, config, dtype, steps, seed):
    name, kw = config
    rng = np.random.default_rng(seed)
    init_params = [(rng.standard_normal((a, b)), rng.standard_normal(b)) for a, b in zip(sizes[:-1], sizes[1:])]

    def build():
        layers = [nn.FC(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        for layer, (W, B) in zip(layers, init_params):
            layer.W.data, layer.B.data = W.astype(dtype), B.astype(dtype)
        return layers

    def params(layers):
        return [p for layer in layers for p in (layer.W, layer.B)]

    packed, plain = build(), build()
    held = [p.data for p in params(plain)]  # keeps them unpacked
    opt_packed = getattr(optim, name)(params(packed), **kw)
    opt_plain = getattr(optim, name)(params(plain), **kw)
    X = rng.standard_normal((4, sizes[0])).astype(dtype)
    for skipped, keep_arrays in steps:
        for layers, opt in ((packed, opt_packed), (plain, opt_plain)):
            opt.zero_grad(set_to_none=not keep_arrays)
            h, out = Tensor(X), None
            for i, layer in enumerate(layers):
                h = F.tanh(layer(h))
                if i not in skipped:  # an unused layer output: that layer gets no gradient this step
                    out = h.sum() if out is None else out + h.sum()
            if out is not None:
                (out * out).backward()
            opt.step()
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    for p, q, h in zip(params(packed), params(plain), held):
        assert p.dtype == q.dtype == dtype and q.data is h
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=rtol)
