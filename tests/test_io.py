"""Checkpoint files: every load error is a ValueError naming the path; the atomic save keeps
symlinks and permissions and leaves no temporary file behind (issue 10, findings 9 and 11)."""
import io
import os
import socket
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tinygrad_np import nn
from tinygrad_np._io import LoadError, MissingFileError, atomic_savez, load_npz


def _saved(tmp_path):
    path = tmp_path / "fc.npz"
    nn.FC(2, 3).save(path)
    return path


def _corrupt_member(tmp_path):
    """A well-formed zip whose member bytes are flipped: the CRC check fails on reading."""
    good = _saved(tmp_path).read_bytes()
    raw = bytearray(good)
    with zipfile.ZipFile(tmp_path / "fc.npz") as z:
        info = z.infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 60  # inside the data
    raw[start:start + 8] = bytes(b ^ 0xFF for b in raw[start:start + 8])
    return bytes(raw)


def _huge_header(d):
    """A member whose header claims 80 TB: refused from the header, not by trying to allocate it."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
    with zipfile.ZipFile(d / "f.npz", "w") as z:
        z.writestr("W.npy", head.getvalue() + bytes(64))


BAD_FILES = {
    "empty": (lambda d: (d / "f.npz").write_bytes(b""), "empty"),
    "truncated": (lambda d: (d / "f.npz").write_bytes(_saved(d).read_bytes()[:100]), "truncated or corrupt"),
    "corrupt member": (lambda d: (d / "f.npz").write_bytes(_corrupt_member(d)), "truncated or corrupt"),
    "text": (lambda d: (d / "f.npz").write_text("W,B\n1,2\n"), "not an .npz"),
    "npy": (lambda d: np.save(open(d / "f.npz", "wb"), np.zeros(3)), ".npy"),
    "directory": (lambda d: (d / "f.npz").mkdir(), "directory"),
    "pickled": (lambda d: np.savez(d / "f.npz", W=np.array([{}], dtype=object)), "allow_pickle"),
    "huge header": (_huge_header, r"claims shape \(10000000000000,\) of float64"),
    "not an array": (lambda d: zipfile.ZipFile(d / "f.npz", "w").writestr("W.txt", "hello"), "not an array"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_module_load_of_a_bad_file_is_a_value_error_naming_the_path(tmp_path, case):
    make, message = BAD_FILES[case]
    make(tmp_path)
    path = tmp_path / "f.npz"
    with pytest.raises(LoadError, match=message) as e:
        nn.FC(2, 3).load(path)
    assert isinstance(e.value, ValueError) and str(e.value).startswith(f"{path}: ")


def test_module_load_of_a_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(ValueError, match="no such file") as e:
        nn.FC(2, 3).load(path)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, MissingFileError)
    assert str(path) in str(e.value)


def test_module_load_of_a_mismatched_state_names_the_path(tmp_path):
    path = tmp_path / "big.npz"
    nn.FC(4, 3).save(path)
    fc = nn.FC(2, 3)
    before = fc.W.data.copy()
    with pytest.raises(ValueError, match=r"big\.npz: load_state_dict.*shape") as e:
        fc.load(path)
    assert str(path) in str(e.value)
    np.testing.assert_array_equal(fc.W.data, before)


def test_load_npz_round_trip(tmp_path):
    atomic_savez(tmp_path / "a.npz", {"x": np.arange(3), "y": np.eye(2)})
    got = load_npz(tmp_path / "a.npz")
    assert sorted(got) == ["x", "y"] and got["y"].tolist() == [[1, 0], [0, 1]]


# ---- atomic save -------------------------------------------------------------------------------------
def test_save_through_a_symlink_keeps_the_link(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "model.npz"
    nn.FC(2, 3).save(target)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    fc = nn.FC(2, 3)
    fc.W.data[...] = 7
    fc.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_npz(target)["W"].tolist() == [[7, 7, 7]] * 2
    assert sorted(os.listdir(real_dir)) == ["model.npz"] and sorted(os.listdir(tmp_path)) == ["link.npz", "real"]


def test_save_keeps_the_existing_files_mode(tmp_path):
    path = tmp_path / "model.npz"
    nn.FC(2, 3).save(path)
    os.chmod(path, 0o640)
    nn.FC(2, 3).save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_temporary_file_is_named_after_the_target_and_removed_on_failure(tmp_path, monkeypatch):
    seen = []

    def broken_savez(f, **arrays):
        seen.extend(os.listdir(tmp_path))
        raise KeyboardInterrupt  # not just Exception: any interruption cleans up

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        nn.FC(2, 3).save(tmp_path / "model.npz")
    assert len(seen) == 1 and seen[0].startswith(f"model.npz.partial-{os.getpid()}@")
    assert os.listdir(tmp_path) == []


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.skipif(os.name != "posix", reason="stale temporary files are recognised by a POSIX liveness probe")
def test_a_later_save_removes_what_a_killed_save_left(tmp_path):
    host = socket.gethostname()
    stale = tmp_path / f"model.npz.partial-{_dead_pid()}@{host}-abc123"  # as a SIGKILLed save leaves it
    live = tmp_path / f"model.npz.partial-{os.getpid()}@{host}-def456"   # a save in progress
    other_host = tmp_path / f"model.npz.partial-{_dead_pid()}@not-{host}-ghi789"
    other_file = tmp_path / f"other.npz.partial-{_dead_pid()}@{host}-jkl012"
    for f in (stale, live, other_host, other_file):
        f.write_bytes(b"partial")
    nn.FC(2, 3).save(tmp_path / "model.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["model.npz", live.name, other_host.name, other_file.name])


def test_a_killed_save_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "model.npz"
    nn.FC(2, 3).save(path)
    old = path.read_bytes()
    code = ("import os, signal, numpy as np\n"
            "from tinygrad_np import nn\n"
            "def die(f, **arrays):\n"
            "    f.write(b'half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "np.savez = die\n"
            f"nn.FC(2, 3).save({str(path)!r})\n")
    if os.name != "posix":
        pytest.skip("SIGKILL is POSIX")
    r = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert r.returncode == -9
    assert path.read_bytes() == old
    leftovers = [n for n in os.listdir(tmp_path) if n != "model.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith("model.npz.partial-")  # visible, and named
    nn.FC(2, 3).save(path)  # the next save cleans it up
    assert os.listdir(tmp_path) == ["model.npz"]
