"""Images to classify, from files: IDX (gzip or raw, as MNIST ships), NumPy .npy, or PNG.

    rows = image_rows("digits.npy", n_features=784)      # (N, 784) float32 in [0, 1]

The kind is told by the content, not the name.  Integer pixels (IDX, uint8 .npy) are scaled
by 1/255, as `mnist.load_data(normalize=True)`; float pixels are taken as they are (PNG
pixels are floats in [0, 1]).  PNG needs matplotlib (the `plot` extra); an RGB(A) PNG is
made gray by averaging R, G and B.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from tinygrad_np.datasets import mnist

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"


class MissingExtraError(ImportError):
    """Reading a file needs an optional dependency that is not installed; the message says what to install."""


def read_images(path: str | os.PathLike) -> np.ndarray:
    """The pixels of the file at `path` as float32: (H, W) for one image, (N, H, W) for a stack,
    or whatever 2-D shape a .npy holds.  ValueError naming the path if it is not an image file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    if head.startswith(_PNG_MAGIC):
        return _read_png(path)
    if head.startswith(_NPY_MAGIC):
        try:
            data = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise ValueError(f"{path}: not a numeric .npy array ({e})") from None
    else:
        try:
            data = mnist.read_idx(path)
        except ValueError as e:
            raise ValueError(f"{path}: not a PNG, .npy or IDX file ({e})") from None
    return _scaled(data, path)


def _scaled(data: np.ndarray, path: str) -> np.ndarray:
    if data.dtype.kind in "iu":
        if data.size and (data.min() < 0 or data.max() > 255):
            raise ValueError(f"{path}: integer pixels must lie in [0, 255], got [{data.min()}, {data.max()}]")
        return (data / 255).astype(np.float32)
    if data.dtype.kind != "f":
        raise ValueError(f"{path}: pixels must be numbers, got dtype {data.dtype}")
    return data.astype(np.float32)


def _read_png(path: str) -> np.ndarray:
    try:
        from matplotlib import image
    except ImportError:
        raise MissingExtraError(f"{path}: reading PNG needs matplotlib, which is not installed: "
                                "pip install 'tinygrad_np[plot]'") from None
    try:
        pixels: Any = image.imread(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{path}: not a readable PNG ({e})") from None
    if pixels.ndim == 3:  # (H, W, C): LA, RGB or RGBA
        pixels = pixels[..., 0] if pixels.shape[2] <= 2 else pixels[..., :3].mean(axis=2)
    return _scaled(np.asarray(pixels), path)


def image_rows(path: str | os.PathLike, n_features: int) -> np.ndarray:
    """The images of the file at `path` as rows (N, n_features) for a classifier: one image of
    n_features pixels, a stack (N, H, W) with H * W == n_features, or rows (N, n_features)."""
    images = read_images(path)
    if images.ndim >= 2 and int(np.prod(images.shape[1:])) == n_features and \
            not (images.ndim == 2 and images.size == n_features and images.shape[1] != n_features):
        return images.reshape(len(images), n_features)
    if images.size == n_features:
        return images.reshape(1, n_features)
    raise ValueError(f"{os.fspath(path)}: images of shape {images.shape} do not have the {n_features} pixels "
                     f"the model takes (e.g. one 28x28 image, a stack (N, 28, 28) or rows (N, 784) for MNIST)")
