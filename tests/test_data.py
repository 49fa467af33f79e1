"""MiniBatches, one_hot and train_val_split."""
import numpy as np
import pytest

from tinygrad_np.data import MiniBatches, one_hot, train_val_split


def make(n=53, d=3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n)
    return X, y


def test_len_and_last_partial_batch():
    X, y = make(53)
    mb = MiniBatches(X, y, batch_size=20, rng=0)
    assert len(mb) == 3
    sizes = [len(Xb) for Xb, _ in mb]
    assert sizes == [20, 20, 13]
    assert len(MiniBatches(X[:40], y[:40], batch_size=20)) == 2
    assert len(MiniBatches(X[:0], y[:0])) == 0 and list(MiniBatches(X[:0], y[:0])) == []


def test_each_epoch_is_a_permutation_and_a_fresh_shuffle():
    X, y = make(53)
    mb = MiniBatches(X, y, batch_size=20, rng=1)
    epochs = []
    for _ in range(3):
        ys = np.concatenate([yb for _, yb in mb])
        assert sorted(ys.tolist()) == list(range(53))
        epochs.append(ys)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    for Xb, yb in mb:  # rows stay paired with their labels
        np.testing.assert_array_equal(Xb, X[yb])


def test_seeded_and_generator_reproducible():
    X, y = make(30)
    a = [yb.tolist() for _, yb in MiniBatches(X, y, 7, rng=5)]
    b = [yb.tolist() for _, yb in MiniBatches(X, y, 7, rng=np.random.default_rng(5))]
    assert a == b


def test_no_shuffle_keeps_order_and_indexing():
    X, y = make(25)
    mb = MiniBatches(X, y, batch_size=10, shuffle=False)
    np.testing.assert_array_equal(mb[0][1], np.arange(10))
    np.testing.assert_array_equal(mb[-1][1], np.arange(20, 25))
    np.testing.assert_array_equal(mb[2][0], X[20:])
    with pytest.raises(IndexError):
        mb[3]
    with pytest.raises(TypeError):
        mb[1.0]


def test_getitem_follows_current_order():
    X, y = make(25)
    mb = MiniBatches(X, y, batch_size=10, rng=3)
    it = iter(mb)
    first = next(it)
    np.testing.assert_array_equal(mb[0][1], first[1])


def test_x_only():
    X, _ = make(11)
    batches = list(MiniBatches(X, batch_size=4, shuffle=False))
    assert [b.shape for b in batches] == [(4, 3), (4, 3), (3, 3)]


def test_bad_arguments():
    X, y = make(10)
    for bs in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            MiniBatches(X, y, batch_size=bs)
    with pytest.raises(ValueError, match="10 rows but y has 9"):
        MiniBatches(X, y[:9])
    with pytest.raises(TypeError, match="rng"):
        MiniBatches(X, y, rng="seed")
    with pytest.raises(TypeError, match="rng"):
        train_val_split(X, y, random_state=0.5)


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0, 1]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    out = one_hot(np.array([1, 3], dtype=np.uint8), 5, dtype=np.float64)
    assert out.shape == (2, 5) and out.dtype == np.float64 and out.sum() == 2
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="shape"):
        one_hot([[0, 1]])
    with pytest.raises(ValueError, match="integers"):
        one_hot([0.5, 1.0])


def test_train_val_split():
    X, y = make(100)
    X_tr, X_val, y_tr, y_val = train_val_split(X, y, val_size=0.2, random_state=0)
    assert len(X_val) == 20 and len(X_tr) == 80
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == list(range(100))
    np.testing.assert_array_equal(X_tr, X[y_tr])
    again = train_val_split(X, y, val_size=0.2, random_state=0)
    np.testing.assert_array_equal(again[3], y_val)
    assert len(train_val_split(X, y, val_size=7)[1]) == 7
    for bad in (0.0, 1.0, 0, 100, "x"):
        with pytest.raises(ValueError, match="val_size"):
            train_val_split(X, y, val_size=bad)
    with pytest.raises(ValueError, match="100 rows but y has 3"):
        train_val_split(X, y[:3])
