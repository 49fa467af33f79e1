"""DeepNeuralNetworkClassifier keeps its promises (issue 10): divergence is an error with a remedy
(finding 6), crafted files are ValueErrors naming the path (finding 9), and scikit-learn's
contract holds: check_estimator, its error wording, sample_weight, RandomState (finding 10)."""
import json
import sys
import warnings

import numpy as np
import pytest

from tinygrad_np import optim
from tinygrad_np._validation import DataConversionWarning
from tinygrad_np.classifier import DeepNeuralNetworkClassifier, NotFittedError, TrainingDivergedError


def blobs(n=120, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 0.5, (n, d))).astype(np.float32), y


def small(**kw):
    args = dict(hidden_layer_sizes=(16,), epochs=5, batch_size=10, random_state=0)
    args.update(kw)
    return DeepNeuralNetworkClassifier(**args)


def weights_of(clf):
    return {k: v.copy() for k, v in clf.model_.state_dict().items()}


def assert_unchanged(clf, weights, X, proba):
    for k, v in clf.model_.state_dict().items():
        np.testing.assert_array_equal(v, weights[k])
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


# ---- finding 6: divergence ----------------------------------------------------------------------------
def test_divergence_raises_naming_epoch_and_step_and_keeps_the_fitted_state():
    X, y = blobs()
    clf = small().fit(X, y)
    weights, proba, curve = weights_of(clf), clf.predict_proba(X), list(clf.loss_train_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings do not leak out either
        with pytest.raises(TrainingDivergedError) as e:
            clf.set_params(lr=1e10).fit(X * 1000, y)
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and "\n" not in msg
    assert "diverged" in msg and "non-finite" in msg
    step = int(msg.split("step ")[1].split("/")[0])
    assert "epoch 1/5, step " in msg and f"step {step}/12" in msg and 1 <= step <= 12
    assert "smaller learning rate than lr=1e+10" in msg and "scale the inputs" in msg
    assert_unchanged(clf, weights, X, proba)
    assert clf.loss_train_ == curve and clf.get_params()["lr"] == 1e10


def test_weights_that_become_infinite_at_an_epochs_last_step_are_caught():
    """The batch losses all stay finite, the last update writes inf: the epoch-end check finds it."""
    X, y = blobs()

    class Poisoned(optim.SGD):
        steps = 0

        def step(self):
            super().step()
            Poisoned.steps += 1
            if Poisoned.steps == 12:  # the 12th and last step of epoch 1
                self.param_groups[0]["params"][2].data[0, 0] = np.inf

    with pytest.raises(TrainingDivergedError, match=r"weight 2\.W became NaN or infinite during epoch 1/5 "
                                                    r"\(found after its last step, 12\)"):
        small(optimizer=Poisoned, lr=0.1).fit(X, y)


def test_a_fresh_classifier_stays_unfitted_after_divergence():
    X, y = blobs()
    clf = small(lr=1e10)
    with pytest.raises(TrainingDivergedError):
        clf.fit(X * 1000, y)
    assert not hasattr(clf, "model_") and not hasattr(clf, "loss_train_")


# ---- finding 9: crafted classifier files -----------------------------------------------------------
def _save(tmp_path):
    X, y = blobs()
    small(epochs=1).fit(X, y).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        return {k: z[k] for k in z.files}


def _with_meta(arrays, **changes):
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    return {**arrays, "meta": np.array(json.dumps(meta))}


CRAFTED = {
    "meta is a list": lambda a: {**a, "meta": np.array(json.dumps([1, 2]))},
    "meta not a string": lambda a: {**a, "meta": np.zeros(3)},
    "meta not JSON": lambda a: {**a, "meta": np.array("{oops")},
    "no meta": lambda a: {k: v for k, v in a.items() if k != "meta"},
    "no classes": lambda a: {k: v for k, v in a.items() if k != "classes"},
    "no curve": lambda a: _with_meta(a, loss_train=None),
    "curve of strings": lambda a: _with_meta(a, accuracy_val=["x"]),
    "n_features_in a string": lambda a: _with_meta(a, n_features_in="5"),
    "n_iter negative": lambda a: _with_meta(a, n_iter=-1),
    "params a list": lambda a: _with_meta(a, params=[1]),
    "unknown param": lambda a: _with_meta(a, params={**json.loads(str(a["meta"]))["params"], "colour": "red"}),
    "bad param value": lambda a: _with_meta(a, params={**json.loads(str(a["meta"]))["params"], "activation": 3}),
    "2-D classes": lambda a: {**a, "classes": np.zeros((3, 1))},
    "repeated classes": lambda a: {**a, "classes": np.array([0, 0, 1])},
    "too few classes": lambda a: {**a, "classes": np.array([0, 1])},
    "nan weights": lambda a: {**a, "param:0.W": np.full_like(a["param:0.W"], np.nan)},
    "missing weight": lambda a: {k: v for k, v in a.items() if k != "param:0.B"},
    "weights of two dtypes (dtype=None)": lambda a: {**a, "param:0.B": a["param:0.B"].astype(np.float64)},
    "integer weights (dtype=None)": lambda a: {**a, **{k: v.astype(np.int64) for k, v in a.items()
                                                       if k.startswith("param:")}},
    "huge layer sizes": lambda a: _with_meta(a, params={**json.loads(str(a["meta"]))["params"],
                                                        "hidden_layer_sizes": [10**6, 10**6]}),
    "huge n_features_in": lambda a: _with_meta(a, n_features_in=10**9),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_load_of_a_crafted_file_is_a_value_error_naming_the_path(tmp_path, case):
    arrays = CRAFTED[case](_save(tmp_path))
    path = tmp_path / "crafted.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as e:
        DeepNeuralNetworkClassifier.load(path)
    assert str(e.value).startswith(f"{path}: not a valid DeepNeuralNetworkClassifier file")


@pytest.mark.parametrize("make", [lambda p: p.write_bytes(b""), lambda p: p.mkdir(),
                                  lambda p: np.save(open(p, "wb"), np.zeros(2))], ids=["empty", "directory", "npy"])
def test_load_of_a_non_npz_names_the_path(tmp_path, make):
    path = tmp_path / "m.npz"
    make(path)
    with pytest.raises(ValueError, match="m.npz: not a valid DeepNeuralNetworkClassifier file"):
        DeepNeuralNetworkClassifier.load(path)


def test_load_of_a_missing_file_is_both_value_and_file_not_found_error(tmp_path):
    with pytest.raises(ValueError, match="nope.npz: no such file") as e:
        DeepNeuralNetworkClassifier.load(tmp_path / "nope.npz")
    assert isinstance(e.value, FileNotFoundError)


# ---- finding 10: scikit-learn's contract, checked without scikit-learn ------------------------------
def test_not_fitted_error_has_sklearns_contract_without_sklearn(monkeypatch):
    X, _ = blobs()
    monkeypatch.delitem(sys.modules, "sklearn.exceptions", raising=False)
    with pytest.raises(NotFittedError) as e:
        DeepNeuralNetworkClassifier().predict(X)
    assert isinstance(e.value, ValueError) and isinstance(e.value, AttributeError)
    assert type(e.value) is NotFittedError


WORDING = {  # sklearn's check_estimator looks for these phrases
    "1-D X": (lambda c, X, y: c.fit(X[:, 0], y), ValueError, "Reshape your data"),
    "scalar X": (lambda c, X, y: c.predict(X[0, 0]), ValueError, "Reshape your data"),
    "complex X": (lambda c, X, y: c.fit(X + 1j, y), ValueError, "Complex data not supported"),
    "object X of dicts": (lambda c, X, y: c.fit(np.array([[{}] * 5] * 120, dtype=object), y), TypeError,
                          "argument must be a string or a real number"),
    "0 samples": (lambda c, X, y: c.fit(X[:0], y[:0]), ValueError, r"0 sample\(s\) \(shape=\(0, 5\)\)"),
    "0 features": (lambda c, X, y: c.fit(X[:, :0], y), ValueError,
                   r"0 feature\(s\) \(shape=\(120, 0\)\) while a minimum of 1 is required"),
    "one sample": (lambda c, X, y: c.fit(X[:1], y[:1]), ValueError, "one class"),
    "continuous y": (lambda c, X, y: c.fit(X, X[:, 0]), ValueError, "Unknown label type: continuous"),
    "object y": (lambda c, X, y: c.fit(X, y.astype(object)), ValueError, "Unknown label type"),
    "y None": (lambda c, X, y: c.fit(X, None), ValueError, "requires y to be passed, but the target y is None"),
    "features": (lambda c, X, y: c.predict(X[:, :2]), ValueError,
                 "X has 2 features, but DeepNeuralNetworkClassifier is expecting 5 features as input"),
    "too large for float32": (lambda c, X, y: c.predict(X.astype(np.float64) * 1e300), ValueError,
                              "infinity or a value too large for float32"),
}


@pytest.mark.parametrize("case", list(WORDING))
def test_errors_use_sklearns_wording_and_change_nothing(case):
    X, y = blobs()
    clf = small(epochs=1).fit(X, y)
    weights, proba = weights_of(clf), clf.predict_proba(X)
    action, kind, message = WORDING[case]
    with pytest.raises(kind, match=message):
        action(clf, X, y)
    assert_unchanged(clf, weights, X, proba)


def test_sparse_input_is_refused_naming_sparse():
    sparse = pytest.importorskip("scipy.sparse")
    X, y = blobs()
    with pytest.raises(TypeError, match="sparse"):
        small().fit(sparse.csr_matrix(X), y)


def test_numbers_stored_as_objects_are_numbers():
    """As in scikit-learn, an object array becomes float64 (dtype=None computes in it)."""
    X, y = blobs()
    a = small(epochs=2).fit(X.astype(object), y)
    assert a.model_[0].W.dtype == np.float64
    np.testing.assert_array_equal(a.predict_proba(X), small(epochs=2).fit(X.astype(np.float64), y).predict_proba(X))


def test_column_vector_y_warns_and_fits_as_1d():
    X, y = blobs()
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        a = small(epochs=2).fit(X, y[:, None])
    np.testing.assert_array_equal(a.predict_proba(X), small(epochs=2).fit(X, y).predict_proba(X))


def test_legacy_random_state_is_drawn_from():
    X, y = blobs()
    a = small(random_state=np.random.RandomState(3)).fit(X, y)
    b = small(random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    rs = np.random.RandomState(3)
    c, d = small(random_state=rs).fit(X, y), small(random_state=rs).fit(X, y)  # the state advances
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))
    assert not np.array_equal(d.model_[0].W.data, c.model_[0].W.data)
    with pytest.raises(ValueError, match="random_state"):
        small(random_state="seed").fit(X, y)


# ---- sample_weight ------------------------------------------------------------------------------------
def test_unit_weights_are_no_weights_and_zero_weights_are_removal():
    X, y = blobs()
    plain = small().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(small().fit(X, y, sample_weight=np.ones(120)).predict_proba(X), plain)
    np.testing.assert_array_equal(small().fit(X, y, sample_weight=2.5).predict_proba(X), plain)
    keep = np.arange(120) % 4 != 0
    removed = small().fit(X[keep], y[keep]).predict_proba(X)
    np.testing.assert_array_equal(small().fit(X, y, sample_weight=keep.astype(float)).predict_proba(X), removed)


def test_integer_weights_are_repetitions_for_full_batch_descent():
    """One batch per epoch (batch_size >= N), float64: weighted == repeated rows up to summation order."""
    X, y = blobs(n=30)
    w = np.random.default_rng(1).integers(1, 4, size=30)
    kw = dict(batch_size=1000, dtype="float64", epochs=8)
    repeated = small(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    weighted = small(**kw).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-10, atol=1e-13)


def test_weighted_curves_and_score_follow_the_definition():
    X, y = blobs()
    w = np.random.default_rng(2).uniform(0.1, 3, size=120)
    clf = small(epochs=2, lr=0.01).fit(X, y, sample_weight=w)
    p = clf.predict_proba(X).astype(np.float64)
    expected_loss = sum(-w[i] * np.log(p[i, y[i]]) for i in range(120)) / w.sum()
    assert clf.loss_train_[-1] == pytest.approx(expected_loss, rel=1e-5)
    pred = p.argmax(axis=1)
    expected_acc = sum(w[i] for i in range(120) if pred[i] == y[i]) / w.sum()
    assert clf.accuracy_train_[-1] == pytest.approx(expected_acc, rel=1e-9)
    assert clf.score(X, y, sample_weight=w) == pytest.approx(expected_acc, rel=1e-9)
    half = np.r_[np.ones(60), np.zeros(60)]
    assert clf.score(X, y, sample_weight=half) == pytest.approx(np.mean(pred[:60] == y[:60]))


@pytest.mark.parametrize("weight, message", [
    (np.ones(119), r"shape \(119,\), expected \(120,\)"), (np.ones((120, 2)), "shape"),
    (-np.ones(120), "non-negative"), (np.zeros(120), "all zero"), (np.full(120, np.nan), "NaN"),
    (np.array(["a"] * 120), "numeric"), (np.arange(120) % 3 == 0, "only one class"),
])
def test_bad_sample_weight_raises_and_changes_nothing(weight, message):
    X, y = blobs()
    clf = small(epochs=1).fit(X, y)
    weights, proba = weights_of(clf), clf.predict_proba(X)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, sample_weight=weight)
    assert_unchanged(clf, weights, X, proba)


