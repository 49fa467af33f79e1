"""Convolution, pooling and batch norm: loop references from the definitions, gradients, running
statistics, layers, buffers, argument errors, and PyTorch as an oracle when it is installed.

The op table (tests/test_ops.py) drives these ops through the shared property tests too; its
rows use the references defined here.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_np.functional as F
from tinygrad_np import Tensor, init, nn, optim
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing import strategies as st


def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


def _padded(x, padding, value=0.0):
    ph, pw = _pair(padding)
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


# ---- references, written from the definitions with loops ---------------------------------------
def np_conv2d(x, W, b=None, stride=1, padding=0):
    """out[n, f, i, j] = b[f] + sum_{c, u, v} xpad[n, c, i*sh + u, j*sw + v] * W[f, c, u, v]."""
    (sh, sw) = _pair(stride)
    xp = _padded(x, padding)
    n, _, hp, wp = xp.shape
    f, c, kh, kw = W.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, f, oh, ow))
    for a, o, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        total = 0.0 if b is None else b[o]
        for ch, u, v in itertools.product(range(c), range(kh), range(kw)):
            total += xp[a, ch, i * sh + u, j * sw + v] * W[o, ch, u, v]
        out[a, o, i, j] = total
    return out


def np_conv1d(x, W, b=None, stride=1, padding=0):
    """out[n, f, i] = b[f] + sum_{c, u} xpad[n, c, i*stride + u] * W[f, c, u]."""
    n, c, length = x.shape
    xp = np.zeros((n, c, length + 2 * padding))
    xp[:, :, padding:padding + length] = x
    f, _, k = W.shape
    out = np.zeros((n, f, (length + 2 * padding - k) // stride + 1))
    for a, o, i in itertools.product(*map(range, out.shape)):
        out[a, o, i] = (0.0 if b is None else b[o]) + sum(
            xp[a, ch, i * stride + u] * W[o, ch, u] for ch in range(c) for u in range(k))
    return out


def _pool_windows(x, kernel, stride, padding, value):
    """The padded x, the output shape, and per output element (n, c, i, j) its window's rows and columns."""
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = _pair(kernel if stride is None else stride)
    xp = _padded(x, (ph, pw), value)
    shape = x.shape[:2] + ((xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1)
    windows = [((n, c, i, j), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
               for n, c, i, j in itertools.product(*map(range, shape))]
    return xp, shape, windows


def _pool(x, kernel, stride, padding, value, reduce):
    xp, shape, windows = _pool_windows(x, kernel, stride, padding, value)
    out = np.zeros(shape)
    for (n, c, i, j), rows, columns in windows:
        out[n, c, i, j] = reduce(xp[n, c, rows, columns])
    return out


def np_max_pool2d(x, kernel_size, stride=None, padding=0):
    """The maximum of each window; padding is -inf."""
    return _pool(x, kernel_size, stride, padding, -np.inf, np.max)


def np_avg_pool2d(x, kernel_size, stride=None, padding=0):
    """sum(window) / (KH * KW), padding counted as zeros."""
    kh, kw = _pair(kernel_size)
    return _pool(x, kernel_size, stride, padding, 0.0, lambda w: w.sum() / (kh * kw))


def np_max_pool2d_grad(x, g, kernel_size, stride=None, padding=0):
    """dL/dx: each window's upstream gradient goes to its first maximum in row-major order."""
    ph, pw = _pair(padding)
    xp, _, windows = _pool_windows(x, kernel_size, stride, padding, -np.inf)
    dxp = np.zeros(xp.shape)
    for (n, c, i, j), rows, columns in windows:
        window = xp[n, c, rows, columns]
        best = None
        for u, v in itertools.product(range(window.shape[0]), range(window.shape[1])):
            if best is None or window[u, v] > window[best]:
                best = (u, v)
        dxp[n, c, rows.start + best[0], columns.start + best[1]] += g[n, c, i, j]
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


def np_batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
    """Returns (y, new running mean, new running var), channel by channel (axis 1).

    Training: y = (x - mean) / sqrt(var + eps) with the batch mean and biased variance, and the
    running estimates move by momentum towards the mean and the unbiased variance (count / (count - 1)).
    """
    y = np.zeros(x.shape)
    rm = None if running_mean is None else np.array(running_mean, dtype=np.float64)
    rv = None if running_var is None else np.array(running_var, dtype=np.float64)
    for c in range(x.shape[1]):
        values = x[:, c].ravel().astype(np.float64)
        count = len(values)
        if training:
            mean = sum(values) / count
            var = sum((v - mean) ** 2 for v in values) / count
            if rm is not None:
                rm[c] = (1 - momentum) * rm[c] + momentum * mean
            if rv is not None:
                rv[c] = (1 - momentum) * rv[c] + momentum * var * count / (count - 1)
        else:
            mean, var = running_mean[c], running_var[c]
        scale = 1.0 if weight is None else weight[c]
        shift = 0.0 if bias is None else bias[c]
        y[:, c] = (x[:, c] - mean) / np.sqrt(var + eps) * scale + shift
    return y, rm, rv


# ---- hypothesis-drawn geometry ------------------------------------------------------------------
@hst.composite
def conv2d_cases(draw, contiguous=None, bias=None):
    """(x, W, b or None, stride pair, padding pair) as float64 Tensors, kernel fitting the padded input."""
    kh, kw = draw(hst.integers(1, 3)), draw(hst.integers(1, 3))
    ph, pw = draw(hst.integers(0, 2)), draw(hst.integers(0, 2))
    h, w = draw(hst.integers(max(1, kh - 2 * ph), 6)), draw(hst.integers(max(1, kw - 2 * pw), 6))
    n, c, f = draw(hst.integers(1, 2)), draw(hst.integers(1, 3)), draw(hst.integers(1, 3))
    stride = (draw(hst.integers(1, 3)), draw(hst.integers(1, 3)))
    x = Tensor(draw(st.arrays((n, c, h, w), contiguous=contiguous)), requires_grad=True)
    W = Tensor(draw(st.arrays((f, c, kh, kw), contiguous=contiguous)), requires_grad=True)
    with_bias = draw(hst.booleans()) if bias is None else bias
    b = Tensor(draw(st.arrays((f,), contiguous=contiguous)), requires_grad=True) if with_bias else None
    return x, W, b, stride, (ph, pw)


@hst.composite
def pool_cases(draw, contiguous=None):
    """(x, kernel pair, stride pair or None, padding pair) with distinct values (no ties) in x."""
    kh, kw = draw(hst.integers(1, 3)), draw(hst.integers(1, 3))
    ph, pw = draw(hst.integers(0, kh // 2)), draw(hst.integers(0, kw // 2))
    h, w = draw(hst.integers(max(1, kh - 2 * ph), 6)), draw(hst.integers(max(1, kw - 2 * pw), 6))
    stride = draw(hst.none() | hst.tuples(hst.integers(1, 3), hst.integers(1, 3)))
    shape = (draw(hst.integers(1, 2)), draw(hst.integers(1, 2)), h, w)
    x = Tensor(draw(st.arrays(shape, unique=True, contiguous=contiguous)), requires_grad=True)
    return x, (kh, kw), stride, (ph, pw)


def _values(*tensors):
    return [None if t is None else t.data for t in tensors]


# ---- forward values and gradients -----------------------------------------------------------------
@settings(max_examples=40)
@given(conv2d_cases())
def test_conv2d_matches_the_definition(case):
    x, W, b, stride, padding = case
    want = np_conv2d(*_values(x, W, b), stride, padding)
    np.testing.assert_allclose(F.conv2d(x, W, b, stride, padding).data, want, rtol=1e-12, atol=1e-12)
    x32, W32, b32 = (None if t is None else Tensor(t.data.astype(np.float32)) for t in (x, W, b))
    out32 = F.conv2d(x32, W32, b32, stride, padding)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, want, rtol=1e-4, atol=1e-4)


@settings(max_examples=25)
@given(conv2d_cases(), hst.booleans())
def test_conv2d_gradients(case, x_needs_grad):
    x, W, b, stride, padding = case
    x.requires_grad = x_needs_grad  # dx is skipped when x needs none; dW and db stay right
    assert gradcheck(lambda x, W, b: F.conv2d(x, W, b, stride, padding), x, W, b)


@settings(max_examples=25)
@given(hst.data())
def test_conv1d_matches_the_definition_and_gradients(data):
    k, p = data.draw(hst.integers(1, 3)), data.draw(hst.integers(0, 2))
    length, s = data.draw(hst.integers(max(1, k - 2 * p), 7)), data.draw(hst.integers(1, 3))
    n, c, f = (data.draw(hst.integers(1, 3)) for _ in range(3))
    x = Tensor(data.draw(st.arrays((n, c, length))), requires_grad=True)
    W = Tensor(data.draw(st.arrays((f, c, k))), requires_grad=True)
    b = Tensor(data.draw(st.arrays((f,))), requires_grad=True) if data.draw(hst.booleans()) else None
    np.testing.assert_allclose(F.conv1d(x, W, b, s, p).data, np_conv1d(*_values(x, W, b), s, p), rtol=1e-12,
                               atol=1e-12)
    assert gradcheck(lambda x, W, b: F.conv1d(x, W, b, stride=s, padding=p), x, W, b)


@settings(max_examples=40)
@given(pool_cases())
def test_pooling_matches_the_definition(case):
    x, kernel, stride, padding = case
    for fn, ref in ((F.max_pool2d, np_max_pool2d), (F.avg_pool2d, np_avg_pool2d)):
        want = ref(x.data, kernel, stride, padding)
        np.testing.assert_allclose(fn(x, kernel, stride, padding).data, want, rtol=1e-12, atol=1e-12)
        out32 = fn(Tensor(x.data.astype(np.float32)), kernel, stride, padding)
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32.data, want, rtol=1e-5, atol=1e-6)


@settings(max_examples=25)
@given(pool_cases())
def test_pooling_gradients(case):
    x, kernel, stride, padding = case
    assert gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding), x)
    assert gradcheck(lambda x: F.avg_pool2d(x, kernel, stride, padding), x)


