"""Sophia: a clipped, diagonally preconditioned momentum step (Liu et al. 2024).

Two estimators of the Hessian diagonal feed the same update, written once in
:class:`SophiaBase`:

- :class:`SophiaG` (``"sophia"``, ``"sophiag"``): Gauss-Newton-Bartlett, ĝ⊙ĝ for the
  gradient ĝ of the loss against labels sampled from the model's own softmax, fed by the
  training loop through ``update_hessian(grads)`` (the authors' ``sophia-opt`` API);
- :class:`SophiaH` (``"sophiah"``): Hutchinson, u⊙(Hu) for Rademacher u, either fed by
  the loop the same way or computed by ``step(closure)`` from the loss the closure
  returns, every ``update_interval`` steps (Optax's ``contrib.sophia``).

The estimators that need the engine (sampling labels, Hessian-vector products) are in
:mod:`tinygrad_opt.train.sophia`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    bias_correction,
    decay_weights_,
    ema_,
    ema_square_,
    scratch,
)
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register
from tinygrad_opt.tensor import Tensor, enable_grad, no_grad

__all__ = ["SophiaBase", "SophiaG", "SophiaH", "rademacher_probe"]


def rademacher_probe(seed: int, index: int, step: int, like: np.ndarray) -> np.ndarray:
    """The Rademacher vector (entries ±1, like ``like``) Sophia-H draws for parameter
    ``index`` at the refresh that happens after ``step`` steps: reproducible from these
    three integers alone, so a resumed run draws the same probes."""
    rng = np.random.default_rng((seed, index, step))
    return (rng.integers(0, 2, size=like.shape) * 2 - 1).astype(like.dtype)


class SophiaBase(Optimizer):
    r"""The update Sophia's variants share (Liu et al. 2024, Algorithm 3); subclasses say
    how the curvature h enters the denominator (:meth:`denominator_`), the clip threshold
    (:meth:`clip_threshold`), whether m is bias-corrected (:attr:`bias_corrected`), and
    how an estimate is folded into h (:meth:`fold_`).

    Per parameter, with η the learning rate, λ the decoupled weight decay, β1 the
    momentum rate and h the moving average of the Hessian-diagonal estimates:

        t ← t + 1
        θ ← θ - η·λ·θ
        m ← β1·m + (1 - β1)·g
        m̂ ← m / (1 - β1ᵗ)             (only if ``bias_corrected``)
        θ ← θ - η·clip(m̂ / d(h), -c, c)

    State: ``step``, ``exp_avg`` (m), ``hessian`` (h): two arrays, as Adam.
    """

    elementwise = True
    #: Whether the momentum is divided by 1 - β1ᵗ before the division (Optax does).
    bias_corrected = False

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        for name in ("rho", "bs", "gamma"):
            if name in hp:
                check_nonnegative(f"{name} value", hp[name])

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "hessian": np.zeros_like(p)}

    # ----------------------------------------------------------------- the variant's pieces
    def denominator_(self, h: np.ndarray, group: dict, out: np.ndarray) -> None:
        """d(h) into ``out``: what the momentum is divided by."""
        raise NotImplementedError

    def clip_threshold(self, group: dict) -> float | None:
        """c: the update is clipped to [-c, c] (None: not clipped)."""
        return 1.0

    def fold_(self, h: np.ndarray, value: np.ndarray, group: dict) -> None:
        """h ← β2·h + (1 - β2)·(the estimate made from ``value``), in place."""
        raise NotImplementedError

    # ----------------------------------------------------------------- the shared update
    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, beta1 = group["lr"], group["betas"][0]
        u, d = scratch(p, 2)
        state["step"] += 1
        decay_weights_(p, lr, group["weight_decay"])  # θ ← θ - η·λ·θ
        m = state["exp_avg"]
        ema_(m, g, beta1, tmp=u)  # m ← β1·m + (1 - β1)·g
        num = m
        if self.bias_corrected:
            num = np.divide(m, bias_correction(beta1, state["step"]), out=u)
        self.denominator_(state["hessian"], group, out=d)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(num, d, out=u)
        c = self.clip_threshold(group)
        if c is not None:
            np.clip(u, -c, c, out=u)
        u *= -lr
        p += u

    # ----------------------------------------------------------------- feeding h
    def _fold_all(self, values: Sequence[Any] | None, what: str) -> None:
        """Fold one value per parameter (optimizer order; None skips one) into h; with
        ``values=None`` each parameter's ``.grad`` (parameters without one are skipped)."""
        params = self._indexed_params()
        if values is not None:
            values = [v.data if isinstance(v, Tensor) else v for v in values]
            if len(values) != len(params):
                raise ValueError(
                    f"{type(self).__name__}.update_hessian: got {len(values)} {what}, the "
                    f"optimizer has {len(params)} parameters"
                )
            for i, (p, v) in enumerate(zip(params, values)):
                if v is not None and np.shape(v) != p.shape:
                    raise ValueError(
                        f"{type(self).__name__}.update_hessian: {what} {i} has shape "
                        f"{np.shape(v)}, the parameter has shape {tuple(p.shape)}"
                    )
        index = 0
        with no_grad():
            for gi, group in enumerate(self.param_groups):
                flat = self._flat_groups[gi]
                for p in group["params"]:
                    v = p.grad if values is None else values[index]
                    index += 1
                    if v is None:
                        continue
                    if flat is not None and flat.state is None:
                        flat.adopt_parameters()
                        flat.init_state(self, group)  # the group's state, made once
                    state = self.state_of(p, group)
                    self.fold_(state["hessian"], np.asarray(v, dtype=p.dtype), group)