# ---- scikit-learn's check_estimator ----------------------------------------------------------------------
def test_check_estimator():
    """Every check passes, none expected to fail.  Two of them hold because the defaults are
    MLPClassifier's: dtype=None computes the checks' float64 data in float64 (so a row's results
    do not depend on its position in a float32 BLAS block, check_methods_sample_order_invariance),
    and batch_size="auto" is one batch for their few rows (so weighting a row is repeating it,
    check_sample_weight_equivalence_on_dense_data)."""
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():  # scikit-learn's notes: not a BaseEstimator subclass (by design), skips
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base.BaseEstimator`")
        warnings.filterwarnings("ignore", message="Skipping check")
        results = check_estimator(DeepNeuralNetworkClassifier(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert not [r["check_name"] for r in results if r["status"] == "xfail"]
    skipped = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "skipped"}
    # only optional dependencies of the checks themselves may be missing
    assert all(("pandas" in why or "SCIPY_ARRAY_API" in why) for why in skipped.values()), skipped
    passed = [r["check_name"] for r in results if r["status"] == "passed"]
    assert {"check_methods_sample_order_invariance", "check_sample_weight_equivalence_on_dense_data"} <= set(passed)
    assert len(passed) >= 57  # 59 of the 62 checks of scikit-learn 1.9.1 (the other 3: the skips above)


def test_sample_weight_equivalence_holds_for_other_optimizers_and_explicit_full_batches():
    """Full-batch descent (the check's 15 rows in one "auto" batch, or an explicit batch_size >= N):
    integer weights are repetitions for the stateful optimizers too."""
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    for clf in (DeepNeuralNetworkClassifier(optimizer="momentum"), DeepNeuralNetworkClassifier(optimizer="adam"),
                DeepNeuralNetworkClassifier(dtype="float64", batch_size=1000, optimizer="sgd")):
        check_sample_weight_equivalence_on_dense_data("DeepNeuralNetworkClassifier", clf)


def test_not_fitted_error_is_sklearns_when_sklearn_is_loaded():
    exceptions = pytest.importorskip("sklearn.exceptions")
    X, y = blobs()
    with pytest.raises(exceptions.NotFittedError) as e:
        DeepNeuralNetworkClassifier().predict_proba(X)
    assert isinstance(e.value, NotFittedError)
    with pytest.warns(exceptions.DataConversionWarning):
        small(epochs=1).fit(X, y[:, None])
