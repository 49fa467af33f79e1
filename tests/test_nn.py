"""Modules: registration and naming, state dicts and files, layers, gradcheck of a whole MLP."""
from __future__ import annotations

import os

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Parameter, Tensor, init, nn
from tinygrad_np.testing import gradcheck


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc = nn.FC(n_in, n_out, initializer=init.HeInitializer(rng=0))
        self.scale = Parameter(np.ones(n_out))

    def forward(self, x):
        return F.relu(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Block(4, 6), nn.FC(6, 5)]
        self.heads = {"a": nn.FC(5, 2), "b": (nn.FC(5, 3), Parameter(np.zeros(3)))}
        self.seq = nn.Sequential(nn.FC(5, 5), nn.Tanh())
        self.lr_hint = 0.1  # plain attribute: not registered

    def forward(self, x):
        h = self.seq(self.layers[1](self.layers[0](x)))
        return self.heads["a"](h)


NET_NAMES = ["layers.0.fc.W", "layers.0.fc.B", "layers.0.scale", "layers.1.W", "layers.1.B",
             "heads.a.W", "heads.a.B", "heads.b.0.W", "heads.b.0.B", "heads.b.1", "seq.0.W", "seq.0.B"]


# ---- discovery and naming ----------------------------------------------------------------------------
def test_named_parameters_in_definition_order_with_dotted_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == NET_NAMES
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert all(isinstance(p, Parameter) for p in net.parameters())


def test_modules_and_children():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["layers.0", "layers.1", "heads.a", "heads.b.0", "seq"]
    assert list(net.children())[0] is net.layers[0]
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "layers.0", "layers.0.fc", "layers.1", "heads.a", "heads.b.0", "seq", "seq.0", "seq.1"]
    assert list(net.modules())[0] is net


def test_containers_are_walked_when_asked_and_shared_params_counted_once():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.w = Parameter(np.zeros(2))
            self.tied = self.w

        def forward(self, x):
            return x

    m = M()
    m.blocks.append(nn.FC(2, 2))
    assert [n for n, _ in m.named_parameters()] == ["blocks.0.W", "blocks.0.B", "w"]
    m.blocks = None  # re-assigning a plain value unregisters
    assert [n for n, _ in m.named_parameters()] == ["w"]
    del m.w
    assert [n for n, _ in m.named_parameters()] == ["tied"]


def test_unknown_attribute_raises_and_init_is_required():
    net = Net()
    with pytest.raises(AttributeError):
        net.layer  # noqa: B018  (typo of `layers`)

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.FC(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Forgot()
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


def test_zero_grad_train_eval():
    net = Net()
    F.softmax_cross_entropy(net(Tensor(np.ones((3, 4)))), np.array([0, 1, 0])).backward()
    assert net.heads["a"].W.grad is not None
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)  # as Optimizer.zero_grad: zeros in place
    assert all(p.grad is g and (g is None or not g.any()) for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_repr_shows_tree_shapes_and_count():
    r = repr(Net())
    assert "(layers.0): Block(" in r and "(fc): FC(4 -> 6, W(4, 6), B(6,), float32)" in r
    assert "(scale): Parameter(6,) float64" in r and "(1): Tanh()" in r
    total = sum(p.size for p in Net().parameters())
    assert r.endswith(f"# {total:,} parameters") and Net().num_parameters() == total


def test_apply_and_to():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("FC") == 5
    W = net.layers[1].W
    net.to(np.float64)
    assert net.layers[1].W is W and all(p.dtype == np.float64 for p in net.parameters())
    with pytest.raises(ValueError):
        net.to(np.int32)


# ---- state dicts and files ---------------------------------------------------------------------------
def test_state_dict_round_trip_copies():
    a, b = Net(), Net()
    init.apply(b, init.SimpleInitializer(0.5, rng=3))
    sd = a.state_dict()
    assert list(sd) == NET_NAMES
    sd["layers.1.W"] += 1  # a copy: the model is not touched
    assert not np.array_equal(sd["layers.1.W"], a.layers[1].W.data)
    sd = a.state_dict()
    W = b.layers[1].W
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.layers[1].W is W  # copied into the existing Parameters
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_load_casts_to_param_dtype():
    m = nn.FC(3, 2)
    m.load_state_dict({"W": np.arange(6, dtype=np.float64).reshape(3, 2), "B": [1, 2]})
    assert m.W.dtype == np.float32 and m.B.dtype == np.float32
    np.testing.assert_array_equal(m.B.data, [1, 2])


def test_strict_load_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    sd = net.state_dict()
    del sd["seq.0.B"]
    sd["extra"] = np.zeros(1)
    sd["layers.1.W"] = np.zeros((5, 6))
    sd["layers.0.fc.W"] = np.full((4, 6), 7.0)  # valid: must not be applied either
    sd["heads.a.B"] = np.array(["a", "b"])
    with pytest.raises(ValueError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    for part in ("missing keys: seq.0.B", "unexpected keys: extra", "layers.1.W: shape (5, 6)", "heads.a.B: dtype"):
        assert part in msg
    for n, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[n])


def test_non_strict_load_reports_keys_but_checks_shapes():
    net = nn.FC(2, 3)
    res = net.load_state_dict({"W": np.ones((2, 3)), "other": np.ones(1)}, strict=False)
    assert res.missing_keys == ["B"] and res.unexpected_keys == ["other"]
    np.testing.assert_array_equal(net.W.data, 1)
    with pytest.raises(ValueError, match="shape"):
        net.load_state_dict({"W": np.ones((3, 2))}, strict=False)
    with pytest.raises(TypeError):
        net.load_state_dict([("W", np.ones((2, 3)))])


def test_save_load_round_trip(tmp_path):
    a, b = Net(), Net()
    init.apply(b, init.SimpleInitializer(1.0, rng=5))
    path = tmp_path / "model.npz"
    a.save(path)
    b.load(str(path))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failed_save_leaves_old_file_intact(tmp_path, monkeypatch):
    net = Net()
    path = tmp_path / "model.npz"
    net.save(path)
    old = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"partial garbage")
        raise OSError("disk full")

    init.apply(net, init.SimpleInitializer(2.0, rng=1))
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["model.npz"]  # the temporary file is gone


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_file_gets_the_permissions_of_a_plain_open(tmp_path, umask):
    old_mask = os.umask(umask)
    try:
        nn.FC(2, 3).save(tmp_path / "model.npz")
        (tmp_path / "plain").write_bytes(b"")  # what open() gives under this umask
    finally:
        os.umask(old_mask)
    mode = (tmp_path / "model.npz").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_replace_removes_the_temporary_file(tmp_path):
    target = tmp_path / "model.npz"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError):
        nn.FC(2, 3).save(target)
    assert os.listdir(tmp_path) == ["model.npz"] and target.is_dir()


