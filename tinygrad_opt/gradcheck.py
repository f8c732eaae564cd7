"""Check analytical gradients against central finite differences, in float64.

``gradcheck(fn, inputs)`` evaluates ``fn`` on float64 copies of ``inputs`` (Tensors, or
Values/numbers for the scalar engine), backpropagates, and compares with

    ∂f/∂x_i ≈ (f(x + ε e_i) - f(x - ε e_i)) / (2ε)

Small problems get the full Jacobian, one output element at a time. Large ones get
vector-Jacobian products: a random output weighting ``u`` turns ``f`` into the scalar
``u·f``; its analytical gradient is compared along random input directions ``v``
(``(u·f(x+εv) - u·f(x-εv)) / 2ε``) and at a random sample of single elements, so a
failure can still name the element.

A mismatch is |analytical - numerical| > atol + rtol·|numerical| anywhere; a nan or
infinite analytical gradient, or a nan numerical one, is a mismatch too.

``gradgradcheck(fn, inputs)`` checks second derivatives the same way: it runs
``gradcheck`` on the first-order gradient function

    G(x, u) = ∂(u·f)/∂x = uᵀ J_f(x)     (computed with ``create_graph=True``)

so G's own gradient — the recorded backward of the backward — is compared with finite
differences of G, with respect to the inputs x (second derivatives of f) and to the
output weights u (which checks that the recorded backward is the right linear map).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """Raised when an analytical gradient disagrees with the finite-difference one."""


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_full_jacobian: int = 4096,
    n_directions: int = 4,
    n_elements: int = 16,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Return True if ``fn``'s gradients match finite differences, else raise (or return False).

    ``inputs`` are Tensors or Values (or plain numbers, treated as Values). Only Tensor
    inputs with ``requires_grad=True`` are checked; all Value inputs are. ``fn`` must
    return a Tensor (any shape) or a Value. The full Jacobian is checked when
    (input elements × output elements) <= ``max_full_jacobian``; otherwise
    ``n_directions`` random directional derivatives and ``n_elements`` sampled elements
    per input of a random vector-Jacobian product are.

    Example::

        x = Tensor(np.random.randn(3, 4), requires_grad=True)
        gradcheck(lambda t: (t * t).sum(axis=1).sqrt(), [x])
    """
    if len(inputs) == 0:
        raise ValueError("gradcheck: no inputs given")
    if all(not isinstance(x, Tensor) for x in inputs):
        problem = _ValueProblem(fn, inputs)
    else:
        problem = _TensorProblem(fn, inputs)
    try:
        problem.check(eps, atol, rtol, max_full_jacobian, n_directions, n_elements, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_full_jacobian: int = 4096,
    n_directions: int = 4,
    n_elements: int = 16,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Return True if ``fn``'s second derivatives match finite differences of its first.

    ``fn`` returns a Tensor or a tuple of Tensors. ``grad_outputs`` (one per floating
    output) are the weights u of G(x, u) = uᵀJ_f(x) (see the module docstring); by
    default random normal (seeded), and then checked as inputs too. A failure names the
    input ("input k") or the weight ("grad_output j"), the element and both numbers.

    Example::

        x = Tensor(np.random.randn(3), requires_grad=True)
        gradgradcheck(lambda t: (t * t.exp()).sum(), [x])
    """
    from tinygrad_opt.autograd.gradients import backward, grad
    from tinygrad_opt.ops.shape import cat

    if len(inputs) == 0:
        raise ValueError("gradgradcheck: no inputs given")
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError("gradgradcheck: no input Tensor has requires_grad=True")
    args64 = [
        Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
        if isinstance(x, Tensor)
        else x
        for x in inputs
    ]
    outs = _outputs(fn(*args64), "gradgradcheck")
    floats = [o for o in outs if o.dtype.kind == "f"]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        us = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in floats]
    else:
        us = [
            u if isinstance(u, Tensor) else Tensor(np.asarray(u, np.float64)) for u in grad_outputs
        ]
        if len(us) != len(floats):
            raise ValueError(
                f"gradgradcheck: {len(us)} grad_outputs for {len(floats)} floating outputs"
            )
        for j, (u, o) in enumerate(zip(us, floats)):
            if u.shape != o.shape:
                raise ValueError(
                    f"gradgradcheck: grad_outputs[{j}] has shape {u.shape}, output {j} has "
                    f"shape {o.shape}"
                )
    for j, u in enumerate(us):
        u.name = f"grad_output {j}"
    n = len(inputs)

    def first_order(*args: Any) -> Tensor:
        xs, ws = args[:n], args[n:]
        outs = [o for o in _outputs(fn(*xs), "gradgradcheck") if o.dtype.kind == "f"]
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        pairs = [(o, w) for o, w in zip(outs, ws) if o.requires_grad]
        if not pairs:
            return cat([Tensor(np.zeros(x.shape)).reshape(-1) for x in diff])
        gs = grad(
            [o for o, _ in pairs],
            diff,
            [w for _, w in pairs],
            create_graph=True,
            materialize_grads=True,
        )
        return cat([g.reshape(-1) for g in gs])

    # The recorded first-order gradient must be the one backward() computes (which
    # gradcheck compares with finite differences): else G would be checked consistently
    # wrong.
    recorded = first_order(*args64, *us).data
    for x in args64:
        if isinstance(x, Tensor):
            x.grad = None
    pairs = [(o, u) for o, u in zip(floats, us) if o.requires_grad]
    if pairs:
        backward([o for o, _ in pairs], [u.data for _, u in pairs])
    plain = np.concatenate(
        [
            (np.zeros(x.shape) if x.grad is None else np.asarray(x.grad)).reshape(-1)
            for x in args64
            if isinstance(x, Tensor) and x.requires_grad
        ]
    )
    bad = _mismatch(plain, recorded, atol, rtol)
    if (bad > 0).any():
        k = int(np.argmax(bad))
        err = GradcheckError(
            f"gradgradcheck failed: the recorded gradient (create_graph=True) differs from "
            f"backward()'s at flat element {k} of the inputs' gradients: backward "
            f"{plain[k]:.10g}, recorded {recorded[k]:.10g}"
        )
        if raise_exception:
            raise err
        return False
    try:
        return gradcheck(
            first_order,
            [*inputs, *us],
            eps,
            atol,
            rtol,
            max_full_jacobian=max_full_jacobian,
            n_directions=n_directions,
            n_elements=n_elements,
            seed=seed,
            raise_exception=True,
        )
    except GradcheckError as e:
        if not raise_exception:
            return False
        msg = str(e).replace(
            "gradcheck failed for", "gradgradcheck failed (the derivative of the gradient) for", 1
        )
        raise GradcheckError(msg) from None


def _outputs(out: Any, what: str) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{what}: fn must return Tensors, got {type(o).__name__}")
    return outs


def _report(
    which: str, index: Any, numerical: float, analytical: float, what: str, atol: float, rtol: float
) -> GradcheckError:
    return GradcheckError(
        f"gradcheck failed for {which} at element {index} ({what}): "
        f"numerical {numerical:.10g}, analytical {analytical:.10g}, "
        f"difference {abs(numerical - analytical):.3g} > atol {atol:g} + rtol {rtol:g}·|numerical|"
    )


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _mismatch(num: np.ndarray, ana: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """How far past the tolerance each element is (> 0 means failure).

    A nan on either side is a failure (inf), as in torch's gradcheck: a function that is
    undefined around the point (``log`` of a negative number) proves nothing.
    """
    with np.errstate(invalid="ignore"):
        d = np.abs(num - ana) - (atol + rtol * np.abs(num))
    return np.where(np.isnan(d), np.inf, d)


class _Problem:
    """The inputs as a list of float64 arrays, with f and its VJP on them."""

    arrays: list[np.ndarray]
    names: list[str]

    def value(self) -> np.ndarray:  # f at the current arrays, as a float64 array
        raise NotImplementedError

    def vjp(self, u: np.ndarray) -> list[np.ndarray]:  # ∇(u·f) per input
        raise NotImplementedError

    def _central(self, direction: list[np.ndarray], eps: float, u: np.ndarray | None) -> Any:
        """(f(x+εd) - f(x-εd)) / 2ε, optionally weighted by u and summed."""
        for a, d in zip(self.arrays, direction):
            a += eps * d
        plus = self.value()
        for a, d in zip(self.arrays, direction):
            a -= 2 * eps * d
        minus = self.value()
        for a, d in zip(self.arrays, direction):
            a += eps * d
        diff = (plus - minus) / (2 * eps)
        return diff if u is None else float((u * diff).sum())

    def check(self, eps, atol, rtol, max_full, n_dir, n_el, seed) -> None:
        out = self.value()
        n_in = sum(a.size for a in self.arrays)
        if n_in == 0 or out.size == 0:
            return
        if n_in * out.size <= max_full:
            self._check_full_jacobian(out, eps, atol, rtol)
        else:
            self._check_vjp(out, eps, atol, rtol, n_dir, n_el, np.random.default_rng(seed))

    def _check_full_jacobian(self, out, eps, atol, rtol) -> None:
        # analytical rows: one backward pass per output element
        rows = []
        for k in range(out.size):
            u = np.zeros(out.size)
            u[k] = 1.0
            rows.append(self.vjp(u.reshape(out.shape)))
        for i, a in enumerate(self.arrays):
            ana = np.stack([r[i].reshape(-1) for r in rows]) if rows else np.zeros((0, a.size))
            num = np.empty_like(ana)
            for j in range(a.size):
                d = [np.zeros_like(b) for b in self.arrays]
                d[i].reshape(-1)[j] = 1.0
                num[:, j] = self._central(d, eps, None).reshape(-1)
            bad = _mismatch(num, ana, atol, rtol)
            if (bad > 0).any() or not np.isfinite(ana).all():
                k, j = np.unravel_index(
                    np.nanargmax(np.where(np.isfinite(ana), bad, np.inf)), bad.shape
                )
                where = _index(j, a.shape)
                what = f"d output{_index(k, out.shape)}"
                raise _report(self.names[i], where, num[k, j], ana[k, j], what, atol, rtol)

    def _check_vjp(self, out, eps, atol, rtol, n_dir, n_el, rng) -> None:
        u = rng.standard_normal(out.shape)
        grads = self.vjp(u)
        for _ in range(n_dir):
            v = [rng.standard_normal(a.shape) for a in self.arrays]
            ana = float(sum((g * d).sum() for g, d in zip(grads, v)))
            num = self._central(v, eps, u)
            if _mismatch(np.array(num), np.array(ana), atol, rtol) > 0 or not np.isfinite(ana):
                # Localise: find the worst single element among a sample of each input.
                self._check_elements(grads, u, eps, atol, rtol, max(n_el, 64), rng, force=True)
                raise _report("inputs", "(random direction)", num, ana, "u·J·v", atol, rtol)
        self._check_elements(grads, u, eps, atol, rtol, n_el, rng, force=False)

    def _check_elements(self, grads, u, eps, atol, rtol, n_el, rng, force) -> None:
        worst = None
        for i, a in enumerate(self.arrays):
            picks = rng.choice(a.size, size=min(n_el, a.size), replace=False)
            for j in picks:
                d = [np.zeros_like(b) for b in self.arrays]
                d[i].reshape(-1)[j] = 1.0
                num = self._central(d, eps, u)
                ana = float(grads[i].reshape(-1)[j])
                score = float(_mismatch(np.array(num), np.array(ana), atol, rtol))
                if not np.isfinite(ana):
                    score = np.inf
                if score > 0 and (worst is None or score > worst[0]):
                    where = _index(j, a.shape)
                    worst = (score, self.names[i], where, num, ana)
        if worst is not None:
            _, name, where, num, ana = worst
            raise _report(name, where, num, ana, "d(u·output), random u", atol, rtol)


class _TensorProblem(_Problem):
    def __init__(self, fn: Callable[..., Any], inputs: Sequence[Any]) -> None:
        self.fn = fn
        self.args: list[Any] = []
        self.checked: list[Tensor] = []
        self.names = []
        for k, x in enumerate(inputs):
            if isinstance(x, Tensor):
                t = Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
                if x.requires_grad:
                    self.checked.append(t)
                    self.names.append(f"input {k}" + (f" ({x.name})" if x.name else ""))
                self.args.append(t)
            else:
                self.args.append(x)
        if not self.checked:
            raise ValueError("gradcheck: no input Tensor has requires_grad=True")
        self.arrays = [t.data for t in self.checked]

    def _call(self) -> Tensor:
        out = self.fn(*self.args)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
        return out

    def value(self) -> np.ndarray:
        return np.array(self._call().data, dtype=np.float64)  # a copy: outputs may be views

    def vjp(self, u: np.ndarray) -> list[np.ndarray]:
        for t in self.checked:
            t.grad = None
        out = self._call()
        if out.requires_grad:
            out.backward(u)
        return [
            np.zeros_like(t.data) if t.grad is None else t.grad.astype(np.float64)
            for t in self.checked
        ]


class _ValueProblem(_Problem):
    def __init__(self, fn: Callable[..., Any], inputs: Sequence[Any]) -> None:
        from tinygrad_opt.value import Value

        self.fn, self.Value = fn, Value
        self.arrays = [
            np.array(float(x.data if isinstance(x, Value) else x), dtype=np.float64) for x in inputs
        ]
        self.names = [
            f"input {k}" + (f" ({x.label})" if getattr(x, "label", "") else "")
            for k, x in enumerate(inputs)
        ]

    def _call(self) -> tuple[list[Any], Any]:
        vals = [self.Value(float(a)) for a in self.arrays]
        out = self.fn(*vals)
        if not isinstance(out, self.Value):
            raise TypeError(f"gradcheck: fn must return a Value, got {type(out).__name__}")
        return vals, out

    def value(self) -> np.ndarray:
        return np.array(self._call()[1].data, dtype=np.float64)

    def vjp(self, u: np.ndarray) -> list[np.ndarray]:
        vals, out = self._call()
        out.backward()
        w = float(np.asarray(u).reshape(()))
        return [np.array(w * v.grad) for v in vals]