@settings(max_examples=40)
@given(hst.data())
def test_max_pool_with_relu_equals_max_pool_of_relu_under_ties(data):
    """Values from {-1, 0, 1} (ties, zeros, all-negative windows): the fused node gives the values
    and gradients of ReLU then max pooling, exactly, as does Sequential(ReLU, MaxPool2d)."""
    k = data.draw(hst.integers(1, 3))
    padding, stride = data.draw(hst.integers(0, k // 2)), data.draw(hst.integers(1, 3))
    shape = (2, 3, data.draw(hst.integers(k, 6)), data.draw(hst.integers(k, 6)))
    x = data.draw(st.arrays(shape, elements=hst.sampled_from([-1.0, 0.0, 1.0])))
    g = np.random.default_rng(1).uniform(0.5, 1.5, (shape[0], shape[1]) + tuple(
        (side + 2 * padding - k) // stride + 1 for side in shape[2:]))
    results = []
    for run in (lambda t: F.max_pool2d(F.relu(t), k, stride, padding),
                lambda t: F.max_pool2d(t, k, stride, padding, activation="relu"),
                lambda t: nn.Sequential(nn.ReLU(), nn.MaxPool2d(k, stride, padding))(t)):
        t = Tensor(x, requires_grad=True)
        out = run(t)
        out.backward(g)
        results.append((out.data, t.grad))
    for out, grad in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    with pytest.raises(ValueError, match="max_pool2d: activation must be None or 'relu'"):
        F.max_pool2d(x, k, activation="tanh")


@settings(max_examples=30)
@given(hst.data())
def test_max_pool_gradient_goes_to_the_first_maximum(data):
    """Ties everywhere (values from {0, 1}): each window's gradient goes to its first maximum only."""
    kh, kw = data.draw(hst.integers(1, 3)), data.draw(hst.integers(1, 3))
    padding = (data.draw(hst.integers(0, kh // 2)), data.draw(hst.integers(0, kw // 2)))
    stride = data.draw(hst.tuples(hst.integers(1, 3), hst.integers(1, 3)))
    shape = (2, 2, data.draw(hst.integers(kh, 6)), data.draw(hst.integers(kw, 6)))
    x = data.draw(st.arrays(shape, elements=hst.sampled_from([0.0, 1.0])))
    t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, (kh, kw), stride, padding)
    g = np.random.default_rng(0).uniform(0.5, 1.5, out.shape)
    out.backward(g)
    np.testing.assert_allclose(t.grad, np_max_pool2d_grad(x, g, (kh, kw), stride, padding), rtol=1e-15)


def test_fused_activation_and_sequential_fusion_match_the_separate_ops():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 6, 5))
    conv = nn.Conv2d(3, 4, 3, padding=1).to(np.float64)
    results = []
    for run in (lambda t: nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))(t),       # fused: one node
                lambda t: F.max_pool2d(F.relu(F.conv2d(t, conv.W, conv.B, 1, 1)), 2)):  # two nodes
        t = Tensor(x, requires_grad=True)
        conv.zero_grad()
        out = run(t)
        out.backward(np.ones(out.shape))
        results.append([out.data, t.grad, conv.W.grad, conv.B.grad])
    for fused, separate in zip(*results):
        np.testing.assert_allclose(fused, separate, rtol=1e-13, atol=1e-13)
    assert type(nn.Sequential(conv, nn.ReLU())(Tensor(x))._ctx).__name__ == "Conv2d"
    # Conv2d, ReLU, MaxPool2d: the ReLU runs on the pooled output, in the pooling's node
    pooled = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))(Tensor(x))
    assert type(pooled._ctx).__name__ == "MaxPool2d" and pooled._ctx.relu_output is not None
    assert pooled._ctx.parents[0]._ctx.activation is None
    with pytest.raises(ValueError, match="conv2d: activation must be None or one of"):
        F.conv2d(x, conv.W, activation="softplus")


