"""Issue 11, finding 7: DeepNeuralNetworkClassifier speaks scikit-learn's MLPClassifier: max_iter (alias of
epochs), alpha, tol / n_iter_no_change, early_stopping / validation_fraction, warm_start, partial_fit,
loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_; a saved classifier
resumes training bit for bit (optimizer and shuffling state saved); the progress bar shows the running loss.
Issue 10: MLPClassifier's defaults dtype=None (compute in X's float dtype) and batch_size="auto"."""
import io
import json
import sys
import warnings

import numpy as np
import pytest

from tinygrad_np import _progress
from tinygrad_np.classifier import DeepNeuralNetworkClassifier, TrainingDivergedError


def blobs(n=120, d=5, k=3, seed=0, spread=0.5):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, spread, (n, d))).astype(np.float32), y


def small(**kw):
    args = dict(hidden_layer_sizes=(8,), batch_size=10, random_state=0)
    args.update(kw)
    return DeepNeuralNetworkClassifier(**args)


def weights(clf):
    return clf.model_.state_dict()


def assert_same_model(a, b):
    wa, wb = weights(a), weights(b)
    assert list(wa) == list(wb)
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


# ---- max_iter: scikit-learn's name for epochs ------------------------------------------------------------
def test_max_iter_is_an_alias_of_epochs():
    X, y = blobs()
    a, b = small(max_iter=3).fit(X, y), small(epochs=3).fit(X, y)
    assert a.n_iter_ == 3 and len(a.loss_curve_) == len(a.loss_train_) == 3
    assert_same_model(a, b)
    assert_same_model(small(epochs=3, max_iter=3).fit(X, y), b)
    assert small().fit(X, y).n_iter_ == 10  # neither given: the seed's 10
    p = small(max_iter=3).get_params()
    assert p["max_iter"] == 3 and p["epochs"] is None


def test_epochs_and_max_iter_that_differ_are_a_clear_error():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"epochs=2 and max_iter=5 differ: max_iter is scikit-learn's name"):
        small(epochs=2, max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        small(max_iter=0).fit(X, y)


def test_clone_and_grid_search_over_max_iter_and_alpha():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    clf = small(max_iter=2, alpha=0.01, early_stopping=True, warm_start=True, tol=1e-3)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    X, y = blobs()
    search = GridSearchCV(small(), {"max_iter": [1, 3], "alpha": [0.0, 1e-3]}, cv=2).fit(X, y)
    assert search.best_estimator_.n_iter_ == search.best_params_["max_iter"]


# ---- loss_curve_ and alpha, from their definitions ----------------------------------------------------
def test_loss_curve_is_the_mean_batch_loss_with_the_l2_penalty():
    """One batch per epoch: epoch k's batch loss is taken at the weights after epoch k - 1, so it is
    the whole-set loss of a (k-1)-epoch fit plus alpha / (2 N) * sum ||W||^2 over the weight matrices."""
    X, y = blobs()
    n, alpha = len(X), 0.3
    kw = dict(batch_size=1000, dtype="float64", hidden_layer_sizes=(6, 4), alpha=alpha, lr=0.05)
    two = small(max_iter=2, **kw).fit(X, y)
    one = small(max_iter=1, **kw).fit(X, y)
    squares = sum(float((w.astype(np.float64) ** 2).sum()) for name, w in weights(one).items() if name.endswith("W"))
    assert two.loss_curve_[1] == pytest.approx(one.loss_train_[0] + alpha / (2 * n) * squares, rel=1e-12)
    plain_two = small(max_iter=2, **{**kw, "alpha": 0.0}).fit(X, y)
    plain_one = small(max_iter=1, **{**kw, "alpha": 0.0}).fit(X, y)
    assert plain_two.loss_curve_[1] == pytest.approx(plain_one.loss_train_[0], rel=1e-12)


def test_alpha_decays_the_weights_and_not_the_biases():
    """One plain SGD step on the full batch: W_alpha - W_0 = -lr * alpha / N * W_init, biases equal."""
    X, y = blobs()
    n, lr, alpha = len(X), 0.1, 2.0
    kw = dict(batch_size=1000, dtype="float64", max_iter=1, lr=lr)
    initial = weights(small(**{**kw, "lr": 1e-300}).fit(X, y))  # a step too small to change a float64
    decayed, plain = weights(small(alpha=alpha, **kw).fit(X, y)), weights(small(**kw).fit(X, y))
    for name in initial:
        if name.endswith("W"):
            np.testing.assert_allclose(decayed[name] - plain[name], -lr * alpha / n * initial[name], rtol=1e-9,
                                       atol=1e-15)
        else:
            np.testing.assert_array_equal(decayed[name], plain[name])


# ---- tol / n_iter_no_change, as scikit-learn -------------------------------------------------------------
def test_training_stops_when_the_loss_stops_improving_as_sklearn_does():
    X, y = blobs()
    kw = dict(max_iter=10, n_iter_no_change=2, batch_size=1000)
    clf = small(lr=1e-300, dtype="float64", **kw).fit(X, y)  # the loss cannot move
    # epoch 1 sets best_loss_; epochs 2, 3, 4 do not improve; 3 > n_iter_no_change stops
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4 and clf.t_ == 4 * len(X)
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    sklearn = pytest.importorskip("sklearn.neural_network")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sklearn.MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-300, momentum=0,
                                    random_state=0, **kw).fit(X, y)
    assert ref.n_iter_ == clf.n_iter_
    assert small(**{**kw, "max_iter": 6, "n_iter_no_change": 5}).fit(X, y).n_iter_ == 6


