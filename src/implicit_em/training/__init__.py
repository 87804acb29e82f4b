"""One small training loop (progress, callbacks, checkpoints, exact resume, DDP)."""

from .callbacks import Callback, TrainState
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .loop import TrainResult, setup_distributed, train, unwrap

__all__ = [
    "Callback",
    "CheckpointError",
    "TrainResult",
    "TrainState",
    "load_checkpoint",
    "save_checkpoint",
    "setup_distributed",
    "train",
    "unwrap",
]
