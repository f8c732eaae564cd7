"""Checkpoints: one file holding everything needed to resume a run bit-identically.

A checkpoint stores the model's ``state_dict``, the optimizer's and scheduler's
``state_dict``, the data loader's state, the states of every random generator involved
(the loader's, each layer's — e.g. Dropout — and any extra ones you pass), the step and
epoch counters, and free-form metadata.

Format: a zip archive written by ``numpy.savez`` with ``allow_pickle=False`` — every array
is a ``.npy`` member, and the nested structure around them is JSON. Nothing in a
checkpoint can execute code when loaded. Each member carries a CRC, so truncation and
corruption are detected and reported as :class:`CheckpointError`.

Writes are atomic: the file is written to a temporary name in the same directory,
flushed to disk, then renamed over the target (``os.replace``). A crash mid-write leaves
the previous checkpoint intact. Loading validates everything before changing anything:
a mismatched checkpoint raises and leaves the model, optimizer and scheduler as they were.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

FORMAT = "tinygrad_opt.checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupt, or does not fit what loads it."""


# --------------------------------------------------------------------------- encoding
def _encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """Replace arrays by references and make the rest JSON-safe (tuples and int keys kept)."""
    if isinstance(obj, np.ndarray):
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays)
    if isinstance(obj, dict):
        keys = list(obj)
        if all(isinstance(k, str) for k in keys):
            return {"__dict__": {k: _encode(v, arrays) for k, v in obj.items()}}
        return {"__items__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    raise CheckpointError(f"cannot store a {type(obj).__name__} in a checkpoint: {obj!r:.80}")


def _decode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        return arrays[f"a{obj['__array__']}"]
    if "__dict__" in obj:
        return {k: _decode(v, arrays) for k, v in obj["__dict__"].items()}
    if "__items__" in obj:
        return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__items__"]}
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__float__" in obj:
        return float(obj["__float__"])
    raise CheckpointError(f"unknown entry in checkpoint structure: {sorted(obj)}")


# --------------------------------------------------------------------------- file I/O
def write_atomically(
    path: str | Path, write: Callable[[IO[Any]], None], binary: bool = True
) -> Path:
    """Create ``path`` (and its folder) with ``write(file)``, atomically: into a temporary
    file beside it, flushed to disk, then renamed over ``path``. A crash leaves either the
    old file or the new one, never half of it.

    A ``path`` that is a symbolic link is written through to its target (resolved to the
    end of a chain of links, even a dangling one): the target is replaced atomically and
    the link is kept. Returns ``path`` as given."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_checkpoint_file(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write a nested dict of arrays/numbers/strings to ``path`` atomically."""
    arrays: list[np.ndarray] = []
    tree = _encode(payload, arrays)
    header = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members["header"] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    return write_atomically(path, lambda f: np.savez(f, allow_pickle=False, **members))


def read_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read what :func:`write_checkpoint_file` wrote; CheckpointError if it is damaged."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        raw = path.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            members = {name: z[name] for name in z.files}
        header = json.loads(bytes(members.pop("header")).decode("utf-8"))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({type(e).__name__}: {e})"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a tinygrad_opt checkpoint")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {header.get('version')}, "
            f"this library reads version {VERSION}"
        )
    return _decode(header["tree"], members)


# --------------------------------------------------------------------------- training state
def _generators(model: Any) -> dict[str, np.random.Generator]:
    """Every numpy Generator held by a module of ``model`` (e.g. Dropout's), by path."""
    found: dict[str, np.random.Generator] = {}
    if model is None or not hasattr(model, "named_modules"):
        return found
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{name}.{attr}" if name else attr] = value
    return found


def save_checkpoint(
    path: str | Path,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    loader: Any = None,
    step: int = 0,
    epoch: int = 0,
    rngs: dict[str, np.random.Generator] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save the whole training state to one file, atomically. Returns the path."""
    payload: dict[str, Any] = {"step": int(step), "epoch": int(epoch), "extra": extra or {}}
    if model is not None:
        payload["model"] = model.state_dict()
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
        payload["optimizer_class"] = type(optimizer).__name__
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    if loader is not None:
        payload["loader"] = loader.state_dict()
    gens = {**_generators(model), **(rngs or {})}
    payload["rngs"] = {k: g.bit_generator.state for k, g in gens.items()}
    return write_checkpoint_file(path, payload)


def load_checkpoint(
    path: str | Path,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    loader: Any = None,
    rngs: dict[str, np.random.Generator] | None = None,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` stored into the given objects.

    Validates first; if anything does not fit (missing part, other optimizer class,
    parameter shapes, group sizes, generator names), raises :class:`CheckpointError` and
    leaves every object unchanged. Returns ``{"step", "epoch", "extra"}``.
    """
    data = read_checkpoint_file(path)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "loader": loader}
    for name, obj in parts.items():
        if obj is not None and name not in data:
            raise CheckpointError(f"checkpoint {path} holds no {name} state")
    if optimizer is not None and data.get("optimizer_class") != type(optimizer).__name__:
        raise CheckpointError(
            f"checkpoint {path} holds {data.get('optimizer_class')} state, "
            f"cannot load it into {type(optimizer).__name__}"
        )
    gens = {**_generators(model), **(rngs or {})}
    missing = sorted(set(gens) - set(data["rngs"]))
    if missing:
        raise CheckpointError(f"checkpoint {path} has no state for random generators {missing}")

    # Apply, undoing everything if any part refuses (each load validates before writing).
    backups = [(obj, obj.state_dict()) for obj in parts.values() if obj is not None]
    gen_backup = {k: g.bit_generator.state for k, g in gens.items()}
    try:
        for name, obj in parts.items():
            if obj is not None:
                obj.load_state_dict(data[name])
        for k, g in gens.items():
            g.bit_generator.state = data["rngs"][k]
    except Exception as e:
        for obj, state in backups:
            obj.load_state_dict(state)
        for k, g in gens.items():
            g.bit_generator.state = gen_backup[k]
        raise CheckpointError(f"checkpoint {path} does not fit: {e}") from e
    return {"step": data["step"], "epoch": data["epoch"], "extra": data["extra"]}