# ---- early stopping ------------------------------------------------------------------------------------
def _noisy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] + rng.normal(scale=1.0, size=200) > 0).astype(int)
    return X, y


def test_early_stopping_restores_the_weights_of_the_best_validation_accuracy():
    X, y = _noisy()
    clf = small(hidden_layer_sizes=(32,), lr=0.5, max_iter=15, early_stopping=True, n_iter_no_change=20)
    clf.fit(X[:150], y[:150], X[150:], y[150:])
    scores = clf.validation_scores_
    assert len(scores) == 15 and scores == clf.accuracy_val_
    assert int(np.argmax(scores)) != len(scores) - 1  # the last epoch is not the best: restoring matters
    assert clf.best_validation_score_ == max(scores)
    assert clf.score(X[150:], y[150:]) == clf.best_validation_score_
    assert clf.best_loss_ is None


def test_early_stopping_holds_out_validation_fraction_per_class_and_stops():
    X, y = blobs()
    clf = small(max_iter=50, early_stopping=True, validation_fraction=0.1, n_iter_no_change=3).fit(X, y)
    # 40 rows per class, 4 of each held out: 108 training rows per epoch
    assert clf.t_ == 108 * clf.n_iter_ and len(clf.validation_scores_) == clf.n_iter_
    assert clf.n_iter_ < 50  # blobs reach accuracy 1 at once: no improvement after, stopped
    with pytest.raises(ValueError, match="leaves no validation samples"):
        small(early_stopping=True, validation_fraction=0.001).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction must be a number in"):
        small(early_stopping=True, validation_fraction=1.0).fit(X, y)


# ---- warm_start and resuming from a file --------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_two_epochs_save_load_two_more_is_four_epochs_bit_for_bit(tmp_path, optimizer):
    X, y = blobs()
    straight = small(max_iter=4, optimizer=optimizer).fit(X, y)
    small(max_iter=2, optimizer=optimizer).fit(X, y).save(tmp_path / "m.npz")
    resumed = DeepNeuralNetworkClassifier.load(tmp_path / "m.npz").set_params(warm_start=True).fit(X, y)
    assert_same_model(resumed, straight)
    assert resumed.loss_train_ == straight.loss_train_ and resumed.loss_curve_ == straight.loss_curve_
    assert resumed.n_iter_ == straight.n_iter_ == 4 and resumed.t_ == straight.t_ == 4 * len(X)
    assert resumed.best_loss_ == straight.best_loss_
    in_memory = small(max_iter=2, optimizer=optimizer).fit(X, y).set_params(warm_start=True).fit(X, y)
    assert_same_model(in_memory, straight)


