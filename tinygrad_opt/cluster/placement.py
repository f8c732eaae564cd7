"""Which parameter-server shard holds which tensor: the per-shard load and the hot shard.

A parameter server stores *whole tensors* (a TensorFlow variable, an MXNet key) on its
``k`` shards, so the shards hold unequal shares of the model and the most loaded one —
the *hot shard* — sets the pace: in every push and pull its NIC carries its share of
every worker's gradient. :func:`place_tensors` maps a list of tensor sizes (elements, in
model order) to shards:

``round_robin``
    tensor ``i`` on shard ``i mod k``, in model order: TensorFlow's default for
    ``tf.compat.v1.train.replica_device_setter`` (its ``ps_strategy`` defaults to
    round-robin over the ``ps`` tasks, one variable after the other).
``greedy``
    largest tensor first, each onto the least-loaded shard (ties: the lower index) —
    Graham's LPT rule (Graham 1969, "Bounds on multiprocessing timing anomalies", SIAM J.
    Appl. Math. 17(2)): the hot shard holds at most ``(4/3 − 1/(3k))`` times the optimum,
    and at most ``mean + largest tensor``. (TensorFlow's
    ``GreedyLoadBalancingStrategy`` takes the variables in creation order instead.)
``split``
    MXNet's KVStore (``src/kvstore/kvstore_dist.h``, ``EncodeDefaultKey``): a tensor of
    ``size >= bound`` elements is cut into ``k`` near-equal pieces, one per shard
    (``floor(s(j+1)/k) − floor(s·j/k)`` elements on shard ``j``); a smaller one goes whole
    to shard ``(i · 9973) mod k`` (``i`` = its key, the tensor index). ``bound`` =
    ``MXNET_KVSTORE_BIGARRAY_BOUND``, default ``10⁶`` elements (MXNet's environment
    variable documentation, ``docs/.../env_var.md``).
``even``
    the whole gradient as one evenly divisible blob, ``1/k`` per shard — the simulator's
    model when only a parameter count is known.

The loads are counted in parameters (elements); bytes follow by multiplying with the
bytes per parameter. ``hot_fraction = max load / total`` replaces ``1/k`` in the
parameter-server formulas of :mod:`tinygrad_opt.cluster.collectives`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tinygrad_opt.cluster.validation import SpecError, check_positive_int

__all__ = [
    "DEFAULT_SPLIT_THRESHOLD",
    "check_fractions",
    "PLACEMENTS",
    "Placement",
    "optimal_max_load",
    "place_tensors",
]

PLACEMENTS: tuple[str, ...] = ("round_robin", "greedy", "split", "even")
"""Tensor-to-shard strategies of :func:`place_tensors`."""

MAX_PIECES = 10_000_000
"""Most tensor pieces ``split`` may make (one Python tuple each: about 4 s and 400 MB)."""

DEFAULT_SPLIT_THRESHOLD = 1_000_000
"""MXNet's ``MXNET_KVSTORE_BIGARRAY_BOUND`` default, in elements (``1000 * 1000``)."""

_MXNET_HASH = 9973  # kvstore_dist.h: int server = (key * 9973) % num_servers


@dataclass(frozen=True)
class Placement:
    """Tensors on shards.

    Attributes:
        method: the strategy (one of :data:`PLACEMENTS`).
        shards: ``k``.
        loads: elements on each shard.
        pieces: ``(tensor index, shard, elements)`` for every piece placed (a whole tensor
            is one piece; ``split`` cuts big ones into ``k``); empty for ``even``.
    """

    method: str
    shards: int
    loads: tuple[float, ...]
    pieces: tuple[tuple[int, int, int], ...] = ()

    @property
    def total(self) -> float:
        return float(sum(self.loads))

    @property
    def hot_shard(self) -> int:
        """Index of the most loaded shard (the lowest index on a tie)."""
        return max(range(self.shards), key=lambda j: (self.loads[j], -j))

    @property
    def hot_load(self) -> float:
        """Elements on the hot shard."""
        return float(self.loads[self.hot_shard])

    @property
    def hot_fraction(self) -> float:
        """The hot shard's share of the model, ``max load / total`` (``1/k`` when even)."""
        return self.hot_load / self.total

    @property
    def fractions(self) -> tuple[float, ...]:
        """Every shard's share of the model."""
        t = self.total
        return tuple(x / t for x in self.loads)

    @property
    def imbalance(self) -> float:
        """``max load / mean load`` = ``k · hot_fraction`` (1 for a perfect balance)."""
        return self.shards * self.hot_fraction


