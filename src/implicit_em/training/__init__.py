"""One small training loop (progress, callbacks, checkpoints, exact resume, DDP), and
greedy layer-wise training on top of it."""

from .callbacks import Callback, TrainState
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .layerwise import LayerwiseResult, finetune, train_layerwise
from .loop import TrainResult, setup_distributed, train

__all__ = [
    "Callback",
    "CheckpointError",
    "LayerwiseResult",
    "TrainResult",
    "TrainState",
    "finetune",
    "load_checkpoint",
    "save_checkpoint",
    "setup_distributed",
    "train",
    "train_layerwise",
]
