"""DeepNeuralNetworkClassifier: API, parameters, bad input, persistence, and a fast real-MNIST fit."""
import functools
import os

import numpy as np
import pytest

from tinygrad_np import init, optim
from tinygrad_np.classifier import DeepNeuralNetworkClassifier, NotFittedError
from tinygrad_np.datasets import mnist


def blobs(n=120, d=5, k=3, seed=0):
    """k well separated Gaussian clusters in d dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (k, d))
    y = np.arange(n) % k
    X = (centers[y] + rng.normal(0, 0.5, (n, d))).astype(np.float32)
    return X, y


def small(**kw):
    args = dict(hidden_layer_sizes=(16,), epochs=15, batch_size=10, random_state=0)
    args.update(kw)
    return DeepNeuralNetworkClassifier(**args)


def fitted_state(clf):
    return {k: v.copy() for k, v in clf.model_.state_dict().items()}, clf.classes_.copy(), list(clf.loss_train_)


# ---- API ----------------------------------------------------------------------------------------
def test_defaults_match_the_issue():
    p = DeepNeuralNetworkClassifier().get_params()
    assert p["hidden_layer_sizes"] == (400, 200) and p["activation"] == "relu"
    assert p["initializer"] == "auto" and p["batch_size"] == "auto" and p["dtype"] is None  # as MLPClassifier
    assert p["random_state"] is None and p["verbose"] is False


def test_fit_predict_score_on_blobs():
    X, y = blobs()
    clf = small().fit(X, y)
    assert clf.score(X, y) == 1.0
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert len(clf.loss_train_) == len(clf.accuracy_train_) == len(clf.epoch_time_) == 15
    assert clf.loss_val_ == [] and clf.accuracy_val_ == []
    assert clf.loss_train_[-1] < clf.loss_train_[0]
    assert clf.n_features_in_ == 5 and clf.n_iter_ == 15


def test_arbitrary_labels_and_one_hot():
    X, y = blobs()
    names = np.array(["cat", "dog", "emu"])[y]
    clf = small().fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"} and clf.score(X, names) == 1.0
    shifted = small().fit(X, y * 10 + 7)
    assert shifted.classes_.tolist() == [7, 17, 27]
    one_hot = np.eye(3)[y]
    clf2 = small().fit(X, one_hot)
    assert clf2.classes_.tolist() == [0, 1, 2] and clf2.score(X, one_hot) == 1.0
    np.testing.assert_array_equal(clf2.predict(X), small().fit(X, y).predict(X))


def test_validation_curves():
    X, y = blobs()
    clf = small(epochs=4).fit(X[:90], y[:90], X[90:], y[90:])
    assert len(clf.loss_val_) == len(clf.accuracy_val_) == 4
    assert all(0 <= a <= 1 for a in clf.accuracy_val_) and all(v > 0 for v in clf.loss_val_)
    # the last entries are the whole-set values after the last epoch
    assert clf.accuracy_val_[-1] == pytest.approx(clf.score(X[90:], y[90:]))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adam", "rmsprop", "adamw"])
def test_every_activation_and_optimizer_learns(activation, optimizer):
    X, y = blobs()
    lr = 0.5 if optimizer == "sgd" and activation == "sigmoid" else None
    clf = small(activation=activation, optimizer=optimizer, lr=lr, epochs=20).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_layers_initializer_and_factories():
    X, y = blobs()
    clf = small(hidden_layer_sizes=(8, 7, 6), activation="tanh",
                initializer=init.SimpleInitializer(0.01, rng=0),
                optimizer=functools.partial(optim.SGD, momentum=0.5), lr=0.05).fit(X, y)
    shapes = [p.shape for p in clf.model_.parameters()]
    assert shapes == [(5, 8), (8,), (8, 7), (7,), (7, 6), (6,), (6, 3), (3,)]
    assert isinstance(clf.optimizer_, optim.SGD) and clf.optimizer_.param_groups[0]["momentum"] == 0.5
    assert clf.optimizer_.param_groups[0]["lr"] == 0.05
    assert small(optimizer=optim.Adam).fit(X, y).optimizer_.param_groups[0]["lr"] == 1e-3  # factory's default
    assert small(hidden_layer_sizes=()).fit(X, y).score(X, y) > 0.9  # softmax regression


def test_initializer_auto_picks_he_or_xavier():
    X, y = blobs(d=400)
    he = small(hidden_layer_sizes=(300,), epochs=1, lr=1e-9).fit(X, y)
    xavier = small(hidden_layer_sizes=(300,), epochs=1, lr=1e-9, activation="tanh").fit(X, y)
    # with a negligible lr the weights keep their initial spread
    assert he.model_[0].W.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert xavier.model_[0].W.data.std() == pytest.approx(np.sqrt(1 / 400), rel=0.05)


def test_dtype_float64_and_seeding():
    X, y = blobs()
    clf = small(dtype="float64").fit(X, y)
    assert all(p.dtype == np.float64 for p in clf.model_.parameters())
    assert clf.predict_proba(X).dtype == np.float64
    a, b = small().fit(X, y), small().fit(X, y)
    np.testing.assert_array_equal(a.model_[0].W.data, b.model_[0].W.data)
    assert a.loss_train_ == b.loss_train_
    c = small(random_state=1).fit(X, y)
    assert not np.array_equal(a.model_[0].W.data, c.model_[0].W.data)


def test_get_set_params_and_repr():
    clf = DeepNeuralNetworkClassifier()
    assert clf.set_params(lr=0.5, epochs=3) is clf
    assert clf.get_params()["lr"] == 0.5 and clf.epochs == 3
    assert "lr=0.5" in repr(clf) and "epochs=3" in repr(clf) and "batch_size" not in repr(clf)
    with pytest.raises(ValueError, match="unknown parameter.*learning_rate"):
        clf.set_params(learning_rate=1)


def test_verbose_prints_epoch_lines(capsys):
    X, y = blobs()
    small(epochs=2, verbose=True).fit(X[:90], y[:90], X[90:], y[90:])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("epoch 1/2")
    assert "train loss" in out[1] and "val loss" in out[1] and "val acc" in out[1] and " s" in out[1]


# ---- bad input: ValueError naming the problem, model unchanged ----------------------------------------
def _bad_cases():
    X, y = blobs()
    return {
        "wrong features": (lambda c: c.predict(X[:, :4]), "4 features"),
        "nan in X": (lambda c: c.fit(np.where(np.arange(5) == 2, np.nan, X), y), "NaN"),
        "inf in X": (lambda c: c.fit(X * np.float32(np.inf), y), "infinity"),
        "predict nan": (lambda c: c.predict(X * np.nan), "NaN"),
        "labels length": (lambda c: c.fit(X, y[:-1]), "119 labels but X has 120"),
        "single class": (lambda c: c.fit(X, np.zeros(120)), "only one class"),
        "empty X": (lambda c: c.fit(X[:0], y[:0]), "empty"),
        "3-D X": (lambda c: c.fit(X.reshape(120, 5, 1), y), "2-D"),
        "activation": (lambda c: c.set_params(activation="softplus").fit(X, y), "unknown activation 'softplus'"),
        "optimizer": (lambda c: c.set_params(optimizer="lbfgs").fit(X, y), "unknown optimizer 'lbfgs'"),
        "initializer": (lambda c: c.set_params(initializer="glorot").fit(X, y), "unknown initializer"),
        "hidden sizes": (lambda c: c.set_params(hidden_layer_sizes=(10, 0)).fit(X, y), "hidden_layer_sizes"),
        "lr": (lambda c: c.set_params(lr=-1).fit(X, y), "lr"),
        "epochs": (lambda c: c.set_params(epochs=0).fit(X, y), "epochs"),
        "batch size": (lambda c: c.set_params(batch_size=2.5).fit(X, y), "batch_size"),
        "dtype": (lambda c: c.set_params(dtype="int32").fit(X, y), "dtype"),
        "val labels unseen": (lambda c: c.fit(X, y, X, y + 5), "not seen"),
        "val missing y": (lambda c: c.fit(X, y, X), "both X_val and y_val"),
        "val features": (lambda c: c.fit(X, y, X[:, :3], y), "3 features"),
        "not one-hot": (lambda c: c.fit(X, np.full((120, 3), 0.5)), "not one-hot"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_input_raises_and_leaves_model_unchanged(case):
    X, y = blobs()
    clf = small(epochs=2).fit(X, y)
    before = fitted_state(clf)
    params = dict(clf.get_params())
    action, message = _bad_cases()[case]
    with pytest.raises(ValueError, match=message):
        action(clf)
    after = fitted_state(clf)
    for k in before[0]:
        np.testing.assert_array_equal(before[0][k], after[0][k])
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2] == after[2]
    assert clf.set_params(**params).score(X, y) == 1.0


def test_predict_before_fit():
    X, _ = blobs()
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(DeepNeuralNetworkClassifier(), method)(X)
    with pytest.raises(ValueError, match="not fitted"):
        DeepNeuralNetworkClassifier().score(X, np.zeros(len(X)))


# ---- persistence ----------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    X, y = blobs()
    names = np.array(["a", "b", "c"])[y]
    clf = small(epochs=3, hidden_layer_sizes=(9, 4), activation="sigmoid", optimizer="adam",
                dtype="float64").fit(X[:90], names[:90], X[90:], names[90:])
    clf.save(tmp_path / "m.npz")
    back = DeepNeuralNetworkClassifier.load(tmp_path / "m.npz")
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    for name in ("loss_train_", "accuracy_train_", "loss_val_", "accuracy_val_", "epoch_time_"):
        assert getattr(back, name) == getattr(clf, name)
    assert [p.dtype for p in back.model_.parameters()] == [np.float64] * 6


def test_save_object_hyperparameters_is_a_clear_error(tmp_path):
    """An initializer instance or an optimizer factory cannot be saved by name (issue 11, finding 7:
    a custom optimizer used to reload silently as "sgd"); nothing is written."""
    X, y = blobs()
    for clf in (small(epochs=1, initializer=init.SimpleInitializer(0.1, rng=0)).fit(X, y),
                small(epochs=1, optimizer=functools.partial(optim.SGD, momentum=0.5)).fit(X, y)):
        with pytest.raises(ValueError, match=r"save: (initializer|optimizer)=.* cannot be saved by name"):
            clf.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_save_is_atomic_with_normal_permissions(tmp_path, monkeypatch):
    X, y = blobs()
    clf = small(epochs=1).fit(X, y)
    path = tmp_path / "m.npz"
    old_mask = os.umask(0o022)
    try:
        clf.save(path)
    finally:
        os.umask(old_mask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    old = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        small(epochs=2).fit(X, y).save(path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m.npz"]


def test_load_corrupt_files(tmp_path):
    X, y = blobs()
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz.*not a valid"):
        DeepNeuralNetworkClassifier.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a valid"):
        DeepNeuralNetworkClassifier.load(tmp_path / "other.npz")
    clf = small(epochs=1).fit(X, y)
    clf.save(tmp_path / "m.npz")
    raw = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a valid"):
        DeepNeuralNetworkClassifier.load(tmp_path / "cut.npz")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param:0.W"] = arrays["param:0.W"][:, :3]
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match="shape"):
        DeepNeuralNetworkClassifier.load(tmp_path / "shape.npz")
    with pytest.raises(FileNotFoundError):
        DeepNeuralNetworkClassifier.load(tmp_path / "missing.npz")
    with pytest.raises(NotFittedError):
        DeepNeuralNetworkClassifier().save(tmp_path / "x.npz")


# ---- scikit-learn compatibility (when installed) --------------------------------------------------------
def test_sklearn_clone_cross_val_and_pipeline():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = blobs()
    clf = small(epochs=5)
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    scores = cross_val_score(small(epochs=5), X, y, cv=3)
    assert len(scores) == 3 and scores.min() > 0.9
    pipe = make_pipeline(StandardScaler(), small(epochs=5)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert sklearn.base.is_classifier(clf)


# ---- the real data ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_mnist_subset_above_90_percent():
    (X, y), (Xt, yt) = mnist.load_data(flatten=True, normalize=True)
    # the seed's and the CLI's batch of 20 (the default "auto" is 200: 25 steps an epoch here)
    clf = DeepNeuralNetworkClassifier(epochs=3, batch_size=20, random_state=0).fit(X[:5000], y[:5000])
    assert clf.score(Xt[:2000], yt[:2000]) > 0.90


# ---- model="cnn" ------------------------------------------------------------------------------------------
def images(n=90, side=8, seed=0):
    """Three classes of side x side one-channel images: a bright row near the top, middle or bottom."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.uniform(0, 0.3, (n, side, side)).astype(np.float32)
    X[np.arange(n), 1 + y * (side - 3) // 2] += 1.0
    return X.reshape(n, -1), y


def test_cnn_learns_saves_and_loads_with_batch_norm(tmp_path):
    X, y = images()
    clf = small(model="cnn", batch_norm=True, hidden_layer_sizes=(8,), epochs=8, optimizer="adam").fit(X, y)
    assert clf.score(X, y) > 0.9
    names = [type(m).__name__ for m in clf.model_]
    assert names[:5] == ["Unflatten", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] and "BatchNorm1d" in names
    clf.save(tmp_path / "c.npz")
    back = DeepNeuralNetworkClassifier.load(tmp_path / "c.npz")
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.model_[2].running_var.data, clf.model_[2].running_var.data)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_cnn_needs_square_images_and_known_model_names():
    X, y = blobs()
    with pytest.raises(ValueError, match="model='cnn' needs rows of square one-channel images"):
        small(model="cnn").fit(X, y)
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        small(model="rnn").fit(X, y)
    with pytest.raises(ValueError, match="batch_norm must be True or False"):
        small(batch_norm="yes").fit(X, y)


def test_lr_decay_multiplies_the_learning_rate_after_every_epoch():
    X, y = blobs()
    clf = small(lr=0.1, lr_decay=0.5, epochs=3).fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    with pytest.raises(ValueError, match="lr_decay must be a number in"):
        small(lr_decay=0).fit(X, y)


def test_cnn_with_batch_norm_trains_the_same_jitted_and_eager():
    X, y = images()
    runs = [small(model="cnn", batch_norm=True, hidden_layer_sizes=(8,), epochs=2, optimizer="adam", lr_decay=0.5,
                  jit=jit).fit(X, y) for jit in (True, False)]
    (a, b) = (clf.model_.state_dict() for clf in runs)
    assert "2.running_mean" in a
    for k in a:  # running statistics included: the replay updates the buffers in place
        np.testing.assert_array_equal(a[k], b[k])
