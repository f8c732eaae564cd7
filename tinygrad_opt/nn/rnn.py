"""Multi-layer recurrent layers ``RNN``, ``LSTM`` and ``GRU`` with torch's names and layout.

A layer runs the step equations of :mod:`tinygrad_opt.nn.rnn_cells` over a sequence,
``num_layers`` deep, optionally in both directions. Shapes (L = seq length, N = batch,
D = 2 if bidirectional else 1, H_out = proj_size or hidden_size):

- input (L, N, H_in), or (N, L, H_in) with ``batch_first=True``, or unbatched (L, H_in);
- h0 / h_n (num_layers·D, N, H_out) (unbatched: (num_layers·D, H_out)), c0 / c_n the same
  with hidden_size (LSTM only); h0 and c0 default to zeros;
- output (L, N, D·H_out) (batch_first: (N, L, D·H_out)): the last layer's h at every
  step, the two directions concatenated (forward first).

Layer k > 0 reads the previous layer's output; in training mode, with ``dropout`` p > 0,
that output first goes through inverted dropout (kept with probability 1 - p, scaled by
1/(1 - p)); the masks come from the layer's seeded generator, so they differ from torch's.

Parameters are named as torch's: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for an LSTM with ``proj_size``), with the suffix
``_reverse`` for the backward direction, so a torch ``state_dict`` converted to numpy
loads as it is. All are initialised U(-1/√H, 1/√H) from ``rng``.

How a sequence is computed: the input term x W_ihᵀ + b_ih (+ b_hh, where it can be
folded in) of *all* time steps is one matmul per layer and direction; only the recurrent
term h W_hhᵀ is left inside the Python loop over time. The projection is then cut into
one tensor per step by halving it recursively (:func:`_unbind`): slicing step t straight
from the (L, N, G) tensor would give every step's backward a full-size gradient array
(quadratic in L), halving costs O(L log L). The graph is ordinary Tensor ops, so the
backward pass is the exact chain rule and, being iterative, handles any length.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from tinygrad_opt.nn.module import Module
from tinygrad_opt.nn.rnn_cells import (
    as_tensor,
    check_flag,
    check_nonlinearity,
    check_size,
    gru_step,
    lstm_step,
    rnn_step,
    uniform_weights,
)
from tinygrad_opt.tensor import ShapeError, Tensor, cat, stack

__all__ = ["GRU", "LSTM", "RNN"]

RngLike = np.random.Generator | int | None


def _unbind(x: Tensor, leaf: int = 4) -> list[Tensor]:
    """``[x[0], ..., x[n-1]]``, cut by halving ``x`` until pieces have at most ``leaf`` rows.

    Each slice's backward allocates a zero array of its input's size; halving keeps the
    total of those sizes at O(n log n) rows instead of the n² of slicing every row from x.
    """
    pieces = [x]
    while any(p.shape[0] > leaf for p in pieces):
        nxt = []
        for p in pieces:
            n = p.shape[0]
            if n > leaf:
                nxt += [p[: n // 2], p[n // 2 :]]
            else:
                nxt.append(p)
        pieces = nxt
    return [p[i] for p in pieces for i in range(p.shape[0])]


class _RNNBase(Module):
    """Parameters, checks and the time loop shared by RNN, LSTM and GRU (torch's RNNBase)."""

    mode = ""  # "RNN", "LSTM" or "GRU"
    num_chunks = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        proj_size: int,
        rng: RngLike,
        dtype: Any,
    ) -> None:
        who = type(self).__name__
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Real)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{who}: dropout should be a number in range [0, 1] (the probability of "
                f"zeroing an element), got {dropout!r}"
            )
        self.input_size = check_size(who, "input_size", input_size)
        self.hidden_size = check_size(who, "hidden_size", hidden_size)
        self.num_layers = check_size(who, "num_layers", num_layers)
        self.bias = check_flag(who, "bias", bias)
        self.batch_first = check_flag(who, "batch_first", batch_first)
        self.bidirectional = check_flag(who, "bidirectional", bidirectional)
        self.dropout = float(dropout)
        self.proj_size = check_size(who, "proj_size", proj_size, minimum=0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"{who}: proj_size has to be smaller than hidden_size, got proj_size="
                f"{self.proj_size} and hidden_size={self.hidden_size}"
            )
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{who}: dropout acts between recurrent layers only, so dropout="
                f"{self.dropout:g} has no effect with num_layers=1",
                UserWarning,
                stacklevel=3,
            )
        gen = np.random.default_rng(rng)
        H, G = self.hidden_size, self.num_chunks * self.hidden_size
        H_out = self.proj_size or H
        D = 2 if self.bidirectional else 1
        self._weight_names: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else D * H_out
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes: list[tuple[int, ...]] = [(G, layer_in), (G, H_out)]
                if self.bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(G,), (G,)]
                if self.proj_size:
                    names.append(f"weight_hr{sfx}")
                    shapes.append((self.proj_size, H))
                for name, p in zip(names, uniform_weights(shapes, H, gen, dtype)):
                    setattr(self, name, p)
                self._weight_names.append(names)
        self.rng = gen  # draws the dropout masks

    # ----------------------------------------------------------------- introspection
    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters grouped per layer and direction, each group in torch's order."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def _who(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout:g}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    # ----------------------------------------------------------------- checks
    def _input(self, input: Any) -> tuple[Tensor, bool]:
        """(time-major (L, N, H_in) input, whether the input was batched)."""
        x = as_tensor(input, self.weight_ih_l0)
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"{self._who()}: expected input to be 2-D (unbatched) or 3-D (batched), "
                f"got {x.ndim}-D input of shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{self._who()}: expected input with last dimension {self.input_size} "
                f"(input_size), got shape {x.shape}"
            )
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ShapeError(
                f"{self._who()}: expected a sequence length larger than 0, got an empty sequence"
            )
        return x, batched

    def _states(self, hx: Any, name: str, width: int, batched: bool, batch: int) -> list[Tensor]:
        """The initial states (``hx``, or zeros) of every layer and direction, each (N, width)."""
        D = 2 if self.bidirectional else 1
        n = self.num_layers * D
        if hx is None:
            zero = Tensor(np.zeros((batch, width), dtype=self.weight_ih_l0.dtype))
            return [zero] * n
        h = as_tensor(hx, self.weight_ih_l0)
        want = (n, batch, width) if batched else (n, width)
        if h.shape != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ShapeError(
                f"{self._who()}: expected {name} of shape {want} for the {kind} input, "
                f"got shape {h.shape}"
            )
        if not batched:
            h = h.unsqueeze(1)
        return [h[k] for k in range(n)]

    # ----------------------------------------------------------------- computation
    def _run(
        self, x: Tensor, states: list[tuple[Tensor, ...]]
    ) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """Run all layers over time-major ``x``; returns (output, final state per layer·dir)."""
        T, N = x.shape[0], x.shape[1]
        D = 2 if self.bidirectional else 1
        finals: list[tuple[Tensor, ...]] = []
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout > 0:
                x = self._drop(x)
            outs = []
            for direction in range(D):
                k = layer * D + direction
                w_ih, w_hh, *rest = self.all_weights[k]
                b_ih, b_hh = (rest[0], rest[1]) if self.bias else (None, None)
                w_hr = rest[-1] if self.proj_size else None
                xp = x.reshape(T * N, x.shape[2]) @ w_ih.T
                if b_ih is not None:  # b_hh joins b_ih unless the GRU's reset gate needs it
                    fold = self.mode != "GRU"
                    xp = xp + (b_ih + b_hh if fold else b_ih)
                    b_hh = None if fold else b_hh
                steps = _unbind(xp.reshape(T, N, xp.shape[1]))
                order = range(T - 1, -1, -1) if direction else range(T)
                state, hs = states[k], [None] * T
                w_hh_t = w_hh.T
                w_hr_t = None if w_hr is None else w_hr.T
                for t in order:
                    state = self._step(steps[t], state, w_hh_t, b_hh, w_hr_t)
                    hs[t] = state[0]
                outs.append(stack(hs, 0))
                finals.append(state)
            x = outs[0] if D == 1 else cat(outs, axis=2)
        return x, finals

    def _drop(self, x: Tensor) -> Tensor:
        """Inverted dropout with the layer's generator; p = 1 zeroes everything."""
        p = self.dropout
        keep = self.rng.random(x.shape) >= p
        scale = keep * (1.0 / (1.0 - p)) if p < 1 else np.zeros(x.shape)
        return x * Tensor(scale.astype(x.dtype))

    def _step(self, xp, state, w_hh_t, b_hh, w_hr_t):  # pragma: no cover
        raise NotImplementedError

    def _finish(self, out: Tensor, batched: bool) -> Tensor:
        """Time-major (L, N, ·) output back to the caller's layout."""
        if not batched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    @staticmethod
    def _stack_final(states: list[Tensor], batched: bool) -> Tensor:
        s = stack(states, 0)
        return s if batched else s.squeeze(1)