def test_load_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, W=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        nn.FC(1, 1).load(path)


# ---- layers ------------------------------------------------------------------------------------------
def test_fc_shapes_and_forward():
    fc = nn.FC(4, 3, initializer=init.SimpleInitializer(0.1, rng=0, random_bias=True))
    assert fc.W.shape == (4, 3) and fc.B.shape == (3,)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(fc(x).data, x @ fc.W.data + fc.B.data, rtol=1e-6)
    nb = nn.FC(4, 3, bias=False)
    assert nb.B is None and [n for n, _ in nb.named_parameters()] == ["W"]
    np.testing.assert_allclose(nb(Tensor(x)).data, x @ nb.W.data, rtol=1e-6)
    with pytest.raises(ValueError):
        nn.FC(0, 3)


def test_fc_default_initializer_is_xavier():
    W = nn.FC(2000, 50).W.data
    assert W.dtype == np.float32
    assert W.std() == pytest.approx(1 / np.sqrt(2000), rel=0.03)


def test_fc_accepts_seed_style_initializer_and_checks_shapes():
    class Seed:
        def W(self, n1, n2):
            return np.full((n1, n2), 0.5)

        def B(self, n2):
            return np.zeros(n2)

    fc = nn.FC(2, 3, initializer=Seed())
    np.testing.assert_array_equal(fc.W.data, 0.5)

    class Wrong(Seed):
        def W(self, n1, n2):
            return np.zeros((n2, n1))

    with pytest.raises(ValueError, match="initializer"):
        nn.FC(2, 3, initializer=Wrong())


def test_activations_softmax_flatten():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Softmax()(x).data.sum(-1), 1)
    np.testing.assert_allclose(nn.Softmax(axis=1)(x).data.sum(1), 1)
    assert nn.Flatten()(x).shape == (2, 12) and nn.Flatten(start_axis=2)(x).shape == (2, 3, 4)


def test_sequential_indexing_and_names():
    seq = nn.Sequential(nn.FC(3, 4), nn.ReLU(), nn.FC(4, 2))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and seq[-1] is list(seq)[2]
    assert [n for n, _ in seq.named_parameters()] == ["0.W", "0.B", "2.W", "2.B"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and head[0] is seq[0]
    assert seq(np.ones((5, 3), dtype=np.float32)).shape == (5, 2)
    seq.append(nn.Softmax())
    assert len(seq) == 4
    with pytest.raises(TypeError):
        nn.Sequential(nn.FC(1, 1), lambda x: x)


def test_dropout_seeded_scaled_and_identity_in_eval():
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    a, b = nn.Dropout(0.3, rng=7), nn.Dropout(0.3, rng=7)
    ya, yb = a(x), b(x)
    np.testing.assert_array_equal(ya.data, yb.data)
    kept = ya.data != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.02)
    np.testing.assert_allclose(ya.data[kept], 1 / 0.7)
    ya.sum().backward()
    np.testing.assert_allclose(x.grad, ya.data)  # d(x * mask)/dx = mask
    a.eval()
    assert a(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)
    x32 = Tensor(np.ones(10, dtype=np.float32))
    assert nn.Dropout(0.5, rng=0)(x32).dtype == np.float32
    for p in (-0.1, 1.5, True):
        with pytest.raises(ValueError):
            nn.Dropout(p)


