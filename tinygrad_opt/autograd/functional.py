"""Derivatives of functions, torch's ``torch.autograd.functional``: vjp, jvp, hvp, vhp,
jacobian and hessian.

Every function takes ``func`` (Tensors in, a Tensor or a tuple of Tensors out) and
``inputs`` (a Tensor or a tuple of Tensors), evaluates ``func`` on fresh copies of the
inputs that require grad, and differentiates:

- ``vjp(func, x, v)``  → (f(x), vᵀ·J)      one backward pass
- ``jvp(func, x, v)``  → (f(x), J·v)       two backward passes (the "double-vjp" trick:
  uᵀJ is linear in u, so differentiating it with respect to u along v gives J·v)
- ``vhp(func, x, v)``  → (f(x), vᵀ·H)      f scalar; backward through the gradient
- ``hvp(func, x, v)``  → (f(x), H·v)       equal to vhp for twice-differentiable f (H is
  symmetric); computed the same way, two passes instead of torch's three
- ``jacobian(func, x)`` → J, one backward pass per output element (or, with
  ``strategy="forward-mode"``, one jvp per input element)
- ``hessian(func, x)``  → H, the Jacobian of the gradient

Results follow ``inputs``' structure: a single Tensor input gives a Tensor, a tuple of
inputs gives a tuple. ``jacobian`` of a tuple of outputs with respect to a tuple of inputs
is a tuple (per output) of tuples (per input), and each block has shape
``output.shape + input.shape``. Unless ``create_graph=True`` every result is detached.
With ``strict=True`` an output that does not depend on an input is an error; otherwise its
derivative is zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import enable_grad, tensor_type
from tinygrad_opt.autograd.gradients import grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


# --------------------------------------------------------------------------- helpers
def _as_tuple(x: Any, arg: str, fn: str) -> tuple[bool, tuple]:
    """(was it a tuple?, the tensors as a tuple), checking every element is a Tensor."""
    T = tensor_type()
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, T):
            where = f"{arg}[{i}]" if is_tuple else arg
            raise TypeError(
                f"{fn}: the {where} given to {fn} must be either a Tensor or a tuple of Tensors, "
                f"but it is a {type(t).__name__}"
            )
    return is_tuple, items


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Copies of the inputs that require grad. With ``create_graph`` an input that already
    requires grad stays connected to its own graph (through an identity view), so the
    result can be differentiated with respect to it."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(t.dtype.kind == "f"))
    return tuple(out)


def _check_same(v: tuple, ref: tuple, what: str, fn: str) -> None:
    if len(v) != len(ref):
        raise RuntimeError(
            f"{fn}: v has {len(v)} tensors but the {what} has {len(ref)}; give one per {what}"
        )
    for i, (a, b) in enumerate(zip(v, ref)):
        if a.shape != b.shape:
            raise RuntimeError(
                f"{fn}: entry {i} of v has shape {a.shape} but entry {i} of the {what} has "
                f"shape {b.shape}; they must match"
            )


def _grads(
    outputs: tuple,
    inputs: tuple,
    grad_outputs: tuple | None,
    create_graph: bool,
    strict: bool,
    fn: str,
    what: str = "output",
) -> tuple:
    """``grad`` with unused inputs as None (or an error when ``strict``); outputs that do
    not require grad contribute nothing."""
    keep = [i for i, o in enumerate(outputs) if o.requires_grad]
    if strict and len(keep) < len(outputs):
        i = next(i for i in range(len(outputs)) if i not in keep)
        raise RuntimeError(
            f"{fn}: the {what} of the user-provided function is independent of the input "
            f"(entry {i}). This is not allowed in strict mode."
        )
    if not keep:
        return (None,) * len(inputs)
    outs = tuple(outputs[i] for i in keep)
    gos = None if grad_outputs is None else tuple(grad_outputs[i] for i in keep)
    res = grad(outs, inputs, gos, create_graph=create_graph, allow_unused=True)
    if strict:
        for i, r in enumerate(res):
            if r is None:
                raise RuntimeError(
                    f"{fn}: the {what} of the user-provided function is independent of input "
                    f"{i}. This is not allowed in strict mode."
                )
    return res


def _finish(res: tuple, like: tuple, create_graph: bool) -> tuple:
    """None → zeros shaped like the matching tensor; detached unless ``create_graph``."""
    T = tensor_type()
    out = []
    for r, ref in zip(res, like):
        if r is None:
            r = T(np.zeros(ref.shape, dtype=ref.dtype))
        elif not create_graph:
            r = r.detach()
        out.append(r)
    return tuple(out)


def _outputs(func: Callable, inputs: tuple, fn: str) -> tuple[bool, tuple]:
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, "outputs of the user-provided function", fn)


def _restore(is_tuple: bool, items: tuple) -> Any:
    return items if is_tuple else items[0]


def _detach_all(items: tuple, create_graph: bool) -> tuple:
    return items if create_graph else tuple(t.detach() for t in items)


def _v_or_default(v: Any, like: tuple, fn: str, what: str) -> tuple:
    """``v`` as a tuple of tensors; may be None only when ``like`` is one element."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(
                f"{fn}: the vector v can only be None if the {what} is a single Tensor with a "
                f"single element"
            )
        T = tensor_type()
        return (T(np.ones(like[0].shape, dtype=like[0].dtype)),)
    _, vs = _as_tuple(v, "v", fn)
    _check_same(vs, like, what, fn)
    return vs


