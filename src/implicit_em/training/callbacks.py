"""Callbacks for :func:`implicit_em.training.train` and the state they receive."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TrainState:
    """What callbacks see. ``model`` is the unwrapped module (not the DDP wrapper).

    Attributes:
        step: optimisation steps taken so far (global, across epochs).
        epoch: the current epoch (0-based).
        terms: the last step's loss terms as floats (``{"loss": ...}`` for scalar losses).
        rank, world_size: the distributed position (0, 1 without ``torch.distributed``).
        stop: set to ``True`` in a callback to end training after this step.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: int = 0
    epoch: int = 0
    terms: dict = field(default_factory=dict)
    rank: int = 0
    world_size: int = 1
    stop: bool = False


class Callback:
    """Base class: override any hook; ``state_dict`` is saved in checkpoints."""

    def on_train_start(self, state: TrainState) -> None:
        """Called once before the first step."""

    def on_step_end(self, state: TrainState) -> None:
        """Called after every optimiser step."""

    def on_epoch_end(self, state: TrainState) -> None:
        """Called at the end of every epoch."""

    def on_train_end(self, state: TrainState) -> None:
        """Called once after the last step."""

    def state_dict(self) -> dict:
        """What to save in a checkpoint (default: nothing)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`'s output."""
