"""Pictures of the computation graph: Graphviz DOT text, image files, and a Jupyter view.

    from tinygrad_np import viz
    loss = F.softmax_cross_entropy(model(Tensor(X)), y)
    viz.render(loss, "step.svg", params=model)   # before loss.backward(), which frees the graph
    viz.draw(loss, params=model)                 # in Jupyter: the picture (a snapshot, taken now)

Ops are grey boxes named by their `Function` class (`Linear`, `ReLU`, `SoftmaxCrossEntropy`,
a custom op's own name), with the text settings the op keeps on its context below the name
(`activation=relu` on a Linear with ReLU fused in, `reduction=mean`).  Tensors are ellipses
with their shape and dtype: Parameters blue, with their dotted names when `params` is given,
other leaf tensors (inputs) white, or yellow when they require grad.  Values an op received
that are not Tensors (labels arrays, numbers) are dashed grey notes.  Edges follow the data,
input -> op -> result; an op with several inputs names each edge after its `forward`
argument.  The output has a double outline.

Everything here only reads the graph (`Tensor._ctx`, `ctx.parents`, `.grad`): it never runs
an op or a backward pass, and changes nothing.  No dependency beyond NumPy: image files
and the Jupyter picture use Graphviz's `dot` program when it is on PATH.
"""
from __future__ import annotations

import functools
import inspect
import os
import shutil
import subprocess
from typing import Any, Mapping

import numpy as np

from tinygrad_np.nn import Module
from tinygrad_np.tensor import Function, Parameter, Tensor

__all__ = ["to_dot", "render", "draw", "Graph", "check_path", "GraphvizNotFoundError"]

FORMATS = ("dot", "svg", "png", "pdf")
_INSTALL = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz; others: https://graphviz.org/download/)")
_STYLE = {  # node class -> DOT attributes
    "op": 'shape=box, style="rounded,filled", fillcolor="#d9d9d9", fontname="Helvetica-Bold"',
    "param": 'style=filled, fillcolor="#cfe2ff"',
    "input": 'style=filled, fillcolor="#ffffff"',
    "input grad": 'style=filled, fillcolor="#fff3bf"',
    "const": 'shape=note, style=dashed, color="#808080", fontcolor="#606060"',
    "tensor": 'style=filled, fillcolor="#ffffff"',
}


class GraphvizNotFoundError(RuntimeError):
    """An image was asked for, and Graphviz's `dot` program is not on PATH."""


def _dot_program() -> str | None:
    return shutil.which("dot")


def _require_dot(what: str) -> str:
    exe = _dot_program()
    if exe is None:
        raise GraphvizNotFoundError(f"{what} needs Graphviz's `dot` program, which is not on PATH: {_INSTALL}. "
                                    f"Or write a .dot file (always works) and render it anywhere Graphviz runs, "
                                    f"e.g. `dot -Tsvg graph.dot -o graph.svg`, or in an online Graphviz viewer.")
    return exe


# ---- reading the graph ---------------------------------------------------------------------------------
def _names(params: Any) -> dict[int, str]:
    """id(tensor) -> its name(s), from a Module (dotted parameter names) or a dict name -> Tensor."""
    if params is None:
        return {}
    if isinstance(params, Module):
        items = list(params.named_parameters())
    elif isinstance(params, Mapping):
        items = list(params.items())
        for name, t in items:
            if not isinstance(name, str) or not isinstance(t, Tensor):
                raise TypeError(f"to_dot: params must map names (str) to Tensors, got {name!r}: {type(t).__name__}")
    else:
        raise TypeError(f"to_dot: params must be a Module or a dict name -> Parameter, got {type(params).__name__}")
    names: dict[int, str] = {}
    for name, t in items:  # a tensor given under two names shows both
        names[id(t)] = f"{names[id(t)]}, {name}" if id(t) in names else name
    return names


def _ops_in_order(output: Tensor) -> list[Tensor]:
    """The op results reachable from `output` (itself included), oldest op first.

    Iterative, so any depth works.  Raises on a graph that a backward pass has freed.
    """
    seen = {id(output)}
    stack, results = [output], []
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                f"to_dot: the graph was freed by backward() (a {type(ctx).__name__} node on the way has no inputs "
                f"left), so it cannot be drawn. Draw it before calling backward(), or call "
                f"backward(retain_graph=True).")
        results.append(t)
        for p in ctx.parents:
            if isinstance(p, Tensor) and id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    results.sort(key=lambda t: t._ctx._creation_index)
    return results