def test_warm_start_checks_classes_and_architecture_and_keeps_state_on_failure():
    X, y = blobs()
    clf = small(max_iter=2, warm_start=True).fit(X, y)
    before = {k: v.copy() for k, v in weights(clf).items()}
    with pytest.raises(ValueError, match="same classes as in the previous call to fit"):
        clf.fit(X, y + 1)
    with pytest.raises(ValueError, match="hidden_layer_sizes, activation or dtype changed"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TrainingDivergedError):
            clf.set_params(hidden_layer_sizes=(8,), lr=1e10).fit(X * 1e6, (y + 1) % 3)
    for k, v in weights(clf).items():
        np.testing.assert_array_equal(v, before[k])
    assert clf.n_iter_ == 2


def test_partial_fit_k_times_is_a_fit_of_k_epochs():
    X, y = blobs()
    clf = small(optimizer="adam")
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_model(clf, small(optimizer="adam", max_iter=3).fit(X, y))
    assert clf.n_iter_ == 3 and clf.t_ == 360 and len(clf.loss_curve_) == 3
    clf.partial_fit(X[y == 1], y[y == 1])  # one class of three is fine once the classes are known
    assert clf.n_iter_ == 4


def test_partial_fit_errors():
    X, y = blobs()
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        small().partial_fit(X, y)
    clf = small().partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not the same as on the last call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="has classes not in `self.classes_`"):
        clf.partial_fit(X, y + 4)
    with pytest.raises(ValueError, match="X has 4 features, but DeepNeuralNetworkClassifier is expecting 5"):
        clf.partial_fit(X[:, :4], y)
    with pytest.raises(ValueError, match=r"y has 3 one-hot columns, classes has 4"):
        clf.partial_fit(X, np.eye(3, dtype=int)[y % 3])
    before = [p.data.copy() for p in clf.model_.parameters()]
    with pytest.raises(ValueError, match=r"has classes not in `self.classes_`: \[4, 5, 6\]; `self.classes_` has "
                                         r"\[0, 1, 2, 3\]"):
        clf.partial_fit(X, y + 4)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, clf.model_.parameters()))


def test_validation_labels_must_match_the_training_classes():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"y_val has labels not seen in y: \[7\]"):
        small().fit(X, y, X_val=X[:10], y_val=np.full(10, 7))
    with pytest.raises(ValueError, match="y_val has 2 one-hot columns, y has 3"):
        small().fit(X, y, X_val=X[:10], y_val=np.eye(2, dtype=int)[y[:10] % 2])


