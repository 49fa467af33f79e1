"""Documentation and packaging stay complete: every public name has a docstring (the API
reference is built from them), the pages the README promises exist, the package metadata is
in PEP 639 form, and the source distribution holds every file the tests read."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build_api_module():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_api = _build_api_module()


# ---- docstrings on every public name ------------------------------------------------------------
def _public_members(module) -> list[tuple[str, object]]:
    """(name, object) for `__all__`, or else the functions and classes the module defines itself."""
    if hasattr(module, "__all__"):
        return [(n, getattr(module, n)) for n in module.__all__]
    return [(n, v) for n, v in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__]


def _own_code(obj: object) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("tinygrad_np")


def _public_methods(cls: type) -> list[tuple[str, object]]:
    """Public methods and properties of `cls`, including those inherited from tinygrad_np classes
    (not those of object, tuple, Exception, ...).  Dunder methods are left out."""
    out = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        if not _own_code(owner):
            continue
        raw = vars(owner)[name]
        if isinstance(raw, (staticmethod, classmethod)):
            raw = raw.__func__
        if inspect.isfunction(raw) or isinstance(raw, property):
            out.append((f"{owner.__module__}.{owner.__qualname__}.{name}", getattr(cls, name)))
    return out


def _undocumented() -> list[str]:
    missing: set[str] = set()
    for modname in build_api.public_modules():
        module = importlib.import_module(modname)
        if not inspect.getdoc(module):
            missing.add(f"{modname} (module)")
        for name, obj in _public_members(module):
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not _own_code(obj):
                continue  # constants and tables (documented in their module's docstring), re-exported modules
            where = f"{obj.__module__}.{obj.__qualname__}"
            if inspect.isclass(obj):
                if not (vars(obj).get("__doc__") or "").strip():  # its own: getdoc would inherit the base's
                    missing.add(where)
                # A method may inherit its docstring from the method it overrides, as the reference shows it.
                missing.update(qual for qual, m in _public_methods(obj) if not inspect.getdoc(m))
            elif not inspect.getdoc(obj):
                missing.add(where)
    return sorted(missing)


def test_public_modules_are_found():
    mods = build_api.public_modules()
    assert {"tinygrad_np", "tinygrad_np.tensor", "tinygrad_np.nn", "tinygrad_np.optim",
            "tinygrad_np.functional", "tinygrad_np.testing.strategies"} <= set(mods)
    assert not [m for m in mods if any(part.startswith("_") for part in m.split("."))]


def test_every_public_name_has_a_docstring():
    missing = _undocumented()
    assert not missing, f"{len(missing)} public names without a docstring:\n  " + "\n  ".join(missing)


def test_the_check_sees_a_missing_docstring(monkeypatch):
    # The check itself can fail: a public method and a public function without docstrings are reported.
    import tinygrad_np.nn as nn
    import tinygrad_np.functional as F

    def no_doc(self):
        pass

    def no_doc_either(x):
        return x

    no_doc_either.__module__, no_doc_either.__qualname__ = F.__name__, "undocumented_function"
    class Undocumented(nn.Module):  # a class without its own docstring (Module's is not inherited)
        pass

    Undocumented.__module__, Undocumented.__qualname__ = nn.__name__, "Undocumented"
    monkeypatch.setattr(nn.Module, "undocumented_method", no_doc, raising=False)
    monkeypatch.setattr(F, "undocumented_function", no_doc_either, raising=False)
    monkeypatch.setattr(nn, "Undocumented", Undocumented, raising=False)
    monkeypatch.setattr(nn, "__all__", nn.__all__ + ["Undocumented"])
    missing = _undocumented()
    assert f"{nn.Module.__module__}.Module.undocumented_method" in missing
    assert "tinygrad_np.functional.undocumented_function" in missing
    assert "tinygrad_np.nn.Undocumented" in missing


def test_api_reference_builds(tmp_path):
    pytest.importorskip("pdoc", reason="the API reference needs the docs extra (pip install -e '.[docs]')")
    index = build_api.build(tmp_path / "api")
    assert index.is_file()
    for page in ("tinygrad_np.html", "tinygrad_np/tensor.html", "tinygrad_np/nn.html", "tinygrad_np/optim.html"):
        assert (tmp_path / "api" / page).is_file(), page
    assert "def backward" in (tmp_path / "api" / "tinygrad_np" / "tensor.html").read_text()


# ---- pages -------------------------------------------------------------------------------------
def test_readme_links_resolve():
    text = re.sub(r"```.*?```|`[^`]*`", "", (ROOT / "README.md").read_text(), flags=re.S)  # code is not links
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [ln for ln in links if "://" not in ln]
    assert relative, "expected links to the docs pages"
    for link in relative:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_docs_pages_exist():
    for page in ("LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "docs/differences-from-pytorch.md",
                 "docs/tensor-ops.md", "docs/from-the-notebook.md"):
        assert (ROOT / page).is_file() and (ROOT / page).read_text().strip(), page


# Special methods that are not operations on the values.
_NOT_OPERATIONS = {"__init__", "__repr__", "__str__", "__hash__"}


def _listed_ops() -> list[str]:
    """The names docs/tensor-ops.md must list: Tensor's public methods, properties and operators,
    the functions of tinygrad_np.functional, and the functions tinygrad_np exports."""
    import tinygrad_np
    import tinygrad_np.functional as F
    from tinygrad_np import Tensor

    names = [n for n in dir(Tensor) if not n.startswith("_")]
    names += [n for k in Tensor.__mro__ if _own_code(k) for n, v in vars(k).items()
              if n.startswith("__") and n not in _NOT_OPERATIONS and inspect.isfunction(v)]
    names += [f"F.{n}" for n, _ in _public_members(F) if inspect.isfunction(getattr(F, n))]
    names += [n for n in tinygrad_np.__all__ if inspect.isfunction(getattr(tinygrad_np, n))]
    return sorted(set(names))


def test_tensor_ops_page_lists_every_operation():
    text = (ROOT / "docs" / "tensor-ops.md").read_text()
    code = " ".join(re.findall(r"`([^`]+)`", text))
    listed = set(re.findall(r"\w+", code)) | set(re.findall(r"F\.\w+", code))  # names in code spans
    missing = [n for n in _listed_ops() if n not in listed]
    assert not missing, f"docs/tensor-ops.md does not list: {missing}"


def test_readme_custom_op_example_states_it_needs_hypothesis():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Writing and property-testing your own op", 1)[1].split("```python", 1)[0]
    assert "hypothesis" in section and "[test]" in section


# ---- package metadata ----------------------------------------------------------------------------
def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11's tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_metadata_is_pep639():
    project = _pyproject()["project"]
    assert project["license"] == "MIT"  # an SPDX expression, not the deprecated {text = ...} table
    assert project["license-files"] == ["LICENSE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # PEP 639 forbids both
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "MNIST" in text and "LeCun" in text and "Cortes" in text and "Burges" in text


def test_classifiers_match_the_supported_pythons():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.10"
    versions = sorted(c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                      if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert versions == ["3.10", "3.11", "3.12", "3.13"]  # the CPythons .ci/run tests


def test_docs_extra_brings_pdoc():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert any(req.startswith("pdoc") for req in extras["docs"])


# ---- the source distribution ---------------------------------------------------------------------
def _source_files() -> set[str]:
    """The files of the source tree (git's list in a checkout, else a walk of an unpacked sdist)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = {f for f in out.decode().split("\0") if f}
    else:
        skip = {".venv", "build", "dist", "__pycache__", ".hypothesis", ".pytest_cache", ".git"}
        files = set()
        for dirpath, dirnames, filenames in os.walk(ROOT):
            dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".venv")
                           and not d.endswith(".egg-info")]
            rel = Path(dirpath).relative_to(ROOT)
            files.update((rel / f).as_posix() for f in filenames
                         if not f.endswith((".pyc", ".pyo")) and f != "PKG-INFO" and f != "setup.cfg")
    return {f for f in files if Path(f).name != ".gitignore" and (ROOT / f).is_file()}


def _setuptools_with_pep639() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


@pytest.mark.skipif(not _setuptools_with_pep639(),
                    reason="building the sdist offline needs setuptools >= 77 (PEP 639) in this environment")
def test_sdist_holds_every_source_file(tmp_path):
    # Built here, without build isolation (no network): then every tracked file must be in it, so
    # that the tests pass from an unpacked sdist (they read benchmarks/, docs/, README.md, .ci/run).
    script = ("import sys; from setuptools import build_meta; "
              "print(build_meta.build_sdist(sys.argv[1]))")
    work = tmp_path / "src"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info",
                                                              "__pycache__", ".hypothesis", ".pytest_cache"))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    name = done.stdout.strip().splitlines()[-1]
    with tarfile.open(tmp_path / name) as tar:
        top = name.removesuffix(".tar.gz")
        members = {m.name.removeprefix(top + "/") for m in tar.getmembers() if m.isfile()}
    missing = sorted(_source_files() - members)
    assert not missing, f"the sdist lacks: {missing}"
    assert "LICENSE" in members and "tests/test_docs.py" in members
    assert not [m for m in members if "__pycache__" in m or m.startswith(("build/", ".venv"))]
