"""Mini-batches from arrays: ``ArrayDataset`` and a seeded, resumable ``DataLoader``.

::

    loader = DataLoader((X, y), batch_size=32, shuffle=True, rng=0)
    for epoch in range(epochs):
        for xb, yb in loader:          # a fresh permutation every epoch
            ...
    ckpt = {"loader": loader.state_dict(), ...}   # later: loader.load_state_dict(ckpt["loader"])

Shuffling draws ``rng.permutation(n)`` from the loader's own ``numpy.random.Generator`` at
the start of each epoch, so the same seed gives the same sequence of epochs, and the
generator's state (plus the epoch and batch counters) is all a checkpoint needs to resume
the exact same batches, even in the middle of an epoch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_opt.data._validate import RngLike

__all__ = ["ArrayDataset", "DataLoader"]


class ArrayDataset:
    """Equal-length arrays indexed together along their first axis (``X``, ``y``, ...).

    ``ds[i]`` is the tuple ``(X[i], y[i], ...)``; ``i`` may also be a slice or an integer
    index array, which is how :class:`DataLoader` takes a whole batch in one fancy-indexing
    step per array. The arrays are kept as given (``numpy.asarray``, no copy).
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("ArrayDataset: needs at least one array")
        arrs = tuple(np.asarray(a) for a in arrays)
        for i, a in enumerate(arrs):
            if a.ndim == 0:
                raise ValueError(
                    f"ArrayDataset: array {i} is a scalar (shape ()); every array needs a "
                    "first axis of samples"
                )
        lengths = [len(a) for a in arrs]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrs)
            raise ValueError(
                f"ArrayDataset: arrays must have the same length (first dimension), got "
                f"lengths {lengths} (shapes {shapes})"
            )
        self.arrays: tuple[np.ndarray, ...] = arrs

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"ArrayDataset({shapes})"


def _as_dataset(dataset: Any) -> Any:
    if isinstance(dataset, ArrayDataset):
        return dataset
    if isinstance(dataset, tuple):
        return ArrayDataset(*dataset)
    if isinstance(dataset, np.ndarray):
        return ArrayDataset(dataset)
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return dataset
    raise TypeError(
        "DataLoader: dataset must be a tuple of arrays (X, y), an array, an ArrayDataset or "
        f"an object with __len__ and __getitem__, got {type(dataset).__name__}"
    )


