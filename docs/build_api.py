"""Build the HTML API reference from the docstrings, with pdoc (the `docs` extra).

    pip install -e ".[docs]"
    python docs/build_api.py              # writes build/api/index.html
    python docs/build_api.py OUT_DIR

Every public module is documented: `tinygrad_np` and each submodule whose dotted name has
no part starting with "_".  tests/test_docs.py checks that each public name has a docstring.
"""
from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path

import tinygrad_np

ROOT = Path(__file__).resolve().parents[1]


def public_modules() -> list[str]:
    """Dotted names of the public modules, sorted: the package and its non-underscore submodules."""
    names = ["tinygrad_np"]
    for info in pkgutil.walk_packages(tinygrad_np.__path__, "tinygrad_np."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def build(out_dir: str | Path) -> Path:
    """Render every public module into `out_dir`; returns the path of its index.html."""
    try:
        import pdoc
    except ImportError:
        raise SystemExit('build_api: pdoc is not installed; pip install -e ".[docs]"') from None
    pdoc.render.configure(docformat="markdown", footer_text=f"tinygrad_np {tinygrad_np.__version__}")
    out = Path(out_dir)
    with warnings.catch_warnings():
        # A package pulls in its submodules, which are also named: pdoc then warns of duplicates.
        warnings.filterwarnings("ignore", message="The module specification")
        # hypothesis' @composite wrappers keep string annotations that pdoc cannot resolve.
        warnings.filterwarnings("ignore",
                                message=r"Error parsing type annotation .* for tinygrad_np\.testing\.strategies\.")
        pdoc.pdoc(*public_modules(), output_directory=out)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    index = build(args[0] if args else ROOT / "build" / "api")
    print(f"API reference: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
