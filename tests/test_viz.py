"""tinygrad_np.viz: the DOT text is parsed back and checked against the graph each test built.

Each test states the graph it builds (op, inputs by argument name) as it builds it, and the
parsed picture is matched against that statement from the output back to the leaves: same op
names, same shapes and dtypes, same parameter names, same edges, nothing extra.
"""
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import NamedTuple

import numpy as np
import pytest

import tinygrad_np.functional as F
from tinygrad_np import Function, Parameter, Tensor, nn, viz

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT,
                               reason="Graphviz's `dot` is not on PATH (Debian: apt-get install graphviz)")


# ---- a small DOT parser (the subset of the language a digraph of nodes and edges uses) ----------------
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow>->)|(?P<id>[A-Za-z0-9_.#]+)|(?P<punct>[\[\]{}=,;]))',
                    re.S)


def _unescape(text: str) -> str:
    """A DOT string's content: \\n (and \\l, \\r) are line breaks, any other escaped character is itself."""
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nlr" else m[1], text, flags=re.S)


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"cannot tokenize DOT at {text[pos:pos + 40]!r}"
        pos = m.end()
        out.append(("s", _unescape(m["str"][1:-1])) if m["str"] else ("t", m[0].strip()))
    return out


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """(nodes {id: attributes}, edges [(tail, head, attributes)]) of a `digraph NAME { ... }`."""
    toks = _tokens(text)
    assert toks[:3] == [("t", "digraph"), ("t", "tinygrad_np"), ("t", "{")] and toks[-1] == ("t", "}")
    toks = toks[3:-1]
    nodes: dict[str, dict[str, str]] = {}
    edges = []
    i = 0
    while i < len(toks):
        ids = [toks[i][1]]
        i += 1
        while toks[i] == ("t", "->"):
            ids.append(toks[i + 1][1])
            i += 2
        attrs: dict[str, str] = {}
        if toks[i] == ("t", "["):
            i += 1
            while toks[i] != ("t", "]"):
                key, eq, value = toks[i:i + 3]
                assert eq == ("t", "="), toks[i:i + 3]
                attrs[key[1]] = value[1]
                i += 3
                if toks[i] == ("t", ","):
                    i += 1
            i += 1
        assert toks[i] == ("t", ";"), toks[i]
        i += 1
        if ids[0] in ("graph", "node", "edge"):
            continue  # defaults, not nodes
        if len(ids) == 1:
            assert ids[0] not in nodes, f"node {ids[0]} declared twice"
            nodes[ids[0]] = attrs
        else:
            for tail, head in zip(ids, ids[1:]):
                assert tail in nodes and head in nodes, f"edge {tail} -> {head} before its nodes"
                edges.append((tail, head, attrs))
    return nodes, edges


# ---- what a test built, and the check of a picture against it ------------------------------------------
class Built:
    """The graph as the test built it: `b.op(result, "Mul", a=x, b=y)` records that `result` came
    from op Mul with x as argument `a` and y as argument `b` (one unnamed input: `b.op(r, "ReLU", x)`;
    an op's settings follow its name: `"Linear activation=relu"`, drawn as lines under the name)."""

    def __init__(self):
        self.ops = {}  # id(result) -> (op name, [(edge label or None, input)])

    def op(self, result, name, *single, **inputs):
        assert bool(single) != bool(inputs)
        self.ops[id(result)] = (name, [(None, single[0])] if single else list(inputs.items()))
        return result


class Number(NamedTuple):
    """A number an op received: `Number(3.0)` as given to `apply`, `Number(2.5, "float32")` as the
    0-d array of the Tensor's dtype that the Tensor operators make of `x * 2.5`."""
    value: float
    dtype: str | None = None


def _kind(t) -> str:
    if not isinstance(t, Tensor):
        return "const"
    if t._ctx is not None:
        return "tensor"
    if isinstance(t, Parameter):
        return "param"
    return "input grad" if t.requires_grad else "input"


def _shape_line(a) -> str:
    a = a.data if isinstance(a, Tensor) else a
    return f"{tuple(a.shape)} {a.dtype}"


def check_picture(text, built, output, names=None):
    """Match the parsed DOT against `built`, from `output` back to the leaves; returns {id(obj): node id}."""
    names = names or {}
    nodes, edges = parse_dot(text)
    into = {n: [] for n in nodes}
    out_of = {n: [] for n in nodes}
    for tail, head, attrs in edges:
        into[head].append((attrs.get("label"), tail))
        out_of[tail].append(head)
    roots = [n for n, a in nodes.items() if "output" in a["class"].split()]
    assert len(roots) == 1
    where = {id(output): roots[0]}
    objs = {id(output): output}
    todo, n_edges, op_nodes, scalars = [output], 0, set(), set()

    def bind(obj, node):
        assert where.setdefault(id(obj), node) == node, f"{obj!r} drawn as two nodes"
        assert list(where.values()).count(node) == 1, f"node {node} stands for two objects"
        if id(obj) not in objs:
            objs[id(obj)] = obj
            todo.append(obj)

    while todo:
        t = todo.pop()
        node = where[id(t)]
        attrs = nodes[node]
        lines = attrs["label"].split("\n")
        kind = _kind(t)
        assert attrs["class"].split()[0] == ("input" if kind == "input grad" else kind), (node, attrs)
        if kind == "const":
            assert lines == [(f"{_shape_line(t)} array" if isinstance(t, np.ndarray) else repr(t))]
            assert into[node] == []
            continue
        expected_head = [names[id(t)]] if id(t) in names else (["Parameter"] if kind == "param" else [])
        assert lines[:len(expected_head) + 1] == expected_head + [_shape_line(t)], (node, lines)
        if id(t) not in built.ops:
            assert into[node] == [], f"leaf {node} has inputs"
            continue
        name, inputs = built.ops[id(t)]
        assert len(into[node]) == 1
        op_node = into[node][0][1]
        assert nodes[op_node]["class"] == "op" and nodes[op_node]["label"] == "\n".join(name.split())
        assert out_of[op_node] == [node] and op_node not in op_nodes
        op_nodes.add(op_node)
        got = sorted(into[op_node], key=lambda e: str(e[0]))
        assert [label for label, _ in got] == sorted((label for label, _ in inputs), key=str), (name, got)
        for label, inp in inputs:
            (src,) = [s for lab, s in got if lab == label]
            if isinstance(inp, (Tensor, np.ndarray)):
                bind(inp, src)
            else:  # a number: a node of its own at each use
                assert isinstance(inp, Number)
                text = repr(inp.value) if inp.dtype is None else f"{inp.value!r} {inp.dtype}"
                assert nodes[src] == {**nodes[src], "class": "const", "label": text} and into[src] == []
                assert src not in scalars
                scalars.add(src)
        n_edges += len(inputs) + 1
    # Nothing beyond what was built: every node and edge is accounted for.
    assert len(op_nodes) == len(built.ops) and set(nodes) == set(where.values()) | op_nodes | scalars
    assert len(edges) == n_edges
    return where


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- the graphs --------------------------------------------------------------------------------------
class Blend(Function):
    """A custom op with two inputs: u * v + u."""
    calls = 0

    @staticmethod
    def forward(ctx, u, v):
        Blend.calls += 1
        ctx.save_for_backward(u, v)
        return u * v + u

    @staticmethod
    def backward(ctx, grad):
        Blend.calls += 1
        u, v = ctx.saved_tensors
        return grad * (v + 1), grad * u


def test_custom_function_and_a_shared_input():
    b = Built()
    x = Tensor(_rng().standard_normal((3, 4)), requires_grad=True)         # float64 leaf requiring grad
    w = Parameter(_rng(1).standard_normal(4).astype(np.float32))
    y = b.op(Blend.apply(w, x), "Blend", u=w, v=x)                          # the custom op (w broadcasts)
    z = b.op(y * x, "Mul", a=y, b=x)                                        # x used a second time
    zz = b.op(z + z, "Add", a=z, b=z)                                       # z used twice by one op
    s = b.op(zz.sum(), "Sum", zz)
    text = viz.to_dot(s, params={"w": w})
    where = check_picture(text, b, s, names={id(w): "w"})
    _, edges = parse_dot(text)
    assert len(where) == 6  # x, w, y, z, zz, s: x and z are one node each
    uses = [tail for tail, _, _ in edges]
    assert uses.count(where[id(x)]) == 2 and uses.count(where[id(z)]) == 2
    assert _shape_line(y) == "(3, 4) float64"  # the custom op's output promoted like NumPy does


def test_fused_linear_relu_and_softmax_cross_entropy():
    b = Built()
    rng = _rng(2)
    x = Tensor(rng.standard_normal((5, 3)).astype(np.float32))              # an input: no grad
    W = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    bias = Parameter(np.zeros(4, np.float32))
    W2 = Parameter(rng.standard_normal((4, 2)).astype(np.float32))
    labels = np.array([0, 1, 1, 0, 1])
    W3 = Parameter(rng.standard_normal((2, 2)).astype(np.float32))
    h = b.op(F.linear(x, W, bias), "Linear", x=x, W=W, b=bias)
    r = b.op(F.relu(h), "ReLU", h)
    h2 = b.op(F.linear(r, W2), "Linear", x=r, W=W2)                          # no bias: no node for it
    logits = b.op(F.linear(h2, W3, activation="tanh"), "Linear activation=tanh", x=h2, W=W3)  # fused
    loss = b.op(F.softmax_cross_entropy(logits, labels, reduction="sum"), "SoftmaxCrossEntropy reduction=sum",
                logits=logits, target=labels)
    names = {"layer1.W": W, "layer1.b": bias, "layer2.W": W2, "layer3.W": W3}
    where = check_picture(viz.to_dot(loss, params=names), b, loss, names={id(t): n for n, t in names.items()})
    nodes, _ = parse_dot(viz.to_dot(loss, params=names))
    # Parameters, inputs and constants are drawn apart.
    fill = {k: nodes[where[id(t)]].get("fillcolor") for k, t in (("param", W), ("input", x), ("op result", h))}
    const = nodes[where[id(labels)]]
    assert fill["param"] != fill["input"] and fill["param"] != fill["op result"]
    assert const.get("style") == "dashed" and "fillcolor" not in const
    # Without params, a Parameter says what it is but has no name.
    check_picture(viz.to_dot(loss), b, loss)


def test_constants_scalars_each_use_and_an_array_once():
    b = Built()
    x = Tensor(_rng(3).standard_normal(3).astype(np.float32), requires_grad=True)
    mask = np.array([1.0, 0.0, 1.0], np.float32)
    y = b.op(x * 2.5, "Mul", a=x, b=Number(2.5, "float32"))                 # a weak number: x's dtype
    z = b.op(y * mask, "Mul", a=y, b=mask)
    u = b.op(z + mask, "Add", a=z, b=mask)                                   # the same array again: one node
    v = b.op(u - 2.5, "Sub", a=u, b=Number(2.5, "float32"))
    w = b.op(Blend.apply(v, 3.0), "Blend", u=v, v=Number(3.0))              # a Python number, passed as is
    where = check_picture(viz.to_dot(w), b, w)
    nodes, _ = parse_dot(viz.to_dot(w))
    assert sum(1 for a in nodes.values() if a["class"] == "const") == 4  # 2.5 twice (one per use), mask, 3.0
    assert id(mask) in where


def test_sequential_model_with_parameter_names():
    model = nn.Sequential(nn.FC(6, 5), nn.Tanh(), nn.FC(5, 3))
    x = Tensor(_rng(4).standard_normal((4, 6)).astype(np.float32))
    labels = np.array([0, 2, 1, 2])
    loss = F.softmax_cross_entropy(model(x), labels, reduction="mean")
    nodes, edges = parse_dot(viz.to_dot(loss, params=model))
    by_label = {a["label"]: n for n, a in nodes.items()}
    params = dict(model.named_parameters())
    assert sorted(params) == ["0.B", "0.W", "2.B", "2.W"]
    for name, p in params.items():  # each parameter once, named, with its shape, as a parameter leaf
        node = by_label[f"{name}\n{_shape_line(p)}"]
        assert nodes[node]["class"] == "param"
    into = {}
    for t, h, a in edges:
        into.setdefault(h, []).append((t, a.get("label")))
    consumers = {name: [h for t, h, _ in edges if t == by_label[f"{name}\n{_shape_line(p)}"]]
                 for name, p in params.items()}
    assert all(len(c) == 1 for c in consumers.values())
    first, second = consumers["0.W"][0], consumers["2.W"][0]
    assert consumers["0.B"] == [first] and consumers["2.B"] == [second] and first != second
    # The first layer's op takes the input x; the loss comes from SoftmaxCrossEntropy on the labels.
    assert by_label[_shape_line(x)] in [t for t, _ in into[first]]
    (root,) = [n for n, a in nodes.items() if "output" in a["class"]]
    ((loss_op, _),) = into[root]
    assert nodes[loss_op]["label"] == "SoftmaxCrossEntropy\nreduction=mean"
    assert {lab for _, lab in into[loss_op]} == {"logits", "target"}
    # Data flows from the first layer's op to the second's and on to the loss.
    out = {}
    for t, h, _ in edges:
        out.setdefault(t, []).append(h)
    reach = reach_from(first, out)
    assert second in reach and loss_op in reach and root in reach
    # The tanh is drawn between the layers: fused into the first Linear or as an op of its own.
    between = [n for n in reach - reach_from(second, out) - {second} if nodes[n]["class"] == "op"]
    assert any(ln in ("Tanh", "activation=tanh") for n in [first, *between] for ln in nodes[n]["label"].split("\n"))
    # Every node and edge is the graph's: compare with a walk of the tensors themselves.
    ref_nodes, ref_edges = _reference_walk(loss)
    assert len(nodes) == ref_nodes and len(edges) == ref_edges


def reach_from(start, out):
    """The nodes reachable from `start` along the edges `out` {tail: [heads]}."""
    reach, stack = set(), [start]
    while stack:
        for h in out.get(stack.pop(), []):
            if h not in reach:
                reach.add(h)
                stack.append(h)
    return reach


def _reference_walk(output):
    """(number of nodes, number of edges) of output's graph, counted from Tensor._ctx and ctx.parents:
    a node per tensor, per op and per distinct non-Tensor input; an edge per input used and per result."""
    tensors, ops, consts, n_edges = {}, 0, set(), 0
    stack = [output]
    while stack:
        t = stack.pop()
        if id(t) in tensors:
            continue
        tensors[id(t)] = t
        if t._ctx is not None:
            ops += 1
            n_edges += 1
            for p in t._ctx.parents:
                if p is None:
                    continue
                n_edges += 1
                if isinstance(p, Tensor):
                    stack.append(p)
                else:
                    consts.add(id(p))
    return len(tensors) + ops + len(consts), n_edges


def test_dtypes_and_a_leaf_output():
    p = Parameter(np.zeros((2, 3), np.float64))
    nodes, edges = parse_dot(viz.to_dot(p, params={"p": p}))
    assert edges == [] and [a["label"] for a in nodes.values()] == ["p\n(2, 3) float64"]
    x32 = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    b = Built()
    y = b.op(x32.exp(), "Exp", x32)
    check_picture(viz.to_dot(y), b, y)  # the shapes are "(2, 2) float32"


def test_names_with_quotes_and_backslashes_survive():
    w = Parameter(np.ones(2, np.float32))
    y = w.sum()
    weird = 'a "quoted" \\name\\ {x} -> [y];'
    nodes, _ = parse_dot(viz.to_dot(y, params={weird: w}))
    assert f"{weird}\n(2,) float32" in [a["label"] for a in nodes.values()]


# ---- gradients, and reading without changing ---------------------------------------------------------
def test_show_grad_after_backward_with_retain_graph():
    x = Tensor(_rng(5).standard_normal((3, 2)), requires_grad=True)
    W = Parameter(_rng(6).standard_normal((2, 2)))
    labels = np.array([1, 0, 1])
    h = F.linear(x, W)
    loss = F.softmax_cross_entropy(h, labels)
    nodes, _ = parse_dot(viz.to_dot(loss, show_grad=True))
    leaves = [a["label"] for a in nodes.values() if a["class"] in ("param", "input grad")]
    assert len(leaves) == 2 and all(lab.endswith("\ngrad None") for lab in leaves)  # before any backward
    loss.backward(retain_graph=True)
    b = Built()
    b.op(h, "Linear", x=x, W=W)
    b.op(loss, "SoftmaxCrossEntropy reduction=mean", logits=h, target=labels)
    text = viz.to_dot(loss, params={"W": W, "x": x}, show_grad=True)
    where = check_picture(text, b, loss, names={id(W): "W", id(x): "x"})
    nodes, _ = parse_dot(text)
    for t in (x, W):
        *_, grad_line = nodes[where[id(t)]]["label"].split("\n")
        m = re.fullmatch(r"grad (\(.*\)) norm (\S+)", grad_line)
        assert m and m[1] == str(tuple(t.shape))
        norm = np.sqrt(sum(float(g) ** 2 for g in t.grad.ravel()))  # the definition of the 2-norm
        assert float(m[2]) == pytest.approx(norm, rel=1e-3)
    for t in (h, loss):  # intermediates keep no gradient, so they show none
        assert "grad" not in nodes[where[id(t)]]["label"]
    assert not any("\ngrad" in a["label"] for a in parse_dot(viz.to_dot(loss))[0].values())  # only when asked


def test_reading_the_graph_runs_and_changes_nothing(tmp_path):
    def build():
        w = Parameter(np.arange(4.0))
        x = Tensor(np.ones(4), requires_grad=True)
        return w, x, (Blend.apply(w, x) * x).sum()

    w, x, loss = build()
    ctxs = [loss._ctx, loss._ctx.parents[0]._ctx, loss._ctx.parents[0]._ctx.parents[0]._ctx]
    before = [dict(vars(c)) for c in ctxs]
    calls = Blend.calls
    viz.to_dot(loss, params={"w": w}, show_grad=True)
    graph = viz.draw(loss, show_grad=True)
    viz.render(loss, tmp_path / "g.dot", show_grad=True)
    assert Blend.calls == calls  # no forward or backward ran
    for c, b in zip(ctxs, before):
        after = vars(c)
        assert after.keys() == b.keys() and all(after[k] is b[k] for k in b)
    assert w.grad is None and x.grad is None and loss.grad is None
    loss.backward()
    w2, x2, loss2 = build()
    loss2.backward()
    np.testing.assert_array_equal(w.grad, w2.grad)
    np.testing.assert_array_equal(x.grad, x2.grad)
    assert graph.source == (tmp_path / "g.dot").read_text()  # a snapshot taken before the backward pass:
    assert "grad None" in graph.source


def test_a_freed_graph_is_refused_not_drawn(tmp_path):
    x = Tensor(np.ones(3), requires_grad=True)
    shared = x * 2.0
    first = shared.sum()
    second = (shared * shared).sum()
    graph = viz.draw(first)  # a snapshot taken before backward stays valid
    first.backward()
    for out in (first, second):  # second reaches nodes first's backward freed
        with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
            viz.to_dot(out)
    with pytest.raises(RuntimeError, match="freed"):
        viz.render(second, tmp_path / "g.dot")
    assert not (tmp_path / "g.dot").exists()
    graph.save(tmp_path / "snapshot.dot")
    assert "Sum" in (tmp_path / "snapshot.dot").read_text()
    # With retain_graph=True the graph stays drawable.
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert "Sum" in viz.to_dot(y)


def test_a_graph_of_100k_ops_needs_no_recursion():
    x = Tensor(np.ones(2, np.float32), requires_grad=True)
    y = x
    n = 100_000
    for _ in range(n):
        y = -y
    assert sys.getrecursionlimit() < n
    text = viz.to_dot(y)
    lines = text.splitlines()
    assert sum('class="op"' in ln for ln in lines) == n
    assert sum(re.search(r'class="(tensor|input)', ln) is not None for ln in lines) == n + 1
    assert sum(" -> " in ln for ln in lines) == 2 * n
    assert lines[-2].startswith("  f99999 -> ")  # data-flow order: the last op written last


# ---- bad input ---------------------------------------------------------------------------------------
def test_bad_arguments_raise_before_anything_is_written(tmp_path):
    y = Tensor(np.ones(2), requires_grad=True).sum()
    with pytest.raises(TypeError, match="to_dot: output must be a Tensor"):
        viz.to_dot(np.ones(2))
    with pytest.raises(TypeError, match="params must be a Module or a dict"):
        viz.to_dot(y, params=[y])
    with pytest.raises(TypeError, match="names .* to Tensors"):
        viz.to_dot(y, params={"a": np.ones(2)})
    with pytest.raises(ValueError, match=r"g\.jpg'.*\.dot, \.svg, \.png, \.pdf"):
        viz.render(y, tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="does not exist"):
        viz.render(y, tmp_path / "missing" / "g.dot")
    with pytest.raises(TypeError, match="path must be"):
        viz.render(y, 3)
    assert list(tmp_path.iterdir()) == []


# ---- files and Jupyter -------------------------------------------------------------------------------
def _small_graph():
    model = nn.Sequential(nn.FC(3, 2), nn.ReLU(), nn.FC(2, 2))
    loss = F.softmax_cross_entropy(model(Tensor(np.ones((2, 3), np.float32))), np.array([0, 1]))
    return model, loss


def test_dot_file_is_the_dot_text(tmp_path):
    model, loss = _small_graph()
    viz.render(loss, tmp_path / "g.dot", params=model, show_grad=True)
    assert (tmp_path / "g.dot").read_text() == viz.to_dot(loss, params=model, show_grad=True)
    assert viz.draw(loss, params=model).source == viz.to_dot(loss, params=model)


def test_without_graphviz_images_fail_clearly_and_dot_still_works(tmp_path, monkeypatch):
    model, loss = _small_graph()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # `dot` is found nowhere
    assert shutil.which("dot") is None
    for ext in ("svg", "png", "pdf"):
        with pytest.raises(viz.GraphvizNotFoundError, match=r"(?s)needs Graphviz.*apt-get install graphviz.*\.dot"):
            viz.render(loss, tmp_path / f"g.{ext}", params=model)
    assert list(tmp_path.iterdir()) == []
    viz.render(loss, tmp_path / "g.dot", params=model)
    graph = viz.draw(loss, params=model)
    assert graph._repr_svg_() is None
    md = graph._repr_markdown_()
    assert "install Graphviz" in md and f"```dot\n{graph.source}```" in md
    with pytest.raises(viz.GraphvizNotFoundError):
        graph.save(tmp_path / "g.png")


@needs_dot
def test_graphviz_reads_the_dot_as_the_test_parser_does(tmp_path):
    model, loss = _small_graph()
    text = viz.to_dot(loss, params={**dict(model.named_parameters()), 'odd "name" \\': model[0].B})
    r = subprocess.run(["dot", "-Tdot_json"], input=text, capture_output=True, text=True, check=True)
    gv = json.loads(r.stdout)
    nodes, edges = parse_dot(text)
    objs = gv["objects"]
    assert [o["name"] for o in objs] == list(nodes)
    assert [_unescape(o["label"]) for o in objs] == [a["label"] for a in nodes.values()]
    assert [o.get("class") for o in objs] == [a["class"] for a in nodes.values()]
    assert sorted((objs[e["tail"]]["name"], objs[e["head"]]["name"]) for e in gv["edges"]) == \
        sorted((t, h) for t, h, _ in edges)


@needs_dot
def test_render_svg_png_pdf(tmp_path):
    model, loss = _small_graph()
    nodes, edges = parse_dot(viz.to_dot(loss, params=model))
    viz.render(loss, tmp_path / "g.svg", params=model)
    svg = ET.parse(tmp_path / "g.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    groups = svg.iter(f"{ns}g")
    classes = [g.get("class") for g in groups]
    assert sum(c is not None and c.startswith("node") for c in classes) == len(nodes)
    assert classes.count("edge") == len(edges)
    texts = {t.text for t in svg.iter(f"{ns}text")}
    assert {"Linear", "SoftmaxCrossEntropy", "0.W", "2.B", "(3, 2) float32"} <= texts
    viz.render(loss, tmp_path / "g.png", params=model)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    viz.render(loss, tmp_path / "g.pdf", params=model)
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"


@needs_dot
def test_jupyter_shows_svg_when_graphviz_is_there():
    model, loss = _small_graph()
    graph = viz.draw(loss, params=model)
    loss.backward()  # the picture was taken before: still shows
    svg = graph._repr_svg_()
    assert ET.fromstring(svg).tag.endswith("svg") and "SoftmaxCrossEntropy" in svg
    assert graph._repr_markdown_() is None  # front ends rank Markdown above SVG


# ---- the classifier's first-step hook and `mnist --graph` --------------------------------------------
def test_classifier_hook_sees_the_first_step_before_backward():
    from tinygrad_np.classifier import DeepNeuralNetworkClassifier
    rng = _rng(7)
    X, y = rng.standard_normal((60, 5)).astype(np.float32), np.arange(60) % 3  # dtype=None: trains in float32
    seen = []

    def hook(loss, model):
        seen.append((viz.to_dot(loss, params=model), model, loss))  # raises if the graph were already freed

    clf = DeepNeuralNetworkClassifier(hidden_layer_sizes=(4,), epochs=2, batch_size=20, random_state=0)
    clf.fit(X, y, on_first_step=hook)
    assert len(seen) == 1 and seen[0][1] is clf.model_  # once, over two epochs of three steps
    text, _, loss = seen[0]
    nodes, _ = parse_dot(text)
    labels = sorted(a["label"] for a in nodes.values() if a["class"] == "param")
    assert labels == ["0.B\n(4,) float32", "0.W\n(5, 4) float32", "2.B\n(3,) float32", "2.W\n(4, 3) float32"]
    assert any(a["label"] == "(20, 5) float32" and a["class"] == "input" for a in nodes.values())
    with pytest.raises(RuntimeError, match="freed"):  # the step then ran its backward as usual
        viz.to_dot(loss)
    plain = DeepNeuralNetworkClassifier(hidden_layer_sizes=(4,), epochs=2, batch_size=20, random_state=0).fit(X, y)
    assert plain.loss_train_ == clf.loss_train_  # drawing changed nothing in training


def _cli(capsys, *argv):
    from tinygrad_np import cli
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_graph_writes_one_step_and_trains_on(capsys, tmp_path):
    path = tmp_path / "step.dot"
    argv = ("mnist", "--limit", "300", "--epochs", "1", "--hidden", "8", "--batch-size", "25")
    code, out, err = _cli(capsys, *argv, "--graph", str(path))
    assert code == 0, err
    assert f"wrote the graph of one training step to {path}" in out and "test accuracy" in out
    nodes, edges = parse_dot(path.read_text())
    params = sorted(a["label"] for a in nodes.values() if a["class"] == "param")
    assert params == ["0.B\n(8,) float32", "0.W\n(784, 8) float32", "2.B\n(10,) float32", "2.W\n(8, 10) float32"]
    assert [a["label"] for a in nodes.values() if a["class"] == "input"] == ["(25, 784) float32"]
    ((root, attrs),) = [(n, a) for n, a in nodes.items() if "output" in a["class"]]
    assert attrs["label"] == "() float32"
    ((loss_op,),) = [(t,) for t, h, _ in edges if h == root]
    assert nodes[loss_op]["label"] == "SoftmaxCrossEntropy\nreduction=mean"
    code, plain, err = _cli(capsys, *argv)  # the same run without --graph trains the same
    assert code == 0, err
    def results(text):  # the losses and accuracies, not the seconds
        return re.findall(r"(?:loss|acc|accuracy) (\S+)", text)
    assert results(plain) == results(out) and len(results(out)) == 4


def test_cli_graph_path_is_checked_before_training(capsys, tmp_path, monkeypatch):
    from tinygrad_np import cli
    with pytest.raises(SystemExit):
        cli.main(["mnist", "--help"])
    assert "--graph PATH" in capsys.readouterr().out
    code, out, err = _cli(capsys, "mnist", "--limit", "100", "--epochs", "1", "--graph", str(tmp_path / "g.jpg"))
    assert code == 2 and out == "" and "--graph" in err and ".svg" in err
    assert len([ln for ln in err.splitlines() if "error:" in ln]) == 1
    code, out, err = _cli(capsys, "mnist", "--limit", "100", "--graph", str(tmp_path / "nowhere" / "g.dot"))
    assert code == 2 and out == "" and "does not exist" in err
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = _cli(capsys, "mnist", "--limit", "100", "--epochs", "1", "--graph", str(tmp_path / "g.svg"))
    assert code == 2 and out == "" and "apt-get install graphviz" in err and ".dot" in err
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_cli_graph_svg(capsys, tmp_path):
    path = tmp_path / "step.svg"
    code, _, err = _cli(capsys, "mnist", "--limit", "200", "--epochs", "1", "--hidden", "8", "--quiet",
                          "--graph", str(path))
    assert code == 0, err
    texts = {t.text for t in ET.parse(path).getroot().iter("{http://www.w3.org/2000/svg}text")}
    assert {"Linear", "SoftmaxCrossEntropy", "0.W", "2.B"} <= texts


# ---- the README's section ----------------------------------------------------------------------------
def _readme_section():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    return root, text.split("## See the graph\n", 1)[1].split("\n## ", 1)[0]


def test_readme_picture_is_the_current_output_of_the_command(capsys, tmp_path):
    root, section = _readme_section()
    (image,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
    cmd = "python -m tinygrad_np mnist --graph " + image
    assert f"`{cmd}`" in section
    # The same command (on a few examples, for one epoch: the step's graph does not depend on them) now:
    code, _, err = _cli(capsys, "mnist", "--limit", "100", "--epochs", "1", "--graph", str(tmp_path / "now.dot"))
    assert code == 0, err
    nodes, edges = parse_dot((tmp_path / "now.dot").read_text())
    now = sorted([ln for a in nodes.values() for ln in a["label"].split("\n")] + [a["label"] for *_, a in edges
                                                                                 if "label" in a])
    svg = ET.parse(root / image).getroot()
    drawn = sorted(t.text for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert drawn == now, "the README picture is stale: re-run " + cmd
    from tinygrad_np import cli
    mlp = cli.MODEL_DEFAULTS["mlp"]  # the command's network: its layers' names and shapes are in the picture
    dtype = cli.build_parser().parse_args(["mnist"]).dtype
    dims = (784, *mlp["hidden"], 10)
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        assert {f"{2 * i}.W", f"({a}, {b}) {dtype}", f"{2 * i}.B", f"({b},) {dtype}"} <= set(drawn)
    assert f"({mlp['batch_size']}, 784) {dtype}" in drawn


@needs_dot
def test_readme_two_lines_run(tmp_path, monkeypatch):
    _, section = _readme_section()
    (code,) = re.findall(r"```py\n(.*?)```", section, re.S)
    assert len(code.strip().splitlines()) == 2
    model, loss = _small_graph()
    monkeypatch.chdir(tmp_path)
    exec(code, {"model": model, "loss": loss})
    texts = {t.text for t in ET.parse(tmp_path / "step.svg").getroot().iter("{http://www.w3.org/2000/svg}text")}
    assert {"0.W", "2.B", "SoftmaxCrossEntropy"} <= texts