def _scalar_output(outs: tuple, fn: str) -> None:
    if len(outs) != 1 or outs[0].numel() != 1:
        raise RuntimeError(
            f"{fn}: the function given to {fn} should return a single Tensor with a single "
            f"element, got shapes {[tuple(o.shape) for o in outs]}"
        )


# --------------------------------------------------------------------------- products
def vjp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product at ``inputs``."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "vjp")
    xs = _prepare(xs, create_graph)
    out_tuple, outs = _outputs(func, xs, "vjp")
    vs = _v_or_default(v, outs, "vjp", "output")
    res = _grads(outs, xs, vs, create_graph, strict, "vjp")
    return _restore(out_tuple, _detach_all(outs, create_graph)), _restore(
        in_tuple, _finish(res, xs, create_graph)
    )


def jvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), J·v)``: the Jacobian-vector product at ``inputs``.

    Computed with two reverse passes: g(u) = uᵀJ is linear in u, so its vector-Jacobian
    product along v, taken with respect to u, is (J v)ᵀ.
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "jvp")
    xs = _prepare(xs, create_graph)
    vs = _v_or_default(v, xs, "jvp", "input")
    out_tuple, outs = _outputs(func, xs, "jvp")
    T = tensor_type()
    us = tuple(T(np.zeros(o.shape, dtype=o.dtype), requires_grad=True) for o in outs)
    g = _grads(outs, xs, us, True, strict, "jvp")
    pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None and gi.requires_grad]
    if pairs:
        res = grad(
            tuple(p[0] for p in pairs),
            us,
            tuple(p[1] for p in pairs),
            create_graph=create_graph,
            allow_unused=True,
        )
    else:
        res = (None,) * len(us)
    if strict and create_graph:
        for i, r in enumerate(res):
            if r is None:
                raise RuntimeError(
                    f"jvp: the output {i} of the user-provided function is independent of the "
                    f"input. This is not allowed in strict mode when create_graph=True."
                )
    return _restore(out_tuple, _detach_all(outs, create_graph)), _restore(
        out_tuple, _finish(res, outs, create_graph)
    )


def vhp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), vᵀ·H)`` for a scalar ``func``: backward through the gradient."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), H·v)`` for a scalar ``func``. The Hessian of a twice-differentiable
    function is symmetric, so H·v = (vᵀH)ᵀ: the same two passes as :func:`vhp`."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(
    func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, fn: str
) -> tuple[Any, Any]:
    in_tuple, xs = _as_tuple(inputs, "inputs", fn)
    xs = _prepare(xs, create_graph)
    vs = _v_or_default(v, xs, fn, "input")
    out_tuple, outs = _outputs(func, xs, fn)
    _scalar_output(outs, fn)
    g = _grads(outs, xs, None, True, strict, fn)
    pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None and gi.requires_grad]
    if strict and len(pairs) < len(g):
        raise RuntimeError(
            f"{fn}: the jacobian of the user-provided function is independent of the input. "
            f"This is not allowed in strict mode."
        )
    if pairs:
        res = grad(
            tuple(p[0] for p in pairs),
            xs,
            tuple(p[1] for p in pairs),
            create_graph=create_graph,
            allow_unused=True,
        )
    else:
        res = (None,) * len(xs)
    if strict:
        for i, r in enumerate(res):
            if r is None:
                raise RuntimeError(
                    f"{fn}: the gradient of the user-provided function is independent of input "
                    f"{i}. This is not allowed in strict mode."
                )
    return _restore(out_tuple, _detach_all(outs, create_graph)), _restore(
        in_tuple, _finish(res, xs, create_graph)
    )


