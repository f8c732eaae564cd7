"""Nodes recorded on a tensor's old version after it changed in place: ``y[i] += v``.

Python runs ``y[i] += v`` as ``t = y[i]; t = t.__iadd__(v); y[i] = t``: the getitem node
reads ``y`` at version k, then ``y[i] = t`` rebases ``y`` (version k + 1). As torch, a
node whose backward needs only its inputs' shapes (``Function.saves_inputs`` False:
getitem, add, sum, cat ...) then sends its gradient to ``y``'s old value (the stand-in
the rebase left in ``y._olds``); a node that saved the old value (mul, matmul ...) still
refuses with :class:`InplaceError`. Everything is compared with torch in float64, to the
second derivative (``autograd.grad`` with ``create_graph=True``), and the
``saves_inputs`` declarations are checked op by op against the op tables.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optable import as_list
from test_op_table import CASES

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import InplaceError, Tensor, no_grad
from tinygrad_opt.autograd.engine import topological_order
from tinygrad_opt.autograd.function import Function


def _torch():
    return pytest.importorskip("torch")


def _lib(name: str):
    """(module, tensor constructor, grad) of ``tg`` or ``torch``."""
    if name == "tg":
        return tg, Tensor, tg.autograd.grad
    torch = _torch()
    return torch, torch.tensor, torch.autograd.grad


def _array(t) -> np.ndarray:
    return np.array(t.data if isinstance(t, Tensor) else t.detach().numpy())


def _orders(lib: str, program: Callable, seed: int, start: str = "product") -> list:
    """[f, ∇f, ∇⟨∇f, d⟩] w.r.t. (x (3, 4), v (4,)) for ``f = Σ c · y³ + Σ x · x`` after
    ``program(M, y, x, v)`` changed ``y`` in place (``start``: ``y = x · x + 0.5``, or a
    leaf of zeros that does not require grad)."""
    M, T, grad = _lib(lib)
    rng = np.random.default_rng(seed)
    x = T(rng.standard_normal((3, 4)), requires_grad=True)
    v = T(rng.standard_normal(4), requires_grad=True)
    y = x * x + 0.5 if start == "product" else M.zeros((3, 4), dtype=M.float64)
    program(M, y, x, v)
    f = (y**3 * T(rng.standard_normal((3, 4)))).sum() + (x * x).sum()
    out = [_array(f)]
    gs = grad(f, [x, v], create_graph=True, allow_unused=True)
    out.append([np.zeros(s) if g is None else _array(g) for g, s in zip(gs, ((3, 4), (4,)))])
    ds = [T(rng.standard_normal(s)) for s in ((3, 4), (4,))]
    inner = sum((g * d).sum() for g, d in zip(gs, ds) if g is not None)
    hs = grad(inner, [x, v], allow_unused=True)
    out.append([np.zeros(s) if h is None else _array(h) for h, s in zip(hs, ((3, 4), (4,)))])
    return out


def _agree(program: Callable, seed: int = 0, start: str = "product", theirs=None) -> None:
    """``program`` gives torch's values and first and second derivatives (``theirs``: the
    torch program, when it must differ)."""
    ours = _orders("tg", program, seed, start)
    ref = _orders("torch", theirs or program, seed, start)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-12)
    for order in (1, 2):
        for name, a, b in zip("xv", ours[order], ref[order]):
            np.testing.assert_allclose(
                a, b, rtol=1e-10, atol=1e-10, err_msg=f"order {order} w.r.t. {name}"
            )


# --------------------------------------------------------------------------- the brief's forms
def _loop_rows(M, y, x, v):
    for k in range(6):
        y[k % 3] += y[(k + 1) % 3] * 0.5 + v * x[k % 3]


def _loop_columns(M, y, x, v):
    for t in range(1, 4):
        y[:, t] += y[:, t - 1] * 0.5


def _mixed(M, y, x, v):
    for k in range(3):
        y[k] *= 1.5
        y[:, k + 1] -= v[k] * x[:, k]
        y[M.tensor([2, 0])] += v.tanh()


def _set_from_self(M, y, x, v):
    y[1] = y[0].clone() * 2


def _iadd(M, y, x, v):
    y[1] += v


def _column_iadd(M, y, x, v):
    y[:, 2] += x[:, 0] * v[1]


def _imul_number(M, y, x, v):
    y[1] *= 2


def _imul_tensor(M, y, x, v):
    y[0] *= v


def _idiv(M, y, x, v):
    y[2] /= 1 + v * v


def _advanced(M, y, x, v):
    y[M.tensor([2, 0])] -= v


def _mask(M, y, x, v):
    y[y > 1] += v[0]


def _add_self(M, y, x, v):
    y.add_(y)


def _element(M, y, x, v):
    y[0, 3] += v[2]


PROGRAMS = {
    "y[i] += v": _iadd,
    "y[:, t] += w": _column_iadd,
    "y[i] *= 2": _imul_number,
    "y[i] *= v": _imul_tensor,
    "y[i] /= w": _idiv,
    "y[idx] -= v": _advanced,
    "y[mask] += s": _mask,
    "y[i, j] += s": _element,
    "loop over rows": _loop_rows,
    "loop over columns": _loop_columns,
    "mixed loop": _mixed,
    "y[1] = y[0].clone() * 2": _set_from_self,
    "y.add_(y)": _add_self,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_augmented_index_assignment_matches_torch_to_second_order(name):
    _agree(PROGRAMS[name])


@pytest.mark.parametrize("name", ["y[i] += v", "y[:, t] += w", "mixed loop", "y[idx] -= v"])
def test_augmented_index_assignment_into_a_leaf_without_grad(name):
    _agree(PROGRAMS[name], start="zeros")


def test_backward_accumulates_as_torch():
    torch = _torch()
    rng = np.random.default_rng(1)
    x0, v0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    results = []
    for M, T in ((tg, Tensor), (torch, torch.tensor)):
        x, v = T(x0, requires_grad=True), T(v0, requires_grad=True)
        y = x * 2
        _loop_rows(M, y, x, v)
        y[:, 1] *= 3
        (y * y).sum().backward()
        results.append([_array(x.grad), _array(v.grad), _array(y)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# --------------------------------------------------------------------------- drawn programs
def _index(M, kind: str):
    return {
        "int": 1,
        "negative int": -1,
        "slice": slice(1, 3),
        "column": (slice(None), 2),
        "element": (0, 3),
        "strided": (slice(None, None, 2), slice(1, None)),
        "ellipsis": (Ellipsis, 1),
        "int list": M.tensor([2, 0]),
        "two lists": (M.tensor([0, 2]), M.tensor([3, 1])),
        "mask": M.tensor(np.arange(12).reshape(3, 4) % 3 == 1),
    }[kind]


INDEXES = [
    "int",
    "negative int",
    "slice",
    "column",
    "element",
    "strided",
    "ellipsis",
    "int list",
    "two lists",
    "mask",
]
RIGHT_SIDES = ["number", "x", "tanh x", "y clone", "v"]


def _right(M, kind: str, y, x, v, index):
    """A right-hand side that fits ``y[index]`` (``v[1]`` broadcasts to any shape)."""
    if kind == "number":
        return 1.5
    if kind == "x":
        return x[index] * 0.7
    if kind == "tanh x":
        return x[index].tanh()
    if kind == "y clone":
        return y[index].clone() * 0.5
    return v[1]


def _apply(M, y, x, v, step) -> None:
    index_kind, op, rhs = step
    i = _index(M, index_kind)
    if op == "+=":
        y[i] += _right(M, rhs, y, x, v, i)
    elif op == "-=":
        y[i] -= _right(M, rhs, y, x, v, i)
    elif op == "*=":
        y[i] *= _right(M, rhs, y, x, v, i)
    else:  # a divisor kept away from 0
        r = _right(M, rhs, y, x, v, i)
        y[i] /= 1.5 if rhs == "number" else 1 + r * r


STEP = st.tuples(
    st.sampled_from(INDEXES),
    st.sampled_from(["+=", "-=", "*=", "/="]),
    st.sampled_from(RIGHT_SIDES),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEP, min_size=1, max_size=6),
    start=st.sampled_from(["product", "zeros"]),
    seed=st.integers(0, 9),
)
def test_drawn_augmented_assignments_match_torch_to_second_order(steps, start, seed):
    def program(M, y, x, v):
        for step in steps:
            _apply(M, y, x, v, step)

    _agree(program, seed, start)


# --------------------------------------------------------------------------- old-version readers
# A node recorded on y, then y is rebased by ``y.mul_(x)``; the loss reads the node's
# output and the new y. torch's basic indexing, reshape, transpose ... return views,
# which follow later changes of y; ours are copies, so torch's side clones them.
def _view(fn: Callable) -> tuple[Callable, Callable]:
    return fn, lambda M, y: fn(M, y).clone()


def _same(fn: Callable) -> tuple[Callable, Callable]:
    return fn, fn


def _saved_by_torch(fn: Callable) -> tuple[Callable, Callable]:
    """torch's backward of these saves the input (for its shape only): its side reads a
    copy, which the change leaves alone."""
    return fn, lambda M, y: fn(M, y.clone())


READERS: dict[str, tuple[Callable, Callable]] = {
    "sum": _same(lambda M, y: y.sum(1)),
    "mean": _same(lambda M, y: y.mean(0, keepdim=True)),
    "add": _same(lambda M, y: y + 1.0),
    "sub": _same(lambda M, y: 2.0 - y),
    "neg": _same(lambda M, y: -y),
    "clone": _same(lambda M, y: y.clone()),
    "cat": _same(lambda M, y: M.cat([y, y[:1] * 3], 0)),
    "stack": _same(lambda M, y: M.stack([y, y], 1)),
    "flip": _same(lambda M, y: y.flip(1)),
    "roll": _same(lambda M, y: y.roll(1, 0)),
    "tril": _same(lambda M, y: y.tril(1)),
    "cumsum": _same(lambda M, y: y.cumsum(1)),
    "where": _same(lambda M, y: M.where(M.tensor(np.eye(3, 4) > 0), y, 0.0)),
    "masked_fill": _same(lambda M, y: y.masked_fill(M.tensor(np.eye(3, 4) > 0), 2.0)),
    "gather": _saved_by_torch(lambda M, y: y.gather(1, M.tensor([[0, 3], [1, 1], [2, 0]]))),
    "index_select": _same(lambda M, y: y.index_select(1, M.tensor([3, 0, 3]))),
    "advanced index": _same(lambda M, y: y[M.tensor([2, 0, 2])]),
    "scatter": _same(lambda M, y: y.scatter(0, M.tensor([[1, 0, 2, 2]]), y[:1] * 2)),
    "index_put": _same(lambda M, y: y.index_put((M.tensor([1]),), M.tensor(3.0).double())),
    "constant pad": _same(lambda M, y: (F if M is tg else M.nn.functional).pad(y, (1, 2))),
    "reflect pad": _saved_by_torch(
        lambda M, y: (F if M is tg else M.nn.functional).pad(y, (2, 1), mode="reflect")
    ),
    "to float32 and back": _same(lambda M, y: y.to(M.float32).to(M.float64)),
    "getitem": _view(lambda M, y: y[1]),
    "slice": _view(lambda M, y: y[:, 1:3]),
    "reshape": _view(lambda M, y: y.reshape(4, 3)),
    "transpose": _view(lambda M, y: y.t()),
    "expand": _view(lambda M, y: y[:1].expand(2, 4)),
    "diagonal": _view(lambda M, y: y.diagonal(1)),
    "unfold": _view(lambda M, y: y.unfold(1, 2, 1)),
    "narrow": _view(lambda M, y: y.narrow(1, 1, 2)),
}


def _reader_program(reader: Callable) -> Callable:
    def program(M, y, x, v):
        kept = reader(M, y)
        y.mul_(x)  # rebases y: the reader's node now sees version 1
        y.add_((kept * kept.tanh()).sum() * v[0])

    return program


@pytest.mark.parametrize("name", sorted(READERS))
def test_readers_of_the_old_version_backpropagate_as_torch(name):
    ours, theirs = READERS[name]
    _agree(_reader_program(ours), theirs=_reader_program(theirs))


SAVERS: dict[str, Callable] = {
    "mul": lambda M, y: y * y,
    "matmul": lambda M, y: y @ y.t(),
    "div": lambda M, y: (y + 1.0) / y,
    "pow": lambda M, y: y**3,
    "sin": lambda M, y: y.sin(),
    "mul_ with itself": lambda M, y: y.mul_(y),
}


@pytest.mark.parametrize("name", sorted(SAVERS))
@pytest.mark.parametrize("change", ["y[0] += 1", "y.add_(1)"])
def test_a_node_that_saved_the_old_value_still_refuses_as_torch(name, change):
    for lib in ("torch", "tg"):
        M, T, _ = _lib(lib)
        x = T(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
        y = x * 1.0
        out = SAVERS[name](M, y)
        if change == "y[0] += 1":
            y[0] += 1
        else:
            y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            (out.sum() + y.sum()).backward()
    with pytest.raises(InplaceError, match="expected version"):  # and in autograd.grad
        tg.autograd.grad(out.sum(), [x], create_graph=True)


def test_a_read_of_a_view_that_torch_shares_is_ours_to_keep():
    """``y[0] *= y[1]``: torch refuses (``y[1]`` is a view of y, saved by the product and
    changed with y); ours is a copy, still intact, so the gradient is right: torch's
    with ``y[1].clone()``, and central differences."""

    def ours(M, y, x, v):
        y[0] *= y[1]

    def theirs(M, y, x, v):
        y[0] *= y[1].clone()

    _agree(ours, theirs=theirs)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _orders("torch", ours, 0)

    rng = np.random.default_rng(5)
    x0, u = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def f(x0):
        y = Tensor(x0) * 1.0
        y[0] *= y[1]
        return float((y * Tensor(u)).sum().item())

    x = Tensor(x0, requires_grad=True)
    y = x * 1.0
    y[0] *= y[1]
    (y * Tensor(u)).sum().backward()
    eps, numeric = 1e-6, np.zeros((3, 4))
    for k in np.ndindex(3, 4):
        e = np.zeros((3, 4))
        e[k] = eps
        numeric[k] = (f(x0 + e) - f(x0 - e)) / (2 * eps)
    np.testing.assert_allclose(x.grad, numeric, rtol=1e-7, atol=1e-8)


def test_a_change_without_grad_leaves_no_stand_in():
    """Under ``no_grad`` the values are overwritten in the same array and the tensor keeps
    its place in the graph: nothing stands for the old version, so even a node that
    needs no values refuses (torch, whose graph edges do not go through the tensor,
    lets this one through)."""
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * 2
    a = y.sum()
    with no_grad():
        y.add_(1)
    assert getattr(y, "_olds", None) is None
    with pytest.raises(InplaceError, match="expected version 0"):
        a.backward()


def test_stand_ins_go_with_the_graph():
    """The stand-ins add no reference cycle: dropping ``y`` frees them at once. (After
    ``y[i] += v`` the getitem node, in ``y``'s new graph, holds ``y`` itself: a cycle
    the garbage collector frees, as it did before stand-ins.)"""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    y.add_(1.0)
    y.mul_(x)
    assert sorted(y._olds) == [0, 1] and [s._version for s in y._olds.values()] == [0, 1]
    refs = [weakref.ref(s) for s in y._olds.values()]
    gc.disable()
    try:
        del y
        assert all(r() is None for r in refs)
    finally:
        gc.enable()
    y = x * 2
    y[0] += 1.0
    y[1] *= 3.0
    refs = [weakref.ref(s) for s in y._olds.values()]
    del y
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_rebase_keeps_the_shape_as_torch():
    torch = _torch()
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        (torch.ones(3, requires_grad=True) * 1).add_(torch.ones(2, 3))
    y = Tensor(np.ones(3), requires_grad=True) * 1
    with pytest.raises(RuntimeError, match=r"result of shape \(2, 3\) does not fit"):
        y.add_(Tensor(np.ones((2, 3))))
    assert y.shape == (3,) and y._version == 0


# --------------------------------------------------------------------------- saves_inputs
def _saves_inputs_classes() -> set[type]:
    seen, todo = set(), [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c for c in seen if not c.saves_inputs}


def _table_gradients(case, change: bool, create_graph: bool):
    """Gradients of Σ out·u w.r.t. the float inputs of ``case``, computed through non-leaf
    copies ``h = x · 1`` (``change``: each then rebased by ``h.mul_(2)``, so every node
    that read an ``h`` sees a changed input), with second derivatives along a fixed
    direction when ``create_graph``; and the classes of the nodes that read an ``h``."""
    arrays = case.make_inputs()
    xs = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    hs = [x * 1.0 if x.requires_grad else x for x in xs]
    outs = [o for o in as_list(case.ours(*hs)) if isinstance(o, Tensor) and o.requires_grad]
    if not outs or any(o is h for o in outs for h in hs):  # (an op that returns its input)
        return None, set()
    readers = set()
    for node in topological_order(outs):
        if any(p is h for p in node._ctx.parents for h in hs):
            readers.add(type(node._ctx))
    if change:
        for h, x in zip(hs, xs):
            if h is not x:
                h.mul_(2.0)
    rng = np.random.default_rng(case.seed())
    total = sum((o * Tensor(rng.standard_normal(o.shape))).sum() for o in outs)
    wrt = [x for x in xs if x.requires_grad]
    gs = tg.autograd.grad(total, wrt, create_graph=create_graph, allow_unused=True)
    result = [None if g is None else np.array(g.data) for g in gs]
    if create_graph:
        inner = sum((g * Tensor(rng.standard_normal(g.shape))).sum() for g in gs if g is not None)
        if isinstance(inner, Tensor) and inner.requires_grad:
            hs2 = tg.autograd.grad(inner, wrt, allow_unused=True)
            result += [None if h is None else np.array(h.data) for h in hs2]
    return result, readers


GRAD_CASES = [(k, c) for k, c in CASES if c.grad]


def _check_case(case, create_graph: bool) -> set[type]:
    """The gradients through the changed inputs equal those without the change, or the
    pass refuses; the classes that took the old version (must all have saves_inputs
    False)."""
    ref, readers = _table_gradients(case, False, create_graph)
    if ref is None:
        return set()
    try:
        got, _ = _table_gradients(case, True, create_graph)
    except InplaceError:
        assert any(r.saves_inputs for r in readers), f"{case.name}: refused, no reader saves"
        return set()
    assert not any(r.saves_inputs for r in readers), f"{case.name}: a saving reader ran"
    for a, b in zip(got, ref):
        if a is None or b is None:
            assert a is None and b is None, case.name
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=case.name)
    return readers


def test_saves_inputs_declarations_hold_on_the_op_tables():
    """Every table op run on inputs that were then changed in place: an op declared
    ``saves_inputs = False`` must give the unchanged gradients (first order through
    ``backward``, second through each ``vjp``, which would read a changed input), one
    that saves must refuse. Every declared class is reached by a table or below."""
    covered: set[type] = set()
    for _, case in GRAD_CASES:
        covered |= _check_case(case, create_graph=False)
        if case.second:
            covered |= _check_case(case, create_graph=True)
    missing = {c.__name__ for c in _saves_inputs_classes() - covered} - set(_DIRECT)
    assert not missing, f"saves_inputs=False classes no table reaches: {sorted(missing)}"


_DIRECT: dict[str, tuple[Callable, tuple[int, ...]]] = {}


def _register_direct() -> None:
    from tinygrad_opt.autograd.function import Identity
    from tinygrad_opt.nn._spatial import _ModePad
    from tinygrad_opt.ops.index_functions import IndexAdd
    from tinygrad_opt.ops.rearrange import DiagEmbed, DiagonalScatter
    from tinygrad_opt.ops.scan import ReverseCumSum
    from tinygrad_opt.ops.scatter import GatherAdjoint
    from tinygrad_opt.ops.select import PutAlong
    from tinygrad_opt.ops.slicing import Embed
    from tinygrad_opt.ops.window import Col2Im, FoldWindows, Im2Col

    idx = np.array([[0, 2, 2], [1, 0, 1]])
    geom = ((2, 2), (1, 1), (0, 0), (1, 1), (2, 3))
    _DIRECT.update(
        {
            "IndexAdd": (
                lambda h: IndexAdd.apply(h, shape=(4, 3), index=(np.array([0, 3]),)),
                (2, 3),
            ),
            "Identity": (Identity.apply, (2, 3)),
            "Embed": (lambda h: Embed.apply(h, shape=(4, 3), index=(slice(1, 3),)), (2, 3)),
            "PutAlong": (
                lambda h: PutAlong.apply(h, index=idx, dim=1, shape=(2, 4), unique=False),
                (2, 3),
            ),
            "GatherAdjoint": (
                lambda h: GatherAdjoint.apply(h, shape=(2, 4), index=idx, dim=1),
                (2, 3),
            ),
            "DiagonalScatter": (
                lambda h: DiagonalScatter.apply(h, shape=(3, 4), offset=1, dim1=0, dim2=1),
                (3,),
            ),
            "DiagEmbed": (lambda h: DiagEmbed.apply(h, offset=-1, dim1=0, dim2=1), (3,)),
            "ReverseCumSum": (lambda h: ReverseCumSum.apply(h, dim=1), (2, 3)),
            "FoldWindows": (
                lambda h: FoldWindows.apply(h, shape=(2, 4), dim=1, size=2, step=1),
                (2, 3, 2),
            ),
            "Im2Col": (lambda h: Im2Col.apply(h, geom=geom), (1, 2, 3, 4)),
            "Col2Im": (lambda h: Col2Im.apply(h, hw=(3, 4), geom=geom), (1, 8, 6)),
            "_ModePad": (
                lambda h: _ModePad.apply(h, maps=((1, np.array([2, 1, 0, 1, 2, 3, 2])),)),
                (2, 4),
            ),
        }
    )


_register_direct()


@pytest.mark.parametrize("name", sorted(_DIRECT))
def test_saves_inputs_declarations_of_the_adjoints(name):
    """The Functions only double backward builds, read directly, as the table ops are."""
    build, shape = _DIRECT[name]
    x0 = np.random.default_rng(7).standard_normal(shape)

    def gradients(change: bool) -> list[np.ndarray]:
        x = Tensor(x0, requires_grad=True)
        h = x * 1.0
        out = build(h)
        assert type(out._ctx).__name__ == name and not out._ctx.saves_inputs
        if change:
            h.mul_(2.0)
        u = Tensor(np.cos(np.arange(out.numel())).reshape(out.shape))
        (g,) = tg.autograd.grad((out * out * u).sum(), [x], create_graph=True)
        d = Tensor(np.sin(np.arange(g.numel())).reshape(g.shape))
        (h2,) = tg.autograd.grad(((g * g) * d).sum(), [x], materialize_grads=True)
        return [np.array(g.data), np.array(h2.data)]

    for a, b in zip(gradients(True), gradients(False)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