def test_whole_sequential_mlp_passes_gradcheck():
    model = nn.Sequential(nn.FC(4, 5, initializer=init.XavierInitializer(rng=0, random_bias=True)), nn.Tanh(),
                          nn.FC(5, 6, initializer=init.HeInitializer(rng=1, random_bias=True)), nn.ReLU(),
                          nn.FC(6, 3, initializer=init.XavierInitializer(rng=2, random_bias=True)), nn.Sigmoid(),
                          nn.Flatten())
    fcs = [m for m in model if isinstance(m, nn.FC)]
    x = Tensor(np.random.default_rng(3).standard_normal((7, 4)), requires_grad=True)

    def fn(x, *params):
        for fc, W, B in zip(fcs, params[::2], params[1::2]):
            object.__setattr__(fc, "W", W)  # the float64 copies gradcheck perturbs
            object.__setattr__(fc, "B", B)
        return model(x)

    assert gradcheck(fn, x, *model.parameters())


def test_mlp_trains():
    from tinygrad_np import optim
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.FC(2, 16, initializer=init.HeInitializer(rng=0)), nn.ReLU(),
                          nn.FC(16, 2, initializer=init.XavierInitializer(rng=1)))
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.2


# ---- Sequential runs FC + activation as one fused node (issue 9) ------------------------------------
class _MyReLU(nn.ReLU):
    """A subclass: Sequential must run it as written, not fuse it."""

    def forward(self, x):
        return F.relu(x) * 2.0


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_fuses_fc_and_activation_with_the_same_results(act, dtype):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.FC(5, 4, initializer=init.XavierInitializer(rng=0, random_bias=True)), act(),
                          nn.FC(4, 3), act(), nn.FC(3, 2)).to(dtype)
    X = rng.standard_normal((6, 5)).astype(dtype)
    out = model(Tensor(X))
    assert out.dtype == dtype
    # the graph: three Linear nodes and nothing else
    nodes, t = [], out
    while t._ctx is not None:
        nodes.append(type(t._ctx).__name__)
        t = t._ctx.parents[0]
    assert nodes == ["Linear", "Linear", "Linear"]
    assert [type(out._ctx.parents[0]._ctx).__name__] == ["Linear"]
    out.backward(np.ones_like(out.data))
    fused = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    x = Tensor(X)  # the same layers called one by one: two nodes per hidden layer
    for layer in model:
        x = layer(x)
    np.testing.assert_allclose(x.data, out.data, rtol=1e-6 if dtype == np.float32 else 1e-15)
    x.backward(np.ones_like(x.data))
    for g, p in zip(fused, model.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-7)
    assert list(model.state_dict()) == ["0.W", "0.B", "2.W", "2.B", "4.W", "4.B"]


def test_sequential_runs_subclassed_layers_as_written():
    model = nn.Sequential(nn.FC(3, 3, initializer=init.XavierInitializer(rng=0)), _MyReLU())
    X = np.random.default_rng(1).standard_normal((4, 3))
    out = model(Tensor(X))
    np.testing.assert_allclose(out.data, 2 * np.maximum(X @ model[0].W.data + model[0].B.data, 0))


def test_sequential_fused_model_passes_gradcheck():
    model = nn.Sequential(nn.FC(3, 4, initializer=init.XavierInitializer(rng=2, random_bias=True)), nn.Tanh(),
                          nn.FC(4, 2, initializer=init.XavierInitializer(rng=3))).to(np.float64)
    X = Tensor(np.random.default_rng(4).standard_normal((5, 3)), requires_grad=True)
    assert gradcheck(lambda x, W1, b1, W2, b2: model(x), X, *model.parameters())


def test_layers_keep_their_parameters_in_64_byte_aligned_storage():
    """The arrays layers create (and `to()` converts) start on a cache line, as PyTorch's CPU
    allocator aligns them; the initializer's values are kept exactly, and an array a user wraps
    in Parameter() is used as it is."""
    from tinygrad_np._malloc import ALIGNMENT, aligned_copy
    xavier = init.XavierInitializer(rng=0, random_bias=True)
    model = nn.Sequential(nn.FC(7, 5, initializer=xavier), nn.Linear(5, 3), nn.Conv2d(2, 3, 3), nn.Conv1d(2, 4, 2))
    expected = init.XavierInitializer(rng=0, random_bias=True)
    np.testing.assert_array_equal(model[0].W.data, expected.W(7, 5))
    np.testing.assert_array_equal(model[0].B.data, expected.B(5))
    for dtype in (np.float32, np.float64):
        model.to(dtype)
        for name, p in model.named_parameters():
            assert p.data.ctypes.data % ALIGNMENT == 0, name
            assert p.dtype == dtype and p.data.flags.c_contiguous and p.data.flags.writeable, name
    mine = np.ones((3, 2))
    assert Parameter(mine).data is mine
    odd = np.arange(12.0).reshape(3, 4).T  # a non-contiguous view: copied C-contiguous, values kept
    copy = aligned_copy(odd, np.float32)
    assert copy.ctypes.data % ALIGNMENT == 0 and copy.dtype == np.float32 and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, odd)
    labels = np.arange(3)  # not float data: returned as it is, for Parameter to reject with its message
    assert aligned_copy(labels) is labels