class RNN(_RNNBase):
    """Elman RNN, ``num_layers`` deep: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, rng=None, dtype=float32)``.
    ``rnn(input, hx=None)`` returns ``(output, h_n)``; shapes in the module docstring.
    """

    mode = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        self.nonlinearity = check_nonlinearity("RNN", nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            0, rng, dtype,
        )  # fmt: skip

    def _step(self, xp, state, w_hh_t, b_hh, w_hr_t):
        return (rnn_step(xp, state[0], w_hh_t, b_hh, self.nonlinearity),)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, batched = self._input(input)
        h0 = self._states(hx, "hx", self.hidden_size, batched, x.shape[1])
        out, finals = self._run(x, [(h,) for h in h0])
        return self._finish(out, batched), self._stack_final([s[0] for s in finals], batched)


class GRU(_RNNBase):
    """Gated recurrent unit, ``num_layers`` deep, gate order (r, z, n) as torch.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, rng=None, dtype=float32)``; each step is
    :func:`~tinygrad_opt.nn.rnn_cells.gru_step`. ``gru(input, hx=None)`` returns
    ``(output, h_n)``.
    """

    mode = "GRU"
    num_chunks = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            0, rng, dtype,
        )  # fmt: skip

    def _step(self, xp, state, w_hh_t, b_hh, w_hr_t):
        return (gru_step(xp, state[0], w_hh_t, b_hh, self.hidden_size),)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, batched = self._input(input)
        h0 = self._states(hx, "hx", self.hidden_size, batched, x.shape[1])
        out, finals = self._run(x, [(h,) for h in h0])
        return self._finish(out, batched), self._stack_final([s[0] for s in finals], batched)


