"""The command line: help, a quick run on a subset, --save, --plot, compare, and one-line errors."""
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_np import cli
from tinygrad_np.classifier import DeepNeuralNetworkClassifier


_real_load = cli.mnist.load_data
_cache = {}


@pytest.fixture(autouse=True)
def load_mnist_once(monkeypatch):
    """Each CLI run would decode the 60000 images again: share one decoded copy (read-only)."""
    def cached(path=None, **kw):
        if path is not None:
            return _real_load(path, **kw)
        key = tuple(sorted(kw.items()))
        if key not in _cache:
            (X, y), (Xt, yt) = _real_load(**kw)
            for a in (X, y, Xt, yt):
                a.flags.writeable = False
            _cache[key] = (X, y), (Xt, yt)
        return _cache[key]
    monkeypatch.setattr(cli.mnist, "load_data", cached)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["mnist", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--hidden", "--activation", "--init", "--optimizer", "--lr", "--epochs", "--batch-size",
                 "--seed", "--dtype", "--limit", "--save", "--plot", "--val-fraction", "--data", "--download"):
        assert flag in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "compare" in capsys.readouterr().out


def test_python_dash_m_help():
    r = subprocess.run([sys.executable, "-m", "tinygrad_np", "compare", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--configs" in r.stdout


def test_one_epoch_on_a_subset_with_save(capsys, tmp_path):
    code, out, err = run(capsys, "mnist", "--limit", "1000", "--epochs", "1", "--hidden", "32",
                         "--save", str(tmp_path / "m.npz"))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("MNIST: 800 training, 200 validation, 10000 test examples")
    assert lines[1].startswith("epoch 1/1") and "val acc" in lines[1]
    assert lines[2].startswith("test accuracy")
    acc = float(lines[2].split()[2].rstrip("%"))
    clf = DeepNeuralNetworkClassifier.load(tmp_path / "m.npz")
    assert clf.hidden_layer_sizes == (32,) and len(clf.loss_train_) == 1
    assert 70 < acc <= 100


def test_quiet_and_no_validation(capsys):
    code, out, _ = run(capsys, "mnist", "--limit", "500", "--epochs", "1", "--hidden", "16", "--val-fraction", "0",
                       "--quiet", "--activation", "tanh", "--init", "simple", "--optimizer", "adagrad")
    assert code == 0 and out.startswith("test accuracy") and len(out.strip().splitlines()) == 1


def test_plot_writes_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    code, out, err = run(capsys, "mnist", "--limit", "500", "--epochs", "2", "--hidden", "16", "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "curves.png" in out


def test_plot_without_matplotlib_is_one_clear_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    code, out, err = run(capsys, "mnist", "--limit", "500", "--epochs", "1", "--plot", str(tmp_path / "c.png"))
    assert code == 2 and out == ""  # failed before training
    assert len(err.strip().splitlines()) == 1 and "matplotlib" in err and "pip install" in err
    assert not (tmp_path / "c.png").exists()


def test_missing_data_is_one_clear_line(capsys, tmp_path):
    code, out, err = run(capsys, "mnist", "--data", str(tmp_path), "--limit", "100")
    assert code == 2 and "lacks" in err and len(err.strip().splitlines()) == 1


def test_bad_flags_exit_with_usage(capsys):
    for argv in (["mnist", "--epochs", "0"], ["mnist", "--activation", "softplus"], ["mnist", "--val-fraction", "1"],
                 ["compare", "--configs", "nope"], []):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
    capsys.readouterr()


def test_compare_prints_a_markdown_table(capsys):
    code, out, err = run(capsys, "compare", "--limit", "600", "--epochs", "1", "--configs", "seed", "relu-400-sgd")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("| config | network |") and "test acc" in lines[0] and "s/epoch" in lines[0]
    assert set(lines[1]) <= set("|-:")
    assert lines[2].startswith("| seed | 784-400-200-10 | tanh | simple 0.01 | adagrad 0.01 |")
    assert lines[3].startswith("| relu-400-sgd | 784-400-10 | relu | he | sgd 0.1 |")
    assert all(line.count("|") == 10 for line in lines)
    cells = lines[2].split("|")
    assert cells[6].strip().endswith("%") and np.isfinite(float(cells[7]))


def test_cnn_on_a_subset(capsys, tmp_path):
    code, out, err = run(capsys, "mnist", "--model", "cnn", "--limit", "1500", "--epochs", "1", "--hidden", "16",
                         "--batch-size", "16", "--save", str(tmp_path / "c.npz"))
    assert code == 0, err
    lines = out.strip().splitlines()
    # the CNN's defaults: 10% held out for validation, batch norm, Adam, the learning rate halved after every epoch
    assert lines[0].startswith("MNIST: 1350 training, 150 validation, 10000 test examples")
    assert "784-conv3x3(16)-pool2-conv3x3(32)-pool2-16-10 relu + batch norm, init auto, adam lr 0.001 x 0.5/epoch" \
        in lines[0]
    assert lines[1].startswith("epoch 1/1") and lines[2].startswith("test accuracy")
    assert 50 < float(lines[2].split()[2].rstrip("%")) <= 100  # 1350 images, one epoch: far above chance
    clf = DeepNeuralNetworkClassifier.load(tmp_path / "c.npz")
    assert clf.model == "cnn" and clf.batch_norm and "2.running_mean" in clf.model_.state_dict()