# ---- batch norm --------------------------------------------------------------------------------------
@settings(max_examples=30)
@given(hst.data())
def test_batch_norm_matches_the_definition_and_gradients(data):
    shape = data.draw(hst.sampled_from([(3, 2), (2, 3, 2), (2, 2, 2, 3), (4, 1, 1, 1)]))
    x = Tensor(data.draw(st.arrays(shape, unique=True, gap=0.1)), requires_grad=True)
    w, b = (Tensor(data.draw(st.arrays((shape[1],))), requires_grad=True) for _ in range(2))
    rm, rv = data.draw(st.arrays((shape[1],))), data.draw(st.arrays((shape[1],), min_value=0.2))
    for training in (True, False):
        rm1, rv1 = rm.copy(), rv.copy()
        y = F.batch_norm(x, rm1, rv1, w, b, training=training, momentum=0.3)
        want, want_rm, want_rv = np_batch_norm(x.data, rm, rv, w.data, b.data, training=training, momentum=0.3)
        np.testing.assert_allclose(y.data, want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rm1, want_rm if training else rm, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(rv1, want_rv if training else rv, rtol=1e-12, atol=1e-15)
        assert gradcheck(lambda x, w, b, t=training: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=t), x, w, b)
    assert gradcheck(lambda x: F.batch_norm(x, None, None), x)  # no affine, no running estimates