# --------------------------------------------------------------------------- full matrices
def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: block (i, j) has shape
    ``outputs[i].shape + inputs[j].shape``. ``strategy="reverse-mode"`` takes one
    vector-Jacobian product per output element; ``"forward-mode"`` one Jacobian-vector
    product per input element (better when inputs are fewer than outputs). ``vectorize``
    is accepted for torch compatibility (the products run one by one either way)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f'jacobian: expected strategy to be either "forward-mode" or "reverse-mode", got '
            f"{strategy!r}"
        )
    in_tuple, xs = _as_tuple(inputs, "inputs", "jacobian")
    xs = _prepare(xs, create_graph)
    out_tuple, outs = _outputs(func, xs, "jacobian")
    T = tensor_type()
    if strategy == "forward-mode":
        blocks = _jacobian_forward(func, xs, outs, create_graph, strict)
    else:
        blocks = []
        for i, out in enumerate(outs):
            rows: list[list[Any]] = [[] for _ in xs]
            for k in range(out.numel()):
                if not out.requires_grad:
                    res: tuple = (None,) * len(xs)
                    if strict:
                        raise RuntimeError(
                            f"jacobian: output {i} of the user-provided function is independent "
                            f"of the inputs. This is not allowed in strict mode."
                        )
                else:
                    e = np.zeros(out.numel(), dtype=out.dtype)
                    e[k] = 1.0
                    res = _grads(
                        (out,), xs, (T(e.reshape(out.shape)),), create_graph, strict, "jacobian"
                    )
                for j, (r, x) in enumerate(zip(res, xs)):
                    rows[j].append(r if r is not None else T(np.zeros(x.shape, dtype=x.dtype)))
            row = [_stack_rows(rows[j], out, x, create_graph) for j, x in enumerate(xs)]
            blocks.append(tuple(row))
    return _nest(blocks, out_tuple, in_tuple)


def _jacobian_forward(
    func: Callable, xs: tuple, outs: tuple, create_graph: bool, strict: bool
) -> list[tuple]:
    """Jacobian columns by jvp, one per input element."""
    T = tensor_type()
    cols: list[list[list[Any]]] = [[[] for _ in xs] for _ in outs]
    for j, x in enumerate(xs):
        for k in range(x.numel()):
            vs = []
            for jj, xx in enumerate(xs):
                e = np.zeros(xx.numel(), dtype=xx.dtype)
                if jj == j:
                    e[k] = 1.0
                vs.append(T(e.reshape(xx.shape)))
            _, col = jvp(func, xs, tuple(vs), create_graph=create_graph, strict=strict)
            col = col if isinstance(col, tuple) else (col,)
            for i in range(len(outs)):
                cols[i][j].append(col[i])
    from tinygrad_opt.ops.shape import stack

    blocks = []
    for i, out in enumerate(outs):
        row = []
        for j, x in enumerate(xs):
            if cols[i][j]:
                m = stack(cols[i][j], -1).reshape(tuple(out.shape) + tuple(x.shape))
            else:
                m = T(np.zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype))
            row.append(m if create_graph else m.detach())
        blocks.append(tuple(row))
    return blocks


def _stack_rows(rows: list, out: Any, x: Any, create_graph: bool) -> Any:
    from tinygrad_opt.ops.shape import stack

    T = tensor_type()
    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:
        return T(np.zeros(shape, dtype=x.dtype))
    m = stack(rows, 0).reshape(shape)
    return m if create_graph else m.detach()


def _nest(blocks: list[tuple], out_tuple: bool, in_tuple: bool) -> Any:
    if out_tuple:
        return tuple(b if in_tuple else b[0] for b in blocks)
    return blocks[0] if in_tuple else blocks[0][0]


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: block (i, j) has shape
    ``inputs[i].shape + inputs[j].shape`` (a single input gives one Tensor)."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*args: Any) -> Any:
        out_tuple, outs = _as_tuple(func(*args), "outputs of the user-provided function", "hessian")
        _scalar_output(outs, "hessian")
        res = _grads(outs, args, None, True, strict, "hessian")
        return _finish(res, args, True)

    return jacobian(
        gradient if in_tuple else (lambda x: gradient(x)[0]),
        xs if in_tuple else xs[0],
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