@register("sophia")
@register("sophiag")
class SophiaG(SophiaBase):
    r"""Sophia-G (Liu et al. 2024), as the authors' ``sophia-opt`` 0.2.2 ``SophiaG``.

    "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
    Pre-training", ICLR 2024, arXiv:2305.14342, Algorithms 2 and 3. With ρ the clipping
    scale, B the batch size, ε a tiny constant, ĝ the gradient of the mini-batch loss
    against labels ŷ ~ softmax(model output) (the Gauss-Newton-Bartlett estimate is
    B·ĝ⊙ĝ, B being applied in the step):

        update_hessian(ĝ):  h ← β2·h + (1 - β2)·ĝ⊙ĝ
        step():             θ ← θ - η·λ·θ
                            m ← β1·m + (1 - β1)·g
                            θ ← θ - η·clip(m / (ρ·B·h + ε), -1, 1)

    The training loop decides when to refresh h (every k = 10 steps in the paper): it
    computes ĝ (:func:`tinygrad_opt.train.sophia.gnb_gradients`) and calls
    ``update_hessian(ĝ)``, or puts ĝ in ``.grad`` and calls ``update_hessian()``, as the
    package does. B is the ``bs`` hyperparameter, or ``step(bs=...)`` for one step (the
    package's only way). Weight decay is decoupled (AdamW's, times η); ``maximize``
    negates g (not ĝ: ĝ⊙ĝ does not change).

    Differences from the paper: ε is added to ρ·B·h (the package's choice) where the
    paper takes max(ρ·B·h, ε), and there is no bias correction (as both). Until h is
    first fed, h = 0 and every coordinate moves by η·sign(m) (the clip). Defaults as the
    package: lr=η (1e-4), betas=(β1, β2) (0.965, 0.99), rho=ρ (0.04), weight_decay=λ
    (0.1), bs=B (5120), eps=ε (1e-15, fixed in the package), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-4,
        betas=(0.965, 0.99),
        rho=0.04,
        weight_decay=0.1,
        bs=5120,
        eps=1e-15,
        maximize=False,
    )
    elementwise = True
    _bs: float | None = None  # step(bs=...) for the current step only

    def step(self, closure: Callable[[], Any] | None = None, bs: float | None = None) -> Any:
        """One step; ``bs`` (if given) replaces every group's B for this step only."""
        if bs is not None:
            check_nonnegative("bs value", bs)
        self._bs = bs
        try:
            return super().step(closure)
        finally:
            self._bs = None

    def update_hessian(self, grads: Sequence[Any] | None = None) -> None:
        """h ← β2·h + (1 - β2)·ĝ⊙ĝ for every parameter, with ĝ from ``grads`` (one array
        per parameter, in optimizer order; None skips one) or, if not given, from each
        parameter's ``.grad`` (the package's form)."""
        self._fold_all(grads, "gradients")

    def denominator_(self, h: np.ndarray, group: dict, out: np.ndarray) -> None:
        bs = group["bs"] if self._bs is None else self._bs
        np.multiply(h, group["rho"] * bs, out=out)  # ρ·B·h + ε, the package's order
        out += group["eps"]

    def fold_(self, h: np.ndarray, value: np.ndarray, group: dict) -> None:
        ema_square_(h, value, group["betas"][1])


