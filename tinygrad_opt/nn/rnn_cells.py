"""Recurrent cells ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the step equations they share
with the sequence layers of :mod:`tinygrad_opt.nn.rnn`.

One step maps the input x (batch, in) and the state h (batch, H) to the next state.
Weights use torch's layout and gate order: ``weight_ih`` is (gates·H, in), ``weight_hh``
is (gates·H, H), the biases are (gates·H,), and the gates are stacked in rows:

- Elman RNN (1 gate):  h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.
- LSTM (4 gates, order i, f, g, o), with a = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh:
  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o);  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c').
- GRU (3 gates, order r, z, n), with u = x W_ihᵀ + b_ih and v = h W_hhᵀ + b_hh:
  r = σ(u_r + v_r), z = σ(u_z + v_z), n = tanh(u_n + r ⊙ v_n);  h' = (1 - z) ⊙ n + z ⊙ h.
  The reset gate multiplies the *whole* hidden term v_n, bias b_hn included (as torch).

Every step is a composition of Tensor ops (matmul with the transposed weight, add,
σ, tanh, slicing the gate chunks), so the gradient is the exact chain rule of these
equations: no fused kernel to keep in step with its derivative. The input term
x W_ihᵀ + b_ih is an argument (``xp``) of the step functions: the sequence layers
compute it for all time steps in one matmul before their time loop.

All weights are initialised U(-1/√H, 1/√H), torch's default, from ``rng`` (an int seed
or a ``numpy.random.Generator``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]

RngLike = np.random.Generator | int | None
NONLINEARITIES = ("tanh", "relu")


# --------------------------------------------------------------------------- checks
def check_size(who: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``: TypeError for a non-int, ValueError if too small."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{who}: {name} should be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        bound = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{who}: {name} must be {bound}, got {value}")
    return int(value)


def check_flag(who: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} should be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_nonlinearity(who: str, nonlinearity: Any) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"{who}: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'"
        )
    return nonlinearity


def as_tensor(x: Any, like: Tensor) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor of ``like``'s dtype."""
    return x if isinstance(x, Tensor) else Tensor(x, dtype=like.dtype)


def uniform_weights(
    shapes: Sequence[tuple[int, ...]], hidden_size: int, gen: np.random.Generator, dtype: Any
) -> list[Tensor]:
    """Parameters of ``shapes``, each U(-1/√H, 1/√H), drawn in order from ``gen``."""
    bound = 1.0 / math.sqrt(hidden_size)
    return [Parameter(gen.uniform(-bound, bound, size=s), dtype=dtype) for s in shapes]


# --------------------------------------------------------------------------- steps
def chunk(t: Tensor, k: int, width: int) -> Tensor:
    """Gate ``k``: columns [k·width, (k+1)·width) of the last axis."""
    return t[..., k * width : (k + 1) * width]


def rnn_step(
    xp: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, nonlinearity: str
) -> Tensor:
    """h' = act(xp + h W_hhᵀ + b_hh); ``w_hh_t`` is W_hhᵀ (H, H), ``xp`` = x W_ihᵀ + b_ih."""
    a = xp + h @ w_hh_t
    if b_hh is not None:
        a = a + b_hh
    return a.tanh() if nonlinearity == "tanh" else a.relu()