@functools.lru_cache(maxsize=256)
def _arg_names(cls: type[Function]) -> tuple[str, ...]:
    """The names of `cls.forward`'s leading positional inputs (after ctx); stops at *args."""
    try:
        ps = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return ()
    names = []
    for p in ps:
        if p.kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return tuple(names)


# ---- writing DOT ---------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A DOT string; the text's line breaks become centred label lines."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@functools.lru_cache(maxsize=64)
def _dtype_name(dtype: np.dtype) -> str:
    return str(dtype)  # NumPy builds this string anew on each call, slowly for a 100,000-node graph


def _describe(a: np.ndarray) -> str:
    return f"{tuple(a.shape)} {_dtype_name(a.dtype)}"


def _grad_line(t: Tensor) -> str | None:
    g = t.grad
    if g is None:
        return "grad None" if t._ctx is None and t.requires_grad else None
    g = np.asarray(g)
    return f"grad {tuple(g.shape)} norm {float(np.linalg.norm(g.ravel())):.4g}"


def _op_label(ctx: Function) -> str:
    """The op's class name, then the text settings it keeps on its context (what a fused op
    does that its name does not say: Linear's activation, a loss's reduction)."""
    settings = [f"{k}={v}" for k, v in vars(ctx).items() if isinstance(v, str) and not k.startswith("_")]
    return "\n".join([type(ctx).__name__, *settings])


def _number(value: Any) -> str:
    text = repr(value.item() if isinstance(value, (np.generic, np.ndarray)) else value)
    return text if len(text) <= 24 else text[:21] + "..."


def _const_label(value: Any) -> str:
    """A value an op received that is not a Tensor: an array's shape and dtype, a number's value."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:  # a number, as the Tensor operators pass it (in the Tensor's dtype)
            return f"{_number(value)} {_dtype_name(value.dtype)}"
        return f"{_describe(value)} array"
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return _number(value)
    return type(value).__name__


def to_dot(output: Tensor, params: Module | Mapping[str, Tensor] | None = None, show_grad: bool = False) -> str:
    """Graphviz DOT text for the graph that produced `output`.

    One node per op (named by its Function class, then its text settings such as
    `activation=relu`) and one per tensor (shape and dtype);
    tensors found in `params` -- a Module (its dotted parameter names) or a dict
    name -> Tensor -- are labelled with their names.  With `show_grad`, every tensor that
    has a `.grad` (leaves, after a backward pass with retain_graph=True; intermediates keep
    none) shows its shape and norm.  Only reads the graph; raises RuntimeError when a
    backward pass has freed it.  Returns the text of a `digraph`.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"to_dot: output must be a Tensor, got {type(output).__name__}")
    names = _names(params)
    ops = _ops_in_order(output)
    lines = ["digraph tinygrad_np {",
             '  graph [rankdir=TB, nodesep=0.25, ranksep=0.3];',
             '  node [fontname="Helvetica", fontsize=10, height=0.3];',
             '  edge [fontname="Helvetica", fontsize=8, color="#404040", arrowsize=0.6];']
    ids: dict[int, str] = {}

    def node(t: Tensor) -> str:
        """The id of tensor t's node, writing the node first if it is new."""
        if id(t) in ids:
            return ids[id(t)]
        nid = ids[id(t)] = f"t{len(ids)}"
        if t._ctx is not None:
            kind = "tensor"
        elif isinstance(t, Parameter):
            kind = "param"
        else:
            kind = "input grad" if t.requires_grad else "input"
        text = [names[id(t)]] if id(t) in names else (["Parameter"] if kind == "param" else [])
        text.append(_describe(t._data))
        grad = _grad_line(t) if show_grad else None
        if grad is not None:
            text.append(grad)
        extra = ", peripheries=2, penwidth=1.5" if t is output else ""
        cls = f"{kind} output" if t is output else kind
        lines.append(f"  {nid} [label={_quote(chr(10).join(text))}, class={_quote(cls)}, {_STYLE[kind]}{extra}];")
        return nid

    consts: dict[int, str] = {}  # an array given to several ops is one node; numbers get one per use
    for n, t in enumerate(ops):
        ctx = t._ctx
        fid = f"f{n}"
        arg_names = _arg_names(type(ctx))
        edges = []
        for i, p in enumerate(ctx.parents):
            if p is None:  # an optional input left out (F.linear without bias)
                continue
            if isinstance(p, Tensor):
                src = node(p)
            elif isinstance(p, np.ndarray) and id(p) in consts:
                src = consts[id(p)]
            else:
                src = f"c{n}_{i}"
                if isinstance(p, np.ndarray):
                    consts[id(p)] = src
                lines.append(f"  {src} [label={_quote(_const_label(p))}, class=\"const\", {_STYLE['const']}];")
            if len(ctx.parents) > 1:
                label = arg_names[i] if i < len(arg_names) else str(i)
                edges.append(f"  {src} -> {fid} [label={_quote(label)}];")
            else:
                edges.append(f"  {src} -> {fid};")
        lines.append(f"  {fid} [label={_quote(_op_label(ctx))}, class=\"op\", {_STYLE['op']}];")
        lines.extend(edges)
        lines.append(f"  {fid} -> {node(t)};")
    if not ops:  # a leaf: the picture is one node
        node(output)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---- files and Jupyter ---------------------------------------------------------------------------------