@register("sophiah")
class SophiaH(SophiaBase):
    r"""Sophia-H (Liu et al. 2024), as Optax 0.2.8's ``optax.contrib.sophia``.

    The Hutchinson estimate of the Hessian diagonal, u⊙(H·u) for a Rademacher vector u
    (Algorithm 1), folded into h every k = ``update_interval`` steps; with γ the
    curvature scale, ε the floor, c the clip threshold:

        t ← t + 1
        θ ← θ - η·λ·θ
        m ← β1·m + (1 - β1)·g
        θ ← θ - η·clip(m / (1 - β1ᵗ) / max(γ·h, ε), -c, c)
        if (t - 1) mod k = 0:  h ← β2·h + (1 - β2)·u⊙(H·u)    (H, u at θ before the step)

    Two ways to feed h. With ``step(closure)`` (``needs_closure``), the closure returns
    the loss as a Tensor with its graph (and sets the gradients, e.g. by ``backward``);
    on refresh steps the optimizer draws u (:func:`rademacher_probe`, from ``seed``, the
    parameter's index and step: resumes exactly) or takes ``step(closure, probes=...)``,
    and takes H·u from that graph. Without a closure, the loop computes estimates itself
    (:func:`tinygrad_opt.curvature.hutchinson_products`) and calls
    ``update_hessian(estimates)`` whenever it likes.

    As Optax, and unlike the paper: the refresh comes after the step, so a new h is first
    used one step later (the paper refreshes before stepping, as Sophia-G's loop does);
    m is bias-corrected; ε is a floor, max(γ·h, ε) (also the paper's). Weight decay is
    decoupled and multiplied by η (Optax adds λ·θ to the update before scaling by -η).
    ``maximize`` negates g and the estimates (the curvature of the minimised -f).
    Defaults as Optax: lr=η (1e-4; Optax requires one), betas=(β1, β2) (0.965, 0.99),
    eps=ε (1e-8), weight_decay=λ (1e-4), gamma=γ (0.01), clip_threshold=c (1; None: no
    clip), update_interval=k (10), seed (0), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-4,
        betas=(0.965, 0.99),
        eps=1e-8,
        weight_decay=1e-4,
        gamma=0.01,
        clip_threshold=1.0,
        update_interval=10,
        seed=0,
        maximize=False,
    )
    elementwise = True
    bias_corrected = True
    needs_closure = True  # step(closure) computes the Hutchinson estimate itself
    _fed = False  # an estimate was folded into h by this instance
    _warned = False

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        c = hp.get("clip_threshold")
        if c is not None and not c > 0:
            raise ValueError(f"Invalid clip_threshold value: {c} (must be > 0, or None)")
        for name, low in (("update_interval", 1), ("seed", 0)):
            if name in hp:
                v = hp[name]
                if not isinstance(v, int) or isinstance(v, bool) or v < low:
                    raise ValueError(f"Invalid {name} value: {v} (must be an integer >= {low})")

    def step(
        self,
        closure: Callable[[], Any] | None = None,
        *,
        probes: Sequence[np.ndarray] | None = None,
    ) -> Any:
        """One step. With ``closure``: evaluate it, and on refresh steps fold the
        Hutchinson estimate at the current θ into h after stepping. ``probes``: one
        Rademacher array per parameter (optimizer order) to use instead of drawing."""
        if closure is None:
            if probes is not None:
                raise ValueError("SophiaH.step: probes are used only with a closure")
            self._warn_if_unfed()
            return super().step()
        with enable_grad():
            loss = closure()
        if not self.ready_to_step():
            return loss
        estimates = self._hutchinson(loss, probes)
        self.apply_step()
        if estimates is not None:
            self._fold_all(estimates, "estimates")
        self._fed = True
        return loss

    def update_hessian(self, estimates: Sequence[Any]) -> None:
        """h ← β2·h + (1 - β2)·estimate for every parameter, from one Hessian-diagonal
        estimate per parameter (optimizer order; None skips one), e.g. u⊙(H·u)."""
        self._fold_all(estimates, "estimates")
        self._fed = True

    def denominator_(self, h: np.ndarray, group: dict, out: np.ndarray) -> None:
        np.multiply(h, group["gamma"], out=out)
        np.maximum(out, group["eps"], out=out)  # max(γ·h, ε)

    def clip_threshold(self, group: dict) -> float | None:
        return group["clip_threshold"]

    def fold_(self, h: np.ndarray, value: np.ndarray, group: dict) -> None:
        ema_(h, -value if group["maximize"] else value, group["betas"][1])

    # ----------------------------------------------------------------- closure mode
    def _hessian_due(self) -> list[bool]:
        """Per parameter (optimizer order): whether this step refreshes its h."""
        due = []
        for group in self.param_groups:
            for p in group["params"]:
                t = self.state[p]["step"] if p in self.state else 0
                due.append(p.grad is not None and t % group["update_interval"] == 0)
        return due

    def _hutchinson(self, loss: Any, probes: Sequence[np.ndarray] | None) -> list | None:
        due = self._hessian_due()
        if not any(due):
            return None
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            raise TypeError(
                "SophiaH.step(closure): the closure must return the loss as a Tensor that "
                "carries its graph (computed with gradients enabled), to take Hessian-vector "
                f"products; got {type(loss).__name__}"
            )
        from tinygrad_opt.curvature.trace import hutchinson_products

        params = self._indexed_params()
        if probes is None:
            probes = []
            i = 0
            for group in self.param_groups:
                for p in group["params"]:
                    t = self.state[p]["step"] if p in self.state else 0
                    probes.append(rademacher_probe(group["seed"], i, t, p.data))
                    i += 1
        elif len(probes) != len(params):
            raise ValueError(
                f"SophiaH.step: got {len(probes)} probes, the optimizer has {len(params)} "
                "parameters"
            )
        with_grad = [i for i, p in enumerate(params) if p.grad is not None]
        products = hutchinson_products(
            loss, [params[i] for i in with_grad], [probes[i] for i in with_grad]
        )
        estimates: list = [None] * len(params)
        for i, est in zip(with_grad, products):
            if due[i]:
                estimates[i] = est
        return estimates

    def _warn_if_unfed(self) -> None:
        if self._fed or self._warned:
            return
        self._warned = True
        if any(np.any(s["hessian"]) for s in self.state.values() if "hessian" in s):
            return
        warnings.warn(
            "SophiaH.step() without a closure and no Hessian estimate fed yet: h = 0, so "
            "the steps are clipped sign-of-momentum steps. Pass a closure returning the "
            "loss (step(closure)), or call update_hessian(estimates) from the loop.",
            RuntimeWarning,
            stacklevel=3,
        )