class LSTM(_RNNBase):
    """Long short-term memory, ``num_layers`` deep, gate order (i, f, g, o) as torch.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, rng=None, dtype=float32)``.
    ``lstm(input, hx=None)`` with hx = (h0, c0) returns ``(output, (h_n, c_n))``.
    With ``proj_size`` P > 0 each step's h is projected, h_t = (o ⊙ tanh(c_t)) W_hrᵀ with
    ``weight_hr_l{k}`` of shape (P, H): h0, h_n and the output have width P, c stays H.
    """

    mode = "LSTM"
    num_chunks = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size, rng, dtype,
        )  # fmt: skip

    def _step(self, xp, state, w_hh_t, b_hh, w_hr_t):
        return lstm_step(xp, state[0], state[1], w_hh_t, b_hh, self.hidden_size, w_hr_t)

    def forward(
        self, input: Any, hx: tuple[Any, Any] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, batched = self._input(input)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{self._who()}: hx must be a pair (h0, c0), got {type(hx).__name__}")
        elif hx[0] is None or hx[1] is None:
            raise TypeError(f"{self._who()}: give both h0 and c0, or hx=None")
        N = x.shape[1]
        h0 = self._states(hx[0], "h0 (hx[0])", self.proj_size or self.hidden_size, batched, N)
        c0 = self._states(hx[1], "c0 (hx[1])", self.hidden_size, batched, N)
        out, finals = self._run(x, list(zip(h0, c0)))
        h_n = self._stack_final([s[0] for s in finals], batched)
        c_n = self._stack_final([s[1] for s in finals], batched)
        return self._finish(out, batched), (h_n, c_n)