def check_path(path: str | os.PathLike) -> str:
    """The format ("dot", "svg", "png" or "pdf") `path` asks for by its extension, checking that it
    can be written: ValueError for another extension or a missing directory, GraphvizNotFoundError
    for an image without Graphviz.  Lets a caller fail before a long computation."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"render: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"render: cannot write {path!r}: the file name must end in one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"render: cannot write {path!r}: the directory {directory!r} does not exist")
    if fmt != "dot":
        _require_dot(f"writing {path!r}")
    return fmt


def _image(source: str, fmt: str, what: str) -> bytes:
    """`source` laid out by Graphviz's dot, as the bytes of a `fmt` file."""
    r = subprocess.run([_require_dot(what), f"-T{fmt}"], input=source.encode(), capture_output=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{what}: Graphviz's dot failed (exit status {r.returncode}): "
                           f"{r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def _write(source: str, path: str | os.PathLike, fmt: str) -> None:
    """Write `source` to `path` (checked by `check_path`, which gave `fmt`) as text or as an image."""
    path = os.fspath(path)
    data = source.encode() if fmt == "dot" else _image(source, fmt, f"writing {path!r}")
    with open(path, "wb") as f:
        f.write(data)


def render(output: Tensor, path: str | os.PathLike, params: Module | Mapping[str, Tensor] | None = None,
           **kw: Any) -> None:
    """Write the graph of `output` (see `to_dot`; `kw` goes there too) to `path`.

    `.dot` writes the DOT text and always works; `.svg`, `.png` and `.pdf` run Graphviz's
    `dot`, and raise GraphvizNotFoundError, saying how to install it, when it is not on PATH.
    The path and Graphviz are checked before the graph is read.
    """
    fmt = check_path(path)
    _write(to_dot(output, params, **kw), path, fmt)


class Graph:
    """A snapshot of a graph's picture, taken when made (by `draw`), for Jupyter and files.

    Jupyter shows it as SVG when Graphviz's `dot` is on PATH, otherwise as Markdown that
    says how to install Graphviz and holds the DOT text.  `source` is the DOT text;
    `save(path)` writes it as `render` does.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._svg: str | None = None

    def save(self, path: str | os.PathLike) -> None:
        """Write the picture to `path` (.dot, .svg, .png or .pdf; see `render`)."""
        _write(self.source, path, check_path(path))

    def _repr_svg_(self) -> str | None:
        if _dot_program() is None:
            return None
        if self._svg is None:
            self._svg = _image(self.source, "svg", "drawing the graph").decode()
        return self._svg

    def _repr_markdown_(self) -> str | None:
        if _dot_program() is not None:
            return None  # the SVG is shown (front ends rank Markdown above SVG, so step aside)
        return (f"Graphviz's `dot` program is not on PATH, so this graph is shown as its DOT text; to see the "
                f"picture, {_INSTALL}, or paste the text into any Graphviz viewer.\n\n```dot\n{self.source}```\n")


def draw(output: Tensor, params: Module | Mapping[str, Tensor] | None = None, show_grad: bool = False) -> Graph:
    """The picture of `output`'s graph as a `Graph`, which Jupyter displays (see `to_dot`)."""
    return Graph(to_dot(output, params, show_grad=show_grad))
