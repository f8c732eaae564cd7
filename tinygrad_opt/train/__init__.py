"""Training helpers: ``fit`` (the plain loop with progress, evaluation, checkpoints),
atomic, bit-identical-resume checkpoints, and the Hessian-diagonal estimates a loop feeds
Sophia-G (``gnb_gradients``)."""

from tinygrad_opt.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
    write_checkpoint_file,
)
from tinygrad_opt.train.fit import History, accuracy, evaluate, evaluation_point, fit
from tinygrad_opt.train.sophia import gnb_gradients

__all__ = [
    "CheckpointError",
    "History",
    "accuracy",
    "evaluate",
    "evaluation_point",
    "fit",
    "gnb_gradients",
    "load_checkpoint",
    "read_checkpoint_file",
    "save_checkpoint",
    "write_checkpoint_file",
]
