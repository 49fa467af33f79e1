"""Issue 11, finding 8: the command line predicts and evaluates with a saved model, and has --version.
Every user error is one line on stderr and exit status 2."""
import gzip
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_np
from tinygrad_np import cli
from tinygrad_np.classifier import DeepNeuralNetworkClassifier
from tinygrad_np.datasets import mnist
from test_cli import load_mnist_once, run  # noqa: F401  (the fixture shares one decoded MNIST)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small classifier trained on 2000 MNIST images, saved; and 5 test images (uint8) with it."""
    (X, y), (Xt, yt) = mnist.load_data()
    clf = DeepNeuralNetworkClassifier(hidden_layer_sizes=(16,), epochs=2, random_state=0)
    clf.fit(X[:2000].reshape(2000, -1) / np.float32(255), y[:2000])
    path = tmp_path_factory.mktemp("model") / "m.npz"
    clf.save(path)
    return path, clf, Xt[:5], yt[:5]


def write_idx(path, images, compress=False):
    """An IDX3 file of uint8 images (N, H, W), written from the format's definition."""
    n, h, w = images.shape
    raw = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in (n, h, w)) + images.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def expected(clf, images):
    return clf.predict(images.reshape(len(images), -1) / 255)


@pytest.mark.parametrize("kind", ["idx", "idx.gz", "npy uint8", "npy float rows"])
def test_predict_prints_one_class_per_image(capsys, tmp_path, saved, kind):
    path, clf, images, _ = saved
    f = tmp_path / {"idx": "imgs-idx3-ubyte", "idx.gz": "imgs-idx3-ubyte.gz"}.get(kind, "imgs.npy")
    if kind.startswith("idx"):
        write_idx(f, images, compress=kind == "idx.gz")
    elif kind == "npy uint8":
        np.save(f, images)
    else:
        np.save(f, images.reshape(5, 784) / np.float32(255))
    code, out, err = run(capsys, "predict", "--load", str(path), str(f))
    assert code == 0, err
    assert out.split() == [str(v) for v in expected(clf, images)]


def test_predict_reads_a_28x28_grayscale_png_as_one_image(capsys, tmp_path, saved):
    pytest.importorskip("matplotlib")
    Image = pytest.importorskip("PIL.Image")
    path, clf, images, _ = saved
    files = []
    for i in range(3):
        files.append(tmp_path / f"digit{i}.png")
        Image.fromarray(images[i], mode="L").save(files[-1])
    code, out, err = run(capsys, "predict", "--load", str(path), *map(str, files), str(tmp_path / "digit0.png"))
    assert code == 0, err
    assert out.split() == [str(v) for v in expected(clf, images[[0, 1, 2, 0]])]


def test_predict_proba_prints_the_probabilities(capsys, tmp_path, saved):
    path, clf, images, _ = saved
    np.save(tmp_path / "x.npy", images)
    code, out, err = run(capsys, "predict", "--load", str(path), "--proba", str(tmp_path / "x.npy"))
    assert code == 0, err
    printed = np.array([[float(v) for v in line.split()] for line in out.strip().splitlines()])
    assert printed.shape == (5, 10)
    np.testing.assert_allclose(printed, clf.predict_proba(images.reshape(5, -1) / 255), atol=1e-6)


def _bad_inputs(tmp_path, saved):
    path = str(saved[0])
    (tmp_path / "notes.txt").write_text("not an image")
    np.save(tmp_path / "small.npy", np.zeros((3, 10, 10), dtype=np.uint8))
    np.save(tmp_path / "big.npy", np.full((28, 28), 300, dtype=np.int32))
    return {
        "missing model": (["predict", "--load", str(tmp_path / "nope.npz"), "x.npy"], "--load: .*no such file"),
        "not a model": (["predict", "--load", str(tmp_path / "notes.txt"), "x.npy"], "not a valid"),
        "missing image": (["predict", "--load", path, str(tmp_path / "nope.npy")], "nope.npy: cannot read"),
        "text file": (["predict", "--load", path, str(tmp_path / "notes.txt")], "not a PNG, .npy or IDX file"),
        "wrong size": (["predict", "--load", path, str(tmp_path / "small.npy")], r"shape \(3, 10, 10\) do not have"),
        "pixels over 255": (["predict", "--load", path, str(tmp_path / "big.npy")], r"must lie in \[0, 255\]"),
        "evaluate missing model": (["evaluate", "--load", str(tmp_path / "nope.npz")], "no such file"),
        "evaluate missing data": (["evaluate", "--load", path, "--data", str(tmp_path)], "lacks"),
    }


@pytest.mark.parametrize("case", ["missing model", "not a model", "missing image", "text file", "wrong size",
                                  "pixels over 255", "evaluate missing model", "evaluate missing data"])
def test_user_errors_are_one_line_and_status_2(capsys, tmp_path, saved, case):
    argv, message = _bad_inputs(tmp_path, saved)[case]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith(f"tinygrad-np {argv[0]}: error: ")
    assert __import__("re").search(message, line), line


def test_png_without_matplotlib_names_the_extra(capsys, monkeypatch, tmp_path, saved):
    (tmp_path / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(capsys, "predict", "--load", str(saved[0]), str(tmp_path / "d.png"))
    assert code == 2 and out == ""
    assert "matplotlib" in one_line(err) and "tinygrad_np[plot]" in err


def test_a_missing_load_flag_is_a_usage_error(capsys):
    for argv in (["predict", "x.png"], ["evaluate"], ["predict", "--load", "m.npz"]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
        one_line(capsys.readouterr().err)


def test_evaluate_prints_accuracy_and_loss_from_their_definitions(capsys, saved):
    path, clf, _, _ = saved
    code, out, err = run(capsys, "evaluate", "--load", str(path), "--limit", "500")
    assert code == 0, err
    _, (Xt, yt) = mnist.load_data(None, flatten=True, normalize=True, download=False)  # the cached copy
    p = clf.predict_proba(Xt[:500]).astype(np.float64)
    acc = np.mean([p[i].argmax() == yt[i] for i in range(500)])
    loss = np.mean([-np.log(p[i, yt[i]]) for i in range(500)])
    assert out.strip() == f"test accuracy {100 * acc:.2f}%  test loss {loss:.4f}  (500 examples)"


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"tinygrad-np {tinygrad_np.__version__}"
    r = subprocess.run([sys.executable, "-m", "tinygrad_np", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and tinygrad_np.__version__ in r.stdout
