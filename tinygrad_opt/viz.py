"""Pictures of computation graphs with Graphviz.

:func:`draw_graph` turns the graph behind a scalar :class:`~tinygrad_opt.value.Value` or a
:class:`~tinygrad_opt.tensor.Tensor` into a :class:`graphviz.Digraph`; :func:`render_graph`
writes it to an SVG or PNG file.

The picture
-----------
Every value in the graph is a record box; every operation is a small oval feeding the
box of its result, with one edge per input (so ``a * a`` shows two edges from ``a``).

- Value boxes read ``label | data 2.0000 | grad 1.0000``.
- Tensor boxes read ``name | (128, 256) float32 | grad ✓`` (the name only when set, the
  value when the tensor holds one element, ``grad ✓`` once ``.grad`` is filled).
- Fill colours: light blue for parameters (leaves that require grad), grey for constants
  (leaves that do not), white for computed results; the output has a thick border.

Graphs of derivatives
---------------------
A Value gradient built with ``create_graph=True`` (``Value.backward`` or
``tinygrad_opt.value.grad``) is itself a graph, and the nodes of the k-th backward pass
are coloured by k (``Value.derivative_order``): orange for the first, green for the
second, violet for the third; a legend names the colours. The results carry labels such
as ``∂y/∂x`` and ``∂²y/∂x²``. With ``show_sources`` (the default) a dotted edge of that
colour runs from each forward (or earlier-backward) node to the nodes its derivative rule
built (``Value.derivative_source``), and those source nodes are drawn too: so
``draw_graph(d2y)`` for ``y = x**3`` shows ``y = x³``, the first backward's ``x²``
built by the rule of ``x³``, and the second backward's ``2·x`` built by the rule of
``x²``. Several roots may be drawn in one picture (``draw_graph([y, dy, d2y])``); shared
nodes appear once.

How the graph is walked
-----------------------
Breadth-first from the output(s) with an explicit queue (no recursion, so a graph a million
operations deep is fine), each node once (identity by ``id()``), inputs in their tuple
order (then the derivative source), so the same graph always gives the same DOT source.
At most ``max_nodes`` values are drawn — the ones nearest the output. When more exist,
a note in the drawing says how many were left out, with dashed edges to the operations
whose inputs are hidden.
Building the DOT source needs only the ``graphviz`` Python package; rendering to an
image needs Graphviz's ``dot`` program.
"""

from __future__ import annotations

import numbers
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import graphviz

from tinygrad_opt.tensor import Tensor

__all__ = ["draw_graph", "render_graph"]

_RANKDIRS = ("LR", "RL", "TB", "BT")
_MAX_NAME = 40  # longer names are shortened with an ellipsis

# Value op codes with a constant operand kept in ``aux``: "*c" is x * c, "c-" is c - x.
_CONST_RIGHT = frozenset({"+c", "-c", "*c", "/c", "**c"})
_CONST_LEFT = frozenset({"c-", "c/", "c**"})

_FILL_PARAM = "#cfe2ff"
_FILL_CONST = "#e9ecef"
_FILL_RESULT = "#ffffff"
_FILL_OP = "#fff3bf"
_FILL_NOTE = "#ffe3e3"
# Nodes of the k-th backward pass (k = 1, 2, ...; cycling): value fill, op fill, edge colour.
_ORDER_COLOURS = (
    ("#ffd8a8", "#ffe8cc", "#e8590c"),  # orange
    ("#b2f2bb", "#d3f9d8", "#2f9e44"),  # green
    ("#d0bfff", "#e5dbff", "#7048e8"),  # violet
    ("#99e9f2", "#c5f6fa", "#1098ad"),  # cyan
)


