"""Atomic training checkpoints: model, optimiser, scheduler, scaler, RNG, callbacks."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .._distributed import initialized
from .._io import atomic_write_bytes


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, or not a checkpoint)."""


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    callbacks: Sequence[Any],
    *,
    rank: int = 0,
    settings: dict | None = None,
    **position: Any,
) -> None:
    """Write a checkpoint (rank 0 only; other ranks wait at a barrier under DDP).

    ``position`` holds the loop's place (``epoch``, ``batch``, ``step``, ``history``, ...);
    ``settings`` the run's settings that a resume must match (see :func:`load_checkpoint`).
    The file is replaced atomically, so an interruption never leaves a torn checkpoint.
    """
    if rank == 0:
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "callbacks": [cb.state_dict() for cb in callbacks],
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "position": position,
            "settings": settings,
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())
    if initialized():
        dist.barrier()


_STATE_KEYS = {"model", "optimizer", "scheduler", "scaler", "callbacks", "rng", "position"}


def _read(path) -> dict:
    """``torch.load`` with one clear error for a damaged file (which is left in place)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (
        OSError,
        EOFError,
        RuntimeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        KeyError,
        AttributeError,
        IndexError,
    ) as err:
        raise CheckpointError(
            f"checkpoint {path} is damaged and cannot be read ({type(err).__name__}: {err}); "
            "the file was kept: delete it to start over, or pass resume=False"
        ) from err
    if not isinstance(state, dict) or not set(state) >= _STATE_KEYS:
        raise CheckpointError(
            f"{path} is not a training checkpoint (expected keys {sorted(_STATE_KEYS)}); the "
            "file was kept: delete it or pass another checkpoint path"
        )
    return state


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    callbacks: Sequence[Any],
    *,
    settings: dict | None = None,
    force: bool = False,
) -> dict:
    """Restore everything :func:`save_checkpoint` wrote; returns the saved ``position``.

    Raises:
        CheckpointError: the file is truncated or corrupt (it is kept).
        ValueError: ``settings`` differ from those recorded in the checkpoint (unless
            ``force``), or the callbacks differ.
    """
    state = _read(path)
    saved = state.get("settings")
    if settings is not None and saved is not None and not force:
        differ = [
            f"{k}: checkpoint {saved.get(k)!r}, now {v!r}"
            for k, v in settings.items()
            if saved.get(k) != v
        ]
        if differ:
            raise ValueError(
                f"checkpoint {path} was written with other settings ({'; '.join(differ)}); "
                "resuming would continue another run. Use the same settings, another "
                "checkpoint path, resume=False to start over, or resume='force' to continue "
                "anyway"
            )
    if len(state["callbacks"]) != len(callbacks):
        raise ValueError(
            f"checkpoint {path} was written with {len(state['callbacks'])} callback(s) but "
            f"{len(callbacks)} are given; pass the same callbacks or delete the checkpoint"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    for cb, cb_state in zip(callbacks, state["callbacks"], strict=True):
        cb.load_state_dict(cb_state)
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["position"]