def test_batch_norm_running_statistics_over_several_steps():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3, momentum=0.2)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(6):
        x = rng.normal(step, 1 + step, (4, 3, 2, 5)).astype(np.float32)
        y = bn(Tensor(x))
        _, rm, rv = np_batch_norm(x, rm, rv, training=True, momentum=0.2)
        np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-5)
        np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-5)
        assert bn.running_mean.dtype == y.dtype == np.float32
    bn.eval()  # eval: the running estimates normalise and stay as they are
    x = rng.normal(0, 1, (4, 3, 2, 5)).astype(np.float32)
    y = bn(Tensor(x))
    np.testing.assert_allclose(y.data, np_batch_norm(x, rm, rv, np.ones(3), np.zeros(3), training=False)[0],
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-5)
    bn.train()
    bn(Tensor(x))
    assert not np.allclose(bn.running_mean.data, rm)


def test_batch_norm_layers_follow_train_and_eval_inside_a_model():
    model = nn.Sequential(nn.FC(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    x = Tensor(np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32))
    model(x)
    before = model[1].running_mean.data.copy()
    model.eval()
    model(x)
    np.testing.assert_array_equal(model[1].running_mean.data, before)
    assert not model[1].training


# ---- buffers in Module ---------------------------------------------------------------------------------
def test_buffers_are_saved_and_loaded_but_not_optimized(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.W", "0.B", "1.weight", "1.bias"]
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert not any(p is model[1].running_mean for p in model.parameters())
    assert list(model.state_dict()) == names + ["1.running_mean", "1.running_var"]
    model(Tensor(np.random.default_rng(0).normal(size=(3, 1, 5, 5)).astype(np.float32)))
    state = model.state_dict()
    model.save(tmp_path / "m.npz")
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    fresh.load(tmp_path / "m.npz")
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    with pytest.raises(ValueError, match="1.running_var: shape"):
        fresh.load_state_dict({**state, "1.running_var": np.ones(5)})
    np.testing.assert_array_equal(fresh[1].running_var.data, state["1.running_var"])  # unchanged


def test_module_to_casts_buffers_and_register_buffer_checks():
    bn = nn.BatchNorm1d(4)
    mean = bn.running_mean
    bn.to(np.float64)
    assert bn.running_mean is mean and mean.dtype == np.float64 and bn.weight.dtype == np.float64
    y = bn(Tensor(np.ones((2, 4))))
    assert y.dtype == np.float64
    m = nn.Module()
    m.register_buffer("count", np.zeros(2))
    m.register_buffer("empty", None)
    assert [n for n, _ in m.named_buffers()] == ["count"]
    m.count = Tensor(np.ones(2))
    assert list(m.state_dict()) == ["count"]
    with pytest.raises(TypeError, match="buffer 'count'"):
        m.count = np.zeros(2)
    with pytest.raises(KeyError):
        m.register_buffer("training", np.zeros(1))
    del m.count
    assert list(m.state_dict()) == []


# ---- layers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, std", [
    (lambda: init.HeInitializer(rng=0), np.sqrt(2 / 72)),
    (lambda: init.XavierInitializer(rng=0), np.sqrt(1 / 72)),
    (lambda: init.SimpleInitializer(0.05, rng=0), 0.05),
])
def test_conv_layers_draw_with_fan_in_of_channels_times_kernel_area(make, std):
    conv = nn.Conv2d(8, 64, 3, initializer=make())          # fan-in 8 * 3 * 3 = 72
    assert conv.W.shape == (64, 8, 3, 3) and conv.B.shape == (64,) and conv.W.dtype == np.float32
    assert abs(conv.W.data.std() / std - 1) < 0.05
    np.testing.assert_array_equal(conv.B.data, 0)
    conv1 = nn.Conv1d(8, 64, 9, initializer=make())         # fan-in 72 too
    assert conv1.W.shape == (64, 8, 9) and abs(conv1.W.data.std() / std - 1) < 0.05


