"""MNIST from its four IDX files, offline first.

    from tinygrad_np.datasets import mnist
    (X_train, y_train), (X_test, y_test) = mnist.load_data()          # uint8 (N, 28, 28), (N,)
    (X_train, y_train), (X_test, y_test) = mnist.load_data(flatten=True, normalize=True)
                                                                       # float32 (N, 784) in [0, 1]

Where the files are looked for, in order (the first folder holding all four wins):

1. `path=` (a folder; an error if the files are not there),
2. the folder named by the `TINYGRAD_NP_DATA` environment variable (same),
3. the copy shipped inside the package (`tinygrad_np/datasets/mnist_files`),
4. the user cache, `$XDG_CACHE_HOME/tinygrad_np/mnist` (default `~/.cache/tinygrad_np/mnist`),
5. only with `download=True`: the public MNIST mirrors, into the user cache.

Each file may be gzip-compressed (`name.gz`) or raw (`name`); gzip is recognised by
its content, not its name.  Every file is checked: magic number, dimensions, size, and
the sha256 of its uncompressed bytes against the canonical MNIST ones (`verify=False`
skips only the checksum, e.g. for Fashion-MNIST, which uses the same file names).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinygrad_np._progress import ProgressBar

ENV_VAR = "TINYGRAD_NP_DATA"
SHIPPED_DIR = Path(__file__).resolve().parent / "mnist_files"

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# sha256 of the *uncompressed* canonical files: mirrors recompress, the contents agree.
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# IDX type codes (third magic byte) -> big-endian dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# Replaceable in tests: the network is reached only through this callable.
_urlopen: Callable[..., Any] = urllib.request.urlopen


def cache_dir() -> Path:
    """The user cache folder for MNIST: `$XDG_CACHE_HOME/tinygrad_np/mnist` or `~/.cache/...`."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "tinygrad_np" / "mnist"


# ---- IDX parsing ----------------------------------------------------------------------------
def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode one uncompressed IDX file; ValueError naming `name` and the problem if invalid."""
    if len(raw) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(raw)} bytes, need at least a 4-byte magic number")
    zero, code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{name}: bad magic number 0x{raw[:4].hex()} (an IDX file starts with "
                         f"0x0000, a type code in {sorted(hex(c) for c in _IDX_DTYPES)} and ndim >= 1)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated header: {len(raw)} bytes, need {header} for {ndim} dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected:
        raise ValueError(f"{name}: truncated: the header declares shape {shape} ({expected} bytes), "
                         f"the file has {len(raw)} bytes")
    if len(raw) > expected:
        raise ValueError(f"{name}: {len(raw) - expected} unexpected trailing bytes after the data of "
                         f"shape {shape}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable, native-order copy


def _read_bytes(file: Path) -> bytes:
    """The uncompressed content of `file`, gzip recognised by its first two bytes."""
    raw = file.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{file}: corrupt gzip data ({e})") from None


def read_idx(file: str | os.PathLike, verify: bool | str = False) -> np.ndarray:
    """Read one IDX file (gzip or raw) into an array of its declared shape and dtype.

    `verify`: a sha256 hex digest the uncompressed bytes must match, True to look it up
    by the file's MNIST name (no check if the name is unknown), or False.
    """
    file = Path(file)
    raw = _read_bytes(file)
    data = parse_idx(raw, str(file))
    stem = file.name[:-3] if file.name.endswith(".gz") else file.name
    expected = SHA256.get(stem) if verify is True else (verify or None)
    if expected:
        got = hashlib.sha256(raw).hexdigest()
        if got != expected:
            raise ValueError(f"{file}: sha256 of the uncompressed data is {got}, expected {expected} "
                             "(a damaged or different file; pass verify=False to load another dataset "
                             "stored under the MNIST names)")
    return data


# ---- finding the files ----------------------------------------------------------------------
def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _files_in(folder: Path) -> dict[str, Path | None]:
    return {name: _find(folder, name) for name in FILES}


def locate(path: str | os.PathLike | None = None) -> Path | None:
    """The folder `load_data` would read, without downloading; None if MNIST is nowhere.

    FileNotFoundError if `path` or `$TINYGRAD_NP_DATA` is given but lacks a file.
    """
    explicit = [(Path(path), "path=")] if path is not None else []
    if os.environ.get(ENV_VAR):
        explicit.append((Path(os.environ[ENV_VAR]), f"${ENV_VAR}"))
    if explicit:
        folder, origin = explicit[0]
        found = _files_in(folder)
        missing = [n for n, f in found.items() if f is None]
        if missing:
            raise FileNotFoundError(f"MNIST: {origin} {str(folder)!r} lacks {', '.join(missing)} "
                                    "(as .gz or raw)")
        return folder
    for folder in (SHIPPED_DIR, cache_dir()):
        if all(_files_in(folder).values()):
            return folder
    return None


# ---- download (opt-in) ----------------------------------------------------------------------
def download_files(folder: str | os.PathLike | None = None, mirrors: tuple[str, ...] | None = None,
             progress: bool = True) -> Path:
    """Fetch the four .gz files into `folder` (default: the user cache) and return it.

    Each file is streamed to a temporary file beside its target, checked against the
    canonical sha256 of its uncompressed bytes, then renamed into place, so an
    interrupted download never leaves a partial file under the real name.  Files already
    present and valid are kept.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = folder / (name + ".gz")
        if target.is_file():
            try:
                read_idx(target, verify=True)
                continue
            except ValueError:
                pass  # damaged: fetch again
        errors = []
        for mirror in mirrors or MIRRORS:
            url = mirror + name + ".gz"
            print(f"Downloading {url} -> {target}", file=sys.stderr)
            try:
                _fetch(url, target, progress)
                break
            except (OSError, ValueError) as e:
                errors.append(f"{url}: {e}")
        else:
            raise OSError(f"MNIST: could not download {name}.gz:\n  " + "\n  ".join(errors))
    return folder


