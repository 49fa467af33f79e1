"""`python -m tinygrad_np predict` and `evaluate`: the commands that use a model saved by `mnist --save`."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from tinygrad_np._cli_args import CliError, positive_int
from tinygrad_np._images import MissingExtraError, image_rows
from tinygrad_np.classifier import DeepNeuralNetworkClassifier
from tinygrad_np.datasets import mnist


def add_commands(sub: Any) -> None:
    p = sub.add_parser("predict", help="print the class of each image, one line each, with a saved model",
                       description="Classify images with a classifier saved by `mnist --save`: one line per image, "
                                   "in the order given.  IMAGES: IDX files (gzip or not, as MNIST ships), .npy "
                                   "arrays (one image, a stack (N, 28, 28) or rows (N, 784)), or PNG files (one "
                                   "image each; needs matplotlib, the 'plot' extra).  Integer pixels are scaled "
                                   "by 1/255, float pixels taken as they are; MNIST digits are white on black.")
    p.add_argument("--load", required=True, metavar="MODEL", help="the saved classifier (.npz)")
    p.add_argument("images", nargs="+", metavar="IMAGES", help="files of images to classify")
    p.add_argument("--proba", action="store_true",
                   help="print each image's class probabilities (columns in the order of the classes)")
    e = sub.add_parser("evaluate", help="print a saved model's accuracy and loss on the MNIST test set",
                       description="Load a classifier saved by `mnist --save` and print its accuracy and mean "
                                   "cross-entropy on the 10000 MNIST test images.")
    e.add_argument("--load", required=True, metavar="MODEL", help="the saved classifier (.npz)")
    e.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="evaluate on the first N test examples only")
    e.add_argument("--data", default=None, metavar="DIR", help="folder with the four MNIST IDX files")
    e.add_argument("--download", action="store_true", help="if MNIST is found nowhere, download it")


def _load_model(path: str) -> DeepNeuralNetworkClassifier:
    try:
        return DeepNeuralNetworkClassifier.load(path)
    except ValueError as e:  # MissingFileError included
        raise CliError(f"--load: {e}") from None


def cmd_predict(args: argparse.Namespace) -> int:
    """Print one prediction per image row (class probabilities with `--proba`) from a saved
    model; returns the exit status."""
    clf = _load_model(args.load)
    try:
        X = np.concatenate([image_rows(path, clf.n_features_in_) for path in args.images])
        out = clf.predict_proba(X) if args.proba else clf.predict(X)
    except (ValueError, MissingExtraError) as e:
        raise CliError(str(e)) from None
    lines = (" ".join(f"{p:.6f}" for p in row) for row in out) if args.proba else (str(v) for v in out)
    print("\n".join(lines), flush=True)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print a saved model's loss and accuracy on the MNIST test set; returns the exit status."""
    clf = _load_model(args.load)
    try:
        _, (X, y) = mnist.load_data(args.data, flatten=True, normalize=True, download=args.download)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise CliError(str(e)) from None
    if args.limit is not None:
        X, y = X[:args.limit], y[:args.limit]
    if clf.n_features_in_ != X.shape[1]:
        raise CliError(f"--load {args.load}: the model takes {clf.n_features_in_} features, MNIST images have "
                       f"{X.shape[1]}")
    unknown = np.setdiff1d(y, clf.classes_)
    if len(unknown):
        raise CliError(f"--load {args.load}: the model's classes {clf.classes_.tolist()} lack the MNIST labels "
                       f"{unknown.tolist()}")
    proba = clf.predict_proba(X).astype(np.float64)
    p_true = proba[np.arange(len(y)), np.searchsorted(clf.classes_, y)]
    loss = float(-np.log(np.maximum(p_true, np.finfo(np.float64).tiny)).mean())
    acc = float(np.mean(clf.classes_[proba.argmax(axis=1)] == y))
    print(f"test accuracy {100 * acc:.2f}%  test loss {loss:.4f}  ({len(y)} examples)", flush=True)
    return 0
