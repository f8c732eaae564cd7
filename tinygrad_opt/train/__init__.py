"""Training helpers: ``fit`` (the plain loop with progress, evaluation, checkpoints) and
atomic, bit-identical-resume checkpoints."""

from tinygrad_opt.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
    write_checkpoint_file,
)
from tinygrad_opt.train.fit import History, accuracy, evaluate, fit

__all__ = [
    "CheckpointError",
    "History",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "read_checkpoint_file",
    "save_checkpoint",
    "write_checkpoint_file",
]