def _fetch(url: str, target: Path, progress: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) if hasattr(response, "headers") else 0
            bar = ProgressBar(total // 1024 or 1, target.name, unit="KiB", enabled=None if progress else False)
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk) // 1024)
            bar.close()
        read_idx(tmp, verify=SHA256[target.name[:-3]])
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---- the public entry point -----------------------------------------------------------------
def load_data(path: str | os.PathLike | None = None, *, flatten: bool = False, normalize: bool = False,
              download: bool = False, verify: bool = True,
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`(X_train, y_train), (X_test, y_test)`, as `keras.datasets.mnist.load_data()` returns them.

    X: uint8 (N, 28, 28) -- (N, 784) with `flatten=True`; float32 in [0, 1] with
    `normalize=True`.  y: uint8 (N,) digits 0-9.  N is 60000 / 10000.

    `path`: a folder holding the four IDX files (see the module docstring for the search
    order).  `download=True` allows fetching them into the user cache when they are found
    nowhere; it is never done otherwise.  `verify=False` skips the sha256 check (the
    structure is always checked).  Raises ValueError for a corrupt file, naming it.
    """
    folder = locate(path)
    if folder is None:
        if not download:
            raise FileNotFoundError(
                f"MNIST not found: no path= given, ${ENV_VAR} unset, no copy in {SHIPPED_DIR} or {cache_dir()}. "
                "Pass path= (a folder with the four IDX files), set $TINYGRAD_NP_DATA, or call "
                "load_data(download=True) to fetch them (about 11 MB) into the user cache.")
        folder = download_files()
    found = _files_in(folder)
    arrays = {name: read_idx(file, verify=verify) for name, file in found.items()}  # type: ignore[arg-type]
    out = []
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        X, y = arrays[images], arrays[labels]
        if X.ndim != 3 or X.dtype != np.uint8:
            raise ValueError(f"{found[images]}: expected uint8 images of shape (N, rows, cols), "
                             f"got {X.dtype} {X.shape}")
        if y.ndim != 1 or y.dtype != np.uint8:
            raise ValueError(f"{found[labels]}: expected uint8 labels of shape (N,), got {y.dtype} {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"{found[images]} holds {len(X)} images but {found[labels]} {len(y)} labels")
        if len(y) and y.max() > 9:
            raise ValueError(f"{found[labels]}: label {int(y.max())} is not a digit 0-9")
        if flatten:
            X = X.reshape(len(X), -1)
        if normalize:
            X = X.astype(np.float32)
            X /= 255
        out.append((X, y))
    return out[0], out[1]