def test_conv_layer_with_a_seed_protocol_initializer_and_init_apply():
    class Constant:  # only the seed's two methods
        def W(self, n_in, n_out):
            return np.tile(np.arange(n_in, dtype=np.float32)[:, None], (1, n_out))

        def B(self, n_out):
            return np.ones(n_out, np.float32)

    conv = nn.Conv2d(2, 3, (1, 2), bias=True, initializer=Constant())
    np.testing.assert_array_equal(conv.W.data[1], [[[0, 1]], [[2, 3]]])  # output 1's column, reshaped
    W = conv.W
    init.apply(nn.Sequential(conv), init.HeInitializer(rng=0))
    assert conv.W is W and not np.array_equal(W.data[0], W.data[1])
    np.testing.assert_array_equal(conv.B.data, 0)


def test_layers_compute_their_functional_op():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(2, 3, 7, 6)))
    conv = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1).to(np.float64)
    # atol too: the weights are drawn unseeded, and an output that cancels to near 0 has no relative precision
    np.testing.assert_allclose(conv(x).data, np_conv2d(x.data, conv.W.data, conv.B.data, (2, 1), 1), rtol=1e-12,
                               atol=1e-12)
    conv1 = nn.Conv1d(3, 2, 3, bias=False, padding=2).to(np.float64)
    x1 = rng.normal(size=(2, 3, 5))
    np.testing.assert_allclose(conv1(x1).data, np_conv1d(x1, conv1.W.data, None, 1, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nn.MaxPool2d(3, 2, 1)(x).data, np_max_pool2d(x.data, 3, 2, 1))
    np.testing.assert_allclose(nn.AvgPool2d((2, 3))(x).data, np_avg_pool2d(x.data, (2, 3)))
    assert "kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)" in repr(nn.MaxPool2d(3, 2, 1))
    assert "3 -> 4, kernel_size=(3, 2)" in repr(conv)


def test_a_small_cnn_learns_and_keeps_float32():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4].sum(axis=(1, 2)) > X[:, 0, 4:].sum(axis=(1, 2))).astype(np.int64)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, initializer=init.HeInitializer(rng=0)), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.FC(64, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(30):
        logits = model(Tensor(X))
        loss = F.softmax_cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert logits.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]


