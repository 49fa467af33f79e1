"""tinygrad_np._malloc: glibc tuning is applied unless the user chose otherwise."""
import os

from tinygrad_np import _malloc


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000")
    assert _malloc.tune_malloc() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("TINYGRAD_NP_MALLOC", "default")
    assert _malloc.tune_malloc() is False


def test_applied_on_glibc(monkeypatch):
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "TINYGRAD_NP_MALLOC"):
        monkeypatch.delenv(name, raising=False)
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        glibc = False
    assert _malloc.tune_malloc() is glibc


def test_glibc_tunables_of_the_user_win(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert _malloc.tune_malloc() is False
