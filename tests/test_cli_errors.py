"""The command line's user errors (issue 10, findings 6, 8 and 11): each is one line on stderr and
exit status 2 (usage) or 1 (runtime), never a traceback; output paths are checked before training."""
import os
import re
import sys

import pytest

from tinygrad_np import cli
from tinygrad_np.classifier import DeepNeuralNetworkClassifier
from test_cli import load_mnist_once, run  # noqa: F401  (the fixture shares one decoded MNIST)


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("argv", [
    ["mnist", "--seed", "-1"], ["mnist", "--seed", "x"], ["compare", "--seed", "-3"],
    ["mnist", "--lr", "nan"], ["mnist", "--lr", "0"], ["mnist", "--lr", "-1"], ["mnist", "--lr", "inf"],
    ["mnist", "--epochs", "0"], ["mnist", "--batch-size", "2.5"], ["mnist", "--val-fraction", "1"],
    ["mnist", "--activation", "softplus"], ["mnist", "--no-such-flag"], ["compare", "--configs", "nope"], [],
])
def test_a_bad_flag_is_one_line_and_status_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    line = one_line(err)
    assert out == "" and line.startswith("tinygrad-np") and "error:" in line and "--help" in line


def _never_load(monkeypatch):
    def fail(*a, **kw):
        raise AssertionError("the data was loaded before the output paths were checked")
    monkeypatch.setattr(cli.mnist, "load_data", fail)


BAD_OUTPUTS = {
    "save: missing folder": (lambda d: ["--save", str(d / "no" / "m.npz")], "does not exist"),
    "save: a file as folder": (lambda d: ["--save", str(d / "f" / "m.npz")], "does not exist"),
    "save: extension": (lambda d: ["--save", str(d / "m.pt")], "unsupported extension .pt; use one of .npz"),
    "save: no extension": (lambda d: ["--save", str(d / "model")], "no file extension"),
    "save: a directory": (lambda d: ["--save", str(d / "dir.npz")], "is a directory"),
    "save: symlink to a directory": (lambda d: ["--save", str(d / "link.npz")], "is a directory"),
    "save: empty": (lambda d: ["--save", ""], "the path is empty"),
    "plot: empty": (lambda d: ["--plot", ""], "the path is empty"),
    "plot: extension": (lambda d: ["--plot", str(d / "c.xyz")], "unsupported extension .xyz"),
    "plot: missing folder": (lambda d: ["--plot", str(d / "no" / "c.png")], "does not exist"),
    "plot: a directory": (lambda d: ["--plot", str(d / "dir.npz")], "is a directory"),
}


@pytest.mark.parametrize("case", list(BAD_OUTPUTS))
def test_output_paths_are_checked_before_anything_runs(capsys, monkeypatch, tmp_path, case):
    if case.startswith("plot"):
        pytest.importorskip("matplotlib")
    (tmp_path / "f").write_text("a file")
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "link.npz").symlink_to(tmp_path / "dir.npz")
    _never_load(monkeypatch)
    flags, message = BAD_OUTPUTS[case]
    code, out, err = run(capsys, "mnist", *flags(tmp_path))
    assert code == 2 and out == ""
    line = one_line(err)
    assert message in line and line.startswith(f"tinygrad-np mnist: error: {flags(tmp_path)[0]}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc takes no new files, even from root")
def test_an_unwritable_folder_is_refused_before_training(capsys, monkeypatch):
    _never_load(monkeypatch)
    code, out, err = run(capsys, "mnist", "--save", "/proc/model.npz")
    assert code == 2 and out == "" and "cannot create a file in the folder /proc" in one_line(err)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permission bits do not stop root")
def test_read_only_folder_and_file_are_refused(capsys, monkeypatch, tmp_path):
    _never_load(monkeypatch)
    ro = tmp_path / "ro"
    ro.mkdir()
    (tmp_path / "old.npz").write_bytes(b"")
    os.chmod(tmp_path / "old.npz", 0o444)
    os.chmod(ro, 0o555)
    try:
        code, _, err = run(capsys, "mnist", "--save", str(ro / "m.npz"))
        assert code == 2 and "cannot create a file" in one_line(err)
        code, _, err = run(capsys, "mnist", "--save", str(tmp_path / "old.npz"))
        assert code == 2 and "not writable" in one_line(err)
    finally:
        os.chmod(ro, 0o755)


def test_diverged_training_is_one_line_and_status_1(capsys):
    code, out, err = run(capsys, "mnist", "--limit", "400", "--epochs", "1", "--lr", "1e10", "--quiet")
    assert code == 1 and "test accuracy" not in out
    line = one_line(err)
    assert line.startswith("tinygrad-np mnist: error: training diverged") and "epoch 1/1, step " in line
    assert "smaller learning rate" in line and "scale the inputs" in line


@pytest.mark.parametrize("command", ["mnist", "compare"])
def test_an_impossible_split_is_one_line_and_status_2(capsys, command):
    extra = ["--configs", "seed"] if command == "compare" else []
    code, out, err = run(capsys, command, "--limit", "100", "--val-fraction", "0.99", "--epochs", "1", *extra)
    assert code == 2 and out == ""
    assert "single class" in one_line(err) and "--val-fraction" in err


def test_a_failed_write_after_training_is_one_line_and_status_1(capsys, monkeypatch, tmp_path):
    def disk_full(self, path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(DeepNeuralNetworkClassifier, "save", disk_full)
    code, out, err = run(capsys, "mnist", "--limit", "200", "--epochs", "1", "--hidden", "8", "--quiet",
                         "--save", str(tmp_path / "m.npz"))
    assert code == 1 and out.startswith("test accuracy")
    assert "writing the classifier to" in one_line(err) and "No space left on device" in err


def test_save_through_a_symlink_writes_its_target(capsys, tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to(target)
    code, _, err = run(capsys, "mnist", "--limit", "200", "--epochs", "1", "--hidden", "8", "--quiet",
                       "--save", str(tmp_path / "link.npz"))
    assert code == 0, err
    assert (tmp_path / "link.npz").is_symlink()
    assert DeepNeuralNetworkClassifier.load(target).hidden_layer_sizes == (8,)


@pytest.mark.parametrize("parse, good, bad, expected", [
    ("nonnegative_int", [("0", 0), ("7", 7)], ["-1", "1.5", "x"], "an integer >= 0"),
    ("positive_int", [("1", 1), ("20", 20)], ["0", "-3", "2.0", ""], "a positive integer"),
    ("positive_float", [("0.1", 0.1), ("3", 3.0)], ["0", "-1", "nan", "inf", "x"], "a positive finite number"),
    ("fraction", [("0", 0.0), ("0.2", 0.2)], ["1", "-0.1", "nan", "x"], "a number in [0, 1)"),
])
def test_argument_types_accept_their_range_and_name_it_otherwise(parse, good, bad, expected) -> None:
    import argparse

    from tinygrad_np import _cli_args
    fn = getattr(_cli_args, parse)
    for text, value in good:
        assert fn(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(f"expected {expected}, got {text!r}")):
            fn(text)