# ---- errors ---------------------------------------------------------------------------------------
X4 = np.zeros((2, 3, 5, 5), np.float32)
X3 = X4[:, :, 0]


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(X4, np.zeros((4, 3, 7, 3))), r"conv2d: kernel \(7, 3\) is larger than the padded input"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 8, 3)), padding=1), r"padded input \(7, 7\)"),
    (lambda: F.conv2d(X4, np.zeros((4, 2, 3, 3))), r"conv2d: x has 3 channels .* W expects 2"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 3, 3)), stride=0), "conv2d: stride must be positive"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 3, 3)), stride=(1, -1)), "conv2d: stride must be positive"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 3, 3)), padding=-1), "conv2d: padding must be non-negative"),
    (lambda: F.conv2d(X4[0], np.zeros((4, 3, 3, 3))), r"conv2d: x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 3))), "conv2d: W must be 4-D"),
    (lambda: F.conv2d(X4, np.zeros((4, 3, 3, 3)), np.zeros(3)), r"conv2d: bias of shape \(3,\)"),
    (lambda: F.conv1d(X3, np.zeros((4, 2, 3))), "conv1d: x has 3 channels"),
    (lambda: F.conv1d(X4, np.zeros((4, 3, 3))), r"conv1d: x must be 3-D \(N, C, L\)"),
    (lambda: F.conv1d(X3, np.zeros((4, 3, 9)), padding=1), r"conv1d: kernel \(1, 9\) is larger"),
    (lambda: F.max_pool2d(X4, 6), r"max_pool2d: kernel_size \(6, 6\) is larger than the padded input \(5, 5\)"),
    (lambda: F.max_pool2d(X4, 2, padding=2), "max_pool2d: padding .* at most half the kernel size"),
    (lambda: F.avg_pool2d(X4, 2, stride=0), "avg_pool2d: stride must be positive"),
    (lambda: F.avg_pool2d(X4[0], 2), r"avg_pool2d: x must be 4-D"),
    (lambda: F.batch_norm(X4, np.zeros(2), np.ones(3)), r"batch_norm: running_mean must be .* shape \(3,\)"),
    (lambda: F.batch_norm(X4[:, :, 0, 0][:1], None, None), "more than 1 value per channel"),
    (lambda: F.batch_norm(X4, None, None, training=False), "needed when not training"),
    (lambda: F.batch_norm(X4, None, None, np.ones(2)), r"batch_norm: weight of shape \(2,\)"),
    (lambda: F.batch_norm(X4, None, None, momentum=2), "batch_norm: momentum must be"),
    (lambda: F.batch_norm(X4[0, 0, 0], None, None), "batch_norm: x must be"),
    (lambda: nn.BatchNorm2d(3)(Tensor(X4[0])), r"BatchNorm2d: x must be \(N, C, H, W\)"),
    (lambda: nn.Conv2d(3, 0, 3), "Conv2d: out_channels must be a positive integer"),
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be positive"),
])
def test_bad_arguments_raise_value_errors_naming_the_op(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_argument_types_and_no_state_change_on_error():
    with pytest.raises(TypeError, match="conv2d: stride must be an int or a pair"):
        F.conv2d(X4, np.zeros((4, 3, 3, 3)), stride=1.5)
    with pytest.raises(TypeError, match="Conv1d: kernel_size, stride and padding must be ints"):
        nn.Conv1d(3, 2, (3, 1))
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError):
        F.batch_norm(X4, rm, rv, np.ones(4))
    np.testing.assert_array_equal(rm, 0)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        F.batch_norm(X4, rm, frozen)
    np.testing.assert_array_equal(rm, 0)


