"""The PyTorch habits a user reaches for first (issue 11): each check is against PyTorch's
documented behaviour, and against torch itself where it is installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.functional as F
from tinygrad_np import Parameter, Tensor, nn, no_grad, optim


# ---- in-place operators ----------------------------------------------------------------------------
def test_a_learners_hand_written_sgd_updates_the_weights():
    model = nn.Sequential(nn.FC(3, 2, initializer=tg.init.XavierInitializer(rng=0)))
    before = [p.data.copy() for p in model.parameters()]
    F.mse_loss(model(Tensor(np.ones((4, 3)))), np.zeros((4, 2))).backward()
    with no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    for p, b in zip(model.parameters(), before):
        np.testing.assert_allclose(p.data, b - 0.1 * p.grad)
        assert isinstance(p, Parameter)  # the loop variable was updated, not rebound to a new tensor


def test_in_place_on_a_tensor_that_records_raises_and_changes_nothing():
    p = Parameter(np.ones(3))
    with pytest.raises(RuntimeError, match="in place"):
        p += 1.0
    np.testing.assert_array_equal(p.data, np.ones(3))
    q = Tensor(np.ones((2, 3), np.float32))
    q *= 2
    q += np.arange(3)
    q /= 2.0
    assert q.dtype == np.float32
    np.testing.assert_array_equal(q.data, (2 + np.arange(3)) / 2 * np.ones((2, 1)))
    with pytest.raises(ValueError, match="add_: an operand of shape \\(4,\\)"):
        q += np.ones(4)
    assert q.zero_() is q and not q.data.any()
    q.fill_(7)
    assert (q.data == 7).all()
    q.copy_([1, 2, 3])
    np.testing.assert_array_equal(q.data, [[1, 2, 3], [1, 2, 3]])
    t = Tensor(np.ones(2))
    assert t.requires_grad_() is t and t.requires_grad
    with pytest.raises(TypeError, match="float tensors"):
        Tensor(np.array([1, 2])).requires_grad_()


# ---- comparisons, conversions --------------------------------------------------------------------------
def test_comparisons_give_boolean_tensors_without_gradient():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for got, want in ((x == 2, [False, True, False]), (x != 2, [True, False, True]), (x < 2, [True, False, False]),
                      (x <= 2, [True, True, False]), (x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                      (2 < x, [False, False, True]), (x == np.array([1.0, 0.0, 3.0]), [True, False, True])):
        assert isinstance(got, Tensor) and got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.data, want)
    assert (x == None) is False and (x != "a") is True  # noqa: E711 - Python's fallback, as in torch
    assert {x: 1}[x] == 1  # still hashable by identity
    with pytest.raises(TypeError, match="lt"):
        x < "a"


def test_argmax_argmin_and_reductions_with_dim():
    x = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    assert x.argmax().item() == 3 and x.argmin(dim=1).tolist() == [0, 1]
    assert x.argmax(dim=0, keepdim=True).shape == (1, 3) and x.argmax().dtype == np.int64
    assert x.sum(dim=1).tolist() == [8.0, 10.0] and x.mean(dim=(0, 1)).item() == 3.0
    assert x.max(dim=1, keepdim=True).shape == (2, 1) and x.min().item() == 0.0
    np.testing.assert_allclose(x.var().item(), np.var(x.data, ddof=1))
    np.testing.assert_allclose(x.std(dim=0, correction=0).data, np.std(x.data, axis=0))
    assert math.isnan(Tensor(np.ones(1)).var().item())  # n <= correction, as torch
    with pytest.raises(TypeError, match="axis or dim"):
        x.sum(axis=0, dim=1)
    with pytest.raises(ValueError, match="argmax: takes one axis"):
        x.argmax(dim=(0, 1))


# ---- factories and the global seed -------------------------------------------------------------------
def test_factories_take_dtype_and_requires_grad():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros(2, 3).dtype == np.float32
    assert tg.ones((2,), dtype=np.float64).dtype == np.float64
    assert tg.randn(4, requires_grad=True).requires_grad and tg.rand(3).data.max() < 1
    assert tg.arange(5).tolist() == [0, 1, 2, 3, 4] and tg.arange(5).dtype == np.int64
    assert tg.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75] and tg.arange(0, 1, 0.25).dtype == np.float32
    with pytest.raises(ValueError, match="zeros: sizes"):
        tg.zeros(-1)
    with pytest.raises(ValueError, match="randn: dtype"):
        tg.randn(2, dtype=np.int64)


def test_manual_seed_makes_initializers_dropout_and_factories_repeat():
    def run():
        tg.manual_seed(123)
        model = nn.Sequential(nn.FC(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
        out = model(tg.randn(5, 4))
        return out.data, [p.data.copy() for p in model.parameters()]
    (a, pa), (b, pb) = run(), run()
    np.testing.assert_array_equal(a, b)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    state = np.random.get_state()[1].copy()
    tg.manual_seed(1)
    tg.randn(3)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # NumPy's global state untouched


# ---- containers, clipping --------------------------------------------------------------------------------
def test_module_list_and_dict_register_their_children():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.FC(2, 2), nn.FC(2, 2)])
            self.heads = nn.ModuleDict({"a": nn.FC(2, 1), "b": nn.FC(2, 3)})

    net = Net()
    net.blocks.append(nn.FC(2, 2))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["blocks.0.W", "blocks.0.B", "blocks.1.W", "blocks.1.B", "blocks.2.W", "blocks.2.B",
                     "heads.a.W", "heads.a.B", "heads.b.W", "heads.b.B"]
    assert len(net.blocks) == 3 and "a" in net.heads and list(net.heads) == ["a", "b"]
    with pytest.raises(TypeError, match="ModuleList.append"):
        net.blocks.append(3)
    with pytest.raises(TypeError, match="ModuleDict"):
        net.heads["c"] = "x"
    assert list(net.heads) == ["a", "b"]


def test_clip_grad_norm_and_value():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([0.0, 4.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.hypot(np.linalg.norm(a.grad), np.linalg.norm(b.grad)), 1.0, rtol=1e-5)
    a.grad = np.array([-3.0, 0.5])
    nn.utils.clip_grad_value_(a, 1.0)
    np.testing.assert_array_equal(a.grad, [-1.0, 0.5])
    assert nn.utils.clip_grad_norm_([a], max_norm=10.0, norm_type=math.inf) == 1.0


# ---- nn.Linear in PyTorch's layout; losses; against torch where installed -----------------------------------
def test_linear_has_pytorch_layout_and_fuses_in_sequential():
    tg.manual_seed(0)
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    bound = 1 / math.sqrt(4)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-6)
    seq = nn.Sequential(lin, nn.ReLU())
    out = seq(Tensor(x))
    assert type(out._ctx).__name__ == "Linear" and out._ctx.activation == "relu"
    np.testing.assert_allclose(out.data, np.maximum(x @ lin.weight.data.T + lin.bias.data, 0), rtol=1e-6)


def test_a_pytorch_state_dict_loads_into_linear_layers():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).to(np.float64)
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((7, 6))
    y = np.array([0, 2, 1, 1, 0, 2, 2])
    loss = F.cross_entropy(model(Tensor(x)), y, label_smoothing=0.05)
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y), label_smoothing=0.05)
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for (name, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    labels = np.array([2, 0, 1, 1])
    pw = np.array([0.5, 2.0, 1.0])
    pairs = [
        (F.mse_loss(Tensor(x), t, reduction), torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor(t),
                                                                             reduction=reduction)),
        (nn.MSELoss(reduction)(Tensor(x), t), torch.nn.MSELoss(reduction=reduction)(torch.tensor(x), torch.tensor(t))),
        (F.binary_cross_entropy_with_logits(Tensor(x), t, reduction, pos_weight=pw),
         torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(t), reduction=reduction,
                                                              pos_weight=torch.tensor(pw))),
        (nn.BCEWithLogitsLoss(reduction)(Tensor(x), t),
         torch.nn.BCEWithLogitsLoss(reduction=reduction)(torch.tensor(x), torch.tensor(t))),
        (F.nll_loss(F.log_softmax(Tensor(x)), labels, reduction),
         torch.nn.functional.nll_loss(torch.log_softmax(torch.tensor(x), 1), torch.tensor(labels),
                                      reduction=reduction)),
        (nn.CrossEntropyLoss(reduction, label_smoothing=0.2)(Tensor(x), labels),
         torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.2)(torch.tensor(x), torch.tensor(labels))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)


def test_loss_argument_errors_name_the_loss():
    with pytest.raises(ValueError, match="mse_loss: input of shape"):
        F.mse_loss(Tensor(np.ones(3)), np.ones(4))
    with pytest.raises(ValueError, match="nll_loss: labels must be in"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([0, 3]))
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(Tensor(np.ones(3)), np.ones(3), "avg")


def test_optimizer_over_linear_layers_trains_like_torch():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Linear(3, 2).double()
    model = nn.Linear(3, 2).to(np.float64)
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    opt, topt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(tmodel.parameters(), lr=0.1,
                                                                                      momentum=0.9)
    x, y = np.random.default_rng(3).standard_normal((8, 3)), np.arange(8) % 2
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(model.weight.data, tmodel.weight.detach().numpy(), rtol=1e-12)
