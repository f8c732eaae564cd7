"""Each rank's share of every global batch.

A global batch of ``world_size × batch_size`` examples is cut into ``world_size``
consecutive pieces; rank ``r`` gets piece ``r``. The order of the examples in an epoch
is ``default_rng([seed, epoch]).permutation(n)`` (or ``0..n-1`` without shuffling), the
same on every rank and computed from ``(seed, epoch)`` alone, so nothing has to be sent
and a restart at any step sees the same batches. With ``world_size=1`` and
``batch_size = N·b`` the sampler yields exactly the global batches that ``N`` ranks
with ``batch_size=b`` share: that is how synchronous data-parallel training is checked
against single-process training.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["DistributedSampler"]


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"DistributedSampler: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """Index arrays of this rank's examples, one array per step.

    Args:
        num_samples: size of the dataset.
        batch_size: examples per rank per step (``b``).
        rank, world_size: which share this rank takes, of how many.
        shuffle: a new order every epoch (``seed``, ``epoch`` decide it).
        seed: the shuffling seed (must be the same on every rank).
        drop_last: drop the last, incomplete global batch of an epoch (default True:
            every rank then always has exactly ``batch_size`` examples). With False the
            last global batch is split as evenly as possible and a rank may get fewer
            (or zero) examples.

    Iterate with :meth:`epoch` (one epoch) or :meth:`__iter__` (forever, epoch after
    epoch). :meth:`state_dict` / :meth:`load_state_dict` record where it is, so a
    restarted job continues with the next batch.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        self.num_samples = _check_int("num_samples", num_samples, 1)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.world_size = _check_int("world_size", world_size, 1)
        self.rank = _check_int("rank", rank, 0)
        if self.rank >= self.world_size:
            raise ValueError(
                f"DistributedSampler: rank {rank} is not below world_size {world_size}"
            )
        self.shuffle = bool(shuffle)
        self.seed = _check_int("seed", seed, 0)
        self.drop_last = bool(drop_last)
        if self.drop_last and self.global_batch_size > self.num_samples:
            raise ValueError(
                f"DistributedSampler: the global batch ({self.world_size} ranks x "
                f"{self.batch_size}) is larger than the dataset ({self.num_samples} examples)"
            )
        self.current_epoch = 0
        self.next_batch = 0

    @property
    def global_batch_size(self) -> int:
        return self.world_size * self.batch_size

    def __len__(self) -> int:
        """Steps per epoch."""
        n, g = self.num_samples, self.global_batch_size
        return n // g if self.drop_last else -(-n // g)

    def order(self, epoch: int) -> np.ndarray:
        """The order of all examples in ``epoch`` (the same on every rank)."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.num_samples)

    def global_batch(self, epoch: int, index: int) -> np.ndarray:
        """Indices of global batch ``index`` of ``epoch`` (all ranks' examples)."""
        g = self.global_batch_size
        return self.order(epoch)[index * g : (index + 1) * g]

    def local_batch(self, epoch: int, index: int) -> np.ndarray:
        """This rank's share of global batch ``index`` of ``epoch``."""
        batch = self.global_batch(epoch, index)
        if len(batch) == self.global_batch_size:
            b = self.batch_size
            return batch[self.rank * b : (self.rank + 1) * b]
        return np.array_split(batch, self.world_size)[self.rank]

    def epoch(self, epoch: int | None = None) -> Iterator[np.ndarray]:
        """This rank's index arrays for one epoch (default: the current one, resuming)."""
        if epoch is not None:
            self.current_epoch, self.next_batch = int(epoch), 0
        order = self.order(self.current_epoch)
        g, b = self.global_batch_size, self.batch_size
        while self.next_batch < len(self):
            i = self.next_batch
            batch = order[i * g : (i + 1) * g]
            self.next_batch += 1
            if len(batch) == g:
                yield batch[self.rank * b : (self.rank + 1) * b]
            else:
                yield np.array_split(batch, self.world_size)[self.rank]
        self.current_epoch += 1
        self.next_batch = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield from self.epoch()

    def state_dict(self) -> dict[str, int]:
        return {
            "epoch": self.current_epoch,
            "next_batch": self.next_batch,
            "seed": self.seed,
            "global_batch_size": self.global_batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on where ``state`` left off; another ``world_size`` is fine when the global
        batch is the same (the same examples per step, other shares)."""
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"DistributedSampler: the saved state has seed {state['seed']}, "
                f"this sampler has seed {self.seed}"
            )
        saved = state.get("global_batch_size", self.global_batch_size)
        if saved != self.global_batch_size:
            raise ValueError(
                f"DistributedSampler: the saved state has a global batch of {saved}, this "
                f"sampler {self.world_size} × {self.batch_size} = {self.global_batch_size}: "
                "its batch index would point at other examples"
            )
        self.current_epoch = _check_int("epoch", state["epoch"], 0)
        self.next_batch = _check_int("next_batch", state["next_batch"], 0)
