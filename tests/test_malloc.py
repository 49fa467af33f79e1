"""Importing tinygrad_np changes nothing process-wide; `tune_malloc()` does, when asked."""
import os
import subprocess
import sys
import textwrap

import pytest

from tinygrad_np import _malloc

_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")

# A host program that allocates 60 x 16 MB arrays and frees all but the last: with glibc's default
# thresholds the freed blocks go back to the OS; tuned, they stay resident.
_HOST = textwrap.dedent("""
    import sys
    import numpy as np
    {setup}
    arrays = [np.ones(2_000_000) for _ in range(60)]
    del arrays[:-1]
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    print(rss // 1024)
""")


def _resident_mib(setup: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "TINYGRAD_NP"))}
    out = subprocess.run([sys.executable, "-c", _HOST.format(setup=setup)], env=env, capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not _GLIBC, reason="glibc's allocator thresholds (Linux with glibc only)")
def test_import_leaves_the_allocator_alone_and_tune_malloc_changes_it():
    plain = _resident_mib("")
    imported = _resident_mib("import tinygrad_np")
    tuned = _resident_mib("import tinygrad_np; assert tinygrad_np.tune_malloc()")
    assert imported < plain + 100, (plain, imported)  # the import itself costs a few MiB at most
    assert tuned > imported + 500, (imported, tuned)  # ~940 MiB of freed blocks kept when tuned


def test_import_leaves_the_blas_thread_pool_alone():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    code = ("import threadpoolctl, numpy; before = threadpoolctl.threadpool_info(); import tinygrad_np; "
            "assert threadpoolctl.threadpool_info() == before, (before, threadpoolctl.threadpool_info())")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert threadpoolctl is not None


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000")
    assert _malloc.tune_malloc() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("TINYGRAD_NP_MALLOC", "default")
    assert _malloc.tune_malloc() is False


def test_glibc_tunables_of_the_user_win(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert _malloc.tune_malloc() is False
