"""What is being trained: the model, its batch and its compute time (:class:`Workload`).

Like :class:`~tinygrad_opt.cluster.spec.ClusterSpec`, a :class:`Workload` is a frozen
dataclass that validates on construction (a
:class:`~tinygrad_opt.cluster.validation.SpecError` naming the field and the value) and
has ``from_dict`` / ``to_dict``; sizes and durations accept units
(:mod:`tinygrad_opt.cluster.units`) and are stored in bytes and seconds. Model sizes come
from a count, per-tensor sizes, a module or a built-in profile (:mod:`.models`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from tinygrad_opt.cluster.large_batch import LargeBatchModel
from tinygrad_opt.cluster.models import backward_weights, get_model, head_weight
from tinygrad_opt.cluster.units import parse_bytes, parse_duration
from tinygrad_opt.cluster.validation import (
    MAX_COUNT,
    SpecError,
    check_choice,
    check_fraction,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    dataclass_from_dict,
)

__all__ = ["BYTES_PER_DTYPE", "GRAD_DTYPES", "Workload"]

BYTES_PER_DTYPE: dict[str, float] = {
    "fp64": 8, "float64": 8, "fp32": 4, "float32": 4, "tf32": 4, "fp16": 2, "float16": 2,
    "bf16": 2, "bfloat16": 2, "fp8": 1, "int8": 1,
}  # fmt: skip

GRAD_DTYPES: tuple[str, ...] = ("fp16", "bf16", "fp32")
_GRAD_DTYPE_ALIASES = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16",
                       "float32": "fp32", "float": "fp32"}  # fmt: skip


@dataclass(frozen=True)
class Workload:
    """The model being trained and how long it takes.

    Attributes:
        parameters: number of trainable parameters, or a module with ``num_parameters()``
            (:meth:`tinygrad_opt.nn.Module.num_parameters`, trainable ones), or a list of
            per-tensor counts in model order (stored as ``tensor_sizes``, their sum here).
            May be left out with ``tensor_sizes`` or ``model``.
        per_worker_batch: examples per worker per step.
        compute_time_per_step: mean forward+backward time of one worker at nominal speed
            for its ``per_worker_batch`` (``"120ms"``); or give
        compute_time_per_example: and the step takes ``per_example × per_worker_batch``.
        bytes_per_param: gradient bytes per parameter before compression (4, or
            ``"fp32"``, ``"fp16"``, ``"bf16"`` ...).
        steps: optimiser steps to train; or give
        large_batch: a :class:`LargeBatchModel` (or dict) and the steps follow from the
            global batch, ``S(B) = S_min(1 + B_noise/B)``.
        update_time: time to apply the optimiser update to the whole model on one
            machine (a parameter-server shard does ``1/k`` of it); default 0.
        backward_fraction: share of the compute time spent in the backward pass (when
            gradients become ready for overlapped communication); default 2/3.
        name: free text.
        update_bytes: memory one worker's optimizer update works on: parameters,
            gradients and optimizer state (bytes or ``"80MB"``); default
            ``4 × parameters × bytes_per_param`` (Adam: parameters, gradients, two
            moments). Only used with ``ClusterSpec.memory_streams_per_node``.
        tensor_sizes: parameters of each tensor in model order (forward order, as
            ``named_parameters()``); default None: one evenly divisible blob. A parameter
            server places whole tensors on its shards (``SyncScheme.tensor_placement``).
        backward_times: backward seconds of each tensor's layer (one per tensor, in
            model order); default: ``backward_fraction × compute_time`` split in
            proportion to :func:`~tinygrad_opt.cluster.models.backward_weights` (the
            profile's forward MACs for a ``model``, else the tensor sizes); see
            :attr:`tensor_backward_times`.
        model: a built-in profile (:data:`~tinygrad_opt.cluster.models.MODEL_NAMES`:
            ``"vgg16"``, ``"resnet50"``, ``"bert_base"``, ``"gpt2"`` ...): its tensors
            become ``tensor_sizes`` and its total ``parameters``.
        grad_dtype: ``"fp16"``, ``"bf16"`` or ``"fp32"``: sets ``bytes_per_param`` (2 or
            4); with 2-byte gradients (mixed precision) the weights are 2-byte too and
            Adam keeps 12 bytes of state per parameter (:mod:`.sharding`).
        grad_accumulation: ``k`` micro-batches of ``per_worker_batch`` per optimiser step
            (default 1): a step computes ``k`` times and synchronises once.
        optimizer_bytes_per_param: optimizer state per parameter for the memory estimate
            (default: 12 with 2-byte gradients, 8 with 4-byte: Adam; 0 for SGD).
    """

    parameters: int | Any = None
    per_worker_batch: int = 32
    compute_time_per_step: float | str | None = None
    compute_time_per_example: float | str | None = None
    bytes_per_param: float | str = 4.0
    steps: int | None = None
    large_batch: LargeBatchModel | Mapping[str, Any] | None = None
    update_time: float | str = 0.0
    backward_fraction: float = 2.0 / 3.0
    name: str = ""
    update_bytes: float | str | None = None
    tensor_sizes: Sequence[int] | None = None
    backward_times: Sequence[float | str] | None = None
    model: str | None = None
    grad_dtype: str | None = None
    grad_accumulation: int = 1
    optimizer_bytes_per_param: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        params, sizes, times, model = resolve_tensors(
            self.parameters, self.tensor_sizes, self.backward_times, self.model
        )
        set_(self, "tensor_sizes", sizes)
        set_(self, "backward_times", times)
        set_(self, "model", model)
        if model is not None and not self.name:
            set_(self, "name", model)
        if params is None:
            raise SpecError(
                "parameters",
                None,
                "is required (a count, a list of tensor sizes or a module; or give model)",
            )
        if hasattr(params, "num_parameters"):
            if not self.name:
                set_(self, "name", type(params).__name__)
            params = params.num_parameters(trainable_only=True)
        set_(self, "parameters", check_positive_int("parameters", params, MAX_COUNT))
        batch = check_positive_int("per_worker_batch", self.per_worker_batch, MAX_COUNT)
        set_(self, "per_worker_batch", batch)
        per_step, per_ex = self.compute_time_per_step, self.compute_time_per_example
        if (per_step is None) == (per_ex is None):
            raise SpecError(
                "compute_time_per_step",
                per_step,
                "give exactly one of compute_time_per_step and compute_time_per_example",
            )
        if per_step is not None:
            set_(self, "compute_time_per_step", parse_duration(per_step, "compute_time_per_step"))
        else:
            set_(
                self, "compute_time_per_example", parse_duration(per_ex, "compute_time_per_example")
            )
        bpp = self.bytes_per_param
        if isinstance(bpp, str) and bpp.strip().lower() in BYTES_PER_DTYPE:
            bpp = BYTES_PER_DTYPE[bpp.strip().lower()]
        elif isinstance(bpp, str):
            try:
                bpp = float(bpp)
            except ValueError:
                raise SpecError(
                    "bytes_per_param",
                    bpp,
                    f"must be a number or a dtype name ({', '.join(BYTES_PER_DTYPE)})",
                ) from None
        set_(self, "bytes_per_param", check_positive_float("bytes_per_param", bpp))
        if self.bytes_per_param > 1024:
            raise SpecError("bytes_per_param", bpp, "must be <= 1024 (the simulator limit)")
        if self.grad_dtype is not None:
            gd = check_choice("grad_dtype", self.grad_dtype, GRAD_DTYPES, _GRAD_DTYPE_ALIASES)
            set_(self, "grad_dtype", gd)
            if self.bytes_per_param not in (4.0, BYTES_PER_DTYPE[gd]):
                raise SpecError(
                    "bytes_per_param",
                    self.bytes_per_param,
                    f"contradicts grad_dtype {gd!r} ({BYTES_PER_DTYPE[gd]:g} bytes); give one",
                )
            set_(self, "bytes_per_param", float(BYTES_PER_DTYPE[gd]))
        set_(
            self,
            "grad_accumulation",
            check_positive_int("grad_accumulation", self.grad_accumulation, MAX_COUNT),
        )
        if self.optimizer_bytes_per_param is not None:
            key = "optimizer_bytes_per_param"
            set_(self, key, check_nonnegative_float(key, self.optimizer_bytes_per_param))
        lb = self.large_batch
        if isinstance(lb, Mapping):
            lb = LargeBatchModel.from_dict(lb)
            set_(self, "large_batch", lb)
        elif lb is not None and not isinstance(lb, LargeBatchModel):
            raise SpecError("large_batch", lb, "must be a LargeBatchModel or a dictionary")
        if (self.steps is None) == (lb is None):
            raise SpecError(
                "steps", self.steps, "give exactly one of steps and large_batch (to derive them)"
            )
        if self.steps is not None:
            set_(self, "steps", check_positive_int("steps", self.steps, MAX_COUNT))
        set_(self, "update_time", parse_duration(self.update_time, "update_time", allow_zero=True))
        set_(
            self,
            "backward_fraction",
            check_fraction("backward_fraction", self.backward_fraction, closed_low=False),
        )
        if self.update_bytes is not None:
            set_(self, "update_bytes", parse_bytes(self.update_bytes, "update_bytes"))

    @property
    def update_working_set(self) -> float:
        """Bytes the update works on: ``update_bytes``, or ``4 × gradient_bytes``."""
        if self.update_bytes is not None:
            return float(self.update_bytes)
        return 4.0 * self.gradient_bytes

    @property
    def tensor_backward_times(self) -> tuple[float, ...]:
        """Backward seconds per tensor (model order): ``backward_times`` if given, else
        ``backward_fraction × compute_time`` split in proportion to
        :func:`~tinygrad_opt.cluster.models.backward_weights`; one entry for a bare
        parameter count. A model's tied output layer
        (:func:`~tinygrad_opt.cluster.models.head_weight`) takes its share first and
        readies no gradient: these times then sum to less than the backward pass."""
        if self.backward_times is not None:
            return tuple(self.backward_times)
        total = self.backward_fraction * self.compute_time
        if self.tensor_sizes is None:
            return (total,)
        w = backward_weights(self.tensor_sizes, self.model)
        s = sum(w) + head_weight(self.model)
        return tuple(total * x / s for x in w)

    @classmethod
    def from_model(cls, model: str, **kwargs: Any) -> Workload:
        """``Workload(model=model, **kwargs)``: a built-in profile (``"vgg16"`` ...)."""
        return cls(model=model, **kwargs)

    @property
    def compute_time(self) -> float:
        """Mean compute seconds per step of one nominal-speed worker."""
        if self.compute_time_per_step is not None:
            return float(self.compute_time_per_step)
        return float(self.compute_time_per_example) * self.per_worker_batch

    @property
    def gradient_bytes(self) -> float:
        """Uncompressed gradient size: ``parameters × bytes_per_param``."""
        return float(self.parameters) * float(self.bytes_per_param)

    def total_steps(self, global_batch: int) -> int:
        """Steps to train: ``steps`` if given, else ``ceil(S_min (1 + B_noise / B))``."""
        if self.steps is not None:
            return int(self.steps)
        return int(math.ceil(self.large_batch.steps(global_batch) - 1e-9))

    @classmethod
    def from_module(cls, module: Any, *, per_tensor: bool = False, **kwargs: Any) -> Workload:
        """``Workload(parameters=module.num_parameters(trainable_only=True), **kwargs)``.

        With ``per_tensor=True`` the module's trainable tensors, in ``parameters()``
        order, become ``tensor_sizes`` (whole tensors on parameter-server shards).
        """
        if not per_tensor:
            return cls(parameters=module, **kwargs)
        sizes = [int(p.size) for p in module.parameters() if p.requires_grad]
        kwargs.setdefault("name", type(module).__name__)
        return cls(tensor_sizes=sizes, **kwargs)

    def replace(self, **changes: Any) -> Workload:
        """A copy with ``changes`` (switching per-step/per-example time clears the other)."""
        if "compute_time_per_step" in changes and "compute_time_per_example" not in changes:
            changes["compute_time_per_example"] = None
        if "compute_time_per_example" in changes and "compute_time_per_step" not in changes:
            changes["compute_time_per_step"] = None
        if "steps" in changes and "large_batch" not in changes:
            changes["large_batch"] = None
        if "large_batch" in changes and "steps" not in changes:
            changes["steps"] = None
        if "bytes_per_param" in changes:
            changes.setdefault("grad_dtype", None)
        size_keys = ("parameters", "tensor_sizes", "model")
        if any(k in changes for k in size_keys):  # a new size: the old tensors go
            for k in (*size_keys, "backward_times"):
                changes.setdefault(k, None)
            if self.model is not None and self.name == self.model:
                changes.setdefault("name", "")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values; a model's ``tensor_sizes`` are left out (the name gives them)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.large_batch is not None:
            out["large_batch"] = self.large_batch.to_dict()
        if self.model is not None:
            out.pop("tensor_sizes")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workload:
        """Build from ``{"parameters": 25e6, "per_worker_batch": 64, ...}``."""
        return dataclass_from_dict(cls, data, "workload", {})


def resolve_tensors(
    parameters, tensor_sizes, backward_times, model
) -> tuple[int | None, tuple[int, ...] | None, tuple[float, ...] | None, str | None]:
    """Reconcile :class:`~tinygrad_opt.cluster.workload.Workload`'s size fields.

    ``parameters`` may be a count or a list of per-tensor counts (then it is
    ``tensor_sizes``); ``model`` names a profile whose tensors are the default
    ``tensor_sizes``. Whatever is given must agree: the total equals ``parameters``, a
    given ``tensor_sizes`` equals the model's. ``backward_times`` (seconds or durations,
    one per tensor) needs ``tensor_sizes``. Returns ``(parameters, tensor_sizes,
    backward_times, model)`` with the model's canonical name; ``parameters`` None when
    nothing gives it (the caller reports it).
    """
    from tinygrad_opt.cluster.placement import _check_sizes

    if isinstance(parameters, (list, tuple)):
        listed = _check_sizes(parameters)
        if tensor_sizes is not None and _check_sizes(tensor_sizes) != listed:
            raise SpecError("tensor_sizes", tensor_sizes, "differs from the list in parameters")
        tensor_sizes, parameters = listed, sum(listed)
    profile = None if model is None else get_model(model)
    if profile is not None and isinstance(tensor_sizes, (list, tuple)):
        if tuple(tensor_sizes) == profile.tensor_sizes:
            tensor_sizes = None  # the model's own (a copy of the workload): no checks
    sizes = None if tensor_sizes is None else _check_sizes(tensor_sizes)
    if sizes is not None and not sizes:
        raise SpecError("tensor_sizes", tensor_sizes, "is empty: give at least one tensor")
    if profile is not None:
        model = profile.name
        if sizes is not None and sizes != profile.tensor_sizes:
            raise SpecError(
                "tensor_sizes", "[...]", f"differs from model {model!r}'s tensors (leave it out)"
            )
        sizes = profile.tensor_sizes
    if sizes is not None:
        total = sum(sizes)
        if parameters is not None and not hasattr(parameters, "num_parameters"):
            if check_positive_int("parameters", parameters) != total:
                what = f"model {model!r}" if model is not None else "tensor_sizes"
                raise SpecError(
                    "parameters", parameters, f"differs from the {total:,} of {what} (leave it out)"
                )
        parameters = total
    times = None
    if backward_times is not None:
        if sizes is None:
            raise SpecError(
                "backward_times", backward_times, "needs tensor_sizes (or a model): one per tensor"
            )
        if isinstance(backward_times, (str, bytes)) or not hasattr(backward_times, "__len__"):
            raise SpecError("backward_times", backward_times, "must be a list of durations")
        if len(backward_times) != len(sizes):
            raise SpecError(
                "backward_times",
                f"[{len(backward_times)} values]",
                f"must give one time per tensor ({len(sizes)})",
            )
        times = tuple(
            parse_duration(v, f"backward_times[{i}]", allow_zero=True)
            for i, v in enumerate(backward_times)
        )
    return parameters, sizes, times, model
