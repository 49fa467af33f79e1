"""The MNIST loader: small IDX files written here, and the real files checked against their README."""
import gzip
import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_np.datasets import mnist

# From ../shared/datasets/mnist/README.md (independent of the loader's own table).
README_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file built by hand with struct, independently of the parser."""
    header = struct.pack(">HBB", 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_set(folder: Path, n_train=12, n_test=5, gz=True, rows=28, cols=28, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        raw = idx_bytes(a)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYGRAD_NP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def no_network(*a, **k):
        raise AssertionError("the tests must not touch the network")
    monkeypatch.setattr(mnist, "_urlopen", no_network)


# ---- small files written here -------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_small_set_round_trips(tmp_path, gz):
    arrays = write_set(tmp_path, gz=gz)
    (X, y), (Xt, yt) = mnist.load_data(path=tmp_path, verify=False)
    np.testing.assert_array_equal(X, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(Xt, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte"])
    assert X.dtype == y.dtype == np.uint8 and X.flags.writeable


def test_flatten_and_normalize(tmp_path):
    arrays = write_set(tmp_path)
    (X, y), (Xt, _) = mnist.load_data(path=tmp_path, verify=False, flatten=True, normalize=True)
    assert X.shape == (12, 784) and Xt.shape == (5, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, arrays["train-images-idx3-ubyte"].reshape(12, 784) / 255.0, rtol=1e-6)
    assert 0.0 <= X.min() and X.max() <= 1.0


@pytest.mark.parametrize("code,dtype", [(0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_other_types(tmp_path, code, dtype):
    a = np.arange(24, dtype=dtype).reshape(2, 3, 4) - 5
    f = tmp_path / "x.idx"
    f.write_bytes(idx_bytes(a, code))
    out = mnist.read_idx(f)
    np.testing.assert_array_equal(out, a)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")


def _corrupt(tmp_path, name, data: bytes):
    write_set(tmp_path)
    (tmp_path / (name + ".gz")).write_bytes(data)


@pytest.mark.parametrize("case,data,message", [
    ("wrong magic", struct.pack(">HBB", 0x0801, 8, 1) + struct.pack(">I", 12) + bytes(12), "bad magic"),
    ("bad type", struct.pack(">HBB", 0, 0x07, 1) + struct.pack(">I", 12) + bytes(12), "bad magic"),
    ("truncated data", idx_bytes(np.zeros(12, np.uint8))[:-3], "truncated"),
    ("truncated header", struct.pack(">HBB", 0, 8, 3) + b"\0\0\0", "truncated header"),
    ("tiny", b"\0\0", "not an IDX"),
    ("trailing bytes", idx_bytes(np.zeros(12, np.uint8)) + b"xx", "trailing"),
])
def test_bad_files_name_file_and_problem(tmp_path, case, data, message):
    name = "train-labels-idx1-ubyte"
    _corrupt(tmp_path, name, gzip.compress(data))
    with pytest.raises(ValueError, match=message) as e:
        mnist.load_data(path=tmp_path, verify=False)
    assert name in str(e.value)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros(12, np.uint8)))
    _corrupt(tmp_path, "train-labels-idx1-ubyte", good[:len(good) // 2])
    with pytest.raises(ValueError, match="corrupt gzip") as e:
        mnist.load_data(path=tmp_path, verify=False)
    assert "train-labels-idx1-ubyte" in str(e.value)


def test_checksum_mismatch_on_known_name(tmp_path):
    write_set(tmp_path)
    with pytest.raises(ValueError, match="sha256") as e:
        mnist.load_data(path=tmp_path)
    assert "verify=False" in str(e.value)


def test_inconsistent_sets(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        mnist.load_data(path=tmp_path, verify=False)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(5, 12, np.uint8))))
    with pytest.raises(ValueError, match="label 12 is not a digit"):
        mnist.load_data(path=tmp_path, verify=False)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((5, 784), np.uint8))))
    with pytest.raises(ValueError, match="images of shape"):
        mnist.load_data(path=tmp_path, verify=False)


# ---- where it looks ---------------------------------------------------------------------------
def test_missing_file_in_explicit_path(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        mnist.load_data(path=tmp_path)


def test_env_var_is_used(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "env", n_train=3)
    monkeypatch.setenv("TINYGRAD_NP_DATA", str(tmp_path / "env"))
    (X, y), _ = mnist.load_data(verify=False)
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    # an explicit path wins over the environment
    write_set(tmp_path / "explicit", n_train=4)
    (X, _), _ = mnist.load_data(path=tmp_path / "explicit", verify=False)
    assert len(X) == 4


def test_user_cache_then_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "SHIPPED_DIR", tmp_path / "nowhere")
    cache = tmp_path / "xdg-cache" / "tinygrad_np" / "mnist"
    assert mnist.cache_dir() == cache
    with pytest.raises(FileNotFoundError, match="download=True"):
        mnist.load_data()
    write_set(cache, n_train=7)
    (X, _), _ = mnist.load_data(verify=False)
    assert len(X) == 7


def test_download_with_fake_opener(tmp_path, monkeypatch):
    """The download path end to end, the network replaced by in-memory responses."""
    monkeypatch.setattr(mnist, "SHIPPED_DIR", tmp_path / "nowhere")
    src = tmp_path / "src"
    arrays = write_set(src)
    payload = {n: (src / (n + ".gz")).read_bytes() for n in arrays}
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(idx_bytes(a)).hexdigest() for n, a in arrays.items()})
    calls = []

    class Response(io.BytesIO):
        headers = {}

    def fake_open(url, timeout=None):
        calls.append(url)
        if url.startswith("https://bad/"):
            raise OSError("mirror down")
        name = url.rsplit("/", 1)[1][:-3]
        data = payload[name]
        return Response(data[:-5] if url.startswith("https://corrupt/") else data)

    monkeypatch.setattr(mnist, "_urlopen", fake_open)
    monkeypatch.setattr(mnist, "MIRRORS", ("https://bad/", "https://corrupt/", "https://good/"))
    with pytest.raises(FileNotFoundError):
        mnist.load_data()  # never without download=True
    assert calls == []
    (X, y), (Xt, yt) = mnist.load_data(download=True, verify=True)
    np.testing.assert_array_equal(X, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte"])
    assert len(calls) == 12  # each file: bad mirror, corrupt mirror, good mirror
    cache = mnist.cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in arrays)  # no partial files
    # a second call reads the cache
    calls.clear()
    mnist.load_data(download=True)
    assert calls == []


def test_download_all_mirrors_fail(tmp_path, monkeypatch):
    def fake_open(url, timeout=None):
        raise OSError("offline")
    monkeypatch.setattr(mnist, "_urlopen", fake_open)
    with pytest.raises(OSError, match="could not download"):
        mnist.download_files(tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


# ---- the real, shipped files ------------------------------------------------------------------
def test_shipped_files_match_readme_checksums():
    for name, digest in README_SHA256.items():
        raw = gzip.decompress((mnist.SHIPPED_DIR / (name + ".gz")).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest


def test_real_mnist_label_counts():
    assert mnist.locate() == mnist.SHIPPED_DIR
    (X, y), (Xt, yt) = mnist.load_data()
    assert X.shape == (60000, 28, 28) and Xt.shape == (10000, 28, 28)
    assert X.dtype == y.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(yt, minlength=10).tolist() == TEST_COUNTS
    assert y[:10].tolist() == FIRST_TRAIN_LABELS