def lstm_step(
    xp: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh_t: Tensor,
    b_hh: Tensor | None,
    hidden_size: int,
    w_hr_t: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(h', c') of one LSTM step (gate order i, f, g, o); see the module docstring.

    ``xp`` = x W_ihᵀ + b_ih (batch, 4H), ``w_hh_t`` = W_hhᵀ. With a projection
    (``w_hr_t`` = W_hrᵀ, shape (H, P)), h' = (o ⊙ tanh(c')) W_hrᵀ has width P.
    σ is applied to all four chunks at once and the g chunk is read before it: one
    σ node and one slice per gate instead of a slice, a σ and a slice per gate.
    """
    a = xp + h @ w_hh_t
    if b_hh is not None:
        a = a + b_hh
    s = a.sigmoid()
    i, f, o = chunk(s, 0, hidden_size), chunk(s, 1, hidden_size), chunk(s, 3, hidden_size)
    g = chunk(a, 2, hidden_size).tanh()
    c = f * c + i * g
    h = o * c.tanh()
    if w_hr_t is not None:
        h = h @ w_hr_t
    return h, c


def gru_step(
    xp: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, hidden_size: int
) -> Tensor:
    """h' of one GRU step (gate order r, z, n); ``xp`` = x W_ihᵀ + b_ih (batch, 3H).

    h' = n + z ⊙ (h - n), which is (1 - z) ⊙ n + z ⊙ h with one node fewer.
    """
    H = hidden_size
    v = h @ w_hh_t
    if b_hh is not None:
        v = v + b_hh
    rz = (xp[..., : 2 * H] + v[..., : 2 * H]).sigmoid()
    r, z = chunk(rz, 0, H), chunk(rz, 1, H)
    n = (chunk(xp, 2, H) + r * chunk(v, 2, H)).tanh()
    return n + z * (h - n)


# --------------------------------------------------------------------------- cells
class _CellBase(Module):
    """Parameters and input checks shared by the three cells (torch's RNNCellBase)."""

    num_chunks = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        who = type(self).__name__
        self.input_size = check_size(who, "input_size", input_size)
        self.hidden_size = check_size(who, "hidden_size", hidden_size)
        self.bias = check_flag(who, "bias", bias)
        G, H, I = self.num_chunks * self.hidden_size, self.hidden_size, self.input_size
        shapes = [(G, I), (G, H)] + ([(G,), (G,)] if self.bias else [])
        params = uniform_weights(shapes, H, np.random.default_rng(rng), dtype)
        self.weight_ih, self.weight_hh = params[0], params[1]
        self.bias_ih: Tensor | None = params[2] if self.bias else None
        self.bias_hh: Tensor | None = params[3] if self.bias else None

    def _who(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _input(self, input: Any) -> tuple[Tensor, bool]:
        """(input as a 2-D (batch, input_size) Tensor, whether it was batched); checks it."""
        x = as_tensor(input, self.weight_ih)
        if x.ndim not in (1, 2):
            raise ShapeError(
                f"{self._who()}: expected input to be 1-D (input_size,) or 2-D "
                f"(batch, input_size), got {x.ndim}-D input of shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{self._who()}: expected input with last dimension {self.input_size} "
                f"(input_size), got shape {x.shape}"
            )
        return (x, True) if x.ndim == 2 else (x.unsqueeze(0), False)

    def _state(self, value: Any, name: str, batched: bool, batch: int) -> Tensor:
        """A given state (``name`` in messages) as (batch, H); zeros when ``value`` is None."""
        H = self.hidden_size
        if value is None:
            return Tensor(np.zeros((batch, H), dtype=self.weight_ih.dtype))
        s = as_tensor(value, self.weight_ih)
        want = (batch, H) if batched else (H,)
        if s.shape != want:
            kind = "batched 2-D" if batched else "unbatched 1-D"
            raise ShapeError(
                f"{self._who()}: expected {name} of shape {want} for the {kind} input, "
                f"got shape {s.shape}"
            )
        return s if batched else s.unsqueeze(0)

    def _xp(self, x: Tensor) -> Tensor:
        xp = x @ self.weight_ih.T
        return xp if self.bias_ih is None else xp + self.bias_ih

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class RNNCell(_CellBase):
    """Elman cell ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, act = tanh or relu.

    ``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh', rng=None,
    dtype=float32)``; parameters ``weight_ih`` (H, in), ``weight_hh`` (H, H), ``bias_ih``,
    ``bias_hh`` (H,) as in torch. ``cell(input, hx=None)``: input (batch, in) or
    unbatched (in,), hx of the matching (batch, H) or (H,) (zeros if None); returns h'
    of the same batchedness. A bad ``nonlinearity`` raises ValueError here, at
    construction (torch raises RuntimeError at the first call).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        self.nonlinearity = check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, rng, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._state(hx, "hx", batched, x.shape[0])
        h = rnn_step(self._xp(x), h, self.weight_hh.T, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell, gate order (i, f, g, o): see the module docstring for the equations.

    ``LSTMCell(input_size, hidden_size, bias=True, rng=None, dtype=float32)``;
    ``weight_ih`` (4H, in), ``weight_hh`` (4H, H), ``bias_ih``/``bias_hh`` (4H,).
    ``cell(input, hx=None)`` with hx = (h, c) (zeros if None) returns (h', c'); unbatched
    (in,) input takes and returns (H,) states.
    """

    num_chunks = 4

    def forward(self, input: Any, hx: tuple[Any, Any] | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._input(input)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{self._who()}: hx must be a pair (h, c), got {type(hx).__name__}")
        h = self._state(hx[0], "hx[0]", batched, x.shape[0])
        c = self._state(hx[1], "hx[1]", batched, x.shape[0])
        h, c = lstm_step(self._xp(x), h, c, self.weight_hh.T, self.bias_hh, self.hidden_size)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """GRU cell, gate order (r, z, n): n = tanh(u_n + r ⊙ (h W_hnᵀ + b_hn)).

    ``GRUCell(input_size, hidden_size, bias=True, rng=None, dtype=float32)``;
    ``weight_ih`` (3H, in), ``weight_hh`` (3H, H), ``bias_ih``/``bias_hh`` (3H,).
    ``cell(input, hx=None)`` returns h'; batched and unbatched as :class:`RNNCell`.
    """

    num_chunks = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._state(hx, "hx", batched, x.shape[0])
        h = gru_step(self._xp(x), h, self.weight_hh.T, self.bias_hh, self.hidden_size)
        return h if batched else h.squeeze(0)