def _collate(samples: list[Any]) -> tuple[np.ndarray, ...]:
    """Stack per-sample items (tuples, or single values) into a tuple of batch arrays."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(np.stack([np.asarray(s[j]) for s in samples]) for j in range(len(first)))
    return (np.stack([np.asarray(s) for s in samples]),)


class DataLoader:
    """Iterate over a dataset in mini-batches of numpy arrays.

    Parameters
    ----------
    dataset:
        A tuple of equal-length arrays ``(X, y, ...)``, a single array, an
        :class:`ArrayDataset`, or any object with ``__len__`` and ``__getitem__`` (a
        "map-style" dataset whose items are tuples of arrays or single arrays). A *list* is
        treated as such a dataset of samples, not as a list of arrays: pass arrays as a
        tuple.
    batch_size:
        Samples per batch (a positive integer).
    shuffle:
        If True, each epoch (each ``iter(loader)``) visits the samples in a new random
        order, ``rng.permutation(n)``; otherwise in order.
    drop_last:
        Drop the last batch when it is smaller than ``batch_size``.
    rng:
        Int seed, ``numpy.random.Generator`` (used and advanced in place) or None.

    Iterating yields tuples of arrays, one per array of the dataset (a 1-tuple for a
    single array). For array datasets each batch is one fancy-indexing step per array
    (no per-sample Python loop); the batches are new arrays, safe to modify. Other
    datasets are read item by item and stacked with ``numpy.stack``.

    ``len(loader)`` is the number of batches per epoch:
    ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        rng: RngLike = None,
    ) -> None:
        if (
            isinstance(batch_size, (bool, np.bool_))
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
            )
        self.dataset = _as_dataset(dataset)
        self.num_samples = len(self.dataset)
        if self.num_samples == 0:
            raise ValueError("DataLoader: dataset is empty (0 samples)")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = np.random.default_rng(rng)
        self.epoch = 0  # epochs started so far
        self._epoch_start_state: dict[str, Any] | None = None  # RNG state before the latest
        self._batches_done = 0  # batches handed out in the latest epoch
        self._resume_batch = 0  # set by load_state_dict: skip this many in the next epoch

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        # Everything that defines the epoch happens here, eagerly, not at the first next().
        self._epoch_start_state = copy.deepcopy(self.rng.bit_generator.state)
        order = self.rng.permutation(self.num_samples) if self.shuffle else None
        skip, self._resume_batch = self._resume_batch, 0
        self.epoch += 1
        self._batches_done = skip
        return self._batches(order, skip)

    def _batches(self, order: np.ndarray | None, skip: int) -> Iterator[tuple[np.ndarray, ...]]:
        n, b = self.num_samples, self.batch_size
        fast = isinstance(self.dataset, ArrayDataset)
        for i in range(skip, len(self)):
            start = i * b
            idx = (
                order[start : start + b]
                if order is not None
                else np.arange(start, min(start + b, n))
            )
            if fast:
                batch = self.dataset[idx]
            else:
                batch = _collate([self.dataset[int(j)] for j in idx])
            self._batches_done = i + 1  # before the yield: the caller now holds batch i
            yield batch

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the exact same batches later.

        ``{"epoch", "batch", "rng_state", "num_samples", "batch_size", "shuffle",
        "drop_last"}``: ``epoch`` is the number of completed epochs, ``rng_state`` the
        bit generator's state at the start of the next (or unfinished) epoch and ``batch``
        how many of that epoch's batches were already handed out (0 at an epoch boundary).
        Taken in the middle of an epoch, it resumes right after the last batch the
        caller received. With the default PCG64 generator the dict holds only Python ints,
        strings and bools (plain pickle-able data); it is a copy, unaffected by further
        iteration.
        """
        in_progress = self._epoch_start_state is not None and self._batches_done < len(self)
        if in_progress:
            epoch, batch, state = self.epoch - 1, self._batches_done, self._epoch_start_state
        else:
            epoch, batch, state = self.epoch, self._resume_batch, self.rng.bit_generator.state
        return {
            "epoch": epoch,
            "batch": batch,
            "rng_state": copy.deepcopy(state),
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`: the next ``iter(loader)`` continues from it.

        The RNG must be of the same bit generator type (PCG64 for an int seed). To resume
        in the middle of an epoch the loader must have the same number of samples, batch
        size, ``shuffle`` and ``drop_last`` as when the state was taken (ValueError if not);
        at an epoch boundary only the RNG state and the epoch counter are restored.
        """
        missing = {"epoch", "batch", "rng_state"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        batch = int(state["batch"])
        if batch:
            mine = {
                "num_samples": self.num_samples,
                "batch_size": self.batch_size,
                "shuffle": self.shuffle,
                "drop_last": self.drop_last,
            }
            diff = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
            if diff:
                detail = ", ".join(f"{k}: saved {s!r}, now {v!r}" for k, (s, v) in diff.items())
                raise ValueError(
                    f"DataLoader.load_state_dict: cannot resume mid-epoch (batch {batch}) "
                    f"with a different configuration: {detail}"
                )
            if not 0 <= batch <= len(self):
                raise ValueError(
                    f"DataLoader.load_state_dict: batch {batch} out of range for "
                    f"{len(self)} batches per epoch"
                )
        self.rng.bit_generator.state = copy.deepcopy(state["rng_state"])
        self.epoch = int(state["epoch"])
        self._resume_batch = batch
        self._epoch_start_state = None
        self._batches_done = 0

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)"
        )
