"""Checkpoint files: one atomic .npz save and one checked .npz load, for `Module` and the classifier.

Saving writes a temporary file next to the target, named `<target>.partial-<pid>@<host>-<random>`,
and renames it over the target.  Any exception (KeyboardInterrupt included) removes it.  A process
killed outright (SIGKILL, power loss) cannot clean up: the target is then still the previous file,
complete, and the `.partial-` file stays behind; the next save to the same target on the same host
removes the ones whose process is gone.
"""
from __future__ import annotations

import math
import os
import socket
import stat
import tempfile
import zipfile
import zlib
from typing import Any, Mapping

import numpy as np


class LoadError(ValueError):
    """A file that cannot be loaded; the message names the path and what is wrong."""


class MissingFileError(LoadError, FileNotFoundError):
    """A file to load does not exist: both a `LoadError` (ValueError) and a `FileNotFoundError`."""


def _umask() -> int:
    # Reading the umask means setting it; the brief stand-in is the strict 0o077, so a file
    # another thread creates meanwhile gets fewer permissions, never more.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _partial_prefix(target: str) -> str:
    return f"{os.path.basename(target)}.partial-"


def _remove_stale_partials(target: str) -> None:
    """Delete `<target>.partial-<pid>@<this host>-*` files left by processes that no longer run."""
    if os.name != "posix":  # os.kill(pid, 0) is a liveness probe only on POSIX
        return
    directory, prefix, host = os.path.dirname(target), _partial_prefix(target), socket.gethostname()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        pid, at, rest = name[len(prefix):].partition("@")
        if not (name.startswith(prefix) and at and pid.isdigit() and rest.rpartition("-")[0] == host):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running: maybe saving right now
        except ProcessLookupError:
            pass
        except OSError:  # PermissionError: it runs, as someone else
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def atomic_savez(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Write `arrays` with `np.savez` to exactly `path` (no ".npz" appended), atomically.

    A symlink at `path` is followed: its target gets the new contents and the link stays.
    An existing file keeps its permission bits; a new one gets those of a plain `open()`
    (mkstemp creates 0600).  The data is flushed to disk before the rename.  On any failure
    the temporary file is removed and a previous file at `path` is left as it was.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    _remove_stale_partials(target)
    prefix = f"{_partial_prefix(target)}{os.getpid()}@{socket.gethostname()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or an empty archive
_NPY_MAGIC = b"\x93NUMPY"


def _oversized_member(z: Any) -> str | None:
    """What is wrong when a member's header claims more data than the member holds (a crafted or
    corrupt header would otherwise make numpy allocate its claimed size first), else None."""
    for info in z.zip.infolist():
        if not info.filename.endswith(".npy"):
            continue
        with z.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                continue  # numpy reads and checks other versions itself
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            need, held = math.prod(shape) * dtype.itemsize, info.file_size - f.tell()
        if need > held:
            return f"member {info.filename!r} claims shape {shape} of {dtype} ({need} bytes) but holds {held} bytes"
    return None


def load_npz(path: str | os.PathLike, what: str = "checkpoint file") -> dict[str, np.ndarray]:
    """Every array of the .npz file at `path` (read with allow_pickle=False), by name.

    Raises ValueError naming the path and the problem: a directory, an empty or truncated
    file, a .npy or other non-.npz file, a corrupt member, a pickled (object) array.  A missing
    file raises `MissingFileError`, which is both a ValueError and a FileNotFoundError.
    Every error is a `LoadError` (a ValueError).
    """
    path = os.fspath(path)

    def bad(problem: str) -> LoadError:
        return LoadError(f"{path}: not a valid {what}: {problem}")

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if not head:
                raise bad("the file is empty (0 bytes)")
            if head.startswith(_NPY_MAGIC):
                raise bad("it is a single-array .npy file, not an .npz archive")
            if not head.startswith(_ZIP_MAGIC):
                raise bad("it is not an .npz (zip) archive")
            f.seek(0)
            with np.load(f, allow_pickle=False) as z:
                problem = _oversized_member(z)
                if problem:
                    raise bad(problem)
                arrays = {}
                for name in z.files:
                    value = z[name]
                    if not isinstance(value, np.ndarray):  # a member that is not .npy data
                        raise bad(f"member {name!r} is not an array")
                    arrays[name] = value
                return arrays
    except LoadError:
        raise
    except FileNotFoundError:
        raise MissingFileError(f"{path}: no such file (to load a {what} from)") from None
    except IsADirectoryError:
        raise bad("it is a directory") from None
    except PermissionError:
        raise bad("permission denied") from None
    except ValueError as e:
        raise bad(str(e)) from None  # e.g. numpy's "Object arrays cannot be loaded when allow_pickle=False"
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise bad(f"the file is truncated or corrupt ({type(e).__name__}: {e})") from None