# --------------------------------------------------------------------------- labels
_RECORD_SPECIAL = re.compile(r"([{}|<>])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _record_text(text: str) -> str:
    """Make ``text`` literal inside one field of a DOT record label.

    Backslashes are doubled, the record syntax characters ``{ } | < >`` get a backslash,
    control characters (newlines included) become spaces; double quotes are escaped by
    the graphviz package when it quotes the attribute.
    """
    text = _CONTROL.sub(" ", text)
    if len(text) > _MAX_NAME:
        text = text[: _MAX_NAME - 1] + "…"
    text = text.replace("\\", "\\\\")
    return _RECORD_SPECIAL.sub(r"\\\1", text)


def _record(fields: Sequence[str], rankdir: str) -> str:
    """A record label with ``fields`` side by side (already escaped)."""
    body = " | ".join(fields)
    # Records lay fields out across the rank direction; braces turn them back to a row.
    if rankdir in ("LR", "RL"):
        body = "{ " + body + " }"
    return graphviz.nohtml(body)


def _fmt_number(x: Any) -> str:
    try:
        return f"{float(x):.4f}"
    except (TypeError, ValueError):
        return _record_text(str(x))


# --------------------------------------------------------------------------- node kinds
class _Kind:
    """How to read one kind of graph node (Value or Tensor)."""

    inputs: Callable[[Any], Sequence[Any]]

    def __init__(self, show_grad: bool) -> None:
        self.show_grad = show_grad

    def op(self, node: Any) -> str:
        return str(getattr(node, "op", "") or "")

    @staticmethod
    def order(node: Any) -> int:
        """Derivative order of the pass that built ``node`` (0: the forward computation)."""
        k = getattr(node, "derivative_order", 0)
        return k if isinstance(k, int) and not isinstance(k, bool) and k > 0 else 0

    @staticmethod
    def source(node: Any) -> Any:
        """The node whose derivative rule built ``node``, or None."""
        return getattr(node, "derivative_source", None)

    def fields(self, node: Any) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def is_param(self, node: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class _ValueKind(_Kind):
    @staticmethod
    def inputs(node: Any) -> Sequence[Any]:
        return node.children

    def op(self, node: Any) -> str:
        # Constant operands are folded into the op ("*c" with aux=2.0): show them there.
        op = str(node.op or "")
        aux = getattr(node, "aux", None)
        if isinstance(aux, numbers.Real) and not isinstance(aux, bool):
            c = f"{float(aux):g}"
            if op in _CONST_RIGHT:
                return f"{op[:-1]} {c}"
            if op in _CONST_LEFT:
                return f"{c} {op[1:]}"
            if op == "sum" and aux != 0:
                return f"sum {float(aux):+g}"
        return op

    def fields(self, node: Any) -> list[str]:
        out = []
        label = getattr(node, "label", "") or ""
        if label:
            out.append(_record_text(str(label)))
        out.append("data " + _fmt_number(node.data))
        grad = getattr(node, "grad", None)
        if self.show_grad and grad is not None:
            if hasattr(grad, "children"):  # a gradient with its own graph (create_graph)
                out.append("grad " + _fmt_number(grad.data) + " (Value)")
            else:
                out.append("grad " + _fmt_number(grad))
        return out

    def is_param(self, node: Any) -> bool:
        # Value folds numeric constants into the op (aux), so every leaf Value is one the
        # user created and can train; a ``requires_grad`` attribute, if added, is honoured.
        return bool(getattr(node, "requires_grad", True))


class _TensorKind(_Kind):
    @staticmethod
    def inputs(node: Any) -> Sequence[Any]:
        return node.parents

    def fields(self, node: Any) -> list[str]:
        out = []
        if node.name:
            out.append(_record_text(str(node.name)))
        out.append(_record_text(f"{tuple(node.shape)} {node.dtype}"))
        if node.data.size == 1:
            out.append("data " + _fmt_number(node.data.reshape(())))
        if self.show_grad and node.grad is not None:
            out.append("grad ✓")
        return out

    def is_param(self, node: Any) -> bool:
        return bool(node.requires_grad)


def _kind_of(root: Any, show_grad: bool) -> _Kind:
    if isinstance(root, Tensor):
        return _TensorKind(show_grad)
    if hasattr(root, "children") and hasattr(root, "data"):
        return _ValueKind(show_grad)
    raise TypeError(f"draw_graph: expected a Value or a Tensor, got {type(root).__name__}")


def _roots(root: Any) -> list[Any]:
    """``root`` as a list of distinct roots (a single one, or a list or tuple of them)."""
    if not isinstance(root, (list, tuple)):
        return [root]
    if not root:
        raise ValueError("draw_graph: expected a Value or a Tensor, got an empty sequence")
    seen: set[int] = set()
    out = []
    for r in root:
        if id(r) not in seen:
            seen.add(id(r))
            out.append(r)
    return out


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _legend(orders: list[int], sources: bool) -> str:
    """An HTML-like table naming the colour of each derivative order drawn."""
    rows = [f'<tr><td bgcolor="{_FILL_RESULT}">forward computation</td></tr>']
    for k in orders:
        fill = _ORDER_COLOURS[(k - 1) % len(_ORDER_COLOURS)][0]
        power = "" if k == 1 else str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
        rows.append(f'<tr><td bgcolor="{fill}">∂{power}: {_ordinal(k)} backward pass</td></tr>')
    if sources:
        rows.append("<tr><td>┈┈▸ built by the derivative rule of</td></tr>")
    body = "".join(rows)
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">{body}</table>>'


# --------------------------------------------------------------------------- walking
class _Walk:
    """The first ``max_nodes`` nodes in breadth-first order from the root, and what was cut."""

    def __init__(
        self,
        roots: list[Any],
        inputs: Callable[[Any], Sequence[Any]],
        max_nodes: int,
        count_budget: int,
    ) -> None:
        self.order: list[Any] = list(roots[:max_nodes])
        self.index: dict[int, int] = {id(r): i for i, r in enumerate(self.order)}
        self.boundary: list[int] = []  # drawn nodes with at least one input left out
        hidden: list[Any] = list(roots[max_nodes:])  # found but not drawn, breadth-first
        hidden_ids: set[int] = {id(r) for r in hidden}

        i = 0
        while i < len(self.order):
            node = self.order[i]
            cut_here = False
            for p in inputs(node):
                key = id(p)
                if key in self.index:
                    continue
                if len(self.order) < max_nodes:
                    self.index[key] = len(self.order)
                    self.order.append(p)
                else:
                    cut_here = True
                    if key not in hidden_ids:
                        hidden_ids.add(key)
                        hidden.append(p)
            if cut_here:
                self.boundary.append(i)
            i += 1

        # Count what was left out, but only up to a budget: a million-node graph must
        # not be walked in full just to print a number.
        j = 0
        while j < len(hidden) and len(hidden) <= count_budget:
            for p in inputs(hidden[j]):
                key = id(p)
                if key not in self.index and key not in hidden_ids:
                    hidden_ids.add(key)
                    hidden.append(p)
            j += 1
        self.n_hidden = len(hidden)
        self.exact = j == len(hidden)

    @property
    def cut(self) -> bool:
        return self.n_hidden > 0


# --------------------------------------------------------------------------- public API
def draw_graph(
    root: Any,
    *,
    max_nodes: int = 200,
    rankdir: str = "LR",
    show_grad: bool = True,
    format: str = "svg",
    show_sources: bool = True,
) -> graphviz.Digraph:
    """Draw the computation graph that produced ``root`` (a ``Value`` or a ``Tensor``).

    Args:
        root: the output whose history is drawn, or a list or tuple of outputs drawn
            together (shared nodes once; every output has a thick border).
        max_nodes: at most this many values are drawn, those nearest ``root``
            (breadth-first); if the graph is larger a note in the picture says so.
        rankdir: Graphviz layout direction: ``"LR"`` (inputs left, output right),
            ``"RL"``, ``"TB"`` or ``"BT"``.
        show_grad: include gradients (Value: ``grad 0.1234``; Tensor: ``grad ✓``).
        format: output format used when the returned graph is rendered or shown in a
            notebook (``"svg"``, ``"png"``, ...).
        show_sources: for nodes built by a ``create_graph`` backward, also draw the node
            whose derivative rule built them, joined by a dotted edge (see the module
            notes). Nodes are coloured by derivative order either way.

    Returns:
        A :class:`graphviz.Digraph`; its ``.source`` is the DOT text and is available
        without Graphviz's ``dot`` program.
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be a positive int, got {max_nodes!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    roots = _roots(root)
    kind = _kind_of(roots[0], show_grad)
    for r in roots[1:]:
        if type(_kind_of(r, show_grad)) is not type(kind):
            raise TypeError("draw_graph: cannot draw Values and Tensors in one picture")
    if show_sources:

        def inputs(node: Any) -> Sequence[Any]:
            src = kind.source(node)
            ins = kind.inputs(node)
            return ins if src is None else (*ins, src)

    else:
        inputs = kind.inputs
    walk = _Walk(roots, inputs, max_nodes, count_budget=max(10_000, 10 * max_nodes))

    g = graphviz.Digraph(
        "computation_graph",
        format=format,
        graph_attr={"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.35"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#495057"},
    )

    orders: set[int] = set()
    any_source = False
    for i, node in enumerate(walk.order):
        nid = f"v{i}"
        ins = kind.inputs(node)
        k = kind.order(node)
        op_fill = _FILL_OP
        if k:
            orders.add(k)
            fill, op_fill, edge_colour = _ORDER_COLOURS[(k - 1) % len(_ORDER_COLOURS)]
        elif ins:
            fill = _FILL_RESULT
        else:
            fill = _FILL_PARAM if kind.is_param(node) else _FILL_CONST
        style = {"penwidth": "2.2"} if i < len(roots) else {}
        g.node(
            nid,
            _record(kind.fields(node), rankdir),
            shape="record",
            style="filled",
            fillcolor=fill,
            **style,
        )
        op = kind.op(node)
        if ins or op:
            oid = nid + "op"
            g.node(
                oid,
                graphviz.escape(_CONTROL.sub(" ", op or "?")),
                shape="ellipse",
                style="filled",
                fillcolor=op_fill,
                fontsize="10",
                width="0.3",
                height="0.3",
                margin="0.04,0.02",
            )
            g.edge(oid, nid)
            for p in ins:
                j = walk.index.get(id(p))
                if j is not None:
                    g.edge(f"v{j}", oid)
        src = kind.source(node) if show_sources and k else None
        j = walk.index.get(id(src)) if src is not None else None
        if j is not None:
            any_source = True
            g.edge(
                f"v{j}",
                nid,
                style="dotted",
                color=edge_colour,
                arrowhead="vee",
                tooltip="built by the derivative rule of this node",
            )

    if orders:
        g.node("legend", _legend(sorted(orders), any_source), shape="plaintext", fontsize="10")

    if walk.cut:
        shown = len(walk.order)
        total = shown + walk.n_hidden
        of = f"{total:,}" if walk.exact else f"≥{total:,}"
        g.node(
            "cut_note",
            f"graph cut at {shown:,} of {of} nodes\\nraise max_nodes to see more",
            shape="note",
            style="filled",
            fillcolor=_FILL_NOTE,
            fontcolor="#862e2e",
        )
        for i in walk.boundary:
            g.edge("cut_note", f"v{i}op", style="dashed", color="#c92a2a", arrowhead="none")
    return g


def render_graph(
    root: Any,
    path: str | Path,
    format: str | None = None,
    **kw: Any,
) -> Path:
    """Draw ``root``'s graph and write it to ``path``; return the path written.

    ``format`` (``"svg"``, ``"png"``, ``"pdf"``, ...) defaults to the file's suffix, or
    ``"svg"`` when it has none (then ``.svg`` is appended). Other keyword arguments go to
    :func:`draw_graph`. Needs Graphviz's ``dot`` program; raises ``RuntimeError`` without it.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    fmt = (format or (suffix if suffix in graphviz.FORMATS else "svg")).lower()
    if fmt not in graphviz.FORMATS:
        raise ValueError(f"render_graph: unknown output format {fmt!r}")
    if not suffix:
        path = path.with_suffix("." + fmt)
    if shutil.which("dot") is None:
        raise RuntimeError(_NO_DOT)
    graph = draw_graph(root, format=fmt, **kw)
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise RuntimeError(_NO_DOT) from e
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


_NO_DOT = (
    "render_graph needs Graphviz's `dot` program, which was not found on PATH. "
    "Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: "
    "`brew install graphviz`; conda: `conda install graphviz`), or use "
    "draw_graph(...).source to get the DOT text without it."
)