def test_a_format_1_file_still_loads_and_resumes(tmp_path):
    X, y = blobs()
    clf = small(max_iter=2).fit(X, y)
    clf.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("opt:")}
    meta = json.loads(str(arrays["meta"]))
    meta = {k: meta[k] for k in ("params", "n_features_in", "loss_train", "accuracy_train", "loss_val",
                                 "accuracy_val", "epoch_time", "n_iter")}
    meta["params"] = {k: v for k, v in meta["params"].items() if k in (
        "hidden_layer_sizes", "activation", "initializer", "optimizer", "lr", "epochs", "batch_size", "dtype",
        "random_state", "verbose", "blas_threads")}
    meta["params"]["epochs"] = 2  # format 1 knew no max_iter
    meta["format"] = "tinygrad_np.DeepNeuralNetworkClassifier/1"
    np.savez(tmp_path / "old.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    old = DeepNeuralNetworkClassifier.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    assert old.set_params(warm_start=True).fit(X, y).n_iter_ == 4


@pytest.mark.parametrize("change", ["optimizer state shape", "unknown optimizer entry", "bad generator"])
def test_crafted_resume_state_is_a_value_error(tmp_path, change):
    X, y = blobs()
    small(max_iter=1, optimizer="adam").fit(X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    if change == "optimizer state shape":
        arrays["opt:0:exp_avg"] = arrays["opt:0:exp_avg"][:2]
    elif change == "unknown optimizer entry":
        arrays["opt:0:velocity"] = arrays["opt:0:exp_avg"]
    else:
        meta["shuffle_rng"] = {"bit_generator": "os.system"}
    np.savez(tmp_path / "bad.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="bad.npz: not a valid DeepNeuralNetworkClassifier file"):
        DeepNeuralNetworkClassifier.load(tmp_path / "bad.npz")


# ---- dtype=None and batch_size="auto" (issue 10) --------------------------------------------------------
def optimizer_state_dtypes(clf):
    return {v.dtype for st in clf.optimizer_.state_dict()["state"].values() for k, v in st.items() if k != "step"}


def test_dtype_none_computes_in_the_float_dtype_of_X_and_other_input_in_float64():
    X, y = blobs()
    ints = np.rint(X * 10).astype(np.int64)
    for given, computed in ((X, np.float32), (X.astype(np.float64), np.float64), (ints, np.float64),
                            (X.tolist(), np.float64)):
        clf = small(max_iter=2, optimizer="adam").fit(given, y)
        assert {p.dtype for p in clf.model_.parameters()} == {np.dtype(computed)}
        assert optimizer_state_dtypes(clf) == {np.dtype(computed)}
        assert clf.predict_proba(given).dtype == computed
    for X_, name in ((X, "float32"), (X.astype(np.float64), "float64")):  # None is the float dtype of X, named
        assert_same_model(small(max_iter=2).fit(X_, y), small(max_iter=2, dtype=name).fit(X_, y))


def test_an_explicit_dtype_still_forces_it():
    X, y = blobs()
    down = small(max_iter=1, dtype="float32").fit(X.astype(np.float64), y)
    assert down.model_[0].W.dtype == np.float32 and down.predict_proba(X.astype(np.float64)).dtype == np.float32
    up = small(max_iter=1, dtype=np.float64).fit(X, y)
    assert up.model_[0].W.dtype == np.float64 and up.predict_proba(X).dtype == np.float64


def test_the_fitted_dtype_is_kept_by_predict_warm_start_and_partial_fit():
    X, y = blobs()
    X64 = X.astype(np.float64)  # the same values as X
    clf = small(max_iter=1, warm_start=True).fit(X, y)
    assert clf.predict_proba(X64).dtype == np.float32
    clf.fit(X64, y)  # dtype=None continues the float32 network, X converted to it
    assert clf.n_iter_ == 2 and clf.model_[0].W.dtype == np.float32
    assert_same_model(clf, small(max_iter=2).fit(X, y))
    with pytest.raises(ValueError, match="dtype changed since the network was fitted"):
        clf.set_params(dtype="float64").fit(X, y)
    assert clf.set_params(dtype="float32").fit(X64, y).n_iter_ == 3  # the network's own dtype, named
    partial = small(optimizer="adam").partial_fit(X64, y, classes=[0, 1, 2])
    partial.partial_fit(X, y)
    assert partial.model_[0].W.dtype == np.float64 and optimizer_state_dtypes(partial) == {np.dtype(np.float64)}
    with pytest.raises(ValueError, match="dtype changed"):
        partial.set_params(dtype="float32").partial_fit(X, y)
    assert partial.n_iter_ == 2


@pytest.mark.parametrize("n", [120, 450])
def test_batch_size_auto_is_min_200_n_samples(n):
    X, y = blobs(n=n)
    rows = min(200, n)
    auto = small(batch_size="auto", max_iter=2, optimizer="adam").fit(X, y)
    assert auto.optimizer_.state_dict()["state"][0]["step"] == 2 * -(-n // rows)  # steps: epochs x batches
    assert_same_model(auto, small(batch_size=rows, max_iter=2, optimizer="adam").fit(X, y))
    partial = small(batch_size="auto", optimizer="adam").partial_fit(X, y, classes=[0, 1, 2])
    partial.partial_fit(X[:50], y[:50])  # min(200, n_samples) of each call's rows: one batch of 50
    assert partial.optimizer_.state_dict()["state"][0]["step"] == -(-n // rows) + 1


def test_batch_size_auto_that_does_not_divide_by_the_processes_is_a_clear_error(monkeypatch):
    """Data-parallel, the global batch must divide by the number of processes; "auto" names what it became."""
    from tinygrad_np import distributed
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    X, y = blobs(n=151)
    clf = small(batch_size="auto")
    with pytest.raises(ValueError, match=r"batch_size='auto' is min\(200, n_samples\) = 151 here, which does not "
                                         r"divide by the 2 processes"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


@pytest.mark.parametrize("params, message", [
    (dict(batch_size="big"), "batch_size must be a positive integer or 'auto', got 'big'"),
    (dict(batch_size=0), "batch_size must be a positive integer or 'auto', got 0"),
    (dict(dtype="float16"), "dtype must be None, 'float32' or 'float64', got 'float16'"),
])
def test_bad_batch_size_or_dtype_is_a_value_error_naming_it(params, message):
    X, y = blobs()
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X, y)


def test_dtype_none_and_batch_size_auto_round_trip_through_a_file(tmp_path):
    X, y = blobs()
    X64 = X.astype(np.float64)
    clf = small(max_iter=1, batch_size="auto", optimizer="momentum").fit(X64, y)
    clf.save(tmp_path / "m.npz")
    back = DeepNeuralNetworkClassifier.load(tmp_path / "m.npz")
    assert back.get_params() == clf.get_params() and back.dtype is None and back.batch_size == "auto"
    assert back.model_[0].W.dtype == np.float64  # the network's own dtype, from its weights
    back.set_params(warm_start=True).fit(X64, y)
    assert_same_model(back, clf.set_params(warm_start=True).fit(X64, y))


def test_a_file_with_the_former_defaults_float32_and_batch_20_loads_with_them(tmp_path):
    """Files written before issue 10 hold the former defaults as values: dtype "float32", batch_size 20."""
    X, y = blobs(n=450)
    X64 = X.astype(np.float64)
    small(max_iter=1, optimizer="adam").fit(X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["params"].update(dtype="float32", batch_size=20)
    np.savez(tmp_path / "old.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    old = DeepNeuralNetworkClassifier.load(tmp_path / "old.npz")
    assert old.dtype == "float32" and old.batch_size == 20
    assert old.predict_proba(X64).dtype == np.float32
    old.set_params(warm_start=True).fit(X64, y)  # float64 X, trained on in float32 in batches of 20
    assert old.model_[0].W.dtype == np.float32 and old.optimizer_.state_dict()["state"][0]["step"] == 45 + 23


# ---- the progress bar -----------------------------------------------------------------------------------
def test_progress_bar_is_tqdm_when_installed_else_the_built_in_one(monkeypatch):
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = _progress.progress_bar(10, "epoch 1/1", enabled=True, stream=out, min_interval=0)
    assert type(bar).__name__ == "_Tqdm"
    bar.set_postfix_str("loss 0.1234")
    bar.update(10)
    bar.close()
    assert "loss 0.1234" in out.getvalue()
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    out = io.StringIO()
    bar = _progress.progress_bar(10, "epoch 1/1", enabled=True, stream=out)
    assert isinstance(bar, _progress.ProgressBar)
    bar.set_postfix_str("loss 0.1234")
    bar.update(10)
    assert "loss 0.1234" in out.getvalue() and "10/10" in out.getvalue()
    assert isinstance(_progress.progress_bar(10, enabled=False), _progress.ProgressBar)


def test_verbose_fit_on_a_terminal_shows_the_running_loss(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the built-in bar, redrawn at every update
    monkeypatch.setattr(_progress, "_is_terminal", lambda stream: True)
    X, y = blobs(n=600)
    small(max_iter=1, verbose=True).fit(X, y)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss " in err
