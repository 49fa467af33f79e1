"""Writing checkpoint files: one atomic .npz save for `Module.save` and the classifier's `save`."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Mapping

import numpy as np


def _umask() -> int:
    # Reading the umask means setting it; the brief stand-in is the strict 0o077, so a file
    # another thread creates meanwhile gets fewer permissions, never more.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def atomic_savez(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Write `arrays` with `np.savez` to exactly `path` (no ".npz" appended), atomically.

    The data goes to a temporary file in the same directory (so the rename stays on one
    file system), is flushed to disk, gets the permissions a plain `open()` would give
    (mkstemp creates 0600), and then replaces `path`.  On any failure the temporary file
    is removed and a previous file at `path` is left as it was.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