def _check_sizes(sizes: Sequence[int] | None) -> tuple[int, ...]:
    if sizes is None:
        return ()
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise SpecError("tensor_sizes", sizes, "must be a list of parameter counts")
    if all(type(s) is int and s > 0 for s in sizes):  # the common case, fast
        return tuple(sizes)
    return tuple(check_positive_int(f"tensor_sizes[{i}]", s) for i, s in enumerate(sizes))


@lru_cache(maxsize=256)
def cached_placement(
    sizes: tuple[int, ...] | None, shards: int, method: str, split_threshold: int, total: float
) -> Placement:
    """:func:`place_tensors` memoised (a simulation of a sweep row calls it again)."""
    return place_tensors(sizes, shards, method, split_threshold, total)


def place_tensors(
    sizes: Sequence[int] | None,
    shards: int,
    method: str = "round_robin",
    split_threshold: int = DEFAULT_SPLIT_THRESHOLD,
    total: float | None = None,
) -> Placement:
    """Place tensors of ``sizes`` elements (model order) on ``shards`` shards.

    ``sizes`` None or empty means a single evenly divisible blob of ``total`` elements
    (``even`` whatever the method: nothing is known about the tensors). See the module
    docstring for the methods.

    Raises:
        SpecError: for an unknown method, a non-positive shard count, size or threshold.
    """
    k = check_positive_int("ps_shards", shards)
    if method not in PLACEMENTS:
        raise SpecError("tensor_placement", method, f"unknown; valid: {', '.join(PLACEMENTS)}")
    bound = check_positive_int("split_threshold", split_threshold)
    t = _check_sizes(sizes)
    if not t or method == "even":
        blob = float(sum(t)) if t else float(1.0 if total is None else total)
        return Placement("even", k, (blob / k,) * k)
    loads = [0] * k
    pieces: list[tuple[int, int, int]] = []
    if method == "round_robin":
        for i, s in enumerate(t):
            pieces.append((i, i % k, s))
    elif method == "greedy":
        heap = [(0, j) for j in range(k)]
        for i in sorted(range(len(t)), key=lambda i: (-t[i], i)):
            load, j = heapq.heappop(heap)
            pieces.append((i, j, t[i]))
            heapq.heappush(heap, (load + t[i], j))
    else:  # split (MXNet KVStore)
        big = sum(1 for s in t if s >= bound)
        if len(t) - big + big * k > MAX_PIECES:
            raise SpecError(
                "ps_shards",
                shards,
                f"split cuts {big} tensors into {k:,} pieces each: "
                f"{len(t) - big + big * k:,} pieces exceed the simulator limit of "
                f"{MAX_PIECES:,}; use fewer shards or a larger split_threshold",
            )
        for i, s in enumerate(t):
            if s < bound:
                pieces.append((i, (i * _MXNET_HASH) % k, s))
            else:
                for j in range(k):
                    part = s * (j + 1) // k - s * j // k
                    if part:
                        pieces.append((i, j, part))
    for _, j, s in pieces:
        loads[j] += s
    return Placement(method, k, tuple(float(x) for x in loads), tuple(pieces))


def check_fractions(shard_fractions: Sequence[float] | None, k: int) -> np.ndarray:
    """Shard shares as an array (``1/k`` each when None), checked: ``k`` values >= 0
    summing to 1 (field ``shard_fractions``)."""
    if shard_fractions is None:
        return np.full(k, 1.0 / k)
    f = np.asarray(shard_fractions, dtype=float)
    if f.shape != (k,) or (f < 0).any() or not math.isclose(float(f.sum()), 1.0, rel_tol=1e-9):
        raise SpecError(
            "shard_fractions", list(shard_fractions), f"must be {k} shares >= 0 summing to 1"
        )
    return f


def optimal_max_load(sizes: Sequence[int], shards: int) -> int:
    """The smallest possible hot-shard load for whole tensors, by exhaustive search.

    Exponential (``k^n`` assignments, pruned): for checking the heuristics on small lists.
    """
    t = sorted(_check_sizes(sizes), reverse=True)
    k = check_positive_int("ps_shards", shards)
    best = [sum(t)]
    loads = [0] * k

    def go(i: int) -> None:
        if i == len(t):
            best[0] = min(best[0], max(loads))
            return
        seen = set()
        for j in range(k):
            if loads[j] in seen or loads[j] + t[i] >= best[0]:
                continue  # symmetric shard, or no better than the best found
            seen.add(loads[j])
            loads[j] += t[i]
            go(i + 1)
            loads[j] -= t[i]

    go(0)
    return max(best[0], max(t, default=0))
