"""Tests for tinygrad_opt.viz: DOT source of Value and Tensor graphs, cuts, rendering."""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_opt import Tensor, Value
from tinygrad_opt.viz import draw_graph, render_graph

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` program not installed")

WEIRD = 'a|b{c}<d>"e\\f g'
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers
_NODE = re.compile(r"^\t(\w+) \[", re.M)
_EDGE = re.compile(r"^\t(\w+) -> (\w+)", re.M)


def nodes(src: str) -> list[str]:
    """Node ids declared in a DOT source (attribute statements excluded)."""
    return [n for n in _NODE.findall(src) if n not in ("graph", "node", "edge")]


def edges(src: str) -> list[tuple[str, str]]:
    return _EDGE.findall(src)


def value_nodes(src: str) -> list[str]:
    return [n for n in nodes(src) if re.fullmatch(r"v\d+", n)]


def node_line(src: str, node_id: str) -> str:
    (line,) = [ln for ln in src.splitlines() if ln.startswith(f"\t{node_id} [")]
    return line


def line_with(src: str, text: str) -> str:
    (line,) = [ln for ln in src.splitlines() if text in ln and "[" in ln]
    return line


def neuron() -> Value:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def tiny_tensor_graph() -> Tensor:
    x = Tensor(np.ones((4, 3)), dtype=np.float32, name="x")
    w = Tensor(np.full((3, 5), 0.5), dtype=np.float32, requires_grad=True, name="W")
    loss = (x @ w).relu().sum()
    loss.backward()
    return loss


def load_example():
    path = ROOT / "examples" / "draw_graph.py"
    spec = importlib.util.spec_from_file_location("example_draw_graph", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------- Value graphs
def test_value_graph_contents_and_counts():
    src = draw_graph(neuron()).source
    for text in ("tanh", '"+"', '"*"', "x1", "w2", "data 2.0000", "data 0.7071"):
        assert text in src
    # d o / d x1 = w1 * (1 - o**2) = -3 * 0.5
    assert "x1 | data 2.0000 | grad -1.5000" in src
    assert "o | data 0.7071 | grad 1.0000" in src
    # 10 values (5 leaves, 5 results) + 5 op nodes; each op: 1 edge out + 1 per input.
    assert len(value_nodes(src)) == 10
    assert len(nodes(src)) == 15
    assert len(edges(src)) == 5 + (2 + 2 + 2 + 2 + 1)
    assert "cut_note" not in src


def test_value_constant_operands_shown_in_op_node():
    x = Value(3.0, label="x")
    y = (2.0 - (x * 2.0 + 1.0) ** 2) / 4.0
    src = draw_graph(y).source
    for op in ("* 2", "+ 1", "** 2", "2 -", "/ 4"):
        assert f'label="{op}"' in src
    assert len(value_nodes(src)) == 6
    total = Value.sum([x, x, 1.5])
    assert 'label="sum +1.5"' in draw_graph(total).source


def test_value_leaves_styled_as_parameters_and_root_highlighted():
    src = draw_graph(neuron()).source
    root = node_line(src, "v0")
    assert "penwidth" in root and 'fillcolor="#ffffff"' in root
    x1 = line_with(src, "x1 |")
    assert 'fillcolor="#cfe2ff"' in x1


def test_reused_node_drawn_once_with_one_edge_per_use():
    a = Value(1.5, label="a")
    sq = a * a
    src = draw_graph(sq).source
    assert src.count("{ a |") == 1
    assert len(value_nodes(src)) == 2
    assert len(nodes(src)) == 3  # a, a*a, and the "*" op
    assert sorted(edges(src)) == sorted([("v0op", "v0"), ("v1", "v0op"), ("v1", "v0op")])

    # A diamond: a feeds b and c, and both feed d; a is still one node.
    b = a.exp()
    c = a.tanh()
    d = b + c
    src = draw_graph(d).source
    assert src.count("{ a |") == 1
    assert len(value_nodes(src)) == 4
    assert len(edges(src)) == 3 + (2 + 1 + 1)


def test_show_grad_false_and_rankdir_tb():
    o = neuron()
    src = draw_graph(o, show_grad=False).source
    assert "grad" not in src
    tb = draw_graph(o, rankdir="TB").source
    assert "rankdir=TB" in tb
    assert 'label="o | data 0.7071 | grad 1.0000"' in tb  # no braces top-to-bottom
    assert 'label="{ o | data 0.7071 | grad 1.0000 }"' in draw_graph(o).source


# --------------------------------------------------------------------------- Tensor graphs
def test_tensor_graph_contents_and_counts():
    loss = tiny_tensor_graph()
    src = draw_graph(loss).source
    for text in ("matmul", "relu", "sum", "(4, 3) float32", "(3, 5) float32", "(4, 5) float32"):
        assert text in src
    assert "() float32" in src and "data 30.0000" in src  # 4*5 entries of 1.5
    assert "W | (3, 5) float32 | grad ✓" in src
    assert "x | (4, 3) float32 }" in src  # a constant gets no grad
    # values: x, W, x@W, relu, sum; ops: matmul, relu, sum
    assert len(value_nodes(src)) == 5
    assert len(nodes(src)) == 8
    assert len(edges(src)) == 3 + (2 + 1 + 1)


def test_tensor_parameters_and_constants_look_different():
    src = draw_graph(tiny_tensor_graph()).source
    w_line = line_with(src, "W |")
    x_line = line_with(src, "x |")
    fill = re.compile(r'fillcolor="([^"]+)"')
    assert fill.search(w_line).group(1) != fill.search(x_line).group(1)


def test_tensor_dtype_shown():
    a = Tensor(np.ones(3), dtype=np.float64, requires_grad=True, name="a")
    src = draw_graph((a * 2).sum()).source
    assert "(3,) float64" in src


# --------------------------------------------------------------------------- big graphs
def _chain(n: int) -> Value:
    x = Value(0.0, label="start")
    for _ in range(n):
        x = x + 1.0
    return x


def test_cut_note_and_node_limit():
    root = _chain(30)  # 31 values in a line
    src = draw_graph(root, max_nodes=5).source
    assert len(value_nodes(src)) == 5
    assert "graph cut at 5 of 31 nodes" in src
    assert "raise max_nodes" in src
    assert ("cut_note", "v4op") in edges(src)
    assert "start" not in src  # the leaf is the farthest from the output

    exact = draw_graph(root, max_nodes=31).source
    assert "cut_note" not in exact and "start" in exact
    assert "graph cut at 30 of 31" in draw_graph(root, max_nodes=30).source


def test_cut_keeps_nodes_nearest_the_output():
    loss = tiny_tensor_graph()
    src = draw_graph(loss, max_nodes=3).source  # sum, relu, matmul
    assert len(value_nodes(src)) == 3
    assert "graph cut at 3 of 5 nodes" in src
    assert "(4, 5) float32" in src and "(3, 5) float32" not in src


def test_very_deep_chain_is_fast_and_does_not_recurse():
    root = _chain(100_000)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 150)  # any recursion over the graph would fail at once
    try:
        t0 = time.perf_counter()
        graph = draw_graph(root, max_nodes=50)
        elapsed = time.perf_counter() - t0
    finally:
        sys.setrecursionlimit(limit)
    src = graph.source
    assert len(value_nodes(src)) == 50
    assert "graph cut at 50 of ≥" in src
    assert elapsed < 2.0


def test_deep_tensor_chain():
    x = Tensor(np.ones(2), requires_grad=True)
    for _ in range(5_000):
        x = x * 1.0
    src = draw_graph(x, max_nodes=20).source
    assert len(value_nodes(src)) == 20
    assert "graph cut at 20 of" in src


def test_source_is_deterministic():
    assert draw_graph(neuron()).source == draw_graph(neuron()).source
    loss = tiny_tensor_graph()
    assert draw_graph(loss).source == draw_graph(loss).source
    big = _chain(200)
    assert draw_graph(big, max_nodes=20).source == draw_graph(big, max_nodes=20).source


# --------------------------------------------------------------------------- labels
def test_weird_names_are_escaped():
    v = Value(1.0, label=WEIRD)
    w = v * 2.0
    src = draw_graph(w).source
    assert r"a\|b\{c\}\<d\>\"e\\f g" in src
    t = Tensor([1.0, 2.0], requires_grad=True, name=WEIRD)
    assert r"a\|b\{c\}\<d\>\"e\\f g" in draw_graph(t.sum()).source
    # Newlines and very long names stay on one short line.
    long = Value(1.0, label="line1\nline2" + "x" * 100)
    src = draw_graph(long).source
    assert "line1 line2" in src and "…" in src


@needs_dot
def test_weird_names_render_verbatim():
    v = Value(1.0, label=WEIRD)
    t = Tensor([1.0, 2.0], requires_grad=True, name=WEIRD)
    for root in (v * 2.0, t.sum()):
        svg = draw_graph(root).pipe(format="svg").decode()
        texts = [el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]
        assert WEIRD in texts


# --------------------------------------------------------------------------- arguments
def test_bad_arguments():
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(neuron(), max_nodes=0)
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(neuron(), rankdir="XY")
    with pytest.raises(TypeError, match="Value or a Tensor"):
        draw_graph(3.0)


def test_leaf_alone():
    src = draw_graph(Value(4.0, label="solo")).source
    assert len(nodes(src)) == 1 and not edges(src)


def test_render_without_dot_raises_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        render_graph(neuron(), tmp_path / "g.svg")
    # The source is still available without dot.
    assert "tanh" in draw_graph(neuron()).source


# --------------------------------------------------------------------------- rendering
@needs_dot
def test_render_svg(tmp_path):
    path = render_graph(neuron(), tmp_path / "neuron.svg")
    assert path == tmp_path / "neuron.svg" and path.is_file()
    tree = ET.parse(path)
    text = " ".join(el.text or "" for el in tree.iter() if el.tag.endswith("text"))
    for word in ("tanh", "x1", "data 2.0000", "grad -1.5000"):
        assert word in text


@needs_dot
def test_render_png_and_format_from_suffix(tmp_path):
    path = render_graph(tiny_tensor_graph(), tmp_path / "sub" / "mlp.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_suffix = render_graph(neuron(), tmp_path / "plain")
    assert no_suffix.suffix == ".svg"
    ET.parse(no_suffix)
    forced = render_graph(neuron(), tmp_path / "forced", format="png")
    assert forced.name == "forced.png"
    assert forced.read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_render_cut_graph(tmp_path):
    path = render_graph(_chain(1_000), tmp_path / "cut.svg", max_nodes=10)
    text = " ".join(el.text or "" for el in ET.parse(path).iter() if el.tag.endswith("text"))
    assert "graph cut at 10 of 1,001 nodes" in text


@needs_dot
def test_example_main(tmp_path):
    example = load_example()
    paths = example.main(["--out", str(tmp_path / "out")])
    assert [p.name for p in paths] == ["neuron.svg", "mlp.svg"]
    for p in paths:
        ET.parse(p)
    neuron_text = paths[0].read_text()
    assert "tanh" in neuron_text and "x1" in neuron_text
    assert "matmul" in paths[1].read_text()


# --------------------------------------------------------------------------- derivative graphs
ORANGE, GREEN = "#ffd8a8", "#b2f2bb"  # fills of the 1st and 2nd backward passes


def cube_and_derivatives():
    from tinygrad_opt.value import grad

    x = Value(2.0, label="x")
    y = x**3
    y.label = "y"
    (dy,) = grad(y, [x], create_graph=True)
    (d2y,) = grad(dy, [x], create_graph=True)
    return x, y, dy, d2y


def box_of(src: str, text: str, fill: str = "") -> str:
    """The id of the one value box whose line contains ``text`` (and the fill colour)."""
    (line,) = [
        ln
        for ln in src.splitlines()
        if re.match(r"\tv\d+ \[", ln) and text in ln and f'fillcolor="{fill}' in ln
    ]
    return re.match(r"\t(v\d+) ", line)[1]


def dotted_edges(src: str) -> list[tuple[str, str]]:
    return re.findall(r"^\t(\w+) -> (\w+) \[[^\]]*style=dotted", src, re.M)


def test_first_derivative_graph_coloured_labelled_and_linked_to_its_source():
    x, y, dy, _ = cube_and_derivatives()
    src = draw_graph(dy).source
    # dy = 3 · x²: two nodes of the first backward pass, built by the rule of y = x**3
    assert "∂y/∂x | data 12.0000" in src
    d, sq, yy, xx = (box_of(src, t) for t in ("{ ∂y/∂x |", "data 4.0000", "{ y |", "{ x |"))
    assert f'fillcolor="{ORANGE}"' in node_line(src, d)
    assert f'fillcolor="{ORANGE}"' in node_line(src, sq)
    assert 'fillcolor="#ffffff"' in node_line(src, yy)  # the forward node, drawn as source
    assert 'fillcolor="#cfe2ff"' in node_line(src, xx)
    assert sorted(dotted_edges(src)) == sorted([(yy, d), (yy, sq)])
    assert 'label="* 3"' in src and 'label="** 2"' in src and 'label="** 3"' in src
    legend = node_line(src, "legend")
    assert "forward computation" in legend and "1st backward pass" in legend
    assert "2nd backward" not in legend and "built by the derivative rule of" in legend


def test_second_derivative_graph_shows_where_it_comes_from():
    x, y, dy, d2y = cube_and_derivatives()
    src = draw_graph(d2y).source
    # d²y = 3 · (2 · x), built by the rule of the first pass's x² node, itself built by y's
    top, yy = box_of(src, "{ ∂²y/∂x² |"), box_of(src, "{ y |")
    two_x, sq = box_of(src, "{ data 4.0000", GREEN), box_of(src, "{ data 4.0000", ORANGE)
    assert f'fillcolor="{GREEN}"' in node_line(src, top)
    assert sorted(dotted_edges(src)) == sorted([(sq, top), (sq, two_x), (yy, sq)])
    legend = node_line(src, "legend")
    assert "1st backward pass" in legend and "2nd backward pass" in legend
    # without sources: only the graph d2y depends on (x and two green nodes)
    bare = draw_graph(d2y, show_sources=False).source
    assert len(value_nodes(bare)) == 3 and not dotted_edges(bare)
    assert "{ y |" not in bare and "2nd backward pass" in node_line(bare, "legend")
    assert "built by the derivative rule" not in bare


def test_several_roots_in_one_drawing():
    x, y, dy, d2y = cube_and_derivatives()
    src = draw_graph([y, dy, d2y, dy]).source
    # roots first (thick borders), shared nodes once: x, y, x², dy, 2x, d2y
    assert len(value_nodes(src)) == 6
    for i in range(3):
        assert "penwidth" in node_line(src, f"v{i}")
    assert "penwidth" not in node_line(src, "v3")
    assert src.count("{ x |") == 1
    with pytest.raises(ValueError, match="empty"):
        draw_graph([])
    with pytest.raises(TypeError, match="Values and Tensors"):
        draw_graph([y, tiny_tensor_graph()])


def test_forward_graph_has_no_legend_and_value_grads_are_shown():
    o = neuron()
    assert "legend" not in draw_graph(o).source
    x, y, dy, d2y = cube_and_derivatives()
    y.backward(create_graph=True)  # x.grad is now a Value (with its own graph)
    assert "x | data 2.0000 | grad 12.0000 (Value)" in draw_graph(y).source
    y.zero_grad()


def test_derivative_drawings_are_deterministic_and_cut_like_others():
    a = draw_graph([*cube_and_derivatives()[1:]]).source
    b = draw_graph([*cube_and_derivatives()[1:]]).source
    assert a == b
    x, y, dy, d2y = cube_and_derivatives()
    src = draw_graph(d2y, max_nodes=2).source
    assert len(value_nodes(src)) == 2 and "graph cut at 2 of 5 nodes" in src


@needs_dot
def test_render_second_derivative_svg(tmp_path):
    x, y, dy, d2y = cube_and_derivatives()
    path = render_graph(d2y, tmp_path / "d2y.svg")
    texts = [el.text or "" for el in ET.parse(path).iter() if el.tag.endswith("text")]
    assert "∂²y/∂x²" in texts and "∂²: 2nd backward pass" in texts


def load_second_derivative_example():
    path = ROOT / "examples" / "second_derivative_graph.py"
    spec = importlib.util.spec_from_file_location("example_second_derivative_graph", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_second_derivative_example_numbers(capsys):
    example = load_second_derivative_example()
    assert example.main(["--no-draw", "--x", "1.5"]) == []
    out = capsys.readouterr().out
    assert "d²y/dx² = 9   closed form 6x  = 9" in out
    for name, k, got, want in example.table():
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (name, k)
    assert len(example.table()) == 3 * len(example.FUNCTIONS)


@needs_dot
def test_second_derivative_example_draws(tmp_path, capsys):
    example = load_second_derivative_example()
    paths = example.main(["--out", str(tmp_path)])
    assert [p.name for p in paths] == ["second_derivative.svg", "second_derivative_d2y.svg"]
    texts = [el.text or "" for el in ET.parse(paths[0]).iter() if el.tag.endswith("text")]
    for label in ("∂y/∂x", "∂²y/∂x²", "y", "x"):
        assert label in texts
    assert "wrote" in capsys.readouterr().out