# ---- PyTorch as an oracle (optional) ---------------------------------------------------------------------
CONV_CONFIGS = [((2, 3, 9, 8), (4, 3, 3, 2), 1, 0), ((2, 3, 9, 8), (4, 3, 3, 3), (2, 1), (1, 2)),
                ((3, 1, 28, 28), (8, 1, 3, 3), 1, 1), ((2, 16, 14, 14), (8, 16, 3, 3), 1, 1),
                ((1, 2, 7, 7), (2, 2, 5, 5), 3, 2)]
POOL_CONFIGS = [(2, None, 0), (3, 2, 1), (2, 1, 1), ((3, 2), (1, 2), (1, 0)), (3, None, 0)]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CONFIGS)
def test_conv_against_pytorch(x_shape, w_shape, stride, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    tx, tW, tb = (Tensor(a, requires_grad=True) for a in (x, W, b))
    out = F.conv2d(tx, tW, tb, stride, padding)
    g = rng.normal(size=out.shape)
    out.backward(g)
    X, Wt, B = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ref = torch.nn.functional.conv2d(X, Wt, B, stride=stride, padding=padding)
    ref.backward(torch.tensor(g))
    for mine, theirs in ((out.data, ref), (tx.grad, X.grad), (tW.grad, Wt.grad), (tb.grad, B.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)
    x1, W1 = x[:, :, 0], W[:, :, 0]  # the same as a 1-D convolution along the width
    s1, p1 = _pair(stride)[1], _pair(padding)[1]
    np.testing.assert_allclose(F.conv1d(x1, W1, b, s1, p1).data,
                               torch.nn.functional.conv1d(*map(torch.tensor, (x1, W1, b)), stride=s1,
                                                          padding=p1).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CONFIGS)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pooling_against_pytorch(name, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=(2, 3, 9, 8)), 1)  # rounded: ties, where "first maximum" matters
    t = Tensor(x, requires_grad=True)
    out = getattr(F, name)(t, kernel, stride, padding)
    g = rng.normal(size=out.shape)
    out.backward(g)
    X = torch.tensor(x, requires_grad=True)
    ref = getattr(torch.nn.functional, name)(X, kernel, stride, padding)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad, X.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 4, 5)])
def test_batch_norm_against_pytorch(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    rm, rv = np.zeros(3), np.ones(3)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for training in (True, True, False):
        x, w, b = rng.normal(size=shape), rng.normal(size=3), rng.normal(size=3)
        tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.batch_norm(tx, rm, rv, tw, tb, training=training, momentum=0.3)
        g = rng.normal(size=shape)
        out.backward(g)
        X, Wt, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ref = torch.nn.functional.batch_norm(X, trm, trv, Wt, B, training=training, momentum=0.3)
        ref.backward(torch.tensor(g))
        for mine, theirs in ((out.data, ref), (tx.grad, X.grad), (tw.grad, Wt.grad), (tb.grad, B.grad),
                             (rm, trm), (rv, trv)):
            np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
