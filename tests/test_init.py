"""Initializers: statistics on large matrices, seeding, dtypes, biases, re-initializing a model."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_np import init, nn

N_IN, N_OUT = 1000, 800  # 800k draws: std within ~0.2%, mean within ~0.1% of the scale

NORMAL = [
    (lambda **kw: init.SimpleInitializer(0.05, **kw), lambda n_in, n_out: 0.05),
    (lambda **kw: init.XavierInitializer(**kw), lambda n_in, n_out: 1 / math.sqrt(n_in)),
    (lambda **kw: init.HeInitializer(**kw), lambda n_in, n_out: math.sqrt(2 / n_in)),
]
UNIFORM = [
    (lambda **kw: init.GlorotUniformInitializer(**kw), lambda n_in, n_out: math.sqrt(6 / (n_in + n_out))),
    (lambda **kw: init.HeUniformInitializer(**kw), lambda n_in, n_out: math.sqrt(6 / n_in)),
]


@pytest.mark.parametrize("make,std", NORMAL, ids=["simple", "xavier", "he"])
def test_normal_statistics(make, std):
    W = make(rng=0).W(N_IN, N_OUT)
    s = std(N_IN, N_OUT)
    assert W.shape == (N_IN, N_OUT) and W.dtype == np.float32
    assert W.std() == pytest.approx(s, rel=0.01)
    assert abs(W.mean()) < 0.01 * s


@pytest.mark.parametrize("make,limit", UNIFORM, ids=["glorot_uniform", "he_uniform"])
def test_uniform_statistics(make, limit):
    W = make(rng=0, dtype=np.float64).W(N_IN, N_OUT)
    a = limit(N_IN, N_OUT)
    assert W.dtype == np.float64
    assert W.min() >= -a and W.max() <= a and W.max() > 0.99 * a
    assert W.std() == pytest.approx(a / math.sqrt(3), rel=0.01)
    assert abs(W.mean()) < 0.01 * a
    assert init.GlorotUniform is init.GlorotUniformInitializer and init.HeUniform is init.HeUniformInitializer


@pytest.mark.parametrize("make", [m for m, _ in NORMAL + UNIFORM])
def test_seeding_is_reproducible_and_independent_of_global_state(make):
    np.random.seed(1)
    a = make(rng=42).W(30, 20)
    np.random.seed(2)
    b = make(rng=42).W(30, 20)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make(rng=43).W(30, 20))
    gen = np.random.default_rng(5)
    i = make(rng=gen)
    assert i.rng is gen and not np.array_equal(i.W(30, 20), i.W(30, 20))  # one stream, successive draws
    np.testing.assert_array_equal(make(rng=np.random.default_rng(5)).W(30, 20),
                                  make(rng=np.random.default_rng(5)).W(30, 20))


def test_biases_zero_by_default_or_drawn_like_the_seed():
    i = init.HeInitializer(rng=0)
    b = i.B(500)
    assert b.shape == (500,) and b.dtype == np.float32 and not b.any()
    r = init.SimpleInitializer(0.1, rng=0, random_bias=True)
    r.W(10, 4000)
    assert r.B(4000).std() == pytest.approx(0.1, rel=0.05)
    x = init.XavierInitializer(rng=0, random_bias=True, dtype=np.float64)
    x.W(100, 4000)  # the seed: B drawn with the spread of the last W
    assert x.B(4000).std() == pytest.approx(0.1, rel=0.05)
    assert x.B(4000, n_in=4).std() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="n_in"):
        init.HeInitializer(random_bias=True).B(3)


def test_make_rng_is_the_one_rng_helper():
    from tinygrad_np import classifier, data
    gen = np.random.default_rng(1)
    assert init.make_rng(gen) is gen
    assert init.make_rng(7).random() == np.random.default_rng(7).random()
    assert isinstance(init.make_rng(None), np.random.Generator)
    for bad in ("seed", True, 1.5):
        with pytest.raises(TypeError, match="rng"):
            init.make_rng(bad)
    assert not hasattr(data, "as_generator") and not hasattr(classifier, "as_generator")


def test_bad_arguments():
    with pytest.raises(TypeError):
        init.XavierInitializer(rng="seed")
    with pytest.raises(TypeError):
        init.XavierInitializer(rng=True)
    for dt in (np.int32, np.float16, "complex128"):
        with pytest.raises(ValueError):
            init.HeInitializer(dtype=dt)
    for sigma in (-1.0, float("nan"), "0.1"):
        with pytest.raises(ValueError):
            init.SimpleInitializer(sigma)
    with pytest.raises(ValueError):
        init.XavierInitializer().W(0, 3)
    assert "sigma=0.5" in repr(init.SimpleInitializer(0.5))


def test_apply_reinitializes_every_fc_in_place():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.FC(300, 200), nn.ReLU(), nn.FC(200, 200))
            self.heads = [nn.FC(200, 10, bias=False)]

        def forward(self, x):
            return self.heads[0](self.body(x))

    net = Net().to(np.float64)
    params = list(net.parameters())
    net.body[0].B.data[...] = 5.0
    assert init.apply(net, init.HeInitializer(rng=0)) is net
    assert list(net.parameters()) == params  # same Parameter objects
    assert all(p.dtype == np.float64 for p in params)
    assert net.body[0].W.data.std() == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    assert not net.body[0].B.data.any()
    assert net.heads[0].W.data.std() == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    snapshot = net.state_dict()
    init.apply(net, init.HeInitializer(rng=0))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, snapshot[k])
    with pytest.raises(TypeError):
        init.apply([net], init.HeInitializer())
